"""`nnc diff A B`: per-row and total changes, checked against hand arithmetic."""
import json

from conftest import compile_source, run_nnc

from nnc.present.diff import compare, format_text, to_json


def test_vgg_c_to_d_turns_three_1x1_convs_into_3x3(load):
    d = compare(load("vggC"), load("vggD"))
    # C's third conv of blocks 3-5 is 1×1, D's is 3×3: each gains (9 - 1)·C_in·C_out
    # weights (the bias is the same): 8·256·256 + 8·512·512 + 8·512·512.
    gain = {"conv3": 8 * 256 * 256, "conv4": 8 * 512 * 512, "conv5": 8 * 512 * 512}
    assert sum(gain.values()) == 4_718_592
    j = to_json(d)
    assert j["totals"]["delta"]["params"] == 4_718_592
    rows = {r["name"]: r for r in j["rows"]}
    for name, params in gain.items():
        assert rows[name]["delta"]["params"] == params
        assert rows[name]["status"] == "changed"
    assert rows["conv1"]["status"] == "same" and rows["conv1"]["delta"]["params"] == 0
    # the layers that changed, as the papers write them
    assert [(x["name"], x["a"]["layer"], x["b"]["layer"]) for x in j["layers"]] == [
        ("conv3.conv3", "1×1, 256", "3×3, 256"), ("conv4.conv3", "1×1, 512", "3×3, 512"),
        ("conv5.conv3", "1×1, 512", "3×3, 512")]
    # MACs: each gained weight is applied at every output position
    assert j["totals"]["delta"]["macs"] == (8 * 256 * 256 * 56 * 56 + 8 * 512 * 512 * 28 * 28
                                            + 8 * 512 * 512 * 14 * 14)


def test_receptive_fields_grow_where_1x1_became_3x3(load):
    rows = {r["name"]: r for r in to_json(compare(load("vggC"), load("vggD")))["rows"]}
    # after pool2 the field is 16 at stride 4; C adds two 3×3 (2·2·4), D three (3·2·4)
    assert rows["conv3"]["a"]["receptive_field"]["size"] == [16 + 2 * 2 * 4] * 2 == [32, 32]
    assert rows["conv3"]["b"]["receptive_field"]["size"] == [16 + 3 * 2 * 4] * 2 == [40, 40]
    assert rows["pool5"]["b"]["receptive_field"]["size"] == [212, 212]


def test_text_shows_rows_layers_and_totals(load):
    text = format_text(compare(load("vggC"), load("vggD")))
    assert "conv3.conv3  1×1, 256  3×3, 256" in text
    assert "32×32/4 → 40×40/4" in text
    assert "params: 133,638,952 → 138,357,544 (+4,718,592)" in text


def test_resnet18_to_plain18_loses_the_projection_shortcuts(load):
    j = to_json(compare(load("resnet18"), load("plain18")))
    rows = {r["name"]: r for r in j["rows"]}
    # each lost shortcut: a 1×1 conv C_in·C_out (no bias) + BN's 4·C_out
    for name, (c_in, c_out) in {"conv3_x": (64, 128), "conv4_x": (128, 256),
                                "conv5_x": (256, 512)}.items():
        assert rows[name]["delta"]["params"] == -(c_in * c_out + 4 * c_out)
    # the shortcut conv and its BN, plus the add, in each of the 8 units (3 with projections)
    assert j["layers_only_in"] == {"a": 3 * 2 + 8, "b": 0}


def test_rows_only_on_one_side():
    a = compile_source("""
        input 8x8x3
        first: conv3-4
        last:  fc-10
    """)
    b = compile_source("""
        input 8x8x3
        first: conv3-4
        extra: conv3-4
        last:  fc-10
    """)
    rows = {r["name"]: r for r in to_json(compare(a, b))["rows"]}
    assert rows["extra"]["status"] == "added" and rows["extra"]["a"] is None
    assert rows["extra"]["delta"]["params"] == 3 * 3 * 4 * 4 + 4
    # the fc after it keeps its params but sees more: 3 + (8-1) = 10 -> 3 + 2 + 7 = 12
    assert rows["last"]["status"] == "changed" and rows["last"]["delta"]["params"] == 0
    assert rows["last"]["a"]["receptive_field"]["size"] == [10, 10]
    assert rows["last"]["b"]["receptive_field"]["size"] == [12, 12]
    assert to_json(compare(b, a))["rows"][1]["status"] == "removed"


def test_command_line(tmp_path):
    out = run_nnc("diff", "--json", "architectures/vggC.arch", "architectures/vggD.arch")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["totals"]["delta"]["params"] == 4_718_592
    broken = tmp_path / "broken.arch"
    broken.write_text("input 8x8x3\nconv3-4(sideways=1)\n")
    out = run_nnc("diff", "architectures/vggC.arch", str(broken))
    assert out.returncode == 2 and "broken.arch:2:" in out.stderr
