"""Every bad input gets one positioned error, with the right exit status: a table of
malformed files, each checked for status, exact line:col and the message's key words."""
import dataclasses

import pytest
from conftest import ARCHITECTURES, compile_source

from nnc import cli
from nnc.analysis.lint import ArchLint, lint

BLOCK = "block b(w, s=1):\n    conv3-{w}/{s}\n"
CASES = [
    # (source, line:col or None for a whole-file error, key words)
    # --- syntax and layout
    ("", "1:1", "the file is empty"),
    ("# only a comment\n", "1:1", "the file is empty"),
    ("network x\nconv3-64\n", "2:1", "no input line"),
    ("input 8x8x3\n", "1:7", "the network has no layers"),
    ("input 8x8x3\nconv3-8 $ relu\n", "2:9", "unexpected character '$'"),
    ("input 8x8x3\nconv3-8,\n", "2:9", "unexpected end of line"),
    ("input 8x8x3\nconv3-8(groups=2\n", "2:17", "unexpected end of file"),
    ("input 8x8x3\n  relu\n", "2:3", "unexpected indentation"),
    ("input 8x8x3\nblock b(w):\n    relu\n  relu\n", "4:3", "matches no enclosing level"),
    ("input 8x8x3\ninput 8x8x3\nrelu\n", "2:7", "second 'input'"),
    ("input 8x8x3\nconv3-8 x\n", "2:10", "unexpected end of line"),
    ("input 8x8x3\nexpect params 5\n", "2:15", "unexpected '5'"),
    ("input 8x8x3\nconv3-{8\n", "2:9", "unexpected end of line"),
    ("input 8x8x\nrelu\n", "1:10", "unexpected 'x'; expected end of line"),
    ("input 8x8x3\nrelu)\n", "2:5", "unexpected ')'"),
    # --- skips, up-convs, upsampling
    ("input 8x8x4\na: conv3-4\nb: skip(aa)\n", "3:4", "skip takes row 'aa', which is not an earlier row; did you mean 'a'"),
    ("input 8x8x4\na: conv3-4\nb: conv3-4(padding=valid), skip(a)\n", "3:28", "write crop=true"),
    ("input 8x8x4\na: conv3-4\nb: conv2-4(padding=valid), skip(a, crop=true)\n", "3:28",
     "cannot crop 8×8×4 to a centred 7×7"),
    ("input 8x8x4\na: conv3-4\nb: maxpool, upconv2-4, upconv2-4, skip(a, crop=true)\n", "3:35",
     "cannot crop 8×8×4 to a centred 16×16"),
    ("input 8x8x4\na: conv3-4\nb: conv3-8, skip(a, join=add)\n", "3:13",
     "skip(join=add) adds maps of one shape. Received: row 'a' 8×8×4 and 8×8×8"),
    ("input 8x8x4\na: conv3-4\nb: skip-3(a)\n", "3:4", "skip takes its row and options in parentheses"),
    ("input 8x8x4\nb: skip(a, crop=maybe)\n", "2:12", "crop must be true or false"),
    ("input 8x8x4\nblock skip():\n    relu\nskip()\n", "2:7", "is a layer kind; choose another name"),
    ("input 8x8x4\nc: conv3-4\np: conv1-8, from(c)\n", "3:13",
     "from(row) starts a row: write it first in a row of the network"),
    ("input 8x8x4\nblock b():\n    from(c), relu\nc: conv3-4\nd: b()\n", "3:5",
     "from(row) starts a row"),
    ("input 8x8x4\nc: conv3-4\np: from(cc), relu\n", "3:4",
     "from takes row 'cc', which is not an earlier row; did you mean 'c'"),
    ("input 8x8x4\nc: conv3-4\np: from(c)\n", "3:4",
     "a row that starts with from(c) needs layers after it"),
    ("input 8x8x4\nc: conv3-4\np: from(c) x2, relu\n", "3:4", "is not repeated"),
    ("input 8x8x4\nc: conv3-4\np: from(c, crop=true), relu\n", "3:12", "'from' has no option 'crop'"),
    ("input 8x8x4\nblock from():\n    relu\nr: relu\n", "2:7", "is a layer kind; choose another name"),
    ("input 8\nu: upconv2-4\n", "2:4", "upconv needs an H×W×C input"),
    ("input 8x8x4\nu: upconv2\n", "2:4", "'upconv' needs a value for 'filters'"),
    ("input 8x8x4\nu: upsample2(interpolation=cubic)\n", "2:14", "interpolation must be one of nearest, bilinear"),
    # --- sequences and attention
    ("input 30x32x3\ne: patch16-64\n", "2:4",
     "16×16 patches must tile the image exactly: its height and width must be multiples of "
     "the patch size. Received: input 30×32×3"),
    ("input 32\ne: patch16-64\n", "2:4", "patch needs an H×W×C input"),
    ("input 32x32x3\ne: patch16-64\nm: attention(5)\n", "3:4",
     "heads=5 must divide the 64 features of each token, or give key_size. Received: input 4×64"),
    ("input 32x32x3\nm: attention(4)\n", "2:4",
     "attention needs a sequence of N tokens × D features (made by `patch16-768` from an "
     "image). Received: input 32×32×3"),
    ("input 32x32x3\nt: classtoken\n", "2:4", "classtoken needs a sequence of N tokens"),
    ("input 32x32x3\ne: patch16-64, posembed(3)\n", "2:25", "'posembed' takes 0 positional"),
    ("input 32x32x3\ne: patch16-64\nt: token(4)\n", "3:4",
     "token 4 is not one of the sequence's 4 tokens (0 to 3). Received: input 4×64"),
    ("input 32x32x3\ne: patch16-64\nm: attention(heads=4, key_size=0)\n", "3:23",
     "key_size must be an integer ≥ 1. Received: key_size=0"),
    # --- gates
    ("input 8x8x4\ng: gate:\n    avgpool, fc-3, sigmoid\n", "2:4",
     "gate: a gate's body must give one value per channel"),
    ("input 8x8x4\ng: gate:\n    conv3-4/2, sigmoid\n", "2:4", "Received: input 8×8×4, gate 4×4×4"),
    ("input 8x8x4\ng: gate:\n    avgpool, fc-1, sigmoid\n", "2:4", "Received: input 8×8×4, gate 1"),
    ("input 8x8x4\ng: gate(ratio=4):\n    sigmoid\n", "2:9", "'gate' has no option 'ratio'"),
    ("input 8x8x3\na: activation(reluu)\n", "2:15", "function must be one of none, relu"),
    # --- preprocessing, normalisation, stochastic depth
    ("input 8x8x3\nn: normalize(mean=[1, 2, 3])\n", "2:4", "takes both mean and std"),
    ("input 8x8x3\nn: normalize(mean=[1, 2], std=1)\n", "2:4", "Received: 2 values for input"),
    ("input 8x8x3\nn: normalize(mean=0, std=[1, 0, 1])\n", "2:4", "std must be above 0"),
    ("input 8x8x3\nn: normalize(mean=[same], std=1)\n", "2:14", "mean must be a number or a"),
    ("input 8x8x3\nr: rescale\n", "2:4", "'rescale' needs a value for 'scale'"),
    ("input 8x8x3\nr: residual(shortcut=none, drop_path=0.1):\n    relu\n", "2:4",
     "shortcut=none has no shortcut"),
    ("input 8x8x3\nr: residual(drop_path=1):\n    relu\n", "2:13",
     "drop_path must be a number in [0, 1)"),
    # --- depthwise convolution
    ("input 8x8x4\nx: dwconv3-64\n", "2:4", "'dwconv' takes no '-' value"),
    ("input 8x8x4\nx: dwconv\n", "2:4", "'dwconv' needs a value for 'kernel'"),
    ("input 8x8x4\nx: dwconv3(multiplier=0)\n", "2:12", "multiplier must be an integer ≥ 1"),
    ("input 8x8x4\nfc-10\ny: dwconv3\n", "3:4", "dwconv needs an H×W×C input"),
    ("input 8x8x4\nx: conv1-8(expansion=6)\n", "2:4", "not both. Received: filters=8"),
    ("input 8x8x4\nx: conv1(expansion=0)\n", "2:4", "must be a whole number of maps ≥ 1"),
    ("input 8x8x4\nx: sepconv3\n", "2:4", "'sepconv' needs a value for 'filters'"),
    ("input 8x8x4\nx: conv3-8(activation=swsh)\n", "2:12", "one of none, relu, relu6"),
    ("input 8\nz: zeropad1\n", "2:4", "zeropad needs an H×W×C input"),
    ("input 8x8x4\nr: residual(projection_bn=maybe):\n    conv3-8\n", "2:13",
     "projection_bn must be true or false"),
    ("input 8x8x4\nx: bn(scale=no)\n", "2:7", "scale must be true or false"),
    # --- names and suggestions
    ("input 8x8x3\nconv3-8, maxpol\n", "2:10", "did you mean 'maxpool'?"),
    ("input 8x8x3\nconb3-8\n", "2:1", "did you mean 'conv'?"),
    ("input 8x8x3\nconv3-8(paddng=same)\n", "2:9", "did you mean 'padding'?"),
    ("input 8x8x3\na: conv3-8\na: relu\n", "3:1", "duplicate row name 'a'"),
    ("input 8x8x3\ndefault cnv(bias=false)\nrelu\n", "2:9", "did you mean 'conv'?"),
    ("input 8x8x3\ndefault conv(bais=false)\nrelu\n", "2:14", "did you mean 'bias'?"),
    ("input 8x8x3\n" + BLOCK + "x: b(8, t=2)\n", "4:9", "no parameter 't'"),
    ("input 8x8x3\n" + BLOCK + "x: b(8, 1, 2)\n", "4:12", "takes 2 argument(s)"),
    ("input 8x8x3\n" + BLOCK + "x: b()\n", "4:4", "missing its argument 'w'"),
    ("input 8x8x3\n" + BLOCK + "x: b(8, w=9)\n", "4:9", "got 'w' twice"),
    ("input 8x8x3\nblock b(w):\n    conv3-{ww}\nx: b(8)\n", "3:12", "did you mean 'w'?"),
    ("input 8x8x3\nblock b(w):\n    relu\nblock b(w):\n    relu\nb(1)\n", "4:7",
     "defined twice"),
    ("input 8x8x3\nblock conv(w):\n    relu\nrelu\n", "2:7", "is a layer kind"),
    ("input 8x8x3\na: relu\nh: head(zz):\n    fc-10\n", "3:4", "not an earlier row"),
    ("input 8x8x3\nr: residual:\n    h: head(a):\n        relu\n", "3:8",
     "must be a row of its own"),
    ("input 8x8x3\nconv3-8\nexpect parms = 1\n", "3:8", "unknown metric or row 'parms'"),
    ("input 8x8x3\nconv3-8\nexpect params.trainabel = 1\n", "3:8",
     "did you mean 'params.trainable'?"),
    # --- values
    ("input 8x8x3\nconv3\n", "2:1", "'conv' needs a value for 'filters'"),
    ("input 8x8x3\nrelu-3\n", "2:1", "'relu' takes no '-' value"),
    ("input 8x8x3\nrelu3\n", "2:1", "'relu' takes no size suffix"),
    ("input 8x8x3\nfc7-10\n", "2:1", "'fc' takes no size suffix"),
    ("input 8x8x3\nconv3-8(groups=0)\n", "2:9", "groups must be an integer ≥ 1"),
    ("input 8x8x3\nconv3-8(padding=sideways)\n", "2:9", "padding must be same, valid"),
    ("input 8x8x3\nconv3-8(bias=maybe)\n", "2:9", "bias must be true or false"),
    ("input 8x8x3\ndropout(1.5)\n", "2:9", "rate must be a number in [0, 1)"),
    ("input 8x8x3\nconv3-{8/3}\n", "2:8", "filters must be an integer"),
    ("input 8x8x3\nconv3-{8/0}\n", "2:10", "division by zero"),
    ("input 8x8x3\nconv3-8(groups=2, groups=2)\n", "2:19", "given twice"),
    ("input 8x8x3\nconv3-8(8, 9)\n", "2:12", "takes 1 positional value"),
    ("input 8x8x3\nr: residual(shortcut=D):\n    relu\n", "2:13", "shortcut must be one of"),
    ("input 8x8x3\nrelu x{-1}\n", "2:8", "repeat count must be a whole number ≥ 0"),
    ("input 8x8x3\nconv3-{same}\n", "2:8", "'same' is not a parameter in scope"),
    ("input 8x8x3\nconv3-{maxx(1, 2)}\n", "2:8", "unknown function 'maxx'; did you mean 'max'"),
    ("input 8x8x3\nconv3-{floor(1, 2)}\n", "2:8", "floor() takes 1 argument(s). Received: 2"),
    ("input 8x8x3\nconv3-{max(4)}\n", "2:8", "max() takes 2 or more argument(s)"),
    ("input 8x8x3\nconv3-{divisible(10, 0)}\n", "2:8", "divisor must be a whole number"),
    ("input 8x8x3\nconv3-{ceil(1e400)}\n", "2:13", "numbers must be finite. Received: inf"),
    ("input 8x8x3\nconv3-8 x{ceil(1e300*1e300)}\n", "2:16", "numbers must be finite"),
    ("input 8x8x3\nbn(epsilon=1e400)\n", "2:12", "numbers must be finite"),
    ("network n(w=2, w=3)\ninput 8x8x3\nconv3-{w}\n", "1:16", "parameter 'w' is listed twice"),
    ("input 8x8x3\nblock b(w, w):\n    relu\nb(1, 2)\n", "2:12", "'w' is listed twice"),
    ("input 8x8x3\na: conv3-8, droppath(0.2)\n", "2:13", "unknown layer kind or block 'droppath'"),
    ("input 8x8x3\nconv3-{ceil(relu)}\n", "2:13", "'relu' is not a parameter in scope"),
    # --- shapes
    ("input 2x2x3\nc: conv3-8(padding=valid)\n", "2:4", "needs at least 3×3"),
    ("input 224x224x3\nconv11-96/4(padding=valid)\n", "2:1", "54.25 is not a whole number"),
    ("input 8x8x3\nmaxpool3/2\n", "2:1", "or rounding=ceil to pool them as Caffe does"),
    ("input 8x8x3\nconv3-4/2(padding=valid, rounding=ceil)\n", "2:26",
     "rounding must be one of exact, floor"),
    ("input 8x8x3\nconv3-8(groups=2)\n", "2:1", "groups=2 must divide"),
    ("input 8x8x3\nc: concat:\n    conv3-8\n    conv3-8/2\n", "2:4", "must agree in height"),
    ("input 8x8x8\nr: residual(shortcut=identity):\n    conv3-16/2\n", "2:4",
     "the body maps 8×8×8 to 4×4×16"),
    ("input 8x8x16\nr: residual(shortcut=A):\n    conv3-8\n", "2:4", "cannot reduce channels"),
    ("input 10\nconv3-8\n", "2:1", "needs an H×W×C input"),
    ("input 7x7x8\nr: residual:\n    conv3-8/3(padding=valid)\n", "3:5", "not a whole number"),
    ("input 9x9x8\nr: residual:\n    conv3-8/2(padding=valid)\n", "2:4",
     "no strided shortcut maps 9×9×8 to 4×4×8"),
    # --- limits
    ("input 8x8x3\nrelu x1000000000\n", "2:7", "over the limit of 1,000,000"),
    ("input 224x224x3\nfc-4096000\n", "2:1", "more than 2,000,000,000 parameters"),
    ("input 8x8x3\nblock a(w):\n    a(w)\nx: a(3)\n", "3:5", "calls itself (a → a)"),
    ("input 8x8x3\nblock inner():\n    relu x1000\nblock outer():\n    inner() x1000\n"
     "r: outer() x1000000\n", "6:4", "more than 2,000,000 layers. Received: at least"),
    ("input 8x8x3\nblock a(w):\n    b(w)\nblock b(w):\n    a(w)\nx: a(3)\n", "5:5",
     "calls itself (a → b → a)"),
    # --- expectations
    ("input 8x8x3\nconv3-8\nexpect params = 100\n", "3:8", "params is 224, expected 100"),
    ("input 8x8x3\nconv3-8\nexpect macs ≈ 1K ±1%\n", "3:8", "expected ≈ 1K ±1%"),
    ("input 8x8x3\nx: conv3-8\nexpect x.output = 8x8x9\n", "3:8", "is 8x8x8, expected 8x8x9"),
    ("input 8x8x3\nx: conv3-8\nexpect x.output = 5\n", "3:19", "is a shape"),
]


def run(tmp_path, capsys, source: bytes | str, *options):
    path = tmp_path / "bad.arch"
    path.write_bytes(source if isinstance(source, bytes) else source.encode())
    status = cli.main(["check", *options, str(path)])
    return status, path, capsys.readouterr().err


def test_the_table_is_large():
    assert len(CASES) >= 40


@pytest.mark.parametrize("source, line_col, words", CASES)
def test_malformed_input(tmp_path, capsys, source, line_col, words):
    status, path, err = run(tmp_path, capsys, source)
    assert status == 2
    first, *rest = err.splitlines()
    assert first.startswith(f"{path}:{line_col}: error: "), first
    assert words in first
    line, column = map(int, line_col.split(":"))
    if source.strip():  # the source line and a caret under the column
        assert rest[0] == "  " + source.splitlines()[line - 1]
        assert rest[1] == "  " + " " * (column - 1) + "^"
    assert "Traceback" not in err


def test_errors_inside_blocks_show_the_expansion_chain(tmp_path, capsys):
    source = ("input 4x4x8\n"
              "block shrink():\n"
              "    conv3-8(padding=valid)\n"
              "block twice():\n"
              "    shrink(), shrink()\n"
              "x: twice()\n")
    status, path, err = run(tmp_path, capsys, source)
    assert status == 2
    assert err.splitlines()[0].startswith(f"{path}:3:5: error: conv3-8(padding=valid): "
                                          f"input is 2×2×8")
    assert err.splitlines()[3:] == [
        "  in shrink() called at line 5 (block defined at line 2)",
        "  in twice() called at line 6 (block defined at line 4)"]


def test_bytes_that_are_not_utf8(tmp_path, capsys):
    status, path, err = run(tmp_path, capsys, b"input 8x8x3\nconv3-8 \xff\n")
    assert status == 2
    assert err.startswith(f"{path}:2:9: error: file is not valid UTF-8. Received: byte 0xff")


def test_files_larger_than_a_mebibyte(tmp_path, capsys):
    status, path, err = run(tmp_path, capsys, "input 8x8x3\n" + "#" * (1 << 20))
    assert status == 2 and "file is larger than 1,048,576 bytes" in err


@pytest.mark.parametrize("source", [
    "input 8x8x3\n" + "r: " + "".join(" " * i + "residual:\n" for i in range(0, 1000)),
    "input 8x8x3\nconv3-{" + "(" * 1000 + "8" + ")" * 1000 + "}\n",
    "input 8x8x3\nconv3-{" + "+".join(["1"] * 5000) + "}\n",
])
def test_deep_nesting_is_a_limit_error_not_a_crash(tmp_path, capsys, source):
    status, path, err = run(tmp_path, capsys, source)
    assert status == 2
    assert "nest" in err.splitlines()[0] and "Traceback" not in err


LINTS = [
    ("input 8x8x3\nconv3-8, bn\n", "2:1", "the conv bias is wasted"),
    ("input 8x8x3\nconv4-8(bias=false)\n", "2:1", "even 4×4 kernel with 'same' padding"),
    ("input 8x8x3\nfc-10, dropout\n", "2:8", "dropout after the last weight layer"),
    ("input 8x8x3\nfc-10, softmax, dropout(0.2)\n", "2:17", "dropout after the last"),
    ("input 8x8x4\ng: gate:\n    avgpool, fc-4, relu\n", "2:4", "ends in g.relu1 (relu), whose"),
    ("input 8x8x4\nc: conv3-4, layerscale\n", "2:13", "a layer scale outside a residual body"),
    ("network n(width=1, depht=2)\ninput 8x8x3\nc: conv3-{4*width}\n", "1:20",
     "network parameter 'depht' is never read"),
]


@pytest.mark.parametrize("source, line_col, words", LINTS)
def test_lints_warn_and_strict_makes_them_errors(tmp_path, capsys, source, line_col, words):
    status, path, err = run(tmp_path, capsys, source)
    assert status == 0
    assert err.startswith(f"{path}:{line_col}: warning: ") and words in err.splitlines()[0]
    status, path, err = run(tmp_path, capsys, source, "--strict")
    assert status == 2 and err.startswith(f"{path}:{line_col}: error: ")


@pytest.mark.parametrize("source", [
    "input 224x224x3\nconv4-96/4(bias=false)\n",       # stride = size, dividing 224
    "input 56x56x96\nconv2-192/2(bias=false)\n",       # ConvNeXt's downsampling layer
    "input 8x8x3\nconv1-8(bias=false), bn\nresidual:\n    conv3-16/2(bias=false), bn\n",
    "input 8x8x4\nresidual:\n    conv3-4, layerscale\n",     # layer scale in a body
    "network n(w=2)\ninput 8x8x4\nblock b(c=w):\n    conv3-{c}\nb()\n",  # read by a default
])
def test_lints_stay_quiet_where_nothing_is_wrong_or_the_user_cannot_act(source):
    # An even kernel whose stride equals its size and divides the input pads nothing
    # under 'same'; the projection shortcut and its BatchNorm are made by nnc itself,
    # with the conv defaults, so its bias is not the user's to remove.
    compiled = compile_source(source)
    assert lint(compiled.network) == []


def test_an_even_kernel_that_does_pad_unevenly_still_warns():
    net = compile_source("input 57x57x96\nconv2-192/2(bias=false)\n").network
    assert ["even 2×2 kernel" in w.message for w in lint(net)] == [True]


def test_a_layer_whose_output_is_unused_is_reported(load):
    # The language always feeds a row into the next, so a dangling layer can only come
    # from a graph edited through the API; the lint looks at the graph, not the text.
    net = load("vggA").network
    graph = net.graph.copy()
    extra = dataclasses.replace(net.layers["fc6.fc1"], name="extra", inputs=("pool5.maxpool1",))
    graph.add_edge("pool5.maxpool1", "extra")
    edited = dataclasses.replace(net, graph=graph, layers={**net.layers, "extra": extra})
    warnings = lint(edited)
    assert [type(w) for w in warnings] == [ArchLint]
    assert "extra: this layer's output is never used" in warnings[0].message


def test_shipped_architectures_are_lint_free():
    for path in sorted(ARCHITECTURES.glob("*.arch")):
        assert cli.main(["check", "--strict", str(path)]) == 0, path
