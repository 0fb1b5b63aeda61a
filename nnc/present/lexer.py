"""A Pygments lexer for .arch files, so that Sphinx, MkDocs, Jupyter and anything else
that highlights with Pygments colours ```arch blocks. pyproject.toml registers it as the
entry point `arch`. `nnc view` highlights its page's source with it too (nnc/present/
listing.py).

It follows nnc/lang/arch.lark: statements begin with a keyword (network, input, use,
default, block, expect) or a row label (`conv1:`); compounds (residual, concat, gate,
head) end in `:`; a unit is a name with the short form's size, width and stride
(`conv3-64/2`, `maxpool3/2`, `fc-4096`, `conv1x7-8`) and a repeat (`x2`, `×3`); computed
sizes are in braces (`-{4*w}`); expect lines compare a metric with a quantity
(`25,557,032`, `3.8G ±2%`, `112Ki`) or a shape (`7x7x2048`). The layer kinds highlighted
as built in are nnc's own (nnc.ir.kinds), so a new kind is highlighted without an edit
here.
"""
from __future__ import annotations

import re

from pygments.lexer import RegexLexer, bygroups, include
from pygments.token import (
    Comment,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Whitespace,
)

from nnc.ir.kinds import KINDS
from nnc.lang.bind import COMPOUNDS

STATEMENTS = ("network", "input", "use", "default", "block")
COMPOUND_WORDS = ("residual", "concat", "gate", "head")   # begin an indented body
UNIT_WORDS = tuple(sorted(set(COMPOUNDS) - set(COMPOUND_WORDS)))   # skip(row), from(row)
DIMS = r"\d+(?:\s*[x×]\s*\d+)+"
QUANTITY = r"(?:\d{1,3}(?:,\d{3})+|\d+(?:\.\d*)?(?:[eE][+-]?\d+)?)(?:Ki|Mi|Gi|Ti|K|M|G|T)?"
NAME = r"[A-Za-z_][A-Za-z0-9_]*"
SIZE_SUFFIX = re.compile(r"\d+(?:x\d+)*$")   # conv3, maxpool3, conv1x7: kind + size


def unit_name(lexer, match):
    """A unit's name: a layer kind with its short form's size (`conv3`) is built in,
    `skip` and `from` are the language's own, anything else is a block or a value."""
    word = match.group()
    if word in UNIT_WORDS:
        token = Keyword.Pseudo
    elif SIZE_SUFFIX.sub("", word) in KINDS:
        token = Name.Builtin
    else:
        token = Name
    yield match.start(), token, word


class ArchLexer(RegexLexer):
    """nnc's .arch network descriptions."""
    name = "Arch"
    aliases = ["arch"]
    filenames = ["*.arch"]
    flags = re.MULTILINE

    tokens = {
        "space": [
            (r"#.*?$", Comment.Single),
            (r"\n", Whitespace),
            (r"[ \t]+", Whitespace),
        ],
        "root": [
            include("space"),
            (r"(expect)(\s+)([\w.]+)", bygroups(Keyword.Declaration, Whitespace,
                                                 Name.Variable), "expect"),
            (rf"(block)(\s+)({NAME})", bygroups(Keyword.Declaration, Whitespace,
                                                Name.Function)),
            (rf"(network)(\s+)({NAME})", bygroups(Keyword.Declaration, Whitespace,
                                                  Name.Class)),
            (rf"(default)(\s+)({NAME})", bygroups(Keyword.Declaration, Whitespace,
                                                  Name.Builtin)),
            (rf"(input)(\s+)({DIMS})", bygroups(Keyword.Declaration, Whitespace, Number)),
            (rf"(?:{'|'.join(STATEMENTS)})\b", Keyword.Declaration),
            (rf"(?:{'|'.join(COMPOUND_WORDS)})\b", Keyword),
            (rf"({NAME})(\s*)(:)", bygroups(Name.Label, Whitespace, Punctuation)),
            (rf"({NAME})(\s*)(=)", bygroups(Name.Attribute, Whitespace, Operator)),
            include("value"),
            (r"(?<=[\s,)}])([x×])(\s*)(?=\d|\{)", bygroups(Operator, Whitespace)),
            (NAME, unit_name),
            (r"//|[-+*/]", Operator),   # a short form's - and /, or an option's arithmetic
            (r"[(),:\[\]]", Punctuation),
        ],
        "value": [
            (r'"[^"\n]*"', String.Double),
            (r"\{", Punctuation, "expression"),
            (r"\d+\.\d*(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+", Number.Float),
            (r"\d+", Number.Integer),
        ],
        "expression": [
            (r"[ \t]+", Whitespace),
            (r"\}", Punctuation, "#pop"),
            (r"\(", Punctuation, "#push"),
            (r"\)", Punctuation, "#pop"),
            include("value"),
            (NAME, Name.Variable),
            (r"//|[-+*/]", Operator),
            (r",", Punctuation),
        ],
        "expect": [
            (r"\n", Whitespace, "#pop"),
            (r"#.*?$", Comment.Single),
            (r"[ \t]+", Whitespace),
            (r"=|≈|~=|±|\+-|%", Operator),
            (DIMS, Number),
            (QUANTITY, Number),
        ],
    }
