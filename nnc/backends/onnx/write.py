"""`nnc build -o net.onnx` and `nnc export`: the ONNX model written atomically, after
its self-check (graph.py) and, where onnxruntime is installed, after onnxruntime has
opened it, so that a file that does not run never takes the place of one that does."""
from __future__ import annotations

import importlib.util
import time

from nnc.backends.destination import Built, check_destination
from nnc.errors import BuildError
from nnc.present.output import atomic_output, output_lock, size_on_disk


def write_onnx(compiled, path: str, heads: bool = True, trained: dict | None = None) -> Built:
    """Write the network's ONNX model to `path`; `trained` weights by layer name (see
    nnc.backends.onnx.graph.to_onnx), or weights drawn as Keras would draw them."""
    start = time.perf_counter()
    check_destination(path, "onnx")
    with output_lock(path, BuildError, f"-o {path}"):
        check_destination(path, "onnx")  # again, now that no other nnc command writes it
        import onnx

        from nnc.backends.onnx.graph import to_onnx
        model = to_onnx(compiled, heads=heads, trained=trained)
        with atomic_output(path) as temporary:
            onnx.save(model, temporary)
            check_in_onnxruntime(temporary)
    return Built(path, "onnx", size_on_disk(path), time.perf_counter() - start, model)


def check_in_onnxruntime(path: str) -> None:
    if importlib.util.find_spec("onnxruntime") is None:
        return
    import onnxruntime
    try:
        onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own exception types
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise BuildError(f"the ONNX file does not load in onnxruntime. Received: "
                         f"{first_line}") from None
