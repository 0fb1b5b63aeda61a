"""Inference throughput of the models nnc builds against keras.applications, with the
same weights (copied across by nnc.weights, so that both compute the same function), on
the same backend and the same random batch: ResNet-50 (tests/fixtures/resnet50-keras.arch)
and VGG-16 (architectures/vggD.arch), without and with XLA.

Batches of both models are timed in turn (nnc.bench.time_interleaved), so that changes
in the machine's load fall on both alike; the figures are medians. Achieved GFLOP/s
count nnc's MACs (2 FLOPs each) and are set against the peak of a float32 matrix
product measured in the same process.
"""
from __future__ import annotations

import numpy as np

from common import ARCHITECTURES, FIXTURES, table

NETWORKS = {"ResNet50": FIXTURES / "resnet50-keras.arch", "VGG16": ARCHITECTURES / "vggD.arch"}


def compare(batch: int, batches: int, warmup: int) -> dict:
    import keras
    import nnc
    from nnc.bench import Timing, inference_step, matmul_peak, random_images, \
        time_interleaved
    from nnc.weights import copy_weights
    results = {"peak": matmul_peak("float32"), "networks": {}}
    for name, arch in NETWORKS.items():
        compiled = nnc.load(str(arch))
        theirs = getattr(keras.applications, name)(weights=None)
        ours = compiled.to_keras()
        copy_weights(theirs, ours)
        images = random_images((224, 224, 3), batch)
        difference = float(np.abs(ours.predict_on_batch(images)
                                  - theirs.predict_on_batch(images)).max())
        runs = {}
        for jit in (False, True):
            for model in (ours, theirs):
                model.compile(jit_compile=jit)
            seconds = time_interleaved({"nnc": inference_step(ours, images),
                                        "keras": inference_step(theirs, images)},
                                       batches, warmup)
            runs[jit] = {side: Timing(batch, s) for side, s in seconds.items()}
        results["networks"][name] = {"macs": compiled.stats.main.macs, "runs": runs,
                                     "difference": difference}
        del ours, theirs
        keras.backend.clear_session()
    return results


def compare_table(results: dict) -> str:
    rows = []
    for name, r in results["networks"].items():
        flops = 2 * r["macs"]
        for jit, timings in r["runs"].items():
            ours, theirs = timings["nnc"], timings["keras"]
            gain = ours.images_per_second / r["runs"][False]["nnc"].images_per_second
            rows.append([f"{name}{' + XLA' if jit else ''}",
                         f"{ours.images_per_second:.1f}", f"{theirs.images_per_second:.1f}",
                         f"{ours.images_per_second / theirs.images_per_second:.3f}",
                         f"{ours.median * 1e3:.0f}", f"{ours.flops_per_second(flops) / 1e9:.1f}",
                         f"{ours.flops_per_second(flops) / results['peak']:.0%}",
                         f"{gain:.2f}×" if jit else ""])
    return table(["network", "nnc images/s", "keras images/s", "ratio", "nnc ms/batch",
                  "nnc GFLOP/s", "% of peak", "XLA gain"], rows)


def differences(results: dict) -> str:
    return ", ".join(f"{name} {r['difference']:.1e}"
                     for name, r in results["networks"].items())
