"""How long `nnc build` takes next to building the same network with keras.applications.

    .venv/bin/python benchmarks/build.py [--repeat N]

Two measures, each for VGG16 (architectures/vggD.arch) and ResNet50 (the Keras-layout
fixture tests/fixtures/resnet50-keras.arch, which is keras.applications.ResNet50 layer
for layer):

- in-process: parse, check, count, lower and verify (`nnc.load(path).to_keras()`) against
  `keras.applications.X(weights=None)`, with Keras already imported; the best of N;
- whole process: the `nnc build FILE -o OUT.keras` command against a Python process that
  imports Keras, builds the keras.applications model and saves it to a .keras file; both
  start cold, import TensorFlow and write the file; the best of N.

Ratios are nnc's time over Keras's, measured in the same run on the same machine.
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NETWORKS = {  # keras.applications name -> the .arch file that is the same network
    "VGG16": ROOT / "architectures" / "vggD.arch",
    "ResNet50": ROOT / "tests" / "fixtures" / "resnet50-keras.arch",
}
QUIET = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def best_of(repeat: int, run) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def in_process(repeat: int) -> dict[str, tuple[float, float]]:
    import keras
    import nnc
    results = {}
    for name, arch in NETWORKS.items():
        def ours():
            nnc.load(str(arch)).to_keras()
            keras.backend.clear_session()

        def theirs():
            getattr(keras.applications, name)(weights=None)
            keras.backend.clear_session()
        theirs()  # the first model pays for Keras's lazy set-up; do not charge either side
        results[name] = best_of(repeat, ours), best_of(repeat, theirs)
    return results


def whole_process(repeat: int) -> dict[str, tuple[float, float]]:
    results = {}
    with tempfile.TemporaryDirectory() as directory:
        for name, arch in NETWORKS.items():
            ours = [sys.executable, "-m", "nnc", "build", str(arch), "-o",
                    os.path.join(directory, "nnc.keras")]
            theirs = [sys.executable, "-c",
                      f"import sys, keras; keras.applications.{name}(weights=None)"
                      f".save(sys.argv[1])", os.path.join(directory, "keras.keras")]
            results[name] = tuple(
                best_of(repeat, lambda c=command: subprocess.run(
                    c, check=True, capture_output=True, env=QUIET))
                for command in (ours, theirs))
    return results


def machine() -> str:
    import keras
    import tensorflow as tf
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                if line.startswith("model name")), platform.processor()) \
        if os.path.exists("/proc/cpuinfo") else platform.processor()
    return (f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} CPUs; "
            f"Python {platform.python_version()}, TensorFlow {tf.__version__}, "
            f"Keras {keras.__version__} (backend {keras.backend.backend()})")


def table(title: str, results: dict[str, tuple[float, float]]) -> str:
    lines = [f"{title}:", "", "| network | nnc | keras.applications | ratio |",
             "| --- | ---: | ---: | ---: |"]
    for name, (ours, theirs) in results.items():
        lines.append(f"| {name} | {ours:.2f} s | {theirs:.2f} s | {ours / theirs:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each (best kept)")
    args = parser.parse_args()
    os.environ.update(QUIET)
    print(machine(), "\n")
    print(table(f"In-process build, best of {args.repeat}", in_process(args.repeat)), "\n")
    print(table(f"Whole process, build and save a .keras file, best of {args.repeat}",
                whole_process(args.repeat)))


if __name__ == "__main__":
    main()
