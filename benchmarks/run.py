"""nnc's performance against the Keras route, measured side by side in one run:

    .venv/bin/python benchmarks/run.py [--quick] [--only SECTION ...]

Sections: frontend (`nnc stats` against building keras.applications.ResNet152, and the
cost of starting up), scale (generated ResNets of 1,000 to 100,000 residual units),
build (`nnc build` against keras.applications), run (inference throughput with the same
weights), grouped (AlexNet's grouped convs as nnc computes them, against TensorFlow's
grouped Conv2D and against each split into two convs and a concat), onnx (nnc's ONNX
backend against Keras's export through tf2onnx, and onnxruntime against Keras), view
(`nnc view`'s page of the largest networks opened in headless Chromium), memory
(nnc's memory figures against XLA's buffer assignment: memory_calibration.py, under JAX
in a process of its own, cached per network in memory_calibration.json). Prints Markdown: the machine, one table per section and a summary of the
ratios against the targets of issue 8. About 12 minutes on 2 cores; --quick runs each
measurement fewer times (about 5 minutes). benchmarks/RESULTS.md holds the results.
"""
from __future__ import annotations

import argparse
import datetime
import os

import frontend
import grouped
import inference
import memory_calibration
import onnx_route
import view_load
from common import QUIET, machine, seconds, table

import build

SECTIONS = ("frontend", "scale", "build", "run", "grouped", "onnx", "view", "memory")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs of each")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, default=SECTIONS)
    parser.add_argument("--networks", nargs="+", choices=tuple(inference.NETWORKS),
                        default=tuple(inference.NETWORKS), help="for the run section")
    parser.add_argument("--no-xla", action="store_true",
                        help="run section without the XLA runs (XLA makes depthwise "
                             "convolutions 13× slower on CPU: minutes for mobile networks)")
    args = parser.parse_args()
    os.environ.update(QUIET)
    repeat = 1 if args.quick else 3
    results = {}
    print(f"{datetime.date.today()}, `benchmarks/run.py{' --quick' if args.quick else ''}`"
          f"\n\n{machine()}\n", flush=True)
    if "frontend" in args.only:
        results["frontend"] = r = frontend.against_keras(repeat)
        section(f"Front end against Keras, whole process (best of {repeat} rounds; "
                f"start-up best of {2 * repeat})", frontend.against_keras_table(r))
    if "scale" in args.only:
        results["scale"] = r = frontend.scale(repeat)
        section(f"Scale: `nnc stats` on generated ResNets (best of {repeat})",
                frontend.scale_table(r))
        section("Where the time goes", frontend.phases_table(r[1]["phases"]))
    if "build" in args.only:
        results["build"] = r = {"in-process": build.in_process(repeat),
                                "whole process": build.whole_process(repeat)}
        section(f"Build, in-process (best of {repeat})", build.build_table(r["in-process"]))
        section(f"Build, whole process: build and save a .keras file (best of {repeat})",
                build.build_table(r["whole process"]))
    if "run" in args.only:
        batches = 3 if args.quick else 7
        results["run"] = r = inference.compare(batch=32, batches=batches, warmup=1,
                                               names=args.networks,
                                               xla=(False,) if args.no_xla else (False, True))
        section(f"Inference, batch 32, medians of {batches} rounds; float32 matmul "
                f"peak {r['peak'] / 1e9:.0f} GFLOP/s; largest output difference "
                f"{inference.differences(r)}", inference.compare_table(r))
    if "grouped" in args.only:
        batches = 3 if args.quick else 7
        results["grouped"] = r = grouped.compare(batch=32, batches=batches, warmup=1)
        section(f"AlexNet's grouped convs, batch 32, medians of {batches} rounds; largest "
                f"output difference {r['difference']:.1e}", grouped.compare_table(r))
    if "onnx" in args.only:
        written = onnx_route.writing(repeat)
        section(f"ONNX writing, whole process from the .arch file (best of {repeat})",
                onnx_route.writing_table(written))
        batches = 3 if args.quick else 7
        ran = onnx_route.inference(batch=8, batches=batches, warmup=1)
        section(f"ONNX inference, batch 8, medians of {batches} rounds",
                onnx_route.inference_table(ran))
    if "view" in args.only:
        results["view"] = r = view_load.loading(repeat)
        section(f"`nnc view`'s page in headless Chromium (best of {repeat + 2} loads)",
                view_load.loading_table(r))
    if "memory" in args.only:
        section("Memory: nnc's totals against XLA's buffer assignment",
                memory_calibration.study_in_jax())
    section("Summary against the targets", summary(results))


def section(title: str, body: str) -> None:
    print(f"{title}:\n\n{body}\n", flush=True)


def summary(results: dict) -> str:
    rows = []
    if "frontend" in results:
        r = results["frontend"]
        speedup = r["theirs"] / r["ours"]
        rows.append(["front end: Keras ResNet152 time / `nnc stats` time", f"{speedup:.1f}×",
                     "≥ 20×", verdict(speedup >= 20)])
    if "scale" in results:
        r = {s["units"]: s for s in results["scale"]}
        for small, large in ((1_000, 10_000), (10_000, 100_000)):
            growth = r[large]["seconds"] / r[small]["seconds"]
            memory = r[large]["memory"] / r[small]["memory"]
            rows.append([f"scale: time, {large:,} units / {small:,}", f"{growth:.1f}×",
                         "≤ 12×", verdict(growth <= 12)])
            rows.append([f"scale: peak memory, {large:,} units / {small:,}", f"{memory:.1f}×",
                         "≤ 12× (linear)", verdict(memory <= 12)])
        rows.append(["scale: `nnc stats`, 10,000 units", seconds(r[10_000]["seconds"]),
                     "< 2 s", verdict(r[10_000]["seconds"] < 2)])
    for kind, r in results.get("build", {}).items():
        for name, (ours, theirs) in r.items():
            rows.append([f"build {kind}: {name}, nnc / keras", f"{ours / theirs:.2f}",
                         "≤ 1.2", verdict(ours / theirs <= 1.2)])
    for name, r in results.get("run", {}).get("networks", {}).items():
        for jit, run in r["runs"].items():
            ratio = run["ratio"]
            rows.append([f"run: {name}{' + XLA' if jit else ''} images/s, nnc / keras",
                         f"{ratio:.3f}", "≥ 0.97", verdict(ratio >= 0.97)])
    for name, ratio in results.get("grouped", {}).get("ratios", {}).items():
        rows.append([f"grouped: AlexNet images/s, nnc / {name}", f"{ratio:.3f}", "≥ 1",
                     verdict(ratio >= 1)])
    for name, r in results.get("view", {}).items():
        rows.append([f"view: {name}'s page, loaded and its script run", f"{r['load_ms']:.0f} ms",
                     "< 1 s", verdict(r["load_ms"] < 1000)])
    return table(["measure", "measured", "target", "met"], rows)


def verdict(met: bool) -> str:
    return "yes" if met else "**no**"


if __name__ == "__main__":
    main()
