"""The .arch source as HTML for `nnc view`: highlighted by nnc's Pygments lexer, one
element per line (so that a line can be linked to the layers it made), and each error
and lint written in place under the line it names, with a caret under its column, as
the terminal prints them.

Highlighting uses Pygments' standard short class names (`k`, `nb`, `mi`, `c1`…), so the
page's colours are a Pygments style's own stylesheet.
"""
from __future__ import annotations

from html import escape

from pygments.formatters import HtmlFormatter
from pygments.token import STANDARD_TYPES

from nnc.errors import NncError
from nnc.present.lexer import ArchLexer

STYLE = "default"
SCOPE = ".nnc-src"


def token_class(token) -> str:
    """The short class of the token type, or of the nearest parent type that has one."""
    while token not in STANDARD_TYPES:
        token = token.parent
    return STANDARD_TYPES[token]


def highlighted_lines(text: str) -> list[str]:
    """Each source line as escaped HTML with <span class=…> around its tokens."""
    lines, current = [], []
    for token, value in ArchLexer().get_tokens(text):
        cls = token_class(token)
        for i, piece in enumerate(value.split("\n")):
            if i:
                lines.append("".join(current))
                current = []
            if piece:
                current.append(f"<span class='{cls}'>{escape(piece)}</span>" if cls
                               else escape(piece))
    if current:
        lines.append("".join(current))
    count = len(text.splitlines())
    return (lines + [""] * count)[:count]   # Pygments ends the text with a newline


def listing_html(panel: str, text: str, problems: list[NncError], file: str) -> str:
    """The whole file, its lines numbered and anchored (`{panel}-L12`); the problems whose
    position is in this file follow their lines."""
    below: dict[int, list[NncError]] = {}
    for problem in problems:
        if problem.coord is not None and problem.coord.file == file:
            below.setdefault(problem.coord.line, []).append(problem)
    lines = highlighted_lines(text)
    parts = []
    for number, html in enumerate(lines, 1):
        parts.append(f"<div class='nnc-line' id='{panel}-L{number}' data-line='{number}'>"
                     f"<a class='nnc-ln' href='#{panel}-L{number}'>{number}</a>"
                     f"<code>{html or ' '}</code></div>")
        parts += [problem_html(p) for p in below.get(number, ())]
    # an error past the last line (an unexpected end of file) still shows
    parts += [problem_html(p) for line, ps in below.items() if line > len(lines) for p in ps]
    return f"<div class='nnc-src'>{''.join(parts)}</div>"


def problem_html(problem: NncError) -> str:
    """`error: message` under the line, the caret under its column, then the chain of
    block calls it came through."""
    severity = escape(problem.severity)
    chain = "".join(f"<div class='nnc-chain'>{escape(str(frame))}</div>"
                    for frame in reversed(problem.chain))
    caret = " " * (problem.coord.column - 1) + "^"
    return (f"<div class='nnc-problem nnc-{severity}' data-line='{problem.coord.line}'>"
            f"<code class='nnc-caret'>{caret}</code>"
            f"<div><b>{severity}</b>: {escape(problem.message)}</div>{chain}</div>")


def highlight_css() -> str:
    """The Pygments style's rules for the short classes, scoped to the listing."""
    return HtmlFormatter(style=STYLE).get_style_defs(SCOPE)
