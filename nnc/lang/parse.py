"""Text to syntax tree: the Lark grammar (arch.lark) and one Transformer to ast.py.

Lark errors and errors raised inside the transformer (which Lark wraps in VisitError)
come out as ArchSyntaxError / NncError with the position of the offending token.
"""
from __future__ import annotations

import functools
import re

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedEOF,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)
from lark.indenter import DedentError, Indenter

from nnc.errors import ArchIOError, ArchNameError, ArchSyntaxError, Coord, NncError
from nnc.lang import ast

MAX_FILE_BYTES = 1 << 20  # .arch files are tables, not data: 1 MiB is far beyond any paper
MAX_INDENT_LEVELS = 50    # deeper nesting is a generated or hostile file, and would
MAX_PAREN_LEVELS = 100    # otherwise exhaust Python's recursion in the transformer

# How each terminal reads in "expected ..." messages.
TERMINAL_WORDS = {
    "NAME": "a name", "INT": "an integer", "NUMBER": "a number", "STRING": "a string",
    "DIMS": "a shape like 224x224x3", "QUANTITY": "a number", "_NL": "end of line",
    "_INDENT": "an indented line", "_DEDENT": "the end of the indented body",
    "COMPARE": "'=' or '≈'", "REPEAT": "'x'", "COMPOUND": "residual, concat, gate or head",
    "PLUSMINUS": "'±'", "PERCENT": "'%'", "$END": "end of file",
}
UNIT_SUFFIXES = {"K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
                 "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40}


class LayoutError(Exception):
    """Raised by the indenter, which does not know the file name; parse_text adds it."""

    def __init__(self, message: str, line: int, column: int):
        super().__init__(message)
        self.line, self.column = line, column


class ArchIndenter(Indenter):
    """Python-style blocks; newlines inside ( ) and [ ] continue the line."""
    NL_type = "_NL"
    OPEN_PAREN_types = ["LPAR", "LSQB"]
    CLOSE_PAREN_types = ["RPAR", "RSQB"]
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 8

    def handle_NL(self, token: Token):
        indent = token.rsplit("\n", 1)[1].expandtabs(self.tab_len)
        where = (token.end_line, len(indent) + 1)
        levels = " or ".join(map(str, self.indent_level))
        try:
            yield from super().handle_NL(token)
        except DedentError:
            raise LayoutError(f"this line is indented {len(indent)} columns, which matches "
                              f"no enclosing level (expected {levels})", *where) from None
        if len(self.indent_level) > MAX_INDENT_LEVELS:
            raise LayoutError(f"indented blocks nest deeper than {MAX_INDENT_LEVELS} levels",
                              *where)

    def _process(self, stream):
        for token in super()._process(stream):
            if self.paren_level > MAX_PAREN_LEVELS:
                raise LayoutError(f"brackets nest deeper than {MAX_PAREN_LEVELS} levels",
                                  token.line, token.column)
            yield token


@functools.lru_cache(maxsize=1)
def parser() -> Lark:
    return Lark.open("arch.lark", rel_to=__file__, parser="lalr", lexer="contextual",
                     postlex=ArchIndenter(), propagate_positions=True, cache=True)


def decode(data: bytes, path: str) -> str:
    if len(data) > MAX_FILE_BYTES:
        raise ArchIOError(f"file is larger than {MAX_FILE_BYTES:,} bytes; an .arch file "
                          f"describes a network, it should be a few kilobytes. "
                          f"Received: more than {MAX_FILE_BYTES:,} bytes", Coord(path, 1, 1))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise ArchIOError(f"file is not valid UTF-8. Received: byte 0x{data[e.start]:02x}",
                          Coord(path, line, column)) from None


def read_source(path: str) -> str:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as e:
        raise ArchIOError(f"cannot read '{path}': {e.strerror}") from None
    return decode(data, path)


def parse_text(text: str, file: str = "<string>") -> ast.Program:
    source = text if text.endswith("\n") else text + "\n"
    try:
        tree = parser().parse(source)
        return ToAst(file, source).transform(tree)
    except VisitError as e:  # an NncError raised inside the transformer
        if isinstance(e.orig_exc, NncError):
            raise e.orig_exc from None
        raise
    except UnexpectedInput as e:
        raise syntax_error(e, file, source) from None
    except LayoutError as e:
        raise ArchSyntaxError(str(e), Coord(file, e.line, e.column)) from None


def syntax_error(e: UnexpectedInput, file: str, source: str) -> ArchSyntaxError:
    expected = sorted({TERMINAL_WORDS.get(t, quote_literal(t)) for t in expected_of(e)})
    want = f"; expected {', '.join(expected)}" if expected else ""
    if isinstance(e, UnexpectedCharacters):
        what = f"unexpected character {source[e.pos_in_stream]!r}"
    elif isinstance(e, UnexpectedEOF):
        return ArchSyntaxError("unexpected end of file" + want,
                               Coord(file, *end_of_text(source)))
    else:
        token = e.token
        what = ("unexpected end of line" if token.type == "_NL" else
                "unexpected indentation" if token.type == "_INDENT" else
                "unexpected end of file" if token.type == "$END" else
                f"unexpected {token.value!r}")
    line = getattr(e, "line", None) or 1
    column = getattr(e, "column", None) or 1
    if isinstance(e, UnexpectedToken) and e.token.type in ("_INDENT", "_DEDENT"):
        line, column = e.token.end_line, len(e.token.value) + 1  # value: the indentation
    elif isinstance(e, UnexpectedToken) and e.token.type == "$END":
        line, column = end_of_text(source)
    return ArchSyntaxError(what + want, Coord(file, line, column))


def end_of_text(source: str) -> tuple[int, int]:
    """Line and column just after the last non-blank character."""
    lines = source.rstrip().splitlines() or [""]
    return len(lines), len(lines[-1]) + 1


def expected_of(e: UnexpectedInput) -> set[str]:
    names = getattr(e, "expected", None) or getattr(e, "allowed", None) or set()
    return {n for n in names if not n.startswith("__")}


def quote_literal(terminal: str) -> str:
    """Lark names anonymous terminals (LPAR, COMMA...); show them as the literal text."""
    try:
        pattern = parser().get_terminal(terminal).pattern
    except KeyError:
        return terminal
    return f"'{pattern.value}'" if pattern.type == "str" else terminal.lower()


def parse_quantity(text: str) -> float:
    """`25,557,032` -> 25557032; `3.8G` -> 3.8e9; `159Ki` -> 162816."""
    m = re.fullmatch(r"([\d,.eE+-]+?)(Ki|Mi|Gi|Ti|K|M|G|T)?", text)
    value = float(m.group(1).replace(",", ""))
    return value * UNIT_SUFFIXES.get(m.group(2), 1)


@v_args(meta=True)
class ToAst(Transformer):
    """Lark tree -> ast.Program. Positions come from `meta` (rules) or tokens."""

    def __init__(self, file: str, source: str):
        super().__init__()
        self.file = file
        self.source = source

    def at(self, thing) -> Coord:
        return Coord(self.file, thing.line, thing.column)

    # statements
    def start(self, meta, children):
        parts = {"network": [], "input": [], ast.Default: [], ast.Block: [], ast.Row: [],
                 ast.Expect: [], ast.Use: []}
        for child in children:
            if isinstance(child, tuple):  # ("network" | "input", (value, coord))
                parts[child[0]].append(child[1])
            else:
                parts[type(child)].append(child)
        names = parts["network"]
        inputs = parts["input"]
        for what, found in (("network", names), ("input", inputs)):
            if len(found) > 1:
                raise ArchSyntaxError(f"a file declares one {what}; this is the second. "
                                      f"Received: a second '{what}' line", found[1][1])
        return ast.Program(
            file=self.file,
            network=names[0][0][0] if names else None,
            params=names[0][0][1] if names else (),
            uses=tuple(parts[ast.Use]),
            input=inputs[0][0] if inputs else None,
            input_coord=inputs[0][1] if inputs else None,
            defaults=tuple(parts[ast.Default]), blocks=tuple(parts[ast.Block]),
            rows=tuple(parts[ast.Row]), expects=tuple(parts[ast.Expect]))

    def network(self, meta, children):
        name, *params = children
        return "network", ((str(name), unique_params(tuple(p for p in params if p))),
                           self.at(name))

    def use(self, meta, children):
        path, options = children
        return ast.Use(str(path)[1:-1], options or (), self.at(path))

    def input(self, meta, children):
        return "input", (parse_dims(children[0]), self.at(children[0]))

    def default(self, meta, children):
        name, options = children
        return ast.Default(str(name), options, self.at(name))

    def block(self, meta, children):
        name, *rest = children
        params = unique_params(tuple(p for p in rest if isinstance(p, ast.Param)))
        body = tuple(r for r in rest if isinstance(r, ast.Row))
        return ast.Block(str(name), params, body, self.at(name))

    def param(self, meta, children):
        name, default = children
        return ast.Param(str(name), default, self.at(name))

    def row(self, meta, children):
        label, body = children
        return ast.Row(label and str(label), body, self.at(label) if label else body.coord)

    def label(self, meta, children):
        return children[0]

    def compound(self, meta, children):
        keyword, options, *body = children
        return ast.Compound(str(keyword), options or (), tuple(body), self.at(keyword))

    def sequence(self, meta, children):
        return ast.Sequence(tuple(children), self.at(meta))

    def item(self, meta, children):
        unit, repeat = children
        return ast.Item(unit, repeat, unit.coord)

    def repeat(self, meta, children):
        return self.literal_or_expr(children[1])

    def unit(self, meta, children):
        name, width, stride, options = children
        text = self.source[meta.start_pos:meta.end_pos]
        return ast.Unit(str(name), width, stride, options or (), self.at(name), text)

    def width(self, meta, children):
        return self.literal_or_expr(children[-1])

    stride = width

    def literal_or_expr(self, value):
        if isinstance(value, Token):  # INT
            return ast.Num(int(value), self.at(value))
        return value

    def options(self, meta, children):
        return tuple(c for c in children if c is not None)

    def option(self, meta, children):
        name, value = children
        return ast.Option(name and str(name), value, self.at(meta))

    def list(self, meta, children):
        return ast.ListValue(tuple(c for c in children if c is not None), self.at(meta))

    def expect(self, meta, children):
        metric, compare, measure, tolerance = children
        return ast.Expect(metric[0], "=" if compare == "=" else "≈",
                                    self.measure(measure), tolerance, metric[1])

    def metric(self, meta, children):
        return tuple(str(c) for c in children), self.at(children[0])

    def measure(self, token):
        value = (parse_dims(token) if token.type == "DIMS" else parse_quantity(token))
        return ast.Measure(value, str(token), self.at(token))

    def tolerance(self, meta, children):
        _, amount, percent = children
        return ast.Tolerance(parse_quantity(amount), percent is not None,
                             "±" + amount + ("%" if percent else ""))

    # expressions
    def number(self, meta, children):
        text = str(children[0])
        value = float(text) if any(c in text for c in ".eE") else int(text)
        return ast.Num(value, self.at(children[0]))

    def name(self, meta, children):
        return ast.Name(str(children[0]), self.at(children[0]))

    def string(self, meta, children):
        return ast.Str(str(children[0])[1:-1], self.at(children[0]))

    def call(self, meta, children):
        return ast.Call(str(children[0]), tuple(children[1:]), self.at(children[0]))

    def neg(self, meta, children):
        return ast.Neg(children[0], self.at(meta))

    def add(self, meta, children):
        return binary("+", *children)

    def sub(self, meta, children):
        return binary("-", *children)

    def mul(self, meta, children):
        return binary("*", *children)

    def div(self, meta, children):
        return binary("/", *children)

    def floordiv(self, meta, children):
        return binary("//", *children)


def unique_params(params: tuple) -> tuple:
    seen = set()
    for p in params:
        if p.name in seen:
            raise ArchNameError(f"parameter '{p.name}' is listed twice", p.coord)
        seen.add(p.name)
    return params


def binary(op: str, left: ast.Expr, right: ast.Expr) -> ast.BinOp:
    return ast.BinOp(op, left, right, left.coord)


def parse_dims(token) -> tuple[int, ...]:
    return tuple(int(d) for d in re.split(r"\s*[x×]\s*", str(token)))
