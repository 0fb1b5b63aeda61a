"""The docs' generated tables show what their data says today: the layer kinds of
spec/language.md are nnc's registry, and README's lesion table is the experiment's
results file. Each is checked by docs/make_tables.py, as docs/run_examples.py checks the
language reference's examples (tests/test_docs.py)."""
import sys

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "docs"))
from make_tables import TABLES, difference  # noqa: E402

STALE = "{} is stale: run python docs/make_tables.py --write\n{}"


def test_layer_kind_tables_are_the_registry():
    diff = difference("kinds")
    assert diff == "", STALE.format(TABLES["kinds"][0], diff)


def test_readme_lesion_table_is_the_results_file():
    diff = difference("lesion")
    assert diff == "", STALE.format(TABLES["lesion"][0], diff)


def test_the_check_sees_a_number_typed_by_hand(tmp_path, monkeypatch):
    # A hand edit inside a generated block must fail the check: README's plain-20
    # median was once typed as 88.8% where the results give 90.05%.
    import make_tables
    row = "| trained (baseline) | "
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.count(row) == 1
    (tmp_path / "README.md").write_text(readme.replace(row, row + "99.9% "),
                                        encoding="utf-8")
    monkeypatch.setattr(make_tables, "ROOT", tmp_path)
    diff = difference("lesion")
    assert f"-{row}99.9% " in diff and f"+{row}" in diff


def test_readme_zoo_table_is_what_nnc_counts():
    diff = difference("zoo")
    assert diff == "", STALE.format(TABLES["zoo"][0], diff)


@pytest.mark.slow
def test_importing_docs_show_what_nnc_import_writes():
    """docs/importing.md's ResNet-50 and DenseNet-121 are what `nnc import` writes for
    keras.applications' models today (builds both, with weights=None)."""
    diff = difference("imported")
    assert diff == "", STALE.format(TABLES["imported"][0], diff)
