"""Layers (and the loss of LeNet-5's RBF outputs) that Keras lacks, written with
keras.ops only so that they run on every Keras backend, and registered for
serialization so a saved model reopens with `keras.models.load_model` after
`import nnc`. Imported only when building."""
from __future__ import annotations

import keras
from keras import ops

from nnc.ir.kinds.lecun import rbf_codes


@keras.saving.register_keras_serializable(package="nnc")
class LocalResponseNorm(keras.layers.Layer):
    """Krizhevsky et al. (2012), section 3.3: b_c = a_c / (k + alpha·Σ a_j²)^beta,
    the sum over the `size` channels centred on c (fewer at the edges)."""

    def __init__(self, size=5, alpha=1e-4, beta=0.75, k=2.0, **kwargs):
        super().__init__(**kwargs)
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def call(self, x):
        # In float32 whatever the precision policy: a square overflows float16 for any
        # activation above 256.
        x = ops.cast(x, "float32")
        channels = x.shape[-1]
        squares = ops.pad(ops.square(x), [[0, 0]] * (len(x.shape) - 1)
                          + [[self.size // 2, (self.size - 1) // 2]])
        window = sum(squares[..., i:i + channels] for i in range(self.size))
        return ops.cast(x / ops.power(self.k + self.alpha * window, self.beta),
                        self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "size": self.size, "alpha": self.alpha,
                "beta": self.beta, "k": self.k}


@keras.saving.register_keras_serializable(package="nnc")
class GroupedConv2D(keras.layers.Layer):
    """A grouped convolution as one Conv2D per group (its own kernel and bias) on its
    share of the input maps, concatenated. Under TensorFlow each runs as a plain
    convolution: TensorFlow's own grouped convolution is 1.3× (2 groups, AlexNet) to 4×
    (32 groups, ResNeXt) slower on CPU and tf2onnx cannot convert it; a kernel of its own
    per group ran 3% faster than one kernel sliced at every call (benchmarks/RESULTS.md).
    Other backends concatenate the kernels and run their native grouped convolution."""

    def __init__(self, filters, kernel_size, groups, strides=(1, 1), padding="valid",
                 use_bias=True, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.groups, self.use_bias = filters, groups, use_bias
        self.kernel_size, self.strides = tuple(kernel_size), tuple(strides)
        self.padding, self.activation = padding, keras.activations.get(activation)
        self.convs = [keras.layers.Conv2D(filters // groups, self.kernel_size, self.strides,
                                          padding, use_bias=use_bias, name=f"group{g + 1}")
                      for g in range(groups)]

    def build(self, input_shape):
        for conv in self.convs:
            conv.build((*input_shape[:-1], input_shape[-1] // self.groups))

    def call(self, x):
        if keras.backend.backend() == "tensorflow":
            parts = ops.split(x, self.groups, axis=-1)
            y = ops.concatenate([conv(p) for conv, p in zip(self.convs, parts)], axis=-1)
        else:
            kernel = ops.concatenate([conv.kernel for conv in self.convs], axis=-1)
            y = ops.conv(x, kernel, strides=self.strides, padding=self.padding)
            if self.use_bias:
                y = y + ops.concatenate([conv.bias for conv in self.convs])
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        part = (*input_shape[:-1], input_shape[-1] // self.groups)
        return (*self.convs[0].compute_output_shape(part)[:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "groups": self.groups,
                "strides": self.strides, "padding": self.padding, "use_bias": self.use_bias,
                "activation": keras.activations.serialize(self.activation)}


@keras.saving.register_keras_serializable(package="nnc")
class Standardize(keras.layers.Layer):
    """(x − mean)/√variance per channel, as keras.layers.Normalization computes it: with
    fixed statistics (constants, no weights) or with non-trainable mean, variance and
    count weights to be set from data, which Keras's layer keeps as captured tensors
    that the ONNX exporter cannot convert."""

    def __init__(self, mean=None, variance=None, **kwargs):
        super().__init__(**kwargs)
        self.mean, self.variance = mean, variance

    def build(self, input_shape):
        if self.mean is None:
            channels = (input_shape[-1],)
            self.measured_mean = self.add_weight(shape=channels, name="mean",
                                                 initializer="zeros", trainable=False)
            self.measured_variance = self.add_weight(shape=channels, name="variance",
                                                     initializer="ones", trainable=False)
            self.count = self.add_weight(shape=(), name="count", dtype="int",
                                         initializer="zeros", trainable=False)

    def call(self, x):
        if self.mean is None:
            mean, variance = self.measured_mean, self.measured_variance
        else:
            mean, variance = ops.array(self.mean), ops.array(self.variance)
        std = ops.maximum(ops.sqrt(ops.cast(variance, x.dtype)), keras.config.epsilon())
        return (x - ops.cast(mean, x.dtype)) / std

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "mean": self.mean, "variance": self.variance}


@keras.saving.register_keras_serializable(package="nnc")
class LayerScale(keras.layers.Layer):
    """γ·x with a learned γ per channel, started at `init` (ConvNeXt's layer scale,
    named as keras.applications names its own, so that weights pair with it)."""

    def __init__(self, init=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.init = init

    def build(self, input_shape):
        self.gamma = self.add_weight(shape=(input_shape[-1],), name="gamma",
                                     initializer=keras.initializers.Constant(self.init))

    def call(self, x):
        return x * ops.cast(self.gamma, x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "init": self.init}


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


@keras.saving.register_keras_serializable(package="nnc")
class ConstantPadding2D(keras.layers.Layer):
    """ZeroPadding2D with another border value. Explicit padding of a max pool is −∞,
    so the border is never the maximum, as in Caffe and PyTorch."""

    def __init__(self, padding=(1, 1), value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.padding, self.value = sides(padding), float(value)

    def call(self, x):
        return ops.pad(x, [[0, 0], *self.padding, [0, 0]], constant_values=self.value)

    def compute_output_shape(self, input_shape):
        batch, h, w, c = input_shape
        (top, bottom), (left, right) = self.padding
        return batch, h + top + bottom, w + left + right, c

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "value": self.value}


def sides(padding) -> tuple[tuple[int, int], tuple[int, int]]:
    """((top, bottom), (left, right)) from that or from (rows, columns) on both sides."""
    return tuple(tuple(p) if isinstance(p, (tuple, list)) else (p, p) for p in padding)


@keras.saving.register_keras_serializable(package="nnc")
class ClippedAveragePooling2D(keras.layers.Layer):
    """Average pooling with Caffe's ceil rounding: the input is padded with zeros by
    `padding` ((top, bottom), (left, right)), of which the last `overhang` rows and
    columns lie past the input's own padding; each window averages over the values it
    covers that are not overhang, as Caffe's and PyTorch's ceil mode divide."""

    def __init__(self, pool_size, strides, padding, overhang, **kwargs):
        super().__init__(**kwargs)
        self.pool_size, self.strides = tuple(pool_size), tuple(strides)
        self.padding, self.overhang = sides(padding), tuple(overhang)

    def call(self, x):
        (top, bottom), (left, right) = self.padding
        padded = ops.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]])
        h, w = x.shape[1] + top + bottom, x.shape[2] + left + right
        counted = ops.pad(ops.ones((1, h - self.overhang[0], w - self.overhang[1], 1),
                                   dtype=x.dtype),
                          [[0, 0], [0, self.overhang[0]], [0, self.overhang[1]], [0, 0]])
        window = (self.pool_size, self.strides, "valid")
        return ops.average_pool(padded, *window) / ops.average_pool(counted, *window)

    def compute_output_shape(self, input_shape):
        batch, h, w, c = input_shape
        (top, bottom), (left, right) = self.padding
        return (batch, (h + top + bottom - self.pool_size[0]) // self.strides[0] + 1,
                (w + left + right - self.pool_size[1]) // self.strides[1] + 1, c)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides,
                "padding": self.padding, "overhang": self.overhang}


@keras.saving.register_keras_serializable(package="nnc")
def squash(x):
    """LeCun et al. (1998), appendix A: f(a) = A·tanh(S·a) with A = 1.7159, S = 2/3,
    chosen so that f(±1) = ±1 and the gain is largest where the targets ±1 lie."""
    return 1.7159 * ops.tanh(x * (2.0 / 3.0))


@keras.saving.register_keras_serializable(package="nnc")
def gelu(x):
    """The exact GELU, x·Φ(x) = x·(1 + erf(x/√2))/2, Keras's gelu written with erf:
    TensorFlow's own computes erfc, which tf2onnx cannot convert to ONNX."""
    return 0.5 * x * (1.0 + ops.erf(x * 0.7071067811865476))


class WithActivation(keras.layers.Layer):
    """Shared by nnc's own weighted layers: a Keras activation, kept serializable."""

    def __init__(self, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.activation = keras.activations.get(activation)

    def get_config(self):
        return {**super().get_config(),
                "activation": keras.activations.serialize(self.activation)}


@keras.saving.register_keras_serializable(package="nnc")
class TableConv2D(WithActivation):
    """A convolution in which output map f sees input map c only where table[c][f] is
    "X" (LeCun et al. 1998, Table I). Only connected pairs own weights: the kernel is
    kh×kw×links and is scattered into a full kh×kw×C×F kernel at each call, so Keras
    counts exactly the parameters the paper counts (a masked full kernel would count
    the unconnected pairs too)."""

    def __init__(self, filters, kernel_size, table, strides=(1, 1), padding="valid",
                 use_bias=True, activation=None, **kwargs):
        super().__init__(activation, **kwargs)
        self.filters, self.table = filters, list(table)
        self.kernel_size, self.strides = tuple(kernel_size), tuple(strides)
        self.padding, self.use_bias = padding, use_bias

    def build(self, input_shape):
        links = [(c, f) for c, row in enumerate(self.table)
                 for f, mark in enumerate(row) if mark == "X"]
        # Where each entry of the flattened C×F kernel comes from: 0 is a constant zero,
        # l + 1 is link l.
        self.source = [0] * (len(self.table) * self.filters)
        for l, (c, f) in enumerate(links):
            self.source[c * self.filters + f] = l + 1
        area = self.kernel_size[0] * self.kernel_size[1]
        # Glorot's limit with the fans of the connected pairs only.
        fan_in, fan_out = area * len(links) / self.filters, area * len(links) / len(self.table)
        limit = (6.0 / (fan_in + fan_out)) ** 0.5
        self.kernel = self.add_weight(
            shape=(*self.kernel_size, len(links)), name="kernel",
            initializer=keras.initializers.RandomUniform(-limit, limit))
        self.bias = (self.add_weight(shape=(self.filters,), name="bias", initializer="zeros")
                     if self.use_bias else None)

    def call(self, x):
        with_zero = ops.pad(self.kernel, [[0, 0], [0, 0], [1, 0]])
        full = ops.reshape(ops.take(with_zero, self.source, axis=-1),
                           (*self.kernel_size, len(self.table), self.filters))
        y = ops.conv(x, full, strides=self.strides, padding=self.padding)
        if self.bias is not None:
            y = y + self.bias
        return self.activation(y)

    def compute_output_shape(self, input_shape):
        batch, h, w, _ = input_shape
        (kh, kw), (sh, sw) = self.kernel_size, self.strides
        if self.padding == "same":
            return batch, -(-h // sh), -(-w // sw), self.filters
        return batch, (h - kh) // sh + 1, (w - kw) // sw + 1, self.filters

    def get_config(self):
        return {**super().get_config(), "filters": self.filters,
                "kernel_size": self.kernel_size, "table": self.table,
                "strides": self.strides, "padding": self.padding, "use_bias": self.use_bias}


@keras.saving.register_keras_serializable(package="nnc")
class Subsample(WithActivation):
    """LeCun et al. (1998), section II.B, layers S2 and S4: the sum of each map's inputs
    over a window, times one trainable coefficient per map, plus one trainable bias per
    map, then the activation. The coefficient starts at 1/area: an average."""

    def __init__(self, pool_size=(2, 2), strides=None, activation=None, **kwargs):
        super().__init__(activation, **kwargs)
        self.pool_size = tuple(pool_size)
        self.strides = tuple(strides or pool_size)

    def build(self, input_shape):
        area = self.pool_size[0] * self.pool_size[1]
        self.coefficient = self.add_weight(
            shape=(input_shape[-1],), name="coefficient",
            initializer=keras.initializers.Constant(1.0 / area))
        self.bias = self.add_weight(shape=(input_shape[-1],), name="bias",
                                    initializer="zeros")

    def call(self, x):
        area = self.pool_size[0] * self.pool_size[1]
        sums = ops.average_pool(x, self.pool_size, self.strides, "valid") * area
        return self.activation(sums * self.coefficient + self.bias)

    def compute_output_shape(self, input_shape):
        batch, h, w, c = input_shape
        (kh, kw), (sh, sw) = self.pool_size, self.strides
        return batch, (h - kh) // sh + 1, (w - kw) // sw + 1, c

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides}


@keras.saving.register_keras_serializable(package="nnc")
class EuclideanRBF(keras.layers.Layer):
    """LeCun et al. (1998), eq. (7): unit i computes y_i = Σ_j (x_j − w_ij)², the squared
    distance of its input to a fixed ±1 code w_i, not trained. It returns −y_i, so that
    its outputs are logits: the nearest code is the largest output, and a softmax
    cross-entropy on them is the paper's discriminative criterion (eq. 9) without the
    rubbish-class term. The codes are non-trainable weights."""

    def __init__(self, units, codes=None, seed=1998, **kwargs):
        super().__init__(**kwargs)
        self.units, self.seed = units, seed
        self.codes = list(codes) if codes is not None else None

    def build(self, input_shape):
        rows = self.codes or rbf_codes(self.units, input_shape[-1], self.seed)
        self.centres = self.add_weight(shape=(input_shape[-1], self.units), name="codes",
                                       initializer="zeros", trainable=False)
        self.centres.assign([[1.0 if row[j] == "X" else -1.0 for row in rows]
                             for j in range(input_shape[-1])])

    def call(self, x):
        differences = ops.expand_dims(x, -1) - self.centres
        return -ops.sum(ops.square(differences), axis=-2)

    def compute_output_shape(self, input_shape):
        return input_shape[0], self.units

    def get_config(self):
        return {**super().get_config(), "units": self.units, "codes": self.codes,
                "seed": self.seed}


@keras.saving.register_keras_serializable(package="nnc")
class RBFMapLoss(keras.losses.Loss):
    """LeCun et al. (1998), eq. (9), the loss LeNet-5 was trained with, for the outputs
    s_i = −y_i of an rbf layer and integer labels D:

        E = y_D + log(e^(−j) + Σ_i e^(−y_i))

    that is, softmax cross-entropy over the logits s_0 … s_(n−1) plus one constant logit
    −j for a "rubbish" class that is never the label. Once the wrong penalties pass
    about j, E ≈ y_D keeps pulling the RBF units' input onto the right code. Without
    the constant (j → ∞) this is plain cross-entropy on the negative distances, which
    only compares the penalties with each other and, in our digits test, learns less
    well (spec/language.md, "LeNet-5's layers"). The paper calls j a positive
    constant; 5 is nnc's choice."""

    def __init__(self, j=5.0, name="rbf_map_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.j = float(j)

    def call(self, y_true, y_pred):
        rubbish = ops.full_like(y_pred[..., :1], -self.j)
        logits = ops.concatenate([y_pred, rubbish], axis=-1)
        return keras.losses.sparse_categorical_crossentropy(y_true, logits, from_logits=True)

    def get_config(self):
        return {**super().get_config(), "j": self.j}


# The transformer's layers live in a module of their own; importing it here registers
# them with the rest whenever Keras is imported (nnc/backends/keras/hook.py).
from nnc.backends.keras import tokens  # noqa: E402, F401
