"""Receptive fields, memory and residual paths (nnc/analysis/), each against a figure
worked out by hand in the test or published in a paper."""
import json
from math import comb

import pytest
from conftest import ROOT, compile_source, run_nnc

import nnc
from nnc.analysis.memory import memory
from nnc.analysis.paths import count_paths
from nnc.analysis.receptive import receptive_fields
from nnc.analysis.stats import to_json
from nnc.present.report import BAR_WIDTH, format_paths
from nnc.wording import human_bytes


def row_field(compiled, row_name):
    net = compiled.network
    row = next(r for r in net.rows if r.name == row_name)
    return receptive_fields(net)[row.output]


# --- receptive fields -------------------------------------------------------------------

def test_vgg_d_last_pool_sees_212_pixels_at_stride_32(load):
    # Field r and stride j start at 1; a k×k layer of stride s makes r += (k-1)·j, j *= s.
    # conv3 ×2 at j=1, pool at j=1 -> j=2, conv3 ×2, pool -> 4, conv3 ×3, pool -> 8,
    # conv3 ×3, pool -> 16, conv3 ×3, pool -> 32.
    r = 1 + 2 * 2 * 1 + 1 * 1 + 2 * 2 * 2 + 1 * 2 + 3 * 2 * 4 + 1 * 4 \
        + 3 * 2 * 8 + 1 * 8 + 3 * 2 * 16 + 1 * 16
    assert r == 212
    field = row_field(load("vggD"), "pool5")
    assert field.size == (212, 212) and field.stride == (32, 32)
    assert row_field(load("vggD"), "conv3").size == (1 + 4 + 1 + 8 + 2 + 24,) * 2  # 40


def test_alexnet_last_pool_sees_195_pixels(load):
    # conv1 11/4: 11, j=4; pool 3/2: +2·4 = 19, j=8; conv2 5×5: +4·8 = 51; pool 3/2:
    # +2·8 = 67, j=16; conv3, conv4, conv5 3×3: +3·2·16 = 163; pool 3/2: +2·16 = 195.
    # conv2-5 use explicit zero padding, which places the field, not its size.
    field = row_field(load("alexnet"), "conv5")
    assert field.size == (11 + 2 * 4 + 4 * 8 + 2 * 8 + 3 * 2 * 16 + 2 * 16,) * 2 == (195, 195)
    assert field.stride == (4 * 2 * 2 * 2,) * 2 == (32, 32)


def test_three_conv3_see_what_one_conv7_sees_with_27_against_49_c_squared():
    """The lecture's example, from the file in docs/ that shows it."""
    compiled = nnc.load(str(ROOT / "docs" / "examples" / "three-conv3-vs-conv7.arch"))
    c = 64  # the file's channels in and out; no biases
    stack, single = compiled.stats.row("three_conv3"), compiled.stats.row("conv7")
    assert row_field(compiled, "three_conv3").size == (1 + 3 * 2,) * 2 == (7, 7)
    assert row_field(compiled, "conv7").size == (7, 7)
    assert stack.totals.params == 3 * (3 * 3 * c * c) == 27 * c * c == 110_592
    assert single.totals.params == 7 * 7 * c * c == 49 * c * c == 200_704
    assert round(single.totals.params / stack.totals.params - 1, 2) == 0.81  # "81% more"


def test_padding_does_not_change_the_field():
    fields = [row_field(compile_source(f"""
        input 33x33x3
        a: conv5-8(padding={p}), conv3-8/2(padding={p})
    """), "a") for p in ("valid", "same", "2")]
    # 5×5: 5, then 3×3/2 at j=1: 5 + 2 = 7, j = 2
    assert {(f.size, f.stride) for f in fields} == {((7, 7), (2, 2))}


def test_non_square_kernels_have_non_square_fields():
    field = row_field(compile_source("""
        input 32x32x3
        a: conv1x7-8, conv7x1-8
    """), "a")
    assert field.size == (1 + 6, 7 + 0) and field.stride == (1, 1)


def test_branches_take_the_largest_field():
    compiled = compile_source("""
        input 32x32x8
        mix: concat:
            conv1-8
            conv5-8
            maxpool3/1(padding=same), conv1-8
        res: residual:
            conv3-8, conv3-8
    """)
    assert row_field(compiled, "mix").size == (5, 5)
    assert row_field(compiled, "res").size == (5 + 2 + 2,) * 2  # the body, not the shortcut


def test_json_gives_every_row_and_layer_its_field(load):
    j = to_json(load("vggD").stats)
    pool5 = next(r for r in j["rows"] if r["name"] == "pool5")
    assert pool5["receptive_field"] == {"size": [212, 212], "stride": [32, 32]}
    assert all("receptive_field" in layer for layer in j["layers"])
    first_conv = next(x for x in j["layers"] if x["kind"] == "conv")
    assert first_conv["receptive_field"] == {"size": [3, 3], "stride": [1, 1]}


# --- memory -----------------------------------------------------------------------------

TINY = """
    input 8x8x3
    a: conv3-4, relu, maxpool, fc-10
"""


def test_memory_of_a_tiny_network_by_hand():
    m = memory(compile_source(TINY).network)
    # outputs: input 8·8·3 = 192, conv 8·8·4 = 256, relu 256, pool 4·4·4 = 64, fc 10
    assert m.activations == (192 + 256 + 256 + 64 + 10) * 4
    # steps: the input is alive throughout (the caller holds it); conv holds input +
    # conv = 448; relu runs in place in conv's buffer; pool holds input + conv + pool =
    # 512; fc holds input + pool + fc = 266
    assert m.peak_live == 512 * 4
    # kept for backward: input, the conv/relu buffer, pool, fc
    assert m.training_kept == (192 + 256 + 64 + 10) * 4
    # backward, from the fc down: at relu's step the input and the conv/relu buffer are
    # still to be read (pool's output was freed after the fc's step, the output after
    # the loss's), with the gradient of relu's output arriving and that of conv's output
    # leaving; the input image gets no gradient
    assert m.backward_peak == (192 + 256 + 256 + 256) * 4
    # weights: conv 3·3·3·4 + 4 = 112, fc 64·10 + 10 = 650
    assert m.weights == (112 + 650) * 4


def test_dtype_and_batch_scale_the_figures():
    net = compile_source(TINY).network
    half = memory(net, batch=8, dtype="bfloat16").json()
    assert half["bytes_per_element"] == 2
    assert half["weights"] == (112 + 650) * 2
    assert half["per_image"]["peak_live"] == 512 * 2
    assert half["per_batch"]["peak_live"] == 8 * 512 * 2
    assert half["per_batch"]["activations"] == 8 * 778 * 2


def test_vgg_d_memory_per_image(load):
    net = load("vggD").network
    m = memory(net)
    # Every layer output, layer by layer (VGG's ReLUs are inside the convs; the fc
    # layers are followed by dropout and softmax layers of their own): 15.2M values.
    values = (224 * 224 * 3 + 2 * 224 * 224 * 64 + 112 * 112 * 64
              + 2 * 112 * 112 * 128 + 56 * 56 * 128 + 3 * 56 * 56 * 256 + 28 * 28 * 256
              + 3 * 28 * 28 * 512 + 14 * 14 * 512 + 3 * 14 * 14 * 512 + 7 * 7 * 512
              + 4096 * 2 + 4096 * 2 + 1000 + 1000)
    assert round(values / 1e6) == 15 and m.activations == 4 * values
    # The peak is conv1_2 writing its output while conv1_1's is read, with the input
    # image, which the caller holds throughout: 224·224·3 + 2·224·224·64.
    assert m.peak_live == 4 * (224 * 224 * 3 + 2 * 224 * 224 * 64)
    # The two dropouts and the softmax run in place: training keeps the rest, and each
    # dropout's mask, a byte a value.
    assert m.training_kept == 4 * (values - 2 * 4096 - 1000) + 2 * 4096
    assert m.weights == 4 * 138_357_544
    # docs/seeing.md quotes these figures as nnc prints them
    docs = " ".join((ROOT / "docs" / "seeing.md").read_text().split())
    assert (f"For VGG-D in float32: the activations are {values:,} values "
            f"({human_bytes(m.activations)})") in docs
    assert f"224·224·3 + 2·224·224·64 values ({human_bytes(m.peak_live)})" in docs


def test_a_residual_unit_holds_its_input_for_the_shortcut():
    m = memory(compile_source("""
        input 4x4x2
        r: residual:
            conv3-2, conv3-2
    """).network)
    # input 32; conv1 32 (input still held for the shortcut: 64); conv2 32 (input,
    # conv1, conv2: 96, conv1 freed after); add 32 (input, conv2, add: 96)
    assert m.peak_live == 96 * 4


def test_json_memory_keys(load):
    memory = to_json(load("resnet50").stats, batch=4, dtype="float16")["memory"]
    assert memory["dtype"] == "float16" and memory["batch"] == 4
    assert set(memory["per_image"]) == {"activations", "peak_live", "training_kept",
                                        "backward_peak", "targets"}
    assert memory["weights"] == 2 * (25_557_032 + 53_120)  # trainable + BN moving stats


def test_stats_command_reports_memory_for_a_batch():
    out = run_nnc("stats", "--json", "--batch", "2", "--dtype", "float16",
                  "architectures/vggD.arch")
    assert out.returncode == 0, out.stderr
    memory = json.loads(out.stdout)["memory"]
    # two images, two bytes a value: the input and conv1's two outputs
    assert memory["per_batch"]["peak_live"] == 2 * 2 * (224 * 224 * 3 + 2 * 224 * 224 * 64)


# --- residual paths ---------------------------------------------------------------------

def test_resnet110_has_2_to_the_54_binomially_long_paths(load):
    paths = count_paths(load("resnet110-cifar").network)
    assert paths.units == 3 * 18 == 54  # three stages of 18 basic units
    assert paths.count == 2 ** 54
    assert paths.histogram == {k: comb(54, k) for k in range(55)}
    # Veit et al.: the paths that carry the gradient, 5-17 units long, are 0.45% of all.
    assert round(100 * sum(comb(54, k) for k in range(5, 18)) / 2 ** 54, 2) == 0.45
    assert round(100 * paths.share(5, 17), 2) == 0.45
    # "most paths are 19-35 units long": that band holds 98.0% of them.
    assert round(paths.share(19, 35), 3) == 0.980


def test_paths_json_and_text(load):
    j = to_json(load("resnet110-cifar").stats)["paths"]
    assert j["units"] == 54 and j["count"] == 2 ** 54
    assert j["length_histogram"]["27"] == comb(54, 27)
    text = "\n".join(format_paths(count_paths(load("resnet110-cifar").network)))
    bars = {line.split()[0]: line.count("█") for line in text.splitlines()[3:]}
    assert max(bars, key=bars.get) == "27"  # the mode of Binomial(54, 1/2)
    assert bars["27"] == BAR_WIDTH


def test_shortcut_none_is_not_a_residual_unit(load):
    paths = count_paths(load("plain18").network)
    assert (paths.units, paths.count) == (0, 1)


def test_resnet50_has_16_units(load):
    assert count_paths(load("resnet50").network).units == 3 + 4 + 6 + 3


def test_inception_branches_multiply_paths_without_residual_units(load):
    paths = count_paths(load("googlenet").network)
    assert paths.units == 0
    assert paths.count == 4 ** 9  # nine inception modules of four branches; heads aside


@pytest.mark.parametrize("fraction, expected", [(0.95, (20, 34)), (0.98, (19, 35))])
def test_central_range_of_binomial_54(load, fraction, expected):
    # Binomial(54, 1/2): 27 ± 7 holds 96.0% (±6 holds 92.4%); 27 ± 8 holds 98.0%.
    assert count_paths(load("resnet110-cifar").network).central_range(fraction) == expected
