"""The Vision Transformer (Dosovitskiy et al. 2021) as architectures/vit-*.arch write it:
Table 1's columns read back from the checked graph, the published parameter counts and
multiply-adds, receptive fields and paths through a transformer, the attention lowering
against softmax(QKᵀ/√k)V computed with keras.ops on the same weights, and each file
built and trained a few steps."""
from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
from conftest import ARCHITECTURES, run_nnc

import nnc
from nnc.analysis.paths import count_paths
from nnc.analysis.receptive import receptive_fields

SIZES = ("ti", "b", "l")
TINY_VIT = """\
input 32x32x3
block encoder(d, heads):
    residual:
        layernorm, attention(heads)
    residual:
        layernorm, fc-{2*d}(activation=gelu), fc-{d}
embed:      patch8-16, classtoken, posembed
encoder:    encoder(16, 4) x2
classifier: layernorm, token, fc-5
"""


def layers_of(net, kind: str) -> list:
    return [layer for layer in net.layers.values() if layer.kind.name == kind]


@pytest.mark.parametrize("size", SIZES)
def test_vit_is_table_1(load, reference, size):
    """The file's layers are Table 1's row (DeiT's for Ti) and its counts the published
    ones: exact parameters, and multiply-adds to the published figure's last digit."""
    paper, compiled = reference["vit"], load(f"vit-{size}16")
    row, net = paper["table1"][size], compiled.network
    attention = layers_of(net, "attention")
    assert len(attention) == row["layers"]
    assert {layer.attrs["heads"] for layer in attention} == {row["heads"]}
    assert {layer.shape for layer in attention} == {(197, row["d"])}  # 14·14 patches + 1
    assert {layer.shape[-1] for layer in layers_of(net, "fc")} == {row["mlp"], row["d"], 1000}
    assert net.shape(net.input) == tuple(paper["input"])
    assert compiled.stats.totals.params == paper["params"][size]
    digits = 0.05 if size == "ti" else 0.005  # 1.3G; 17.56G and 61.55G
    assert abs(compiled.stats.totals.macs / 1e9 - paper["macs_giga"][size]) <= digits


def test_table_1s_rounded_counts_and_where_large_differs(load, reference):
    """Table 1 gives 86M for Base, within a million of these layers; for Large it gives
    307M, 2.7M more than L/16 holds. It is what ViT-L/32 holds (torchvision: 306.5M):
    L/16's count with 32×32 patch weights instead of 16×16 and 50 tokens instead of
    197 gives it, to torchvision's precision and to Table 1's."""
    paper = reference["vit"]
    base = load("vit-b16").stats.totals.params
    assert abs(base / 1e6 - paper["table1"]["b"]["params_millions"]) < 1
    large = load("vit-l16").stats.totals.params
    assert paper["table1"]["l"]["params_millions"] - large / 1e6 > 2
    d, patch_weights = 1024, lambda p: p * p * 3 * 1024
    l32 = large + patch_weights(32) - patch_weights(16) - (197 - 50) * d
    assert round(l32 / 1e5) / 10 == paper["params_l32_torchvision_millions"]
    assert round(l32 / 1e6) == paper["table1"]["l"]["params_millions"]


def test_a_transformers_fields_and_paths(load):
    """A patch's token sees its 16×16 patch; after the first attention every token sees
    the whole image; each encoder layer holds two residual units, 2^24 paths in all."""
    compiled = load("vit-b16")
    fields = receptive_fields(compiled.network)
    assert fields["embed.posembed1"].size == (16, 16)
    assert fields["encoder.1.attention1"].size == (224, 224)
    assert fields["classifier.fc1"].size == (224, 224)
    paths = count_paths(compiled.network)
    assert (paths.count, paths.units) == (2 ** 24, 24)


def test_memory_counts_what_attention_holds_while_it_runs(tmp_path):
    """With 4×4 patches the tiny ViT has 65 tokens, and each attention (4 heads of 4)
    holds its queries, keys, values and weighted values (65·16 each) and 4 heads' 65×65
    weights. Against the same network with an fc-16 in its place (the same output,
    nothing held), training keeps both attentions' worth more, and the peak at inference
    is an attention's step: the input image (32·32·3, alive throughout), the residual
    stream's input, its LayerNorm and its own output (65·16 each), and what it holds."""
    from nnc.analysis.memory import memory
    text = TINY_VIT.replace("patch8-16", "patch4-16")
    held = 4 * 65 * 16 + 4 * 65 * 65
    attention = memory(nnc.compile_text(text, str(tmp_path / "a.arch")).network)
    fc = memory(nnc.compile_text(text.replace("attention(heads)", "fc-{d}"),
                                 str(tmp_path / "f.arch")).network)
    assert attention.training_kept - fc.training_kept == 2 * held * 4
    assert attention.peak_live == (32 * 32 * 3 + 3 * 65 * 16 + held) * 4


def test_attention_is_softmax_of_scaled_dot_products(tmp_path):
    """Keras's MultiHeadAttention, as nnc lowers `attention(4)`, computes what eq. 5–8
    of the ViT paper say, on the layer's own (random) weights: per head,
    softmax(QKᵀ/√k)V, then the output projection."""
    from keras import ops
    compiled = nnc.compile_text(TINY_VIT, str(tmp_path / "vit.arch"))
    model = compiled.to_keras()
    layer = model.get_layer("encoder.1.attention1")
    rng = np.random.default_rng(0)
    for weight in layer.weights:
        weight.assign(rng.normal(0, 0.3, weight.shape).astype("float32"))
    x = ops.convert_to_tensor(rng.normal(size=(3, 17, 16)).astype("float32"))
    # The projections are the layer's own EinsumDense sublayers, D → h×k.
    q, k, v = (dense(x) for dense in (layer.query_dense, layer.key_dense, layer.value_dense))
    scores = ops.einsum("bnhk,bmhk->bhnm", q, k) / np.sqrt(4)
    weighted = ops.einsum("bhnm,bmhk->bnhk", ops.softmax(scores, axis=-1), v)
    expected = layer.output_dense(weighted)
    assert q.shape == (3, 17, 4, 4)
    np.testing.assert_allclose(ops.convert_to_numpy(layer(x, x)),
                               ops.convert_to_numpy(expected), atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("size", SIZES)
def test_vit_builds_with_the_counts_of_nnc_stats(load, size):
    compiled = load(f"vit-{size}16")
    model = compiled.to_keras()  # verifies every layer's shape and parameters
    assert model.count_params() == compiled.stats.totals.params
    assert tuple(model.output.shape[1:]) == (1000,)


def epoch_losses(stdout: str) -> list[float]:
    """The training loss of each epoch, as `nnc train` prints them (Keras's verbose=2)."""
    return [float(loss) for loss in re.findall(r"^\d+/\d+ - .*? - loss: ([\d.]+)", stdout,
                                               re.MULTILINE)]


@pytest.mark.slow
@pytest.mark.parametrize("size", SIZES)
def test_each_vit_trains(tmp_path, size):
    """Each file at its own width and heads, one encoder layer deep, on 400 of the
    digits (made 32×32 by nnc train: two by two 16×16 patches): the loss falls epoch by
    epoch."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    np.savez(tmp_path / "digits.npz", x=digits.images[:400], y=digits.target[:400])
    for path in ARCHITECTURES.glob("vit-*16.arch"):
        shutil.copy(path, tmp_path)
    (tmp_path / "small.arch").write_text(
        f'use "vit-{size}16.arch"(layers=1, classes=10, drop=0.0)\n'
        f"network small_{size}\ninput 32x32x1\n")
    result = run_nnc("train", str(tmp_path / "small.arch"), "--data",
                     str(tmp_path / "digits.npz"), "--epochs", "3", "--lr", "3e-4",
                     "-o", str(tmp_path / "small.keras"), timeout=600)
    assert result.returncode == 0, result.stderr
    losses = epoch_losses(result.stdout)
    assert len(losses) == 3, result.stdout
    assert losses[0] > losses[1] > losses[2], losses
