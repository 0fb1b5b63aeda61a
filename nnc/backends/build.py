"""`nnc build`: the backend that writes each format. ONNX comes from the checked graph
(nnc/backends/onnx, no TensorFlow or Keras), the .keras file and the SavedModel through
Keras (nnc/backends/keras/build.py); nnc/backends/destination.py checks the output."""
from __future__ import annotations

from nnc.backends.destination import Built, output_path
from nnc.errors import BuildError


def build(compiled, out: str | None = None, format: str | None = None, heads: bool = True,
          precision: str = "float32", jit: bool = False) -> Built:
    """Lower and write atomically, as `nnc build` does: ONNX from the checked graph, the
    other formats through Keras. Paths and formats are checked before the lowering."""
    path, format = output_path(compiled.network.name, out, format)
    if format != "onnx":
        from nnc.backends.keras.build import build_keras
        return build_keras(compiled, path, format, heads, precision, jit)
    if precision != "float32" or jit:
        option = f"--precision {precision}" if precision != "float32" else "--jit"
        raise BuildError(f"the ONNX backend writes float32 models; --precision and --jit "
                         f"are options of the Keras model. Received: {option}")
    from nnc.backends.onnx.write import write_onnx
    return write_onnx(compiled, path, heads)
