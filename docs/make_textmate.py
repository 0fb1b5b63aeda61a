"""The TextMate grammar of .arch files, spec/arch.tmLanguage.json, for the editors that
read TextMate grammars (VS Code, Sublime Text, TextMate; GitHub's Linguist too), made from
the same word lists and patterns as the Pygments lexer (nnc/present/lexer.py), so that a
new layer kind or keyword reaches both:

    python docs/make_textmate.py           # write spec/arch.tmLanguage.json
    python docs/make_textmate.py --check   # exit 1 if the file is not what it would write

tests/test_textmate.py runs the check.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from nnc.ir.kinds import KINDS  # noqa: E402
from nnc.present.lexer import (  # noqa: E402
    COMPOUND_WORDS,
    DIMS,
    NAME,
    QUANTITY,
    STATEMENTS,
    UNIT_WORDS,
)
from nnc.present.output import write_atomically  # noqa: E402

TARGET = ROOT / "spec" / "arch.tmLanguage.json"


def words(names) -> str:
    """An alternation that tries longer names first (`conv1x1` before `conv`)."""
    return "|".join(sorted(names, key=lambda n: (-len(n), n)))


def capture(*scopes: str) -> dict:
    return {str(i): {"name": f"{scope}.arch"} for i, scope in enumerate(scopes, 1) if scope}


def grammar() -> dict:
    number = {"match": r"\b\d+\.\d*(?:[eE][+-]?\d+)?\b|\b\d+(?:[eE][+-]?\d+)?\b",
              "name": "constant.numeric.arch"}
    operator = {"match": r"//|[-+*/]", "name": "keyword.operator.arch"}
    comment = {"match": r"#.*$", "name": "comment.line.number-sign.arch"}
    return {
        "name": "Arch",
        "scopeName": "source.arch",
        "fileTypes": ["arch"],
        "comment": "nnc's .arch network descriptions; made by docs/make_textmate.py",
        "patterns": [{"include": f"#{name}"} for name in (
            "comment", "expect", "declaration", "statement", "compound", "label", "option",
            "string", "expression", "repeat", "unit", "number", "operator")],
        "repository": {
            "comment": comment,
            "expect": {
                "begin": r"^\s*(expect)\s+([\w.]+)",
                "beginCaptures": capture("keyword.other.declaration", "variable.other.metric"),
                "end": "$",
                "patterns": [comment,
                             {"match": r"=|≈|~=|±|\+-|%", "name": "keyword.operator.arch"},
                             {"match": DIMS, "name": "constant.numeric.shape.arch"},
                             {"match": QUANTITY, "name": "constant.numeric.arch"}]},
            "declaration": {"patterns": [
                {"match": rf"\b(block)\s+({NAME})",
                 "captures": capture("keyword.other.declaration", "entity.name.function")},
                {"match": rf"\b(network)\s+({NAME})",
                 "captures": capture("keyword.other.declaration", "entity.name.type")},
                {"match": rf"\b(default)\s+({NAME})",
                 "captures": capture("keyword.other.declaration", "support.function.kind")},
                {"match": rf"\b(input)\s+({DIMS})",
                 "captures": capture("keyword.other.declaration", "constant.numeric.shape")}]},
            "statement": {"match": rf"\b(?:{words(STATEMENTS)})\b",
                          "name": "keyword.other.declaration.arch"},
            "compound": {"match": rf"\b(?:{words(COMPOUND_WORDS)})\b",
                         "name": "keyword.control.arch"},
            "label": {"match": rf"({NAME})\s*(:)",
                      "captures": capture("entity.name.section.row", "punctuation.separator")},
            "option": {"match": rf"({NAME})\s*(=)",
                       "captures": capture("variable.parameter.option", "keyword.operator")},
            "string": {"match": r'"[^"\n]*"', "name": "string.quoted.double.arch"},
            "expression": {"begin": r"\{", "end": r"\}", "name": "meta.expression.arch",
                           "patterns": [number, operator,
                                        {"match": NAME, "name": "variable.other.arch"}]},
            "repeat": {"match": r"(?<=[\s,)}])[x×]\s*(?=\d|\{)",
                       "name": "keyword.operator.repeat.arch"},
            "unit": {"patterns": [
                {"match": rf"\b(?:{words(UNIT_WORDS)})\b", "name": "keyword.other.unit.arch"},
                {"match": rf"\b(?:{words(KINDS)})(?:\d+(?:x\d+)*)?\b",
                 "name": "support.function.kind.arch"}]},
            "number": number,
            "operator": operator,
        },
    }


def text() -> str:
    return json.dumps(grammar(), indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    if "--check" in sys.argv[1:]:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text():
            print(f"{TARGET.relative_to(ROOT)} is out of date: run python "
                  f"docs/make_textmate.py", file=sys.stderr)
            return 1
        return 0
    write_atomically(str(TARGET), text().encode())
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
