"""nnc's memory totals against XLA's own buffer assignment (benchmarks/memory_calibration.py)
for small networks: XLA compiles, under JAX on CPU in a fresh process, the inference
pass and a training step (momentum and Adam) of the Keras model nnc builds, and its
memory_analysis gives the bytes of arguments, outputs and temporaries. nnc's training
step total is within 15% of XLA's total, and so is its inference total, where
docs/seeing.md says they agree (benchmarks/RESULTS.md has every network).
The test holds for nnc's model of memory, not for an order of layers or a fusion that
XLA's next version may choose: a failure after upgrading JAX is a finding for the docs."""
import json
import os
import subprocess
import sys

import pytest
from conftest import ARCHITECTURES, ROOT

import nnc
from nnc.analysis.memory import memory

BENCHMARKS = ROOT / "benchmarks"
TOLERANCE = 0.15
NETWORKS = {name: (ARCHITECTURES / f"{name}.arch").read_text()
            for name in ("lenet5", "resnet20-cifar", "efficientnet-b0")}
# (network, batch, mode). Inference at one image: at larger batches XLA on CPU keeps more
# alive in a deep residual stage than nnc's file order needs (docs/seeing.md says why).
# LeNet-5 at batch 1 only: at larger batches XLA on CPU adds transposed copies for C1's
# filter gradient, a large share of so small a network (docs/seeing.md).
# EfficientNet-B0: swish, whose backward reads its input, and squeeze-and-excitation
# gates, at batch 32 (at one image XLA on CPU computes its depthwise filter gradients as
# dense convs).
CASES = [("lenet5", 1, "inference"), ("lenet5", 1, "momentum"), ("lenet5", 1, "adam"),
         ("resnet20-cifar", 1, "inference"), ("resnet20-cifar", 1, "momentum"),
         ("resnet20-cifar", 8, "adam"), ("efficientnet-b0", 32, "momentum")]

MEASURE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import memory_calibration as study
study.without_ynn_fusions()
import nnc
texts, results = json.loads(sys.argv[2]), {}
for name, text in texts.items():  # no side heads: one model for every mode
    model = nnc.compile_text(text, name + ".arch").to_keras()
    for _, batch, mode in (case for case in json.loads(sys.argv[3]) if case[0] == name):
        a = study.lowered(model, batch, mode).compile().memory_analysis()
        results[f"{name}/{batch}/{mode}"] = study.xla_total({
            "arguments": a.argument_size_in_bytes, "outputs": a.output_size_in_bytes,
            "aliased": a.alias_size_in_bytes, "temporaries": a.temp_size_in_bytes})
print(json.dumps(results))
"""


@pytest.fixture(scope="module")
def xla_totals() -> dict[str, int]:
    environment = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu",
                   "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(BENCHMARKS), json.dumps(NETWORKS),
         json.dumps(CASES)],
        capture_output=True, text=True, env=environment, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def nnc_total(name: str, batch: int, mode: str) -> int:
    m = memory(nnc.compile_text(NETWORKS[name], f"{name}.arch").network, batch)
    return m.inference_total() if mode == "inference" else m.training_total(mode)


@pytest.mark.slow  # a fresh process under JAX builds 3 models, compiles 7 functions
@pytest.mark.parametrize("name, batch, mode", CASES)
def test_nncs_total_is_within_15_percent_of_xlas(xla_totals, name, batch, mode):
    theirs = xla_totals[f"{name}/{batch}/{mode}"]
    ours = nnc_total(name, batch, mode)
    assert abs(ours / theirs - 1) <= TOLERANCE, f"nnc {ours:,} bytes, XLA {theirs:,}"



def test_results_md_holds_the_table_the_script_makes_from_its_cache():
    """benchmarks/RESULTS.md's calibration table is the script's, from the measurements
    in benchmarks/memory_calibration.json and nnc's figures as they are now: a change to
    nnc's memory model rewrites it (`memory_calibration.py --table --write`)."""
    sys.path.insert(0, str(BENCHMARKS))  # the script imports its neighbours
    try:
        import memory_calibration as study
        made = study.markdown(study.load_results(study.RESULTS))
    finally:
        sys.path.remove(str(BENCHMARKS))
    assert study.results_section(study.RESULTS_MD.read_text()) == made
