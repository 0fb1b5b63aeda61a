"""Expansion of blocks, repeats, defaults and compounds into named, positioned nodes."""
import pytest
from conftest import compile_source, error_of

from nnc.analysis.receptive import receptive_fields
from nnc.errors import ArchLimitError, ArchNameError, ArchValueError, Coord, Frame

BOTTLENECK = """\
    input 56x56x64
    default conv(bias=false)
    block bottleneck(w, s=1):
        residual:
            conv1-{w}/{s}, bn, relu
            conv3-{w}, bn, relu
            conv1-{4*w}, bn
        relu
    conv3_x: bottleneck(128, s=2), bottleneck(128) x3
"""


def nodes(compiled, kind=None):
    g = compiled.network.layers
    return [n for n in g if kind is None or g[n].kind.name == kind]


def test_layer_names_follow_rows_calls_and_kinds(load):
    g = load("resnet50").network.layers
    assert "conv4_x.3.conv2" in g
    assert g["conv4_x.3.conv2"].shape == (14, 14, 256)
    assert "conv3_x.1.shortcut.conv1" in g and "conv3_x.2.shortcut.conv1" not in g
    assert "inception_4a.1.b2.conv2" in load("googlenet").network.graph


def test_repeats_expand_into_independent_nodes():
    c = compile_source(BOTTLENECK)
    g = c.network.layers
    convs = [n for n in nodes(c, "conv") if ".shortcut." not in n]
    assert len(convs) == 4 * 3
    first, second = g["conv3_x.2.conv1"], g["conv3_x.3.conv1"]
    assert first.attrs == second.attrs and first.attrs is not second.attrs
    first.attrs["filters"] = 1  # mutating one expansion leaves the others alone
    assert second.attrs["filters"] == 128


def test_nodes_keep_their_position_and_expansion_chain():
    c = compile_source(BOTTLENECK, "b.arch")
    data = c.network.layers["conv3_x.1.conv2"]
    assert data.coord == Coord("b.arch", 6, 9)
    assert data.chain == (Frame("bottleneck(128, s=2)", Coord("b.arch", 9, 10),
                                   Coord("b.arch", 3, 7)),)
    assert data.row == "conv3_x"
    assert str(data.chain[0]) == ("in bottleneck(128, s=2) called at line 9 "
                                     "(block defined at line 3)")


def test_arithmetic_on_block_parameters():
    g = compile_source(BOTTLENECK).network.layers
    assert g["conv3_x.1.conv3"].attrs["filters"] == 4 * 128
    assert g["conv3_x.1.conv1"].attrs["stride"] == (2, 2)
    assert g["conv3_x.2.conv1"].attrs["stride"] == (1, 1)


def test_functions_round_widths_as_the_papers_reference_code_does():
    """divisible() is _make_divisible of the MobileNetV3 and EfficientNet code: 72/4 = 18
    rounds to 16, which is more than 10% below 18, so it becomes 24 (MobileNetV3's
    squeeze of 72 maps); 1.1·40 = 44 rounds up to 48 (EfficientNet-B2's widths)."""
    g = compile_source("""
        input 4x4x8
        block b(e):
            conv1-{divisible(e/4, 8)}, conv1-{divisible(1.1*40, 8)}, conv1-{divisible(3, 8)}
            conv1-{max(1, floor(e*0.25))}, conv1-{ceil(1.1*3)}, conv1-{min(e, 5, 7)}
            conv1-{round(2.5)}
        r: b(72)
    """).network.layers
    assert [g[f"r.1.conv{i}"].shape[-1] for i in range(1, 8)] == [24, 48, 8, 18, 4, 5, 2]


def test_a_gate_multiplies_its_input_by_its_body_broadcast_over_the_positions():
    c = compile_source("""
        input 14x14x96
        se: gate:
                avgpool, fc-24, relu, fc-96, hard_sigmoid
    """)
    g = c.network.layers
    product = g["se.multiply1"]
    assert product.inputs == ("input1", "se.hard_sigmoid1")
    assert product.shape == (14, 14, 96) and product.row == "se"
    assert product.macs == 14 * 14 * 96  # one multiply per value
    assert product.coord == Coord("t.arch", 2, 5)  # the word `gate`
    assert c.stats.totals.params == (96 * 24 + 24) + (24 * 96 + 96)
    # The gate sees the whole image, but its output stays on the input's grid.
    field = receptive_fields(c.network)["se.multiply1"]
    assert (field.size, field.stride) == ((14, 14), (1, 1))


def test_drop_path_rates_rise_linearly_over_the_residual_units_that_give_one():
    """EfficientNet's rule in keras.applications: block b of N drops at rate·b/N, b
    counted from 0 over every block, including those whose shape change leaves them
    without a shortcut (here the second), which therefore drop nothing."""
    g = compile_source("""
        input 8x8x16
        block mb(c, s=1):
            residual(shortcut=auto, drop_path=0.4):
                conv3-{c}/{s}
        r: mb(16), mb(32, s=2), mb(32), mb(32), mb(32)
    """).network.layers
    rates = {node.split(".")[1]: layer.attrs["rate"] for node, layer in g.items()
             if layer.kind.stochastic}
    assert rates == pytest.approx({"3": 0.4 * 2 / 5, "4": 0.4 * 3 / 5, "5": 0.4 * 4 / 5})
    assert g["r.3.droppath1"].inputs == ("r.3.conv1",)
    assert g["r.3.add1"].inputs == ("r.3.droppath1", "r.2.conv1")


def test_a_skip_joins_an_earlier_rows_cropped_maps_before_the_current_ones():
    c = compile_source("""
        input 64x64x3
        default conv(padding=valid)
        down: conv3-8 x2
        bottom: maxpool, conv3-16 x2
        up: upconv2-8, skip(down, crop=true), conv3-8
    """)
    g = c.network.layers
    assert g["up.upconv1"].shape == (52, 52, 8)  # (26 − 1)·2 + 2
    assert g["up.upconv1"].params == (2 * 2 * 16 * 8 + 8, 0)
    assert g["up.upconv1"].macs == 26 * 26 * 2 * 2 * 16 * 8
    assert g["up.crop1"].inputs == ("down.conv2",) and g["up.crop1"].shape == (52, 52, 8)
    assert g["up.concat1"].inputs == ("up.crop1", "up.upconv1")
    assert g["up.concat1"].shape == (52, 52, 16) and g["up.concat1"].row == "up"
    assert c.network.graph.has_edge("down.conv2", "up.crop1")
    field = receptive_fields(c.network)["up.upconv1"]
    assert field.stride == (1, 1) and field.size == receptive_fields(c.network)[
        "bottom.conv2"].size  # 2×2/2: each output reads one input position


def test_a_row_that_starts_from_an_earlier_row_reads_its_output():
    """A feature pyramid (Lin et al. 2017): lateral 1×1 convs read the trunk's rows and
    the top-down path adds them to the upsampled coarser level; the network's output is
    the last row, and every layer reaches it."""
    c = compile_source("""
        input 32x32x3
        c3:   conv3-8/2
        c4:   conv3-16/2
        p4:   conv1-8
        lat3: from(c3), conv1-8
        p3:   from(p4), upsample2, skip(lat3, join=add)
    """)
    net = c.network
    g = net.layers
    assert g["lat3.conv1"].inputs == ("c3.conv1",)
    assert g["p3.upsample1"].inputs == ("p4.conv1",)
    assert g["p3.add1"].inputs == ("lat3.conv1", "p3.upsample1")
    assert net.output == "p3.add1" and net.shape(net.output) == (16, 16, 8)
    rows = {row.name: row for row in net.rows}
    assert (rows["lat3"].input, rows["p3"].input) == ("c3.conv1", "p4.conv1")
    assert rows["lat3"].type == "conv"
    assert all(net.graph.out_degree(node) for node in g if node != net.output)


def test_defaults_apply_unless_written():
    c = compile_source("""
        input 8x8x3
        default conv(activation=relu, bias=false)
        a: conv3-4
        b: conv3-4(bias=true, activation=none)
    """)
    g = c.network.layers
    assert g["a.conv1"].attrs["activation"] == "relu"
    assert g["a.conv1"].attrs["bias"] is False
    assert g["b.conv1"].attrs["bias"] is True
    assert g["b.conv1"].attrs["activation"] == "none"


def test_shortcut_is_identity_where_shapes_match_and_a_projection_where_not():
    g = compile_source(BOTTLENECK).network.layers
    assert g["conv3_x.1.add1"].inputs == ("conv3_x.1.bn3", "conv3_x.1.shortcut.bn1")
    assert g["conv3_x.1.shortcut.conv1"].attrs["stride"] == (2, 2)
    # later units add their input unchanged
    assert g["conv3_x.2.add1"].inputs == ("conv3_x.2.bn3", "conv3_x.1.relu3")


def test_option_a_pads_and_none_drops_the_shortcut():
    c = compile_source("""
        input 32x32x16
        default residual(shortcut=A)
        block basic(w, s=1):
            residual:
                conv3-{w}/{s}, bn, relu
                conv3-{w}, bn
            relu
        a: basic(32, s=2)
        b: basic(32)
        plain: residual(shortcut=none):
            conv3-32
    """)
    g = c.network.layers
    pad = g["a.1.shortcut.pad_shortcut1"]
    assert pad.attrs == {"stride": 2, "channels": 32}
    assert pad.shape == (16, 16, 32) and pad.params == (0, 0)
    assert not [n for n in g if n.startswith("plain.add")]


def test_projection_has_bn_only_when_the_body_has_bn():
    g = compile_source("""
        input 8x8x4
        r: residual:
            conv3-8
    """).network.graph
    assert [n for n in g if n.startswith("r.shortcut")] == ["r.shortcut.conv1"]


def test_concat_branches_are_named_by_label_or_position():
    g = compile_source("""
        input 8x8x4
        inc: concat:
            wide: conv1-2
            conv1-3, conv3-5
            maxpool3/1(padding=same), conv1-1
    """).network.layers
    assert g["inc.concat1"].inputs == ("inc.wide.conv1", "inc.b2.conv2",
                                               "inc.b3.conv1")
    assert g["inc.concat1"].shape == (8, 8, 2 + 5 + 1)


def test_head_taps_a_row_and_leaves_the_main_path():
    c = compile_source("""
        input 8x8x4
        a: conv3-8
        aux: head(a, loss_weight=0.3):
            fc-10
        b: conv3-16
    """)
    net = c.network
    assert net.layers["b.conv1"].inputs == ("a.conv1",)
    assert [(r.name, r.loss_weight) for r in net.heads] == [("aux", 0.3)]
    assert net.layers["aux.fc1"].inputs == ("a.conv1",)
    assert net.output == "b.conv1"


def test_recursion_is_an_error_at_the_call():
    e = error_of("""
        input 8x8x3
        block a(w):
            b(w)
        block b(w):
            a(w)
        x: a(3)
    """, "r.arch")
    assert isinstance(e, ArchLimitError)
    assert e.coord == Coord("r.arch", 5, 5)
    assert "a → b → a" in e.message
    assert [f.called_at.line for f in e.chain] == [6, 3]


def test_block_argument_errors():
    e = error_of("""
        input 8x8x3
        block b(w, s=1):
            conv3-{w}/{s}
        x: b(8, t=2)
    """)
    assert isinstance(e, ArchNameError) and "no parameter 't'" in e.message
    e = error_of("""
        input 8x8x3
        block b(w):
            conv3-{w}
        x: b()
    """)
    assert isinstance(e, ArchValueError) and "missing its argument 'w'" in e.message


def test_huge_repeat_is_refused_before_expansion():
    e = error_of("input 8x8x3\nrelu x1000000000\n", "h.arch")
    assert isinstance(e, ArchLimitError) and e.coord == Coord("h.arch", 2, 7)


def test_structure_is_recorded_on_each_layer_not_in_its_name():
    layers = compile_source(BOTTLENECK).network.layers
    projection, add = layers["conv3_x.1.shortcut.conv1"], layers["conv3_x.1.add1"]
    assert projection.shortcut and projection.unit == "conv3_x.1.add1"
    assert layers["conv3_x.1.shortcut.bn1"].shortcut
    assert add.closes_unit and not add.shortcut
    body = layers["conv3_x.1.conv2"]
    assert body.unit == "conv3_x.1.add1" and not body.shortcut
    assert layers["conv3_x.2.conv1"].unit == "conv3_x.2.add1"
    assert body.calls == ("conv3_x.1",) and body.call[1] == "conv3_x.1"
    assert body.call[0].call == "bottleneck(128, s=2)"
    assert layers["conv3_x.1.relu3"].unit is None  # after the add, outside the unit
    assert layers["input1"].calls == () and layers["input1"].call is None


def test_nested_block_calls_are_named_outermost_first():
    layers = compile_source("""
        block inner(w):
            conv3-{w}
        block outer(w):
            inner(w), inner(w)
        input 8x8x4
        a: outer(8)
    """).network.layers
    assert layers["a.1.2.conv1"].calls == ("a.1", "a.1.2")
    assert [frame.call for frame in layers["a.1.2.conv1"].chain] == ["outer(8)", "inner(w)"]
