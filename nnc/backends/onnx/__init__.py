"""The ONNX backend: the checked graph written as an ONNX model with the `onnx` package
alone, no TensorFlow or Keras (graph.py, with lowering.py's table and emit.py's
builder)."""
