"""Shape inference and the counting rules of each layer kind, against hand arithmetic."""
import pytest
from conftest import compile_source, error_of

from nnc.errors import ArchShapeError, Coord


def only(source, name):
    return compile_source(source).network.layers[name]


@pytest.mark.parametrize("unit, shape", [
    ("conv3-64", (224, 224, 64)),                      # 'same' keeps the size
    ("conv3-64/2", (112, 112, 64)),                    # ceil(224 / 2)
    ("conv7-64/2(padding=3, rounding=floor)", (112, 112, 64)),  # floor((224+6-7)/2)+1
    ("conv3-8(padding=valid)", (222, 222, 8)),
    ("maxpool", (112, 112, 3)),                        # 2×2/2
    ("maxpool3/2(padding=same)", (112, 112, 3)),
    ("avgpool", (3,)),                                 # global
    ("avgpool8/8", (28, 28, 3)),
    ("fc-10", (10,)),
    ("conv3x1-4", (224, 224, 4)),
])
def test_output_shapes(unit, shape):
    assert only(f"input 224x224x3\nx: {unit}\n", "x." + unit.split("-")[0]
                .split("(")[0].rstrip("0123456789x/") + "1").shape == shape


def test_conv_params_and_macs():
    node = only("input 56x56x64\nx: conv3-128/2\n", "x.conv1")
    assert node.params == (3 * 3 * 64 * 128 + 128, 0)
    assert node.macs == 28 * 28 * 128 * (3 * 3 * 64)
    assert node.connections == 28 * 28 * 128 * (3 * 3 * 64 + 1)


def test_grouped_conv_counts_each_group_once():
    node = only("input 27x27x96\nx: conv5-256(groups=2, padding=2)\n", "x.conv1")
    assert node.shape == (27, 27, 256)
    assert node.params == (5 * 5 * 48 * 256 + 256, 0)  # AlexNet's conv2: 307,456


def test_fc_flattens_its_input():
    node = only("input 7x7x512\nx: fc-4096\n", "x.fc1")
    assert node.params == (7 * 7 * 512 * 4096 + 4096, 0)
    assert node.macs == 7 * 7 * 512 * 4096


def test_batchnorm_has_trainable_and_moving_statistics():
    assert only("input 8x8x32\nx: bn\n", "x.bn1").params == (2 * 32, 2 * 32)


@pytest.mark.parametrize("source, line, column, words", [
    ("input 2x2x3\nx: conv3-8(padding=valid)\n", 2, 4,
     "input is 2×2×3, but a 3×3 kernel with 'valid' padding needs at least 3×3"),
    ("input 224x224x3\nconv11-96/4(padding=valid)\n", 2, 1,
     "(224 + 2·0 - 11)/4 + 1 = 54.25 is not a whole number"),
    ("input 8x8x3\nconv3-8(groups=2)\n", 2, 1, "groups=2 must divide both"),
    ("input 8x8x3\nc: concat:\n    conv3-8\n    conv3-8/2\n", 2, 4,
     "branches must agree in height and width"),
    ("input 8x8x8\nr: residual(shortcut=identity):\n    conv3-16/2\n", 2, 4,
     "the body maps 8×8×8 to 4×4×16"),
    ("input 8x8x16\nr: residual(shortcut=A):\n    conv3-8\n", 2, 4, "cannot reduce channels"),
    ("input 10\nconv3-8\n", 2, 1, "needs an H×W×C input"),
])
def test_shape_errors_name_the_row_and_the_shapes(source, line, column, words):
    e = error_of(source, "s.arch")
    assert isinstance(e, ArchShapeError)
    assert e.coord == Coord("s.arch", line, column)
    assert words in e.message


def test_shape_error_inside_a_block_carries_the_call_chain():
    e = error_of("""
        input 4x4x8
        block shrink(k):
            conv{k}-8(padding=valid)
        a: shrink(3)
        b: shrink(3)
    """, "c.arch")
    # conv{k} is not the short form: the kind 'conv' with size from a parameter is
    # written conv(kernel=k); check the message points at the unit either way
    assert e.coord.line == 3


def test_kernel_from_a_parameter_and_the_chain():
    e = error_of("""
        input 4x4x8
        block shrink(k):
            conv(filters=8, kernel=k, padding=valid)
        a: shrink(3)
        b: shrink(3)
    """, "c.arch")
    assert isinstance(e, ArchShapeError)
    assert e.coord == Coord("c.arch", 3, 5)
    assert "input is 2×2×8" in e.message
    assert [f.called_at.line for f in e.chain] == [5]
