"""nnc: a compiler for convolutional networks written the way papers print them.

    import nnc
    net = nnc.load("architectures/vggD.arch")   # parse, expand, check, count
    net.stats.totals.params                      # 138357544
    model = net.to_keras()                       # a Keras 3 model (imports Keras)
    nnc.load_string(cell_text)                   # the same from a notebook cell's text
    nnc.from_keras(keras_model)                  # a Keras model back to .arch (.network.source)

Importing nnc does not import Keras or TensorFlow; it arranges for nnc's custom layers
to be registered whenever Keras is imported, so `keras.models.load_model` reopens a
saved nnc model after `import nnc` alone.
"""
from nnc.analysis.compiled import Compiled
from nnc.api import Net, compile_text, from_keras, from_onnx, load, load_string
from nnc.backends.keras import hook as keras_hook
from nnc.errors import Coord, NncError

keras_hook.install()

__all__ = ["load", "load_string", "compile_text", "from_keras", "from_onnx", "Net", "Compiled", "Coord", "NncError"]
