"""nnc's memory figures against XLA's own buffer assignment, for every shipped network.

    KERAS_BACKEND=jax .venv/bin/python benchmarks/memory_calibration.py [--only NAME ...]
        [--batches 1 32] [--results benchmarks/memory_calibration.json] [--table]
    KERAS_BACKEND=jax python benchmarks/memory_calibration.py --gpu [--budget 16GiB]

For each network, batch and mode, XLA compiles (never runs) a pure function of the
Keras model nnc builds under JAX, and `compiled.memory_analysis()` says how many bytes
its arguments, outputs and temporaries take. The modes:

- inference: `model.stateless_call(trainable, non_trainable, x, training=False)` on the
  inference model (no side heads). Arguments: the weights and the input batch.
- momentum, adam: one training step of the model with its side heads: forward, the loss
  (cross-entropy of every output against one-hot targets of its shape, summed), the
  gradients by jax.grad, and an SGD-with-momentum or Adam update written out by hand.
  Arguments: the weights, the optimizer state (momentum: one copy of the trainable
  weights; Adam: two, and a step count), the input batch and the targets. The weights
  and the optimizer state are donated, as Keras's JAX trainer does, so the updated ones
  are written over them (XLA's alias bytes).

XLA's total is arguments + outputs − aliased + temporaries: the device memory the
executable needs. On CPU the study turns off XLA's YNN fusions (XLA_CPU_FLAGS below, set
before JAX starts by without_ynn_fusions): memory_analysis does not count the buffers inside such a fusion, so
with them on it reported 128 bytes of temporaries for VGG-A's whole inference pass at
batch 32, a pass that fused into one of them. nnc's figures are nnc.analysis.memory.footprint's, for the same batch,
dtype and optimizer. Each measurement is cached in the --results JSON file under
"network/batch/mode", so the study runs in parts; --table prints the Markdown table from
that file (benchmarks/RESULTS.md holds it), without compiling anything.

--gpu: on a lent GPU, the largest ResNet-50 training batch (Adam) that
`nnc stats --memory-budget` proposes for the device's memory, run for a few steps: the
measured peak (`device.memory_stats()["peak_bytes_in_use"]`) against nnc's prediction.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ARCHITECTURES = ROOT / "architectures"
RESULTS = Path(__file__).resolve().parent / "memory_calibration.json"
GPU_RESULTS = RESULTS.with_name("memory_gpu.json")
MODES = ("inference", "momentum", "adam")
BATCHES = (1, 32)
TOLERANCE = 0.15  # the agreement issue 18 asks of nnc's totals
XLA_CPU_FLAGS = "--xla_cpu_experimental_ynn_fusion_type="  # see the docstring
LEARNING_RATE, MOMENTUM, BETA1, BETA2, EPSILON = 0.01, 0.9, 0.9, 0.999, 1e-7


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="NAME",
                        help="networks by file name without .arch (default: all)")
    parser.add_argument("--batches", nargs="+", type=int, default=list(BATCHES))
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--results", type=Path, default=None,
                        help=f"default {RESULTS.name}, with --gpu {GPU_RESULTS.name}")
    parser.add_argument("--table", action="store_true",
                        help="print the table from --results; compile nothing")
    parser.add_argument("--write", action="store_true",
                        help="with --table: put it in benchmarks/RESULTS.md, between its "
                             "memory calibration markers")
    parser.add_argument("--gpu", action="store_true",
                        help="ResNet-50 training at the --memory-budget batch on the GPU")
    parser.add_argument("--budget", default=None,
                        help="for --gpu: the memory budget (default: the device's memory)")
    return parser.parse_args()


def networks(only: list[str] | None) -> list[Path]:
    """The shipped networks, smallest weights first, so a partial run covers most."""
    import nnc
    paths = [ARCHITECTURES / f"{n}.arch" for n in only] if only else sorted(
        ARCHITECTURES.glob("*.arch"))
    return sorted(paths, key=lambda p: nnc.load(str(p)).stats.totals.params)


# --- XLA's side ------------------------------------------------------------------------

def without_ynn_fusions() -> None:
    """Add XLA_CPU_FLAGS to XLA_FLAGS: call before JAX starts. Only processes that run
    JAX alone: TensorFlow's XLA may not know the flag, and stops on an unknown one."""
    os.environ["XLA_FLAGS"] = " ".join(
        filter(None, [os.environ.get("XLA_FLAGS"), XLA_CPU_FLAGS]))


def xla_figures(path: Path, batch: int, modes: list[str]) -> dict[str, dict]:
    """XLA's memory_analysis of each mode's compiled function, with compile times."""
    import nnc
    net = nnc.load(str(path))
    results = {}
    models = {}
    for mode in modes:
        heads = mode != "inference"
        if heads not in models:
            models[heads] = net.to_keras(heads=heads)
        start = time.perf_counter()
        compiled = lowered(models[heads], batch, mode).compile()
        analysis = compiled.memory_analysis()
        results[mode] = {
            "arguments": analysis.argument_size_in_bytes,
            "outputs": analysis.output_size_in_bytes,
            "aliased": analysis.alias_size_in_bytes,
            "temporaries": analysis.temp_size_in_bytes,
            "compile_seconds": round(time.perf_counter() - start, 1)}
    return results


def abstract(tensors) -> list:
    import jax
    return [jax.ShapeDtypeStruct(tuple(t.shape), t.dtype) for t in tensors]


def lowered(model, batch: int, mode: str):
    """The mode's function jitted and lowered on abstract arguments (nothing allocated)."""
    import jax
    import jax.numpy as jnp
    trainable = abstract(model.trainable_variables)
    fixed = abstract(model.non_trainable_variables)
    x = jax.ShapeDtypeStruct((batch, *model.inputs[0].shape[1:]), jnp.float32)
    if mode == "inference":
        def infer(trainable, fixed, x):
            return model.stateless_call(trainable, fixed, x, training=False)[0]
        return jax.jit(infer).lower(trainable, fixed, x)
    targets = [jax.ShapeDtypeStruct((batch, *o.shape[1:]), jnp.float32)
               for o in model.outputs]

    def loss(trainable, fixed, x, targets):
        outputs, fixed = model.stateless_call(trainable, fixed, x, training=True)
        outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
        total = sum(-jnp.mean(jnp.sum(t * jnp.log(o + 1e-7), axis=-1))
                    for o, t in zip(outputs, targets))
        return total, fixed

    def step(trainable, fixed, state, x, targets):
        (value, fixed), grads = jax.value_and_grad(loss, has_aux=True)(
            trainable, fixed, x, targets)
        trainable, state = UPDATES[mode](trainable, grads, state)
        return trainable, fixed, state, value

    state = optimizer_state(mode, trainable)
    return jax.jit(step, donate_argnums=(0, 1, 2)).lower(trainable, fixed, state, x, targets)


def optimizer_state(mode: str, trainable: list):
    import jax
    import jax.numpy as jnp
    if mode == "momentum":
        return list(trainable)
    return {"m": list(trainable), "v": list(trainable),
            "count": jax.ShapeDtypeStruct((), jnp.float32)}


def momentum_update(weights, grads, velocity):
    velocity = [MOMENTUM * v - LEARNING_RATE * g for v, g in zip(velocity, grads)]
    return [w + v for w, v in zip(weights, velocity)], velocity


def adam_update(weights, grads, state):
    import jax.numpy as jnp
    count = state["count"] + 1
    m = [BETA1 * m + (1 - BETA1) * g for m, g in zip(state["m"], grads)]
    v = [BETA2 * v + (1 - BETA2) * g * g for v, g in zip(state["v"], grads)]
    rate = LEARNING_RATE * jnp.sqrt(1 - BETA2 ** count) / (1 - BETA1 ** count)
    weights = [w - rate * a / (jnp.sqrt(b) + EPSILON) for w, a, b in zip(weights, m, v)]
    return weights, {"m": m, "v": v, "count": count}


UPDATES = {"momentum": momentum_update, "adam": adam_update}


def xla_total(figures: dict) -> int:
    """What the executable needs on the device: arguments, outputs not written over
    a donated argument, and temporaries."""
    return (figures["arguments"] + figures["outputs"] - figures["aliased"]
            + figures["temporaries"])


# --- the run and its cache -------------------------------------------------------------

def load_results(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {"machine": {}, "xla": {}}


def save_results(results: dict, path: Path) -> None:
    """Atomically: a run stopped part-way keeps what it measured."""
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")
    partial.replace(path)


def machine() -> dict:
    import jax
    import keras

    from nnc.backends.keras.bench import cpu_name
    device = jax.devices()[0]
    return {"system": f"{platform.system()} {platform.machine()}, {cpu_name()}, "
                      f"{os.cpu_count()} cores",
            "device": f"{device.platform} {device.device_kind}",
            "versions": f"Python {platform.python_version()}, JAX {jax.__version__}, "
                        f"jaxlib {__import__('jaxlib').__version__}, Keras {keras.__version__}",
            "xla_flags": os.environ["XLA_FLAGS"]}


def measure(args) -> None:
    results = load_results(args.results)
    results["machine"] = machine()
    for path in networks(args.only):
        for batch in args.batches:
            keys = {mode: f"{path.stem}/{batch}/{mode}" for mode in args.modes}
            missing = [mode for mode, key in keys.items() if key not in results["xla"]]
            if not missing:
                continue
            try:
                figures = xla_figures(path, batch, missing)
            except Exception as error:  # noqa: BLE001 -- recorded, the study goes on
                print(f"{path.stem} batch {batch}: {type(error).__name__}: {error}",
                      file=sys.stderr, flush=True)
                continue
            for mode, f in figures.items():
                results["xla"][keys[mode]] = f
                print(f"{keys[mode]}: XLA total {xla_total(f) / 2**20:,.1f} MiB "
                      f"(compiled in {f['compile_seconds']} s)", flush=True)
            save_results(results, args.results)


# --- nnc's side and the table ----------------------------------------------------------

def nnc_figures(name: str, batch: int) -> dict[str, int]:
    """nnc's totals for each mode, from nnc.analysis.memory (float32, as XLA's)."""
    import nnc
    from nnc.analysis.memory import memory
    m = memory(nnc.load(str(ARCHITECTURES / f"{name}.arch")).network, batch)
    return {"inference": m.inference_total(), "momentum": m.training_total("momentum"),
            "adam": m.training_total("adam")}


def markdown(results: dict) -> str:
    """The table: one line per network and batch, XLA's total and nnc's per mode with
    their ratio, and XLA's arguments, outputs and temporaries for training with Adam."""
    from common import table
    measured = {}
    for key, figures in results["xla"].items():
        name, batch, mode = key.split("/")
        measured.setdefault((name, int(batch)), {})[mode] = figures
    rows, worst, within = [], {}, {mode: [0, 0] for mode in MODES}
    for (name, batch), modes in sorted(measured.items(), key=order):
        ours = nnc_figures(name, batch)
        cells = [name, str(batch)]
        for mode in MODES:
            if mode not in modes:
                cells += ["not measured", "", ""]
                continue
            theirs = xla_total(modes[mode])
            ratio = ours[mode] / theirs
            worst[mode] = max(worst.get(mode, 1), ratio, 1 / ratio)
            within[mode][0] += abs(ratio - 1) <= TOLERANCE
            within[mode][1] += 1
            cells += [mib(theirs), mib(ours[mode]), f"{ratio:.2f}"]
        adam = modes.get("adam")
        cells += [mib(adam[k]) for k in ("arguments", "outputs", "temporaries")] if adam \
            else ["", "", ""]
        rows.append(cells)
    headers = ["network", "batch"] + [f"{mode} {side}" for mode in MODES
                                      for side in ("XLA", "nnc", "nnc/XLA")] \
        + ["Adam: XLA arguments", "outputs", "temporaries"]
    m = results["machine"]
    shipped = {p.stem for p in ARCHITECTURES.glob("*.arch")}
    missing = sorted(shipped - {name for name, _ in measured})
    partly = sorted(f"{name} at batch {batch}" for name in shipped - set(missing)
                    for batch in BATCHES if (name, batch) not in measured)
    lines = [f"{m.get('system')}; {m.get('device')}; {m.get('versions')}; "
             f"XLA_FLAGS={m.get('xla_flags', '')}", "",
             table(headers, rows), "",
             f"nnc within {TOLERANCE:.0%} of XLA: " + ", ".join(
                 f"{mode} {within[mode][0]} of {within[mode][1]}" for mode in MODES)
             + ". Largest disagreement either way (nnc/XLA or XLA/nnc): " + ", ".join(
                 f"{mode} {worst[mode]:.2f}×" for mode in MODES if mode in worst) + "."]
    if missing or partly:
        lines.append(f"Not measured: {', '.join(missing + partly)}.")
    return "\n".join(lines)


RESULTS_MD = Path(__file__).resolve().parent / "RESULTS.md"
BEGIN = "<!-- memory_calibration.py: table -->"
END = "<!-- /memory_calibration.py -->"


def results_section(document: str) -> str:
    """The generated text between the markers of benchmarks/RESULTS.md."""
    return document.split(BEGIN, 1)[1].split(END, 1)[0].strip()


def write_results(table_text: str) -> None:
    """Replace the text between the markers of RESULTS.md, atomically."""
    document = RESULTS_MD.read_text()
    before, rest = document.split(BEGIN, 1)
    after = rest.split(END, 1)[1]
    partial = RESULTS_MD.with_suffix(".md.partial")
    partial.write_text(f"{before}{BEGIN}\n{table_text}\n{END}{after}")
    partial.replace(RESULTS_MD)


def order(item) -> tuple:
    (name, batch), _ = item
    return name, batch


def mib(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


def study_in_jax(*options: str) -> str:
    """Measure what the cache lacks in a process under JAX (benchmarks/run.py runs under
    TensorFlow), then the table."""
    import subprocess
    environment = {**os.environ, "KERAS_BACKEND": "jax", "TF_CPP_MIN_LOG_LEVEL": "2"}
    subprocess.run([sys.executable, __file__, *options], env=environment, check=True)
    return markdown(load_results(RESULTS))


# --- on a lent GPU: the measured peak at the batch --memory-budget proposes ---------------

GPU_NETWORK = "resnet50"


def gpu_check(budget_text: str | None, results_path: Path, steps: int = 3) -> dict:
    """Train ResNet-50 (Adam) for a few steps at the largest batch nnc's model says fits
    the budget (default: what JAX's allocator may use on the device), and compare the
    allocator's measured peak with nnc's training step total at that batch."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    import nnc
    from nnc.analysis.memory import fits, memory
    from nnc.cli.front import byte_size
    device = jax.devices()[0]
    budget = byte_size(budget_text) if budget_text else allocator()["bytes_limit"]
    net = nnc.load(str(ARCHITECTURES / f"{GPU_NETWORK}.arch"))
    m = memory(net.network)
    batch = fits(m, budget, "adam")["training"].batch
    model = net.to_keras(heads=True)
    compiled = lowered(model, batch, "adam").compile()
    analysis = compiled.memory_analysis()
    figures = {"arguments": analysis.argument_size_in_bytes,
               "outputs": analysis.output_size_in_bytes,
               "aliased": analysis.alias_size_in_bytes,
               "temporaries": analysis.temp_size_in_bytes}
    trainable = [jnp.asarray(v.value) for v in model.trainable_variables]
    fixed = [jnp.asarray(v.value) for v in model.non_trainable_variables]
    state = {"m": [jnp.zeros_like(w) for w in trainable],
             "v": [jnp.zeros_like(w) for w in trainable], "count": jnp.zeros(())}
    shape = (batch, *model.inputs[0].shape[1:])
    x = jnp.asarray(np.random.default_rng(0).random(shape, np.float32))
    targets = [jax.nn.one_hot(jnp.zeros(batch, jnp.int32), o.shape[-1])
               for o in model.outputs]
    result = {"device": f"{device.platform} {device.device_kind}", "budget": budget,
              "batch": batch, "nnc_training_step_total": m.training_total("adam", batch),
              "xla": figures, "xla_total": xla_total(figures)}
    result["peak_after_compile"] = allocator().get("peak_bytes_in_use")
    try:
        for _ in range(steps):
            trainable, fixed, state, loss = compiled(trainable, fixed, state, x, targets)
        result["loss"] = float(loss)
        result["peak_bytes_in_use"] = allocator().get("peak_bytes_in_use")
        result["out_of_memory"] = False
    except Exception as error:  # noqa: BLE001 -- running out of memory is the finding
        result["out_of_memory"] = "RESOURCE_EXHAUSTED" in str(error)
        result["error"] = f"{type(error).__name__}: {str(error)[:2000]}"
    save_results(result, results_path)
    print(json.dumps(result, indent=1))
    return result


def allocator() -> dict:
    """The device allocator's statistics (none on CPU)."""
    import jax
    return jax.devices()[0].memory_stats() or {}


def main() -> None:
    args = options()
    without_ynn_fusions()
    args.results = args.results or (GPU_RESULTS if args.gpu else RESULTS)
    if args.table:
        text = markdown(load_results(args.results))
        if args.write:
            write_results(text)
        print(text)
    elif args.gpu:
        gpu_check(args.budget, args.results)
    else:
        measure(args)


if __name__ == "__main__":
    main()
