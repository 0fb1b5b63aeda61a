"""The `nnc` command as users run it: output, exit statuses, diagnostics."""
import json
import subprocess
import sys

import pytest
from conftest import ARCHITECTURES, ROOT, run_nnc

from nnc import cli
from nnc.cli import common


def test_check_passes_on_every_shipped_architecture():
    files = sorted(str(p) for p in ARCHITECTURES.glob("*.arch"))
    assert len(files) >= 18
    result = run_nnc("check", *files)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(": ok (") == len(files)


def test_stats_prints_the_table_and_the_conventions():
    result = run_nnc("stats", "architectures/vggD.arch")
    assert result.returncode == 0
    out = result.stdout
    assert "MACs = multiply-accumulates" in out and "FLOPs = 2 × MACs" in out
    assert "params: 138,357,544" in out
    assert "weight layers (depth): 16" in out
    assert any(line.startswith("conv3 ") and "56×56×256" in line for line in out.splitlines())


def test_stats_json():
    result = run_nnc("stats", "--json", "architectures/resnet18.arch")
    j = json.loads(result.stdout)
    assert j["params"]["trainable"] == 11_689_512
    assert {"network", "input", "params", "macs", "flops", "weight_layers", "rows",
            "layers"} <= set(j)


def test_expand_lists_every_layer():
    out = run_nnc("stats", "--expand", "architectures/resnet50.arch").stdout
    assert "conv4_x.3.conv2" in out and "conv2_x.1.shortcut.conv1" in out


def test_several_files_compare_side_by_side():
    out = run_nnc("stats", "architectures/vggC.arch", "architectures/vggD.arch").stdout
    header, *_ = out.splitlines()
    assert "vggC" in header and "vggD" in header
    params = next(line for line in out.splitlines() if line.startswith("params "))
    assert "133,638,952" in params and "138,357,544" in params


def test_one_bad_file_does_not_stop_the_others(tmp_path):
    bad = tmp_path / "bad.arch"
    bad.write_text("input 8x8x3\nconv3-8, maxpol\n")
    result = run_nnc("check", "architectures/vggA.arch", str(bad), "architectures/vggB.arch")
    assert result.returncode == 2
    assert "vggA.arch: ok" in result.stdout and "vggB.arch: ok" in result.stdout
    assert f"{bad}:2:10: error: unknown layer kind or block 'maxpol'; did you mean " \
           f"'maxpool'?" in result.stderr
    assert "1 of 3 files failed" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_file_is_a_user_error():
    result = run_nnc("stats", "no/such.arch")
    assert result.returncode == 2 and "cannot read 'no/such.arch'" in result.stderr


def test_internal_errors_say_so_in_one_line(monkeypatch, capsys):
    def broken(*args, **kwargs):
        raise ValueError("boom")
    monkeypatch.setattr(common, "compile_file", broken)
    assert cli.main(["stats", str(ARCHITECTURES / "vggA.arch")]) == 1
    err = capsys.readouterr().err
    assert err.strip() == ("nnc: internal error: ValueError: boom (this is a bug in nnc; "
                           "rerun with --debug for the traceback)")
    with pytest.raises(ValueError):
        cli.main(["stats", "--debug", str(ARCHITECTURES / "vggA.arch")])


def test_the_front_end_never_imports_tensorflow_or_keras():
    # main() builds the whole parser, the training and build commands' options included
    code = ("import sys, nnc.cli\n"
            "code = nnc.cli.main(['stats', '--json', 'architectures/resnet152.arch'])\n"
            "heavy = [m for m in ('tensorflow', 'keras', 'jax', 'torch', 'numpy', 'sklearn',\n"
            "                     'matplotlib') if m in sys.modules]\n"
            "print(code, heavy, file=sys.stderr)\n"
            "sys.exit(1 if code or heavy else 0)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
