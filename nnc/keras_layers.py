"""Layers that Keras lacks, written with keras.ops only so that they run on every
Keras backend, and registered for serialization so a saved model reopens with
`keras.models.load_model` after `import nnc`. Imported only when building."""
from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="nnc")
class LocalResponseNorm(keras.layers.Layer):
    """Krizhevsky et al. (2012), section 3.3: b_c = a_c / (k + alpha·Σ a_j²)^beta,
    the sum over the `size` channels centred on c (fewer at the edges)."""

    def __init__(self, size=5, alpha=1e-4, beta=0.75, k=2.0, **kwargs):
        super().__init__(**kwargs)
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def call(self, x):
        channels = x.shape[-1]
        squares = ops.pad(ops.square(x), [[0, 0]] * (len(x.shape) - 1)
                          + [[self.size // 2, (self.size - 1) // 2]])
        window = sum(squares[..., i:i + channels] for i in range(self.size))
        return x / ops.power(self.k + self.alpha * window, self.beta)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "size": self.size, "alpha": self.alpha,
                "beta": self.beta, "k": self.k}


@keras.saving.register_keras_serializable(package="nnc")
class ZeroPadShortcut(keras.layers.Layer):
    """He et al. (2016) option A: subsample by `stride`, then append `extra` zero
    channels, so a residual unit that widens and downsamples needs no parameters."""

    def __init__(self, stride=1, extra=0, **kwargs):
        super().__init__(**kwargs)
        self.stride, self.extra = stride, extra

    def call(self, x):
        x = x[:, ::self.stride, ::self.stride, :]
        return ops.pad(x, [[0, 0], [0, 0], [0, 0], [0, self.extra]])

    def compute_output_shape(self, input_shape):
        batch, h, w, c = input_shape
        return (batch, -(-h // self.stride), -(-w // self.stride), c + self.extra)

    def get_config(self):
        return {**super().get_config(), "stride": self.stride, "extra": self.extra}
