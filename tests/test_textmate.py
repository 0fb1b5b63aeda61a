"""The TextMate grammar for editors (spec/arch.tmLanguage.json) is the one
docs/make_textmate.py makes from the lexer's word lists, and it reads every shipped file
as the Pygments lexer does: the same words are layer kinds, row labels and keywords.

A TextMate editor runs the grammar with Oniguruma; here a small runner with Python's re
does what the grammar uses: at each point the pattern matching earliest wins (the first
listed on a tie), captures name their groups, begin/end spans run their own patterns.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from conftest import ARCHITECTURES, ROOT
from pygments.token import Keyword, Name

from nnc.present.lexer import ArchLexer

GRAMMAR = json.loads((ROOT / "spec" / "arch.tmLanguage.json").read_text(encoding="utf-8"))


def flatten(patterns: list[dict]) -> list[dict]:
    """Includes (`#name`) and pattern groups replaced by the patterns they hold."""
    flat = []
    for p in patterns:
        if "include" in p:
            p = GRAMMAR["repository"][p["include"][1:]]
        flat += flatten(p["patterns"]) if set(p) == {"patterns"} else [p]
    return flat


def scopes(line: str, patterns: list[dict], end: str | None = None, start: int = 0):
    """(text, scope) of each token of `line` from `start`, up to `end`'s match; returns
    the tokens and where it stopped."""
    tokens, at, flat = [], start, flatten(patterns)
    while at < len(line):
        stop = re.compile(end).search(line, at) if end else None
        found = [(m.start(), i, p, m) for i, p in enumerate(flat)
                 for m in [re.compile(p.get("match") or p["begin"]).search(line, at)] if m]
        if stop and (not found or stop.start() <= min(found)[0]):
            return tokens, stop.end()
        if not found:
            break
        _, _, p, m = min(found, key=lambda f: (f[0], f[1]))
        captures = p.get("captures") or p.get("beginCaptures")
        if captures:
            tokens += [(m.group(int(g)), c["name"]) for g, c in captures.items()]
        else:
            tokens.append((m.group(), p.get("name", "")))
        if "begin" in p:
            inner, at = scopes(line, p.get("patterns", []), p["end"], m.end())
            tokens += inner
            continue
        at = max(m.end(), at + 1)
    return tokens, len(line)


def test_the_grammar_file_is_what_the_script_makes():
    result = subprocess.run([sys.executable, "docs/make_textmate.py", "--check"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_every_pattern_compiles():
    def patterns(node):
        if isinstance(node, dict):
            for key in ("match", "begin", "end"):
                if key in node:
                    yield node[key]
            for value in node.values():
                yield from patterns(value)
        elif isinstance(node, list):
            for value in node:
                yield from patterns(value)
    found = list(patterns(GRAMMAR))
    assert len(found) > 15
    for pattern in found:
        re.compile(pattern)


PYGMENTS = {Name.Builtin: "support.function.kind", Name.Label: "entity.name.section.row",
            Keyword: "keyword.control", Keyword.Declaration: "keyword.other.declaration",
            Keyword.Pseudo: "keyword.other.unit"}


@pytest.mark.parametrize("path", sorted(ARCHITECTURES.glob("*.arch")), ids=lambda p: p.stem)
def test_kinds_labels_and_keywords_read_as_the_pygments_lexer_reads_them(path):
    text = path.read_text()
    expected = [(value, PYGMENTS[token]) for token, value in ArchLexer().get_tokens(text)
                if token in PYGMENTS]
    found = [(value, scope.removesuffix(".arch")) for line in text.splitlines()
             for value, scope in scopes(line, GRAMMAR["patterns"])[0]
             if scope.removesuffix(".arch") in PYGMENTS.values()]
    assert found == expected
