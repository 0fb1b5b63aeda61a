"""The language reference's examples run, and show what nnc prints today."""
import sys

from conftest import ROOT

sys.path.insert(0, str(ROOT / "docs"))
from run_examples import refresh  # noqa: E402


def test_language_reference_examples_are_current():
    document = ROOT / "spec" / "language.md"
    new, problems = refresh(document)
    assert problems == []
    assert new == document.read_text(), ("spec/language.md shows stale output: run "
                                         "python docs/run_examples.py spec/language.md --write")
