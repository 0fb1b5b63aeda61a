"""The grammar and the transformer to the syntax tree: structure and exact positions."""
import pytest

from nnc.errors import ArchSyntaxError, Coord
from nnc.lang import ast
from nnc.lang.parse import parse_quantity, parse_text

RESNET_SNIPPET = """\
# a comment line
network resnet50
input 224x224x3
default conv(bias=false)
block bottleneck(w, s=1):
    residual:
        conv1-{w}/{s}, bn, relu
        conv1-{4*w}, bn
    relu
conv2_x: maxpool3/2, bottleneck(64) x3
conv3_x: bottleneck(128, s=2), bottleneck(128) ×3
expect params.trainable = 25,557,032
expect macs ≈ 3.8G ±2%
"""


def test_coord_prints_file_line_column():
    assert str(Coord("vggD.arch", 14, 7)) == "vggD.arch:14:7"


def test_statements_are_sorted_into_the_program():
    p = parse_text(RESNET_SNIPPET, "r.arch")
    assert p.network == "resnet50"
    assert p.input == (224, 224, 3)
    assert p.input_coord == Coord("r.arch", 3, 7)
    assert [d.kind for d in p.defaults] == ["conv"]
    assert [b.name for b in p.blocks] == ["bottleneck"]
    assert [r.label for r in p.rows] == ["conv2_x", "conv3_x"]
    assert len(p.expects) == 2


def test_unit_short_form_and_positions():
    p = parse_text(RESNET_SNIPPET, "r.arch")
    first = p.blocks[0].body[0].body.body[0].body.items[0].unit
    assert first.name == "conv1"
    assert first.coord == Coord("r.arch", 7, 9)
    assert isinstance(first.width, ast.Name) and first.width.id == "w"
    assert isinstance(first.stride, ast.Name) and first.stride.id == "s"
    assert first.text == "conv1-{w}/{s}"
    widened = p.blocks[0].body[0].body.body[1].body.items[0].unit.width
    assert widened == ast.BinOp("*", ast.Num(4, Coord("r.arch", 8, 16)),
                                ast.Name("w", Coord("r.arch", 8, 18)), Coord("r.arch", 8, 16))


def test_repeat_accepts_x_and_times_sign():
    p = parse_text(RESNET_SNIPPET, "r.arch")
    x_item = p.rows[0].body.items[1]
    times_item = p.rows[1].body.items[1]
    assert x_item.repeat.value == 3 and times_item.repeat.value == 3
    assert x_item.unit.options[0].value.value == 64


def test_block_parameters_and_defaults():
    block = parse_text(RESNET_SNIPPET).blocks[0]
    assert [(p.name, p.default) for p in block.params] == [
        ("w", None), ("s", ast.Num(1, Coord("<string>", 5, 23)))]


def test_expect_lines():
    exact, approx = parse_text(RESNET_SNIPPET, "r.arch").expects
    assert exact.metric == ("params", "trainable") and exact.compare == "="
    assert exact.measure.value == 25557032
    assert exact.coord == Coord("r.arch", 12, 8)
    assert approx.compare == "≈" and approx.measure.value == 3.8e9
    assert approx.tolerance.amount == 2 and approx.tolerance.percent


@pytest.mark.parametrize("text, value", [
    ("25,557,032", 25557032), ("3.8G", 3.8e9), ("159Ki", 159 * 1024), ("7", 7),
    ("1.5e3", 1500), ("138M", 138e6)])
def test_quantities(text, value):
    assert parse_quantity(text) == value


def test_compounds_and_options():
    p = parse_text("input 8x8x3\n"
                   "inc: concat:\n"
                   "    b1: conv1-4\n"
                   "    maxpool3/1(padding=same), conv1-4\n"
                   "aux: head(inc, loss_weight=0.3):\n"
                   "    fc-10\n")
    concat, head = p.rows
    assert concat.body.keyword == "concat" and len(concat.body.body) == 2
    assert concat.body.body[0].label == "b1"
    assert head.body.keyword == "head"
    source, weight = head.body.options
    assert source.name is None and source.value.id == "inc"
    assert weight.name == "loss_weight" and weight.value.value == 0.3


def test_labels_may_begin_with_a_compound_keyword():
    p = parse_text("input 8x8x3\n"
                   "residual1: conv1-4\n"
                   "head1: conv1-4\n"
                   "concatx: conv1-4\n"
                   "gate_2: conv1-4\n"
                   "residual:\n"
                   "    conv1-4\n")
    assert [row.label for row in p.rows] == ["residual1", "head1", "concatx", "gate_2", None]
    assert p.rows[-1].body.keyword == "residual"


def test_newlines_inside_brackets_continue_the_line():
    p = parse_text("input 8x8x3\nconv3-8(groups=1,\n        bias=false)\n")
    assert [o.name for o in p.rows[0].body.items[0].unit.options] == ["groups", "bias"]


def test_comments_and_blank_lines_are_ignored():
    p = parse_text("\n# top\n\ninput 8x8x3   # trailing\n\n# between\nrelu\n")
    assert p.input == (8, 8, 3) and len(p.rows) == 1


@pytest.mark.parametrize("source, line, column, words", [
    ("input 8x8x3\nconv3-8 $\n", 2, 9, "unexpected character '$'"),
    ("input 8x8x3\nconv3-8,\n", 2, 9, "unexpected end of line"),
    ("input 8x8x3\nconv3-8(groups=2\n", 2, 17, "unexpected end of file"),
    ("input 8x8x3\nblock b(w):\n    relu\n  relu\n", 4, 3, "matches no enclosing level"),
    ("input 8x8x3\n  relu\n", 2, 3, "unexpected indentation"),
    ("network a\nnetwork b\ninput 8x8x3\nrelu\n", 2, 9, "second 'network'"),
    ("input 8x8x3\nexpect params = \n", 2, 17, "expected a number"),
])
def test_syntax_errors_are_positioned(source, line, column, words):
    with pytest.raises(ArchSyntaxError) as info:
        parse_text(source, "bad.arch")
    assert info.value.coord == Coord("bad.arch", line, column)
    assert words in info.value.message
