"""`nnc draw`: the Graphviz diagram. The DOT text is checked without Graphviz; rendering
needs its `dot` program, which CI installs (.ci/run): there a missing `dot` fails these
tests, elsewhere they are skipped with the reason."""
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from conftest import IN_CI, ROOT, compile_source, needs_dot, run_nnc

import nnc
from nnc.errors import ArchIOError
from nnc.present.draw import diagram, draw

if not IN_CI:
    pytest.importorskip("graphviz", reason="pip install 'nnc[draw]' (CI has it)")


def dot_nodes(source: str) -> list[str]:
    return re.findall(r"^\s*(n\d+) \[", source, flags=re.M)


def dot_edges(source: str) -> list[tuple[str, str]]:
    return re.findall(r"^\s*(n\d+) -> (n\d+)", source, flags=re.M)


def test_resnet152_collapses_to_a_dozen_nodes(load):
    source = diagram(load("resnet152")).source
    # input, conv1, conv2_x's max pool and bottleneck(64) ×3, then in each of conv3_x,
    # conv4_x, conv5_x the strided first call and the repeated rest, pool, fc: 1+1+2+3·2+1+1
    assert len(dot_nodes(source)) == 12
    assert len(dot_edges(source)) == 11  # one chain
    assert source.count("subgraph cluster_") == 4  # conv2_x to conv5_x, two nodes each
    assert "bottleneck(256) ×35" in source and "bottleneck(256, s=2)" in source
    assert "14×14×1024 · 39.21M params" in source  # the 35 calls: shape and params


def test_expanded_resnet20_draws_every_layer(load):
    source = diagram(load("resnet20-cifar"), expand=True).source
    # input; conv1: conv, bn, relu; 9 basic units of conv, bn, relu, conv, bn, add, relu;
    # 2 zero-padding shortcuts where stages begin; pool, fc, softmax
    assert len(dot_nodes(source)) == 1 + 3 + 9 * 7 + 2 + 3 == 72
    # a cluster per row of more than one layer (conv1, fc, the 3 stages) and one inside
    # it per block call (3 per stage)
    assert source.count("subgraph cluster_") == 2 + 3 * (1 + 3)
    assert "stage2.1: basic(32, s=2)" in source


def test_heads_branch_off_dashed(load):
    source = diagram(load("googlenet")).source
    nodes = dict(re.findall(r"^\s*(n\d+) \[label=<(.*?)> fillcolor", source, flags=re.M))
    by_row = {re.search(r"<b>(\w+)</b>", label).group(1): node
              for node, label in nodes.items() if "<b>" in label}
    assert (by_row["inception_4a"], by_row["aux1"]) in dot_edges(source)
    assert re.search(rf'^\s*{by_row["aux1"]} \[.*style="rounded,filled,dashed"', source,
                     flags=re.M)


def test_same_file_same_drawing(load):
    code = ("import nnc; from nnc.present.draw import diagram; "
            "print(diagram(nnc.load('architectures/googlenet.arch'), expand=True).source)")
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": seed}).stdout
            for seed in ("1", "2")}
    assert len(runs) == 1


def node_rows(source: str) -> dict[str, str | None]:
    """Each node's row: the bold name on the outermost box around it, or on the node
    itself when it is a row of its own (None for the input)."""
    rows, boxes = {}, []
    for line in map(str.strip, source.splitlines()):
        if line.startswith("subgraph cluster_"):
            boxes.append(None)
        elif line == "}" and boxes:
            boxes.pop()
        elif boxes and boxes[-1] is None and line.startswith("color="):
            boxes[-1] = re.search(r"label=<<b>(\w+)</b>", line).group(1)
        elif node := re.match(r"(n\d+) \[label=", line):
            own = re.search(r"<b>(\w+)</b>", line)
            rows[node.group(1)] = next((b for b in boxes if b), own and own.group(1))
    return rows


def edges_with(source: str, attributes: str = "") -> list[tuple[str, str]]:
    """The edges, as written (tail first), that carry exactly these attributes."""
    written = rf" \[{re.escape(attributes)}\]" if attributes else ""
    return re.findall(rf"^\s*(n\d+) -> (n\d+){written}$", source, flags=re.M)


LEVEL, BACK = "minlen=0 weight=1000", "dir=back"
UNET_LEVELS = {("down1", "up1"), ("down2", "up2"), ("down3", "up3"), ("down4", "up4")}
# lateral skips joined by add; its way up is shorter than its way down, and the skips
# still run level
FPN = """
    network fpn
    input 32x32x3
    c1: conv3-8 x3
    c2: maxpool, conv3-8 x3
    c3: maxpool, conv3-8
    p2: upsample2, skip(c2, join=add)
    p1: upsample2, skip(c1, join=add), conv1-4
"""


def levels(source: str) -> set[tuple[str, str]]:
    """The rows each skip's level edges join (an earlier row to the joining row)."""
    rows = node_rows(source)
    return {(rows[a], rows[b]) for a, b in edges_with(source, LEVEL) if rows[a] != rows[b]}


@pytest.mark.parametrize("expand", [False, True])
def test_unet_is_a_u_skips_level_and_the_expanding_path_laid_out_upward(load, expand):
    source = diagram(load("unet"), expand).source
    rows = node_rows(source)
    assert levels(source) == UNET_LEVELS
    # each skip's level runs from the down row's output through up row's crop to its
    # concat: two level edges per skip
    assert len(edges_with(source, LEVEL)) == 2 * 4
    # every edge into the expanding path (and the classes after it) is written from its
    # head, arrow turned back, so that dot stacks those rows upward; no other edge is
    upward = {rows[head] for head, _ in edges_with(source, BACK)}
    assert upward == {"up4", "up3", "up2", "up1", "classes"}
    assert {rows[head] for _, head in edges_with(source)} <= {
        "down1", "down2", "down3", "down4", "bottom"}


def test_a_skip_joined_by_add_is_level_too():
    source = diagram(compile_source(FPN)).source
    assert levels(source) == {("c1", "p1"), ("c2", "p2")}
    assert len(edges_with(source, LEVEL)) == 2  # no crop: the add reads the row itself
    assert {node_rows(source)[head] for head, _ in edges_with(source, BACK)} == {"p2", "p1"}


@pytest.mark.parametrize("expand", [False, True])
def test_without_skips_every_edge_points_down(load, expand):
    # GoogLeNet's side heads and the example's head(x) read an earlier row, but join
    # nothing to it: they are not skips
    example = nnc.load(str(ROOT / "docs" / "examples" / "three-conv3-vs-conv7.arch"))
    for compiled in (load("googlenet"), load("resnet20-cifar"), example):
        source = diagram(compiled, expand).source
        assert edges_with(source) == dot_edges(source)  # all plain: none level or back


def test_upconv_reads_as_the_paper_words_it(load):
    source = diagram(load("unet")).source
    assert "<td>up-conv 2×2, 512</td>" in source and "upconv up-conv" not in source
    assert "<td>conv 3×3, 512</td>" in source  # a conv's bare numbers keep their kind
    assert "<td>4096-d fc + dropout</td>" in diagram(load("alexnet")).source


def plain_layout(source: str) -> dict[str, tuple[float, float]]:
    """Where dot puts each node's centre, in inches, y growing upward."""
    plain = subprocess.run(["dot", "-Tplain"], input=source, capture_output=True,
                           text=True, check=True).stdout
    return {f[1]: (float(f[2]), float(f[3]))
            for f in (line.split(maxsplit=4) for line in plain.splitlines())
            if f[0] == "node"}


@needs_dot
@pytest.mark.parametrize("network, bottom", [("unet", "bottom"), ("fpn", "c3")])
def test_the_u_as_dot_lays_it_out(load, network, bottom):
    compiled = load("unet") if network == "unet" else compile_source(FPN)
    source = diagram(compiled).source
    at, rows = plain_layout(source), node_rows(source)
    level_ys = []
    for a, b in edges_with(source, LEVEL):
        assert at[a][1] == at[b][1]  # level: crop and join beside the skip's source
        assert at[a][0] < at[b][0]   # and to its right
        level_ys.append(at[a][1])
    by_row: dict = {}
    for node, (x, y) in at.items():
        by_row.setdefault(rows[node], []).append((x, y))
    # the bottom row lowest, every way-up row right of the way-down row it joins
    assert min(y for _, y in by_row[bottom]) < min(
        y for row, places in by_row.items() if row != bottom for _, y in places)
    for down, up in levels(source):
        assert max(x for x, _ in by_row[down]) < min(x for x, _ in by_row[up])
    # deeper levels lower: the skips, in the order the file writes them, climb
    assert level_ys == sorted(level_ys)


def test_dot_output_needs_no_graphviz_program(tmp_path, load):
    out = tmp_path / "net.dot"
    assert draw(load("alexnet"), str(out)) == "dot"
    assert out.read_text().startswith("digraph alexnet {")


@needs_dot
def test_svg_png_pdf(tmp_path, load):
    svg = tmp_path / "net.svg"
    draw(load("resnet152"), str(svg))
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    texts = [t.text for t in root.iter() if t.tag.endswith("text")]
    assert "bottleneck(256) ×35" in texts
    png, pdf = tmp_path / "net.png", tmp_path / "net.pdf"
    draw(load("resnet20-cifar"), str(png), expand=True)
    draw(load("resnet20-cifar"), str(pdf))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert pdf.read_bytes()[:5] == b"%PDF-"


def test_unknown_suffix_is_a_user_error_and_writes_nothing(tmp_path):
    compiled = compile_source("input 8x8x3\nconv3-4\n")
    with pytest.raises(ArchIOError, match=r"must end in \.svg, \.png, \.pdf, \.dot\. "
                                          r"Received: .*net\.jpg"):
        draw(compiled, str(tmp_path / "net.jpg"))
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_no_file(tmp_path):
    compiled = compile_source("input 8x8x3\nconv3-4\n")
    with pytest.raises(ArchIOError, match="cannot write"):
        draw(compiled, str(tmp_path / "missing" / "net.dot"))
    assert list(tmp_path.iterdir()) == []


@needs_dot
def test_command_line(tmp_path):
    out = run_nnc("draw", "architectures/googlenet.arch", "-o", str(tmp_path / "g.svg"))
    assert out.returncode == 0, out.stderr
    assert "wrote" in out.stdout and (tmp_path / "g.svg").stat().st_size > 1000
    bad = run_nnc("draw", "architectures/googlenet.arch", "-o", str(tmp_path / "g.gif"))
    assert bad.returncode == 2 and "Received:" in bad.stderr
    assert not (tmp_path / "g.gif").exists()


def test_the_front_end_never_imports_graphviz():
    code = ("import sys, nnc, nnc.cli, nnc.analysis.stats, nnc.present.tables, "
            "nnc.present.diff, nnc.present.draw; print('graphviz' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT)
    assert out.stdout.strip() == "False", out.stderr


def test_without_the_dot_program_the_error_says_what_to_install(tmp_path, monkeypatch):
    compiled = compile_source("input 8x8x3\nconv3-4\n")
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot on it
    with pytest.raises(ArchIOError, match=r"needs Graphviz's `dot` program.*apt-get install "
                                          r"graphviz.*net\.dot needs only Python"):
        draw(compiled, str(tmp_path / "net.svg"))
    assert not (tmp_path / "net.svg").exists()
