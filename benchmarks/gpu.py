"""ResNet-50 training steps on an accelerator: the model nnc builds against
keras.applications.ResNet50, both in mixed bfloat16 under the same Keras backend (JAX or
PyTorch; the lent GPU machines have no TensorFlow).

    KERAS_BACKEND=jax python benchmarks/gpu.py [--batch 256] [--steps 20] [--warmup 3]

benchmarks/gpu.sh installs the wheels this needs and runs it there; see
benchmarks/README.md. Both models are tests/fixtures/resnet50-keras.arch's network (the
Keras layout, at --image-size), start from their own random weights, and train with the
same optimizer and loss on the same random batch, which stays on the device. Steps of
the two models are timed in turn, after warm-up steps that compile them; figures are
medians, and the ratio is the median of the rounds' ratios.

FLOPs: a training step costs 3 forward passes (the forward pass, and the backward pass
for the activations and for the weights), a forward pass 2 × nnc's MAC count (conv and
fc). MFU is the achieved FLOP/s over the peak of a large bfloat16 matrix product
measured in the same run.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARCH = ROOT / "tests" / "fixtures" / "resnet50-keras.arch"


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--steps", type=int, default=20, help="timed steps of each model")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--precision", default="mixed_bfloat16",
                        choices=("mixed_bfloat16", "mixed_float16", "float32"))
    parser.add_argument("--matmul", type=int, default=8192,
                        help="size of the matrix product that measures the peak")
    return parser.parse_args()


def models(size: int, precision: str):
    """(nnc's compiled network, nnc's model, keras.applications' model) at size×size."""
    import keras

    import nnc
    text = ARCH.read_text().replace("input 224x224x3", f"input {size}x{size}x3")
    compiled = nnc.compile_text(text, str(ARCH))
    ours = compiled.to_keras(precision=precision)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)  # as the Keras mixed-precision guide does
    try:
        theirs = keras.applications.ResNet50(weights=None, input_shape=(size, size, 3))
    finally:
        keras.config.set_dtype_policy(previous)
    return compiled, ours, theirs


def training_step(model, images, labels):
    """One step; train_on_batch returns the loss as a number, so it returns only once
    the device is done."""
    import keras
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9),
                  loss="sparse_categorical_crossentropy")
    return lambda: model.train_on_batch(images, labels)


def main() -> None:
    args = options()
    import keras
    import numpy as np

    from nnc.backends.keras.bench import (
        COMPUTE_DTYPES,
        Timing,
        device,
        matmul_peak,
        random_images,
        time_interleaved,
    )
    backend = keras.backend.backend()
    print(f"{device()}; Python {platform.python_version()}, Keras {keras.__version__}, "
          f"backend {backend} {__import__(backend).__version__}; batch {args.batch}, "
          f"{args.image_size}×{args.image_size}, {args.precision}", flush=True)
    peak = matmul_peak(COMPUTE_DTYPES[args.precision], args.matmul, repeats=10)
    print(f"peak: {peak / 1e12:.1f} TFLOP/s ({COMPUTE_DTYPES[args.precision]} "
          f"{args.matmul}×{args.matmul}×{args.matmul} matrix product)", flush=True)

    compiled, ours, theirs = models(args.image_size, args.precision)
    images = keras.ops.convert_to_tensor(
        random_images((args.image_size, args.image_size, 3), args.batch))
    labels = keras.ops.convert_to_tensor(
        np.random.default_rng(1).integers(0, 1000, args.batch).astype("int32"))
    steps = {"nnc": training_step(ours, images, labels),
             "keras.applications": training_step(theirs, images, labels)}
    seconds = time_interleaved(steps, args.steps, args.warmup)
    losses = {name: float(step()) for name, step in steps.items()}  # finite: it trained
    flops_per_image = 3 * 2 * compiled.stats.main.macs
    results = {"device": device(), "backend": backend, "keras": keras.__version__,
               "batch": args.batch, "image_size": args.image_size,
               "precision": args.precision, "peak_flops": peak,
               "flops_per_image": flops_per_image, "models": {}}
    print("\n| model | images/s | ms/step | TFLOP/s | MFU |\n| --- | ---: | ---: | ---: | ---: |")
    for name, times in seconds.items():
        timing = Timing(args.batch, times)
        achieved = timing.flops_per_second(flops_per_image)
        results["models"][name] = {"seconds": times, "images_per_second":
                                   timing.images_per_second, "mfu": achieved / peak,
                                   "loss": losses[name]}
        print(f"| {name} | {timing.images_per_second:,.0f} | {timing.median * 1e3:.1f} | "
              f"{achieved / 1e12:.1f} | {achieved / peak:.1%} |")
    # steps were taken in turn: the median of the rounds' ratios
    ratio = statistics.median(k / n for n, k in zip(seconds["nnc"],
                                                     seconds["keras.applications"]))
    results["ratio"] = ratio
    print(f"\nnnc / keras.applications images/s: {ratio:.3f}; loss after the last step: "
          + ", ".join(f"{name} {loss:.3f}" for name, loss in losses.items()))
    if os.environ.get("OUT"):  # the lent machine sends back what is written here
        Path(os.environ["OUT"], "gpu.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
