"""ONNX written by nnc's own backend against the Keras route (Keras's ONNX export
through tf2onnx, what `nnc build -o x.onnx` did before the backend), for ResNet-50
(architectures/resnet50.arch) and VGG-16 (architectures/vggD.arch):

- writing: the whole process, from the .arch file to the .onnx file, best of `repeat`
  runs each, in turn;
- inference: onnxruntime running nnc's file against Keras running the model, the same
  weights in both (nnc's file written with the Keras model's weights), one batch of
  each in turn per round (nnc.backends.keras.bench.time_interleaved).
"""
from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

from common import (
    ARCHITECTURES,
    NNC,
    CommandFailed,
    best_processes,
    mib,
    seconds,
    table,
)

NETWORKS = {"ResNet-50": ARCHITECTURES / "resnet50.arch", "VGG-16": ARCHITECTURES / "vggD.arch"}
# The Keras route: lower to Keras, then Keras's exporter (tf2onnx under TensorFlow).
KERAS_ROUTE = """
import sys, nnc, keras
model = nnc.load(sys.argv[1]).to_keras()
spec = [keras.InputSpec(shape=(None, *model.input.shape[1:]), dtype="float32")]
model.export(sys.argv[2], format="onnx", verbose=False, input_signature=spec)
"""


def writing(repeat: int) -> dict:
    """(seconds, peak memory) of each route for each network, or the route's failure
    (tf2onnx runs out of this machine's memory on VGG-16)."""
    import sys
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for name, arch in NETWORKS.items():
            ours, theirs = Path(folder, "nnc.onnx"), Path(folder, "keras.onnx")
            routes = {"nnc": [*NNC, "build", str(arch), "-o", str(ours)],
                      "keras": [sys.executable, "-c", KERAS_ROUTE, str(arch), str(theirs)]}
            results[name] = {route: best_or_failure(repeat, command)
                             for route, command in routes.items()}
    return results


def best_or_failure(repeat: int, command: list[str]):
    try:
        return best_processes(repeat, {"": command})[""]
    except CommandFailed as e:
        how = "killed (signal 9)" if e.status == -9 else f"exit status {e.status}"
        return f"{how} at {mib(e.memory)}"


def writing_table(results: dict) -> str:
    def cells(run) -> tuple[str, str]:
        return (seconds(run[0]), mib(run[1])) if isinstance(run, tuple) else \
            (f"failed: {run}", "")

    rows = []
    for name, r in results.items():
        (ours, our_memory), (theirs, their_memory) = cells(r["nnc"]), cells(r["keras"])
        both = all(isinstance(run, tuple) for run in r.values())
        rows.append([name, ours, theirs,
                     f"{r['keras'][0] / r['nnc'][0]:.1f}×" if both else "",
                     our_memory, their_memory])
    return table(["network", "nnc's backend", "Keras + tf2onnx", "Keras route / nnc",
                  "peak memory, nnc", "peak memory, Keras route"], rows)


def inference(batch: int, batches: int, warmup: int) -> dict:
    import numpy as np
    import onnxruntime

    import nnc
    from nnc.backends.keras.bench import (
        Timing,
        inference_step,
        random_images,
        time_interleaved,
    )
    from nnc.backends.keras.weights import weights_by_layer
    results = {}
    for name, arch in NETWORKS.items():
        compiled = nnc.load(str(arch))
        model = compiled.to_keras()
        proto = compiled.to_onnx(trained=weights_by_layer(model, compiled.network))
        session = onnxruntime.InferenceSession(proto.SerializeToString(),
                                               providers=["CPUExecutionProvider"])
        images = random_images(compiled.network.shape(compiled.network.input), batch)
        feed = {session.get_inputs()[0].name: images}
        difference = float(np.abs(session.run(None, feed)[0]
                                  - model.predict_on_batch(images)).max())
        times = time_interleaved({"onnxruntime": lambda: session.run(None, feed),
                                  "keras": inference_step(model, images)}, batches, warmup)
        results[name] = {"onnxruntime": Timing(batch, times["onnxruntime"]),
                         "keras": Timing(batch, times["keras"]), "difference": difference,
                         "ratio": statistics.median(k / o for o, k in
                                                    zip(times["onnxruntime"], times["keras"]))}
    return results


def inference_table(results: dict) -> str:
    return table(["network", "onnxruntime images/s", "Keras images/s",
                  "onnxruntime / Keras", "largest difference"],
                 [[name, f"{r['onnxruntime'].images_per_second:.1f}",
                   f"{r['keras'].images_per_second:.1f}", f"{r['ratio']:.2f}",
                   f"{r['difference']:.1e}"] for name, r in results.items()])
