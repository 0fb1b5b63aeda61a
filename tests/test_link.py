"""Network parameters and files that use other files (`use "base.arch"(width=2)`): what
a using file gets, and the positioned errors of every misuse."""
import pytest

from nnc import cli
from nnc.analysis.compiled import compile_file

BASE = """\
network base(width=1.0, depth=1)
input 16x16x3
default conv(bias=false)
block stage(c, n):
    conv3-{divisible(c*width, 8)} x{ceil(n*depth)}
s1: stage(16, 1)
s2: conv3-{divisible(32*width, 8)}/2
expect params = 5,040
"""


def write(folder, **files):
    for name, text in files.items():
        (folder / f"{name}.arch").write_text(text)
    return folder


def test_network_parameters_are_seen_by_rows_and_blocks(tmp_path):
    c = compile_file(str(write(tmp_path, base=BASE) / "base.arch"))
    layers = c.network.layers
    assert layers["s1.1.conv1"].shape == (16, 16, 16) and layers["s2.conv1"].shape == (8, 8, 32)
    assert c.stats.totals.params == 3 * 3 * 3 * 16 + 3 * 3 * 16 * 32


def test_a_using_file_gets_blocks_defaults_and_rows_with_its_values(tmp_path):
    write(tmp_path, base=BASE, big='use "base.arch"(width=2.0, depth=2.5)\ninput 32x32x3\n')
    c = compile_file(str(tmp_path / "big.arch"))
    layers = c.network.layers
    assert c.network.name == "big"  # its own name: the file's, not base's
    assert [n for n in layers if n.startswith("s1.")] == ["s1.1.conv1", "s1.1.conv2",
                                                          "s1.1.conv3"]  # ceil(2.5)
    assert layers["s1.1.conv1"].shape == (32, 32, 32)  # its own input, twice the width
    assert layers["s1.1.conv1"].attrs["bias"] is False  # base's default
    assert layers["s1.1.conv1"].coord.file == str(tmp_path / "base.arch")
    assert c.network.expects == ()  # base's expect lines are base's own


def test_a_file_with_rows_of_its_own_uses_only_the_blocks(tmp_path):
    write(tmp_path, base=BASE, lib='use "base.arch"\ninput 8x8x3\nmine: stage(8, 2)\n')
    c = compile_file(str(tmp_path / "lib.arch"))
    assert [row.name for row in c.network.rows] == ["mine"]
    assert c.network.layers["mine.1.conv2"].shape == (8, 8, 8)


def test_default_lines_see_the_network_parameters(tmp_path):
    write(tmp_path, a="network a(r=0.3)\ninput 8x8x3\ndefault dropout(r)\nfc-4, dropout\n"
                      "fc-2\n")
    layers = compile_file(str(tmp_path / "a.arch")).network.layers
    assert layers["dropout1"].attrs["rate"] == 0.3


def test_a_use_line_that_sets_no_parameters_keeps_their_defaults(tmp_path):
    write(tmp_path, base=BASE, same='use "base.arch"\n')
    assert compile_file(str(tmp_path / "same.arch")).stats.totals.params == 5_040


@pytest.mark.parametrize("files, line_col, words", [
    ({"a": 'use "../base.arch"\n'}, "a.arch:1:5", "without a folder. Received: \"../base.arch\""),
    ({"a": 'use "base.txt"\n'}, "a.arch:1:5", "use names an .arch file"),
    ({"a": 'use "nope.arch"\n'}, "a.arch:1:5", "cannot read"),
    ({"a": 'use "base.arch"(widht=2)\n'}, "a.arch:1:17",
     "no network parameter 'widht'; did you mean 'width'? Its parameters: depth, width"),
    ({"a": 'use "base.arch"(2)\n'}, "a.arch:1:17", "names the parameters it sets"),
    ({"a": 'use "base.arch"(width=2, width=3)\n'}, "a.arch:1:26", "'width' is given twice"),
    ({"a": 'use "base.arch"\nuse "base.arch"\n'}, "a.arch:2:5", "a second 'use' line"),
    ({"a": 'use "base.arch"\nblock stage(c):\n    relu\n'}, "a.arch:2:7",
     "block 'stage' is also defined in"),
    ({"a": 'network a(width=2)\nuse "base.arch"\n'}, "a.arch:1:11",
     "network parameter 'width' is also one of"),
    ({"a": 'use "b.arch"\n', "b": 'use "a.arch"\n'}, "b.arch:1:5",
     "files use each other: a.arch → b.arch → a.arch"),
    ({"a": 'use "a.arch"\n'}, "a.arch:1:5", "files use each other: a.arch → a.arch"),
    ({"a": 'network a(w)\ninput 8x8x3\nrelu\n'}, "a.arch:1:11",
     "network parameter 'w' needs a value"),
    ({"a": 'use "base.arch"(width=wide)\n'}, "base.arch:5:24",
     "arithmetic needs numbers. Received: width = 'wide'"),
])
def test_misuse_is_a_positioned_error(tmp_path, capsys, files, line_col, words):
    write(tmp_path, base=BASE, **files)
    assert cli.main(["check", str(tmp_path / "a.arch")]) == 2
    first, line, caret = capsys.readouterr().err.splitlines()[:3]
    assert first.startswith(f"{tmp_path / line_col}: error: ") and words in first
    assert caret.strip() == "^"  # the line and caret come from whichever file it names


def test_a_chain_of_uses_deeper_than_the_limit_is_refused(tmp_path, capsys):
    write(tmp_path, f0="input 8x8x3\nrelu\n",
          **{f"f{i}": f'use "f{i - 1}.arch"\n' for i in range(1, 11)})
    assert cli.main(["check", str(tmp_path / "f8.arch")]) == 0
    assert cli.main(["check", str(tmp_path / "f10.arch")]) == 2
    assert "files use files more than 8 deep" in capsys.readouterr().err
