"""`nnc bench` prints consistent figures; the front end's work grows linearly with the
network (counted in nodes and edges, never timed: timings live in benchmarks/); path
counts too long to write out are given as powers; copying weights between models of
different networks is refused."""
from __future__ import annotations

import re
import sys

import pytest
from conftest import ROOT, compile_source

import nnc
from nnc.analysis.paths import Hist, Paths
from nnc.cli import main
from nnc.present.report import format_paths

sys.path.insert(0, str(ROOT / "benchmarks"))
from frontend import GENERATED  # noqa: E402  the ResNets the scale benchmark times

EVERY_KIND = ROOT / "tests" / "fixtures" / "every-kind.arch"


def figure(output: str, label: str) -> float:
    return float(re.search(rf"{re.escape(label)}\s+([\d.]+)", output).group(1))


def test_nnc_bench_prints_consistent_figures(capsys):
    code = main(["bench", str(EVERY_KIND), "--batch", "2", "--batches", "3", "--warmup", "1"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith(f"every_kind ({EVERY_KIND}): batch 2, float32, XLA off\n")
    assert re.search(r"^Keras \S+, backend \w+, ", out, re.M)
    assert "median of 3" in out
    ms, images = figure(out, "ms per batch:"), figure(out, "images/s:")
    achieved, peak = figure(out, "achieved GFLOP/s:"), figure(out, "measured peak GFLOP/s:")
    share = figure(out, "% of peak:")
    assert images == pytest.approx(2 / (ms / 1e3), rel=0.02)  # both printed rounded
    macs = nnc.load(str(EVERY_KIND)).stats.main.macs  # without the side heads
    assert achieved == pytest.approx(2 * macs * images / 1e9, rel=0.05, abs=0.1)
    assert peak > 0 and share == pytest.approx(100 * achieved / peak, rel=0.05, abs=0.1)


def test_nnc_bench_reports_a_missing_file_as_a_user_error(capsys):
    assert main(["bench", "no-such-file.arch"]) == 2
    assert "cannot read 'no-such-file.arch'" in capsys.readouterr().err


@pytest.mark.parametrize("units", [10, 100, 1000])
def test_a_deep_resnet_expands_to_a_fixed_number_of_nodes_per_unit(units):
    net = compile_source(GENERATED.format(units=units)).network
    # Per unit: conv, bn, relu, conv, bn, add, relu, with 5 + 2 + 1 edges; the input,
    # the stem's 3 layers and the top row's 3 around them, joined by 3 + 3 edges.
    assert net.graph.number_of_nodes() == 7 * units + 7
    assert net.graph.number_of_edges() == 8 * units + 6
    assert len(net.rows[1].nodes) == 7 * units


def test_a_path_count_too_long_to_write_is_given_as_a_power():
    paths = Paths(20_000, Hist(power=20_000))
    # 2^20000 has floor(20000 · log10 2) + 1 = floor(6020.6) + 1 = 6021 digits.
    assert paths.digits == 6021
    assert format_paths(paths)[0] == ("paths from input to output: 2^20000 (6,021 digits); "
                                      "residual units: 20000")
    assert paths.json()["count"] is None
    assert Paths(54, Hist(power=54)).json()["count"] == 2 ** 54


def test_copying_weights_between_different_networks_is_refused():
    from nnc.backends.keras.weights import copy_weights
    source = compile_source("input 8x8x3\nconv3-4\nfc-2\n").to_keras()
    target = compile_source("input 8x8x3\nconv3-5\nfc-2\n").to_keras()
    with pytest.raises(ValueError) as info:
        copy_weights(source, target)
    assert str(info.value) == ("layer conv1 (Conv2D, weights [(3, 3, 3, 4), (4,)]) does not "
                               "match layer conv1 at the same place (Conv2D, weights "
                               "[(3, 3, 3, 5), (5,)])")
