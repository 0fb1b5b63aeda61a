"""`nnc stats` prints exactly what it printed before the package was split into pipeline
stages (commit 3e18c4b): text and markdown for every shipped architecture, and --json
for those whose JSON is under 80 KB.

These snapshots are regression guards for refactoring, not sources of figures: the
figures in them are checked against the papers and torchvision elsewhere
(tests/test_stats.py, tests/published.yaml). A change that means to alter the output
rewrites them with `python tests/test_snapshots.py --write` and says so in its commit.
"""
import sys

import pytest
from conftest import ARCHITECTURES, ROOT

from nnc import cli

SNAPSHOTS = ROOT / "tests" / "snapshots"
FORMATS = {".txt": [], ".md": ["--format", "markdown"], ".json": ["--json"]}
CASES = sorted((path.stem, suffix) for path in SNAPSHOTS.iterdir()
               for suffix in FORMATS if path.suffix == suffix)


def stats_output(name: str, suffix: str, capsys) -> str:
    path = f"architectures/{name}.arch"  # relative, as the snapshots name the file
    assert cli.main(["stats", *FORMATS[suffix], path]) == 0
    return capsys.readouterr().out


def test_every_architecture_shipped_before_the_split_has_text_and_markdown_snapshots():
    before_the_split = {path.stem for path in SNAPSHOTS.glob("*.txt")}
    assert len(before_the_split) == 19  # the networks of the reference lecture
    assert before_the_split <= {path.stem for path in ARCHITECTURES.glob("*.arch")}
    assert {name for name, suffix in CASES if suffix == ".md"} == before_the_split


@pytest.mark.parametrize("name, suffix", CASES)
def test_stats_output_is_unchanged(name, suffix, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    expected = (SNAPSHOTS / f"{name}{suffix}").read_text()
    assert stats_output(name, suffix, capsys) == expected


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    import contextlib
    import io
    import os
    os.chdir(ROOT)
    for name, suffix in CASES:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            cli.main(["stats", *FORMATS[suffix], f"architectures/{name}.arch"])
        (SNAPSHOTS / f"{name}{suffix}").write_text(out.getvalue())
