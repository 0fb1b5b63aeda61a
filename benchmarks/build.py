"""How long `nnc build` takes next to building the same network with keras.applications,
for VGG16 (architectures/vggD.arch), ResNet50 and ResNet152 (the Keras-layout fixtures
tests/fixtures/resnet{50,152}-keras.arch, which are the keras.applications models layer
for layer):

- in-process: parse, check, count, lower and verify (`nnc.load(path).to_keras()`) against
  `keras.applications.X(weights=None)`, with Keras already imported;
- whole process: the `nnc build FILE -o OUT.keras` command against a Python process that
  imports Keras, builds the keras.applications model and saves it to a .keras file; both
  start cold, import TensorFlow and write the file.

Each is the best of N rounds that run nnc's build and Keras's in turn, so that a change
in the machine's load falls on both alike. Ratios are nnc's time over Keras's.
"""
from __future__ import annotations

import os
import sys
import tempfile

from common import ARCHITECTURES, FIXTURES, NNC, best_processes, seconds, table

NETWORKS = {  # keras.applications name -> the .arch file that is the same network
    "VGG16": ARCHITECTURES / "vggD.arch",
    "ResNet50": FIXTURES / "resnet50-keras.arch",
    "ResNet152": FIXTURES / "resnet152-keras.arch",
}


def in_process(repeat: int) -> dict[str, tuple[float, float]]:
    """The best of `repeat` rounds, each building nnc's model and then Keras's (after
    one of each that pays for Keras's lazy set-up)."""
    import keras

    import nnc
    from nnc.backends.keras.bench import time_interleaved
    results = {}
    for name, arch in NETWORKS.items():
        def ours():
            nnc.load(str(arch)).to_keras()
            keras.backend.clear_session()

        def theirs():
            getattr(keras.applications, name)(weights=None)
            keras.backend.clear_session()
        runs = time_interleaved({"nnc": ours, "keras": theirs}, repeat, warmup=1)
        results[name] = min(runs["nnc"]), min(runs["keras"])
    return results


def whole_process(repeat: int) -> dict[str, tuple[float, float]]:
    results = {}
    with tempfile.TemporaryDirectory() as directory:
        for name, arch in NETWORKS.items():
            ours = NNC + ["build", str(arch), "-o", os.path.join(directory, "nnc.keras")]
            theirs = [sys.executable, "-c",
                      f"import sys, keras; keras.applications.{name}(weights=None)"
                      f".save(sys.argv[1])", os.path.join(directory, "keras.keras")]
            runs = best_processes(repeat, {"nnc": ours, "keras": theirs})
            results[name] = runs["nnc"][0], runs["keras"][0]
    return results


def build_table(results: dict[str, tuple[float, float]]) -> str:
    return table(["network", "nnc", "keras.applications", "ratio"],
                 [[name, seconds(ours), seconds(theirs), f"{ours / theirs:.2f}"]
                  for name, (ours, theirs) in results.items()])
