"""The package's layout is the compiler's pipeline, and imports run one way along it:

    errors, wording → ir → lang → analysis → present → backends → experiments → cli → api

`ir` (the layer kinds and the checked network) comes first because it is the
vocabulary every stage speaks: the front end (`lang`) builds it from text, and every
stage after reads it. A module may import its own stage and the ones before it, never a
later one, not even inside a function; and no module imports itself back through others.

Kind names live in the kinds' own modules and in each backend's lowering table: anywhere
else, behaviour chosen by comparing a kind's name would be a hidden list of kinds that a
new kind silently misses.
"""
import ast
from pathlib import Path

import networkx as nx
from conftest import ROOT

from nnc.ir.kinds import KINDS

PACKAGE = ROOT / "nnc"
STAGES = ["nnc.errors", "nnc.wording", "nnc.ir", "nnc.lang", "nnc.analysis", "nnc.present",
          "nnc.backends", "nnc.experiments", "nnc.cli", "nnc.api", "nnc.__main__", "nnc"]
BASE = 2  # errors and wording are one stage: neither imports the other


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, ast.Module]:
    return {module_name(p): ast.parse(p.read_text(), str(p)) for p in PACKAGE.rglob("*.py")}


def imported(tree: ast.Module, known: set[str]) -> set[str]:
    """The nnc modules a module imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return {name for name in found if name in known}


def stage(module: str) -> int:
    """The index in STAGES of the longest stage name that the module is in."""
    index = max((i for i, s in enumerate(STAGES) if module == s or module.startswith(s + ".")),
                key=lambda i: len(STAGES[i]))
    return max(index, BASE - 1) if index < BASE else index


def import_graph() -> nx.DiGraph:
    trees = modules()
    graph = nx.DiGraph()
    graph.add_nodes_from(trees)
    for module, tree in trees.items():
        graph.add_edges_from((module, target) for target in imported(tree, set(trees))
                             if target != module)
    return graph


def test_every_module_imports_only_its_own_stage_and_earlier_ones():
    graph = import_graph()
    assert len(graph) > 40  # the scan found the package
    upward = [f"{a} imports {b}" for a, b in graph.edges if stage(b) > stage(a)]
    assert upward == []


def test_no_module_imports_itself_back_through_others():
    graph = import_graph()
    # Importing a package runs its __init__: an edge from a submodule to the package
    # that holds it is no circle of its own making.
    package_edges = [(a, b) for a, b in graph.edges if a.startswith(b + ".")]
    graph.remove_edges_from(package_edges)
    assert list(nx.simple_cycles(graph)) == []


def test_the_check_sees_a_later_stage_imported_inside_a_function():
    tree = ast.parse("def f():\n    from nnc.backends.keras.model import to_keras\n")
    known = {"nnc.backends.keras.model"}
    assert imported(tree, known) == known
    assert stage("nnc.backends.keras.model") > stage("nnc.analysis.stats")


KIND_HOMES = ("nnc/ir/kinds/", "nnc/backends/")  # the kinds; each backend's lowering table
TABLES = ("lowering.py", "raise_.py")  # a backend's lowering table and its inverse (import)
# Words that are a kind's name and also mean something else where they are compared.
HOMONYMS = {"nnc/experiments/lesion.py": {"identity"}}  # a unit's identity shortcut


def kind_name_uses(tree: ast.Module, homonyms: set = frozenset()) -> list[int]:
    """Lines that compare something with a kind's name, or look a kind up by its name
    written as a string. A compound's keyword (`concat:`) is language, not a kind."""
    names = set(KINDS) - homonyms
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(isinstance(s, ast.Attribute) and s.attr == "keyword" for s in sides):
                continue
            constants = [c for s in sides for c in ast.walk(s) if isinstance(c, ast.Constant)]
            if any(c.value in names for c in constants if isinstance(c.value, str)):
                lines.append(node.lineno)
        elif (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)
              and node.value.id == "KINDS" and isinstance(node.slice, ast.Constant)):
            lines.append(node.lineno)
    return lines


def test_kind_names_appear_only_in_the_kinds_and_the_lowering_tables():
    found = {}
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(KIND_HOMES[0]) or (relative.startswith(KIND_HOMES[1])
                                                   and path.name in TABLES):
            continue
        lines = kind_name_uses(ast.parse(path.read_text()), HOMONYMS.get(relative, set()))
        if lines:
            found[relative] = lines
    assert found == {}


def test_the_kind_name_check_finds_what_it_looks_for():
    tree = ast.parse('if layer.kind.name == "bn":\n    pass\nx = KINDS["conv"]\n'
                     'if compound.keyword == "concat":\n    pass\n')
    assert kind_name_uses(tree) == [1, 3]
