"""`nnc bench`: how fast a network runs on this machine, in the figures that let one
compare machines and implementations.

- ms per batch: the median of the timed batches, after warm-up batches that pay for
  tracing and compilation; images/s is the batch over that median;
- achieved GFLOP/s: 2 × nnc's MAC count of one image × images/s (the papers' convention:
  conv and fc multiply-accumulates; BN, activations and pooling are left out);
- measured peak: the best rate of a large square matrix product through keras.ops, in
  the compute dtype of the precision policy, measured in the same process. The share of
  it that a network reaches says how well its layers use the machine.

benchmarks/run.py and benchmarks/gpu.py time through the functions here, so that the
command and the benchmarks measure the same way. Keras is imported inside the functions.
"""
from __future__ import annotations

import os
import platform
import statistics
import time
from dataclasses import dataclass

from nnc.wording import human

COMPUTE_DTYPES = {"float32": "float32", "mixed_float16": "float16",
                  "mixed_bfloat16": "bfloat16"}


@dataclass
class Timing:
    """Seconds of each timed batch (or training step) of `batch` images."""
    batch: int
    seconds: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def images_per_second(self) -> float:
        return self.batch / self.median

    def flops_per_second(self, flops_per_image: float) -> float:
        return flops_per_image * self.images_per_second


def time_interleaved(steps: dict, batches: int, warmup: int) -> dict[str, list[float]]:
    """Run each named step `warmup` times, then time `batches` rounds that run every
    step once in turn, so that a change in the machine's load during the measurement
    falls on all of them alike. A step must return only when its work is done."""
    for step in steps.values():
        for _ in range(warmup):
            step()
    seconds = {name: [] for name in steps}
    for _ in range(batches):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            seconds[name].append(time.perf_counter() - start)
    return seconds


def inference_step(model, images):
    """One forward pass of a batch; predict_on_batch returns NumPy arrays, so it returns
    only once the device is done."""
    return lambda: model.predict_on_batch(images)


def random_images(shape, batch: int, seed: int = 0):
    import numpy as np
    return np.random.default_rng(seed).uniform(0, 1, (batch, *shape)).astype("float32")


def matmul_step(dtype: str = "float32", size: int = 2048, repeats: int = 2):
    """A step that multiplies two random size×size matrices `repeats` times back to
    back and then waits for the device (on an accelerator the products run
    asynchronously); and the FLOPs of one step. The best rate of such steps is the
    machine's measured peak."""
    import keras
    a = keras.random.normal((size, size), dtype=dtype, seed=1)
    b = keras.random.normal((size, size), dtype=dtype, seed=2)

    def step():
        for _ in range(repeats):
            product = keras.ops.matmul(a, b)
        # waits for the last product; NumPy has no bfloat16, hence the cast
        keras.ops.convert_to_numpy(keras.ops.cast(product[0, 0], "float32"))
    return step, 2 * size ** 3 * repeats


def matmul_peak(dtype: str = "float32", size: int = 2048, repeats: int = 2,
                rounds: int = 3) -> float:
    """FLOP/s of the best of `rounds` matmul steps (after one that loads the kernels)."""
    step, flops = matmul_step(dtype, size, repeats)
    return flops / min(time_interleaved({"matmul": step}, rounds, warmup=1)["matmul"])


def device() -> str:
    """The processor Keras computes on, in a few words."""
    return accelerator() or f"CPU: {cpu_name()} ({os.cpu_count()} cores)"


def accelerator() -> str | None:
    """The name of the GPU Keras's backend computes on, or None on the CPU."""
    import keras
    backend = keras.backend.backend()
    if backend == "jax":
        import jax
        first = jax.devices()[0]
        return first.device_kind if first.platform != "cpu" else None
    if backend == "torch":
        import torch
        return torch.cuda.get_device_name() if torch.cuda.is_available() else None
    if backend == "tensorflow":
        import tensorflow as tf
        gpus = tf.config.list_physical_devices("GPU")
        return gpus[0].name if gpus else None
    return None


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


@dataclass
class Report:
    """The figures `nnc bench` prints for one network."""
    name: str
    path: str
    precision: str
    jit: bool
    timing: Timing
    macs: int      # per image, by nnc's count
    peak: float    # FLOP/s of the matrix product, in the compute dtype
    peak_size: int

    def lines(self) -> list[str]:
        import keras
        achieved = self.timing.flops_per_second(2 * self.macs)
        runs = self.timing.seconds
        return [
            f"{self.name} ({self.path}): batch {self.timing.batch}, {self.precision}, "
            f"XLA {'on' if self.jit else 'off'}",
            f"Keras {keras.__version__}, backend {keras.backend.backend()}, {device()}",
            f"  {'MACs per image:':<22}{human(self.macs):>10}  ({human(2 * self.macs)} FLOPs)",
            f"  {'ms per batch:':<22}{self.timing.median * 1e3:10.1f}  (median of "
            f"{len(runs)}; fastest {min(runs) * 1e3:.1f}, slowest {max(runs) * 1e3:.1f})",
            f"  {'images/s:':<22}{self.timing.images_per_second:10.1f}",
            f"  {'achieved GFLOP/s:':<22}{achieved / 1e9:10.1f}",
            f"  {'measured peak GFLOP/s:':<22}{self.peak / 1e9:10.1f}  "
            f"({COMPUTE_DTYPES[self.precision]} matrix product, {self.peak_size}"
            f"×{self.peak_size}×{self.peak_size})",
            f"  {'% of peak:':<22}{100 * achieved / self.peak:10.1f}",
        ]


def bench(compiled, batch: int = 32, batches: int = 10, warmup: int = 2,
          jit: bool = False, precision: str = "float32", peak_size: int | None = None
          ) -> Report:
    """Time the inference model of a compiled network (its side heads left out) on
    random images. The peak is measured by matmul steps taken in turn with the
    batches, so that both see the same load on the machine; their size is 8192 on an
    accelerator (which a smaller product does not fill) and 2048 on a CPU."""
    peak_size = peak_size or (8192 if accelerator() else 2048)
    from nnc.backends.keras.model import to_keras
    model = to_keras(compiled, heads=False, precision=precision)
    model.compile(jit_compile=jit)
    net = compiled.network
    images = random_images(net.shape(net.input), batch)
    matmul, flops = matmul_step(COMPUTE_DTYPES[precision], peak_size)
    seconds = time_interleaved({"nnc": inference_step(model, images), "matmul": matmul},
                               batches, warmup)
    return Report(net.name, net.file, precision, jit, Timing(batch, seconds["nnc"]),
                  compiled.stats.main.macs, flops / min(seconds["matmul"]), peak_size)
