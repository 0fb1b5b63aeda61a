"""`nnc view`: the page as a file (parsed here as HTML; tests/test_view_browser.py opens
it in a real browser), its errors in place for a file that does not check, two files
side by side, the command's mistakes, and the live server on loopback."""
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from conftest import ARCHITECTURES, ROOT, needs_dot, served
from test_notebook import Page

from nnc import cli

BROKEN = """\
network broken
input 32x32x3
conv1: conv3-16, bn, relu
fc:    fc-10, softmaxx
"""


def view(tmp_path, *files, name="page.html") -> tuple[int, str]:
    out = tmp_path / name
    code = cli.main(["view", *map(str, files), "-o", str(out)])
    return code, out.read_text() if out.exists() else ""


def data_of(html: str) -> list[dict]:
    return [json.loads(block.replace("<\\/", "</")) for block in re.findall(
        r"<script type='application/json' class='nnc-data'>(.*?)</script>", html, re.S)]


def test_the_page_is_one_file_that_fetches_nothing(tmp_path):
    code, html = view(tmp_path, ARCHITECTURES / "resnet50.arch")
    page = Page(html)
    assert code == 0 and page.mismatched == [] and page.open == []
    assert not re.search(r"""(src|href)\s*=\s*['"]?(https?:|//|file:)""", html)
    assert re.findall(r"<link[^>]*>", html) == ["<link rel='icon' href='data:,'>"]
    assert "@import" not in html and "url(" not in html
    assert not re.search(r"<script[^>]*\bsrc=", html)


def test_the_layer_table_expands_from_rows_to_calls_to_layers(tmp_path, reference):
    html = view(tmp_path, ARCHITECTURES / "resnet50.arch")[1]
    rows = re.findall(r"<tr class='lv(\d)[^']*'([^>]*)>(.*?)</tr>", html)
    cells = [re.findall(r"<td[^>]*>(?:<button[^>]*>.</button>)?([^<]*)</td>", r[2]) for r in rows]
    level = [int(r[0]) for r in rows]
    top = [c[0] for c, lv in zip(cells, level) if lv == 0]
    written = re.findall(r"^(\w+):", (ARCHITECTURES / "resnet50.arch").read_text(), re.M)
    assert top == written
    conv3 = [(c[0], c[5]) for c, lv in zip(cells, level) if c[0].startswith("conv3_x")]
    # Table 1: conv3_x is 4 bottlenecks of 3 weight layers each: depth 12 in the row's
    # line, 3 in each call's (the depth column counts within the line, as papers do)
    assert conv3[0] == ("conv3_x", "12")
    assert [c for c in conv3 if c[0].count(".") == 1] == [
        (f"conv3_x.{i}", "3") for i in (1, 2, 3, 4)]
    # the leaves are every layer once, and their params add up to torchvision's count
    # plus BatchNorm's moving statistics (2 per channel: as Keras counts them)
    leaves = [c for (lv, attrs, _), c in zip(rows, cells) if "data-layer" in attrs]
    names = [c[0] for c in leaves]
    layers = {layer["name"]: layer for layer in data_of(html)[0]["layers"]}
    assert len(names) == len(set(names)) == len(layers) - 1  # all but the input
    trainable = reference["resnet"]["trainable_params_torchvision"][50]
    batchnorm_channels = sum(int(layer["shape"].split("×")[-1]) for layer in layers.values()
                             if layer["kind"] == "bn")
    assert sum(int(c[6].replace(",", "")) for c in leaves) == trainable + 2 * batchnorm_channels


def test_the_page_has_the_papers_table_with_its_brackets(tmp_path):
    html = view(tmp_path, ARCHITECTURES / "resnet50.arch")[1]
    brackets = re.findall(r"<span class='nnc-stack'>(.*?)</span></span> ×(\d+)", html)
    # ResNet's Table 1, the 50-layer column
    assert [(stack.split("<br>"), int(times)) for stack, times in brackets] == [
        (["1×1, 64", "3×3, 64", "1×1, 256"], 3), (["1×1, 128", "3×3, 128", "1×1, 512"], 4),
        (["1×1, 256", "3×3, 256", "1×1, 1024"], 6), (["1×1, 512", "3×3, 512", "1×1, 2048"], 3)]


@needs_dot
def test_every_diagram_node_lists_its_layers_and_every_layer_is_in_one_node(tmp_path):
    html = view(tmp_path, ARCHITECTURES / "resnet50.arch")[1]
    data = data_of(html)[0]
    listed = sorted(i for layers in data["nodes"].values() for i in layers)
    assert listed == list(range(len(data["layers"])))
    titles = re.findall(r"<g id=\"p0-node\d+\" class=\"node\">\s*<title>(\w+)</title>", html)
    assert sorted(titles) == sorted(data["nodes"])
    conv1 = next(layers for layers in data["nodes"].values()
                 if data["layers"][layers[0]]["name"] == "conv1.conv1")
    # the stem's node holds conv 7×7/2 with BN and ReLU folded in: 7·7·3·64 + 4·64
    assert [data["layers"][i]["kind"] for i in conv1] == ["conv", "bn", "relu"]
    assert sum(data["layers"][i]["trainable"] + data["layers"][i]["non_trainable"]
               for i in conv1) == 7 * 7 * 3 * 64 + 4 * 64


def test_each_source_line_is_linked_to_the_layers_it_made(tmp_path):
    source = (ARCHITECTURES / "resnet50.arch").read_text().splitlines()
    data = data_of(view(tmp_path, ARCHITECTURES / "resnet50.arch")[1])[0]
    layers = data["layers"]
    row_line = next(i for i, text in enumerate(source, 1) if text.startswith("conv3_x:"))
    made = [layers[i]["name"] for i in data["lines"][str(row_line)]]
    assert made and all(name.startswith("conv3_x.") for name in made)
    assert {name.split(".")[1] for name in made} == {"1", "2", "3", "4"}
    block_line = next(i for i, text in enumerate(source, 1) if "conv1-{4*w}" in text
                      or "conv1-{w*4}" in text)
    in_block = [layers[i] for i in data["lines"][str(block_line)]]
    assert in_block and all(layer["line"] == block_line for layer in in_block)
    assert len({layer["row"] for layer in in_block}) == 4   # every stage calls the block


def test_a_file_that_does_not_check_gives_a_page_with_the_error_under_its_line(
        tmp_path, capsys):
    arch = tmp_path / "broken.arch"
    arch.write_text(BROKEN)
    code, html = view(tmp_path, arch)
    assert code == 2
    err = capsys.readouterr().err
    assert f"{arch}:4:15: error: unknown layer kind or block 'softmaxx'" in err
    lines = re.findall(r"<div class='nnc-line' id='p0-L(\d+)'|"
                       r"<div class='nnc-problem nnc-(\w+)' data-line='(\d+)'>"
                       r"<code class='nnc-caret'>( *)\^</code><div><b>\w+</b>: ([^<]*)", html)
    order = [f"L{n}" if n else f"{sev}@{line}" for n, sev, line, *_ in lines]
    assert order == ["L1", "L2", "L3", "L4", "error@4"]
    caret, message = lines[-1][3], lines[-1][4]
    assert len(caret) == BROKEN.splitlines()[3].index("softmaxx") == 14
    assert message.startswith("unknown layer kind or block &#x27;softmaxx&#x27;; did you mean")
    assert "does not check: 1 error" in html


def test_lints_are_shown_under_their_lines_on_a_page_that_checks(tmp_path):
    arch = tmp_path / "lint.arch"
    arch.write_text("network l\ninput 8x8x1\nconv1: conv3-4, bn, relu\nfc: fc-10, softmax\n")
    code, html = view(tmp_path, arch)
    assert code == 0
    assert re.search(r"id='p0-L3'.*?</div><div class='nnc-problem nnc-warning' "
                     r"data-line='3'>.*?bias", html, re.S)
    assert "<h2>Layers: rows, block calls, layers</h2>" in html   # the lint replaces nothing


def test_two_files_are_shown_side_by_side_under_the_diff(tmp_path):
    code, html = view(tmp_path, ARCHITECTURES / "vggC.arch", ARCHITECTURES / "vggD.arch")
    assert code == 0 and Page(html).mismatched == []
    assert html.count("<section class='nnc-panel'") == 2 and "nnc-pair" in html
    ids = re.findall(r" id=[\"']([^\"']+)[\"']", html)
    assert len(ids) == len(set(ids)) > 100   # the two diagrams' elements too
    diff = Page(html[html.index("<div class='nnc-diff'>"):html.index("<div class='nnc-pair'>")])
    changed = [row for row in diff.tables[None] if row[:1] == ["conv3.conv3"]]
    # VGG Table 1: C's third conv of stage 3 is 1×1, D's is 3×3 (256 channels)
    assert changed == [["conv3.conv3", "1×1, 256", "3×3, 256", "56×56×256",
                        f"+{(9 - 1) * 256 * 256:,}"]]


def test_an_error_in_a_used_file_shows_under_the_call_that_reached_it(tmp_path):
    (tmp_path / "lib.arch").write_text("network lib\ninput 8x8x1\nblock thing(c):\n"
                                       "    conv3-{c}, relu\n    fc-10, maxpool2\n")
    main = tmp_path / "main.arch"
    main.write_text('network main\nuse "lib.arch"\ninput 8x8x1\ns:  thing(4)\nfc: fc-10\n')
    code, html = view(tmp_path, main)
    assert code == 2
    shown = re.search(r"id='p0-L4'.*?</div><div class='nnc-problem nnc-error' data-line='4'>"
                      r"<code class='nnc-caret'>( *)\^</code><pre>([^<]*)</pre>", html, re.S)
    assert shown and len(shown.group(1)) == 4   # under `thing(4)`, column 5
    assert f"{tmp_path / 'lib.arch'}:5:12: error: maxpool2" in shown.group(2)
    assert "      fc-10, maxpool2\n             ^" in shown.group(2)   # lib.arch's own line


def test_names_and_comments_cannot_break_out_of_the_page(tmp_path):
    folder = tmp_path / "<!--<script>"
    folder.mkdir()
    arch = folder / "x'\"<b>.arch"
    arch.write_text("# </script><script>alert(1)</script> <!-- & \"quotes\"\n"
                    "network x\ninput 8x8x1\nfc: fc-10\n")
    code, html = view(tmp_path, arch)
    assert code == 0 and Page(html).mismatched == []
    assert len(re.findall(r"<script\b", html)) == 2   # the data and the page's own script
    assert "alert(1)" in html and "<script>alert" not in html
    assert data_of(html)[0]["file"] == str(arch)


@pytest.mark.parametrize("write, message", [
    (lambda p: p.write_bytes(b"network x\ninput 8x8x1\n# caf\xe9\nfc: fc-10\n"), "UTF-8"),
    (lambda p: p.mkdir(), "Is a directory"),
    (lambda p: None, "No such file"),
])
def test_a_file_that_cannot_be_read_gives_a_page_too_beside_a_good_one(
        tmp_path, capsys, write, message):
    bad = tmp_path / "bad.arch"
    write(bad)
    code, html = view(tmp_path, bad, ARCHITECTURES / "lenet5.arch")
    assert code == 2 and message in capsys.readouterr().err
    assert html.count("<section class='nnc-panel'") == 2
    assert f"no diff: {bad} does not check." in html
    assert "network lenet5" in html and "does not check: 1 error" in html


@pytest.mark.parametrize("args, message", [
    (["vggA.arch"], "say where the page goes: -o report.html to write it, or --serve"),
    (["vggA.arch", "-o", "x.png"], "its name must end in .html. Received: x.png"),
    (["vggA.arch", "vggB.arch", "vggC.arch", "-o", "x.html"], "Received: 3 files"),
    (["vggA.arch", "-o", "no/such/folder/x.html"], "/no/such/folder' does not exist"),
    (["vggA.arch", "-o", "a-folder.html"], "cannot write the page over a folder"),
])
def test_mistakes_exit_2_with_one_message(tmp_path, capsys, args, message):
    (tmp_path / "a-folder.html").mkdir()
    files = [str(ARCHITECTURES / a) if a.endswith(".arch") else str(tmp_path / a)
             if a.endswith(".html") else a for a in args]
    assert cli.main(["view", *files]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "x.html").exists() and not (tmp_path / "x.png").exists()


def test_view_never_imports_tensorflow_keras_jax_or_torch(tmp_path):
    code = ("import sys, nnc.cli\n"
            f"code = nnc.cli.main(['view', 'architectures/resnet152.arch', '-o', "
            f"{str(tmp_path / 'r.html')!r}])\n"
            "heavy = [m for m in ('tensorflow', 'keras', 'jax', 'torch') if m in sys.modules]\n"
            "sys.exit(1 if code or heavy else 0)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr


# --- the live server ---------------------------------------------------------------------

def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def own_address() -> str | None:
    """An address of this machine other than loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))   # TEST-NET-1: no packet is sent
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def params_shown(html: str) -> int:
    return int(dict(Page(html).tables["nnc-totals"])["params"].replace(",", ""))


def test_the_live_server_shows_each_saved_version_on_loopback_only(tmp_path):
    arch = tmp_path / "live.arch"
    arch.write_text("network live\ninput 8x8x1\nconv1: conv3-4\nfc: fc-10\n")
    with served(arch) as (server, line):
        address = re.search(r"serving at (http://127\.0\.0\.1:(\d+)/)", line)
        assert address, line + server.stderr.read()
        url, port = address.group(1), int(address.group(2))
        status, html = get(url)
        assert status == 200 and params_shown(html) == (3 * 3 * 1 + 1) * 4 + (8 * 8 * 4 + 1) * 10
        version = get(url + "version")[1]
        assert f"data-version=\"{version}\"" in html or f"data-version='{version}'" in html
        time.sleep(0.05)   # a new modification time, even on coarse clocks
        arch.write_text("network live\ninput 8x8x1\nconv1: conv3-8\nfc: fc-10\n")
        os.utime(arch, ns=(time.time_ns(), time.time_ns() + 10**9))
        assert get(url + "version")[1] != version
        assert params_shown(get(url)[1]) == (3 * 3 * 1 + 1) * 8 + (8 * 8 * 8 + 1) * 10
        arch.write_text("network live\ninput 8x8x1\nconv1: conv3-8\nfc: fcc-10\n")
        os.utime(arch, ns=(time.time_ns(), time.time_ns() + 2 * 10**9))
        assert "does not check: 1 error" in get(url)[1]
        assert get(url + "etc/passwd")[0] == 404
        rebound = urllib.request.Request(url, headers={"Host": f"evil.example:{port}"})
        with pytest.raises(urllib.error.HTTPError, match="403"):   # DNS rebinding
            urllib.request.urlopen(rebound, timeout=10)
        head = urllib.request.Request(url, method="HEAD")
        with urllib.request.urlopen(head, timeout=10) as answer:
            assert answer.status == 200 and answer.read() == b""
        other = own_address()
        if other is not None:   # nothing listens there
            with pytest.raises(OSError):
                socket.create_connection((other, port), timeout=2).close()
    assert server.returncode == 0 and server.errors.strip().endswith("stopped")
    with pytest.raises(OSError):   # stopped: the port no longer answers
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
