"""The layers of the Vision Transformer that Keras lacks: the class token put before
the sequence, the learned position embedding, and the taking of one token. Written with
keras.ops for every backend and registered for serialization, like nnc's other layers
(imported by nnc/backends/keras/layers.py)."""
from __future__ import annotations

import keras
from keras import ops

# As the ViT paper's code and torchvision start them: the class token at zero, the
# position embedding from a normal distribution of standard deviation 0.02.
SMALL_NORMAL = keras.initializers.RandomNormal(stddev=0.02)


@keras.saving.register_keras_serializable(package="nnc")
class ClassToken(keras.layers.Layer):
    """Puts a learned D-vector before the N tokens of every sample: N×D to (N+1)×D."""

    def build(self, input_shape):
        self.token = self.add_weight(shape=(1, 1, input_shape[-1]), name="token",
                                     initializer="zeros")

    def call(self, x):
        token = ops.broadcast_to(ops.cast(self.token, x.dtype),
                                 (ops.shape(x)[0], 1, x.shape[-1]))
        return ops.concatenate([token, x], axis=1)

    def compute_output_shape(self, input_shape):
        n = None if input_shape[1] is None else input_shape[1] + 1
        return input_shape[0], n, input_shape[2]


@keras.saving.register_keras_serializable(package="nnc")
class PositionEmbedding(keras.layers.Layer):
    """Adds a learned D-vector to each of the N tokens, one per position."""

    def build(self, input_shape):
        self.embedding = self.add_weight(shape=(1, *input_shape[1:]), name="embedding",
                                         initializer=SMALL_NORMAL)

    def call(self, x):
        return x + ops.cast(self.embedding, x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="nnc")
class TakeToken(keras.layers.Layer):
    """The token at `index` of each sample's sequence, as a vector."""

    def __init__(self, index=0, **kwargs):
        super().__init__(**kwargs)
        self.index = index

    def call(self, x):
        return x[:, self.index]

    def compute_output_shape(self, input_shape):
        return input_shape[0], input_shape[2]

    def get_config(self):
        return {**super().get_config(), "index": self.index}
