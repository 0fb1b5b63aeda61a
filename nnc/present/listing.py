"""The .arch source as HTML for `nnc view`: highlighted by nnc's Pygments lexer, one
element per line (so that a line can be linked to the layers it made), and each error
and lint written in place under the line it names, with a caret under its column, as
the terminal prints them.

A problem in a file this one uses (`use "other.arch"`) is shown under the line of this
file it came through: the block call that reached it, or else the `use` line, quoted
with the other file's line.

Highlighting uses Pygments' standard short class names (`k`, `nb`, `mi`, `c1`…), so the
page's colours are a Pygments style's own stylesheet. Lines are split at newlines only,
as the parser counts them (not at the other breaks str.splitlines knows).
"""
from __future__ import annotations

import re
from html import escape

from pygments.formatters import HtmlFormatter
from pygments.token import STANDARD_TYPES

from nnc.errors import NncError
from nnc.lang.parse import MAX_FILE_BYTES
from nnc.present.lexer import ArchLexer

STYLE = "default"
SCOPE = ".nnc-src"
USE_LINE = re.compile(r"^[ \t]*(use)\b", re.M)


def source_lines(text: str) -> list[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def token_class(token) -> str:
    """The short class of the token type, or of the nearest parent type that has one."""
    while token not in STANDARD_TYPES:
        token = token.parent
    return STANDARD_TYPES[token]


def highlighted_lines(text: str) -> list[str]:
    """Each source line as escaped HTML with <span class=…> around its tokens."""
    lines, current = [], []
    for token, value in ArchLexer(stripnl=False).get_tokens(text):
        cls = token_class(token)
        for i, piece in enumerate(value.split("\n")):
            if i:
                lines.append("".join(current))
                current = []
            piece = piece.removesuffix("\r")
            if piece:
                current.append(f"<span class='{cls}'>{escape(piece)}</span>" if cls
                               else escape(piece))
    if current:
        lines.append("".join(current))
    count = len(source_lines(text))
    return (lines + [""] * count)[:count]   # Pygments ends the text with a newline


def placed_at(problem: NncError, file: str, text: str) -> tuple[int, int] | None:
    """The line and column of this file to show a problem at: its own position, the
    outermost block call of this file it came through, or the first `use` line."""
    if problem.coord is None:
        return None
    if problem.coord.file == file:
        return problem.coord.line, problem.coord.column
    for frame in problem.chain:
        if frame.called_at.file == file:
            return frame.called_at.line, frame.called_at.column
    line = use_line(text)
    return None if line is None else (line, text.split("\n")[line - 1].index("use") + 1)


def use_line(text: str) -> int | None:
    """The first line that uses another file, where what came from there is shown."""
    use = USE_LINE.search(text)
    return None if use is None else text.count("\n", 0, use.start(1)) + 1


def quoted_sources(problem: NncError) -> dict[str, str]:
    """The text of the file a problem is in, to quote its line."""
    try:
        with open(problem.coord.file, "rb") as f:
            return {problem.coord.file: f.read(MAX_FILE_BYTES).decode("utf-8", "replace")}
    except OSError:
        return {}


def listing_html(panel: str, text: str, problems: list[NncError], file: str) -> str:
    """The whole file, its lines numbered and anchored (`{panel}-L12`); the problems
    follow the lines they are placed at."""
    lines = source_lines(text)
    below: dict[int, list[str]] = {}
    for problem in problems:
        place = placed_at(problem, file, text)
        if place is not None:
            line = lines[place[0] - 1] if place[0] <= len(lines) else ""
            below.setdefault(place[0], []).append(problem_html(problem, file, line, place))
    parts = []
    for number, html in enumerate(highlighted_lines(text), 1):
        parts.append(f"<div class='nnc-line' id='{panel}-L{number}' data-line='{number}'>"
                     f"<a class='nnc-ln' href='#{panel}-L{number}'>{number}</a>"
                     f"<code>{html or ' '}</code></div>")
        parts += below.get(number, ())
    # an error past the last line (an unexpected end of file) still shows
    parts += [html for line, shown in below.items() if line > len(lines) for html in shown]
    return f"<div class='nnc-src'>{''.join(parts)}</div>"


def problem_html(problem: NncError, file: str, line: str, place: tuple[int, int]) -> str:
    """`error: message` under the line, the caret under its column (the line's tabs kept,
    so that it lines up), then the chain of block calls it came through; a problem in
    another file is quoted whole, with that file's line."""
    severity = escape(problem.severity)
    caret = "".join(c if c == "\t" else " " for c in line[:place[1] - 1]) + "^"
    if problem.coord.file == file:
        chain = "".join(f"<div class='nnc-chain'>{escape(str(frame))}</div>"
                        for frame in reversed(problem.chain))
        text = f"<div><b>{severity}</b>: {escape(problem.message)}</div>{chain}"
    else:
        text = f"<pre>{escape(problem.format(quoted_sources(problem)))}</pre>"
    return (f"<div class='nnc-problem nnc-{severity}' data-line='{place[0]}'>"
            f"<code class='nnc-caret'>{escape(caret)}</code>{text}</div>")


def highlight_css() -> str:
    """The Pygments style's rules for the short classes, scoped to the listing."""
    return HtmlFormatter(style=STYLE).get_style_defs(SCOPE)
