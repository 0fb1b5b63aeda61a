"""Inference throughput of the models nnc builds against keras.applications, with the
same weights (copied across by nnc.backends.keras.weights, so that both compute the same function), on
the same backend and the same random batch: ResNet-50 (tests/fixtures/resnet50-keras.arch),
VGG-16 (architectures/vggD.arch), MobileNet, MobileNetV2, Xception, EfficientNet-B0 and
ConvNeXt-T, without and with XLA.

A round times one batch of each model and one float32 matmul step, in turn
(nnc.backends.keras.bench.time_interleaved), so that a change in the machine's load falls on all
three alike. Images/s are medians over the rounds; the ratio is the median of the
rounds' ratios; the peak is the best matmul step of the whole section. Achieved GFLOP/s
count nnc's MACs, 2 FLOPs each.
"""
from __future__ import annotations

import statistics

import numpy as np
from common import ARCHITECTURES, FIXTURES, table

NETWORKS = {"ResNet50": FIXTURES / "resnet50-keras.arch", "VGG16": ARCHITECTURES / "vggD.arch",
            "MobileNet": ARCHITECTURES / "mobilenet.arch",
            "MobileNetV2": ARCHITECTURES / "mobilenetv2.arch",
            "Xception": ARCHITECTURES / "xception.arch",
            "EfficientNetB0": ARCHITECTURES / "efficientnet-b0.arch",
            "ConvNeXtTiny": ARCHITECTURES / "convnext-tiny.arch"}


def compare(batch: int, batches: int, warmup: int, names=tuple(NETWORKS),
            xla=(False, True)) -> dict:
    import keras

    import nnc
    from nnc.backends.keras.bench import (
        Timing,
        inference_step,
        matmul_step,
        random_images,
        time_interleaved,
    )
    from nnc.backends.keras.weights import copy_weights
    matmul, matmul_flops = matmul_step("float32")
    results, fastest_matmul = {}, float("inf")
    for name, arch in ((n, NETWORKS[n]) for n in names):
        compiled = nnc.load(str(arch))
        theirs = getattr(keras.applications, name)(weights=None)
        ours = compiled.to_keras()
        copy_weights(theirs, ours)
        images = random_images(compiled.network.shape(compiled.network.input), batch)
        difference = float(np.abs(ours.predict_on_batch(images)
                                  - theirs.predict_on_batch(images)).max())
        runs = {}
        for jit in xla:
            for model in (ours, theirs):
                model.compile(jit_compile=jit)
            seconds = time_interleaved({"nnc": inference_step(ours, images),
                                        "keras": inference_step(theirs, images),
                                        "matmul": matmul}, batches, warmup)
            fastest_matmul = min(fastest_matmul, *seconds["matmul"])
            runs[jit] = {"nnc": Timing(batch, seconds["nnc"]),
                         "keras": Timing(batch, seconds["keras"]),
                         "ratio": statistics.median(k / n for n, k in zip(seconds["nnc"],
                                                                          seconds["keras"]))}
        results[name] = {"macs": compiled.stats.main.macs, "runs": runs,
                         "difference": difference}
        del ours, theirs
        keras.backend.clear_session()
    return {"peak": matmul_flops / fastest_matmul, "networks": results}


def compare_table(results: dict) -> str:
    rows = []
    for name, r in results["networks"].items():
        flops = 2 * r["macs"]
        for jit, run in r["runs"].items():
            ours, theirs = run["nnc"], run["keras"]
            achieved = ours.flops_per_second(flops)
            gain = ours.images_per_second / r["runs"][False]["nnc"].images_per_second
            rows.append([f"{name}{' + XLA' if jit else ''}",
                         f"{ours.images_per_second:.2f}", f"{theirs.images_per_second:.2f}",
                         f"{run['ratio']:.3f}", f"{ours.median * 1e3:.0f}",
                         f"{achieved / 1e9:.1f}", f"{achieved / results['peak']:.0%}",
                         f"{gain:.2f}×" if jit else ""])
    return table(["network", "nnc images/s", "keras images/s", "ratio", "nnc ms/batch",
                  "nnc GFLOP/s", "% of peak", "XLA gain (nnc)"], rows)


def differences(results: dict) -> str:
    return ", ".join(f"{name} {r['difference']:.1e}"
                     for name, r in results["networks"].items())
