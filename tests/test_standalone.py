"""A fresh clone, with nothing beside it, runs its tests: no test, doc script, benchmark
or CI script reaches for the `shared` folder outside the repository (the published
figures live in tests/published.yaml)."""
import re

from conftest import REFERENCE, ROOT

SCANNED_FOLDERS = ["tests", "docs", "benchmarks", ".ci"]
SCANNED_SUFFIXES = {".py", ".sh", ".yaml", ".yml", ".cfg"}
# "../shared" or "/work/shared" written out, or a path join such as
# `ROOT.parent / "shared" /` or `os.path.join(here, "..", "shared")`.
OUTSIDE = re.compile(r"""\.\./shared\b|/work/shared\b"""
                     r"""|["']shared["']\s*[/,)]|/\s*["']shared["']""")


def scanned_files() -> list:
    files = [ROOT / ".ci" / "run"]
    for folder in SCANNED_FOLDERS:
        files += [path for path in sorted((ROOT / folder).rglob("*"))
                  if path.suffix in SCANNED_SUFFIXES and path.is_file()
                  and "__pycache__" not in path.parts]
    return [path for path in files if path != ROOT / "tests" / "test_standalone.py"]


def test_the_pattern_catches_the_old_ways_out():
    # What tests/conftest.py once said, and the ways a path can be written.
    for line in ['REFERENCE = ROOT.parent / "shared" / "reference" / "networks.yaml"',
                 "python3 ../shared/tools/check_reference.py",
                 'os.path.join(ROOT, "..", "shared")']:
        assert OUTSIDE.search(line), line
    assert not OUTSIDE.search("# Shared helpers: the repo's paths")


def test_no_file_reaches_outside_the_repository():
    files = scanned_files()
    assert ROOT / "tests" / "conftest.py" in files and ROOT / ".ci" / "run" in files
    offenders = [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
                 for path in files
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
                 if OUTSIDE.search(line)]
    assert offenders == []


def test_the_published_figures_are_in_the_repository():
    assert REFERENCE.is_file()
    assert REFERENCE.resolve().is_relative_to(ROOT)
