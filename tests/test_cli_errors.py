"""Every mistake on the command line around the language (options, environment, recipes,
model paths) is one clear message with exit status 2, and leaves the user's files as
they were: a table of cases, each checked for its status, the words of its message and
the hashes of every file in the folder it ran in."""
import hashlib
import os
import subprocess
import sys

import pytest
from conftest import ROOT

from nnc import cli
from nnc.backends.keras import runtime

GOOD = "input 8x8x1\nconv3-4(bias=false), bn, relu\nfc-10\n"
LINTED = "input 8x8x1\nconv3-4, bn\nfc-10\n"           # a bias before BatchNorm
ALIASES = "".join(f"&l{i} [{', '.join([f'*l{i - 1}'] * 9) if i else ', '.join(['lol'] * 9)}], "
                  for i in range(9))
FILES = {
    "good.arch": GOOD,
    "linted.arch": LINTED,
    "bomb.yaml": f"epochs: [{ALIASES}]\n",               # a billion laughs under a known key
    "big.yaml": "# padding\n" * 8000 + "epochs: 1\n",    # 80 KB of recipe
    "latin1.yaml": b"epochs: 1 # \xe9t\xe9\n",
    "notes.txt": "not a model\n",
}

# (arguments, environment, status, words in the message)
CASES = [
    (["--strict", "check", "linted.arch"], {}, 2, "error: conv1: the conv bias is wasted"),
    (["check", "--strict", "linted.arch"], {}, 2, "error: conv1: the conv bias is wasted"),
    (["check", "linted.arch"], {}, 0, "warning: conv1: the conv bias is wasted"),
    (["--max-params", "10", "stats", "good.arch"], {}, 2, "more than 10 parameters"),
    (["stats", "--max-params", "10", "good.arch"], {}, 2, "more than 10 parameters"),
    (["--debug", "check", "good.arch"], {}, 0, ""),
    (["--max-params", "10", "check", "--max-params", "10000", "good.arch"], {}, 0, ""),
    (["build", "good.arch", "-o", "m.keras"], {"KERAS_BACKEND": "bogus"}, 2,
     "KERAS_BACKEND must be one of tensorflow, jax, torch, numpy, openvino"),
    (["build", "good.arch", "-o", "m.keras"], {"KERAS_BACKEND": "absent"}, 2,
     "KERAS_BACKEND=absent needs the nnc_no_such_module package"),
    (["train", "good.arch", "-o", "m.keras"], {"KERAS_BACKEND": "absent"}, 2,
     "needs the nnc_no_such_module package"),
    (["eval", "m.keras"], {"KERAS_BACKEND": "absent"}, 2, "there is no model file 'm.keras'"),
    (["eval", "missing.keras"], {}, 2, "there is no model file 'missing.keras'"),
    (["lesion", "missing.keras"], {}, 2, "there is no model file 'missing.keras'"),
    (["eval", "."], {}, 2, "a model is a .keras file that `nnc train` wrote. Received: ."),
    (["eval", "notes.txt"], {}, 2, "a model is a .keras file"),
    (["train", "good.arch", "--lr", "inf"], {}, 2,
     "optimizer.learning_rate must be a finite number > 0. Received: inf"),
    (["train", "good.arch", "--lr", "nan"], {}, 2, "learning_rate must be a number > 0"),
    (["train", "good.arch", "--lr", "0"], {}, 2, "learning_rate must be a number > 0"),
    (["train", "good.arch", "--epochs", "0"], {}, 2, "epochs must be a whole number ≥ 1"),
    (["train", "good.arch", "--batch", "-3"], {}, 2, "batch_size must be a whole number ≥ 1"),
    (["train", "good.arch", "--seed", "-1"], {}, 2, "seed must be a whole number ≥ 0"),
    (["train", "good.arch", "--recipe", "bomb.yaml"], {}, 2,
     "epochs must be a whole number ≥ 1. Received: [["),
    (["train", "good.arch", "--recipe", "big.yaml"], {}, 2, "this one is over 64 KiB"),
    (["train", "good.arch", "--recipe", "latin1.yaml"], {}, 2, "the recipe is not UTF-8"),
    (["train", "good.arch", "--recipe", "none.yaml"], {}, 2, "cannot read the recipe"),
    (["lesion", "m.keras", "--delete-random", "0"], {}, 2,
     "--delete-random takes whole numbers ≥ 1. Received: --delete-random 0"),
    (["lesion", "m.keras", "--reorder-random", "2", "0"], {}, 2,
     "--reorder-random takes whole numbers ≥ 1. Received: --reorder-random 2 0"),
    (["lesion", "m.keras", "--trials", "0"], {}, 2, "--trials takes whole numbers ≥ 1"),
    (["lesion", "m.keras", "--plot", "figure.gif"], {}, 2, "--plot writes png, svg, pdf"),
    (["draw", "good.arch", "-o", "net.gif"], {}, 2, "net.gif"),
    (["bench", "good.arch", "--batch", "0"], {}, 2, "must be a whole number ≥ 1. Received: 0"),
    (["build", "good.arch", "--format", "tflite"], {}, 2, "invalid choice: 'tflite'"),
    (["stats", "--dtype", "float64", "good.arch"], {}, 2, "invalid choice: 'float64'"),
    (["train", "good.arch", "--strategy", "all"], {}, 2, "invalid choice: 'all'"),
    (["eval", "m.keras", "--split", "val"], {}, 2, "invalid choice: 'val'"),
    (["diff", "good.arch"], {}, 2, "the following arguments are required"),
    (["stats"], {}, 2, "the following arguments are required: FILE"),
    ([], {}, 2, "the following arguments are required: COMMAND"),
    (["compile", "good.arch"], {}, 2, "invalid choice: 'compile'"),
    (["stats", "good.arch", "--batch", "two"], {}, 2, "must be a whole number ≥ 1"),
    (["check", "missing.arch"], {}, 2, "cannot read 'missing.arch'"),
]


def snapshot(folder) -> dict[str, str]:
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


@pytest.fixture
def folder(tmp_path, monkeypatch):
    for name, text in FILES.items():
        (tmp_path / name).write_bytes(text if isinstance(text, bytes) else text.encode())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(runtime.BACKENDS, "absent", "nnc_no_such_module")
    return tmp_path


@pytest.mark.parametrize("arguments, environment, status, words", CASES,
                         ids=[" ".join(c[0]) or "(nothing)" for c in CASES])
def test_mistakes_are_clear_and_change_nothing(folder, monkeypatch, capsys, arguments,
                                               environment, status, words):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    before = snapshot(folder)
    try:
        got = cli.main(arguments)
    except SystemExit as e:  # argparse's own usage errors
        got = e.code
    err = capsys.readouterr().err
    assert got == status, err
    assert words in err
    assert len(err) < 2000  # bounded, whatever the value given
    assert "Traceback" not in err and "internal error" not in err
    assert snapshot(folder) == before


def test_a_missing_model_is_reported_before_tensorflow_is_imported(tmp_path):
    code = ("import sys\nfrom nnc.cli import main\n"
            "status = main(['eval', 'missing.keras'])\n"
            "print(status, 'tensorflow' in sys.modules, 'keras' in sys.modules)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=tmp_path, timeout=120)
    assert result.stdout.split() == ["2", "False", "False"], result.stderr


def test_a_reader_that_stops_early_is_no_error():
    # `nnc stats FILE | head -1`: the pipe closes while nnc still writes.
    process = subprocess.Popen([sys.executable, "-m", "nnc", "stats", "--expand",
                                "architectures/resnet152.arch"], cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout.readline().startswith(b"network resnet152")
    process.stdout.close()
    status = process.wait(timeout=120)
    assert status == 0 and process.stderr.read() == b""


def test_tensorflow_says_nothing_on_start_unless_debug(tmp_path):
    (tmp_path / "good.arch").write_text(GOOD)
    quiet = subprocess.run([sys.executable, "-m", "nnc", "build", "good.arch"],
                           capture_output=True, text=True, cwd=tmp_path, timeout=300,
                           env={**os.environ, "KERAS_BACKEND": "tensorflow"})
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stderr == ""
    assert (tmp_path / "good.keras").exists()
