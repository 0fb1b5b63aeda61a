"""`nnc draw`: the Graphviz diagram. The DOT text is checked without Graphviz; rendering
needs its `dot` program, which CI installs (.ci/run): there a missing `dot` fails these
tests, elsewhere they are skipped with the reason."""
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest
from conftest import ROOT, compile_source, run_nnc

from nnc.errors import ArchIOError
from nnc.present.draw import diagram, draw

IN_CI = bool(os.environ.get("CI"))
needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None and not IN_CI,
    reason="Graphviz's dot program is not installed (apt-get install graphviz; CI has it)")
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


def test_upconv_reads_as_the_paper_words_it(load):
    source = diagram(load("unet")).source
    assert "<td>up-conv 2×2, 512</td>" in source and "upconv up-conv" not in source
    assert "<td>conv 3×3, 512</td>" in source  # a conv's bare numbers keep their kind
    assert "<td>4096-d fc + dropout</td>" in diagram(load("alexnet")).source


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
