"""Training recipes: YAML read with safe_load, checked key by key with Keras-style
messages; what they make (optimizer, learning-rate schedule, augmentation, the loss
weights of side heads)."""
from __future__ import annotations

import textwrap

import keras
import numpy as np
import pytest
from conftest import ARCHITECTURES

import nnc
from nnc.errors import TrainError
from nnc.experiments import recipe


def write(tmp_path, text: str):
    path = tmp_path / "recipe.yaml"
    path.write_text(textwrap.dedent(text))
    return str(path)


def test_a_full_recipe_is_read_and_the_command_line_overrides_it(tmp_path):
    path = write(tmp_path, """
        epochs: 30
        batch_size: 128
        optimizer: {name: sgd, learning_rate: 0.1, momentum: 0.9, weight_decay: 1e-4}
        schedule: {name: step, boundaries: [15, 25], factor: 0.1}
        augmentation: {flip: true, translate: 0.125}
        aux_loss_weight: {aux1: 0.3}
    """)
    r = recipe.load(path, epochs=2, batch_size=None)
    assert (r.epochs, r.batch_size, r.optimizer, r.learning_rate) == (2, 128, "sgd", 0.1)
    assert r.weight_decay == 1e-4  # YAML 1.1 reads 1e-4 as a string: accepted as a number
    assert (r.schedule, r.boundaries, r.flip, r.translate) == ("step", (15, 25), True, 0.125)
    assert r.aux_loss_weight == {"aux1": 0.3} and r.source == path


def test_defaults_and_the_short_form_of_a_section(tmp_path):
    assert recipe.load(None) == recipe.Recipe()
    r = recipe.load(write(tmp_path, "optimizer: rmsprop\n"))
    assert (r.optimizer, r.learning_rate) == ("rmsprop", 1e-3)


@pytest.mark.parametrize("text, message", [
    ("epoch: 3", "unknown recipe key 'epoch'; did you mean 'epochs'?"),
    ("optimizer: {name: sgd, lr: 0.1}", "'optimizer' has no key 'lr'"),
    ("optimizer: sdg", "optimizer.name must be one of sgd, adam, rmsprop; did you mean 'sgd'?"),
    ("epochs: 2.5", "epochs must be a whole number ≥ 1. Received: 2.5"),
    ("optimizer: {learning_rate: 0}", "learning_rate must be a number > 0. Received: 0"),
    ("augmentation: {translate: 2}", "translate must be a number from 0 to 1. Received: 2"),
    ("augmentation: {flip: yes please}", "flip must be true or false"),
    ("schedule: {name: step, boundaries: [20, 10]}", "boundaries must increase"),
    ("- epochs", "a recipe is a mapping"),
    ("epochs: [", "not valid YAML"),
])
def test_bad_recipes_say_what_and_where(tmp_path, text, message):
    path = write(tmp_path, text + "\n")
    with pytest.raises(TrainError) as info:
        recipe.load(path)
    assert message in info.value.message and path in info.value.message


def test_a_step_schedule_multiplies_by_the_factor_at_each_boundary():
    r = recipe.load(None, learning_rate=0.1, schedule="step", boundaries=(2, 4), factor=0.1)
    rate = recipe.learning_rate(r, steps=10, keras=keras)  # boundaries at steps 20 and 40
    values = [float(rate(step)) for step in (0, 19, 21, 39, 41)]
    np.testing.assert_allclose(values, [0.1, 0.1, 0.01, 0.01, 0.001], rtol=1e-6)


def test_cosine_decays_to_zero_over_the_whole_run():
    r = recipe.load(None, learning_rate=0.2, schedule="cosine", epochs=5)
    rate = recipe.learning_rate(r, steps=10, keras=keras)
    # 0.2 · (1 + cos(π·t/T)) / 2 with T = 50 steps
    np.testing.assert_allclose([float(rate(s)) for s in (0, 25, 50)], [0.2, 0.1, 0.0],
                               atol=1e-6)


def test_the_optimizer_decays_filters_but_not_biases_or_batchnorm():
    r = recipe.load(None, optimizer="sgd", learning_rate=0.5, momentum=0.0, weight_decay=0.1)
    layer_in = keras.Input((2,))
    model = keras.Model(layer_in, keras.layers.BatchNormalization()(
        keras.layers.Dense(1)(layer_in)))
    optimizer = recipe.optimizer(r, steps_per_epoch=1)
    kernel, bias = model.layers[1].kernel, model.layers[1].bias
    gamma = model.layers[2].gamma
    kernel.assign([[1.0], [1.0]])
    bias.assign([1.0])
    zero = [np.zeros(v.shape, "float32") for v in (kernel, bias, gamma)]
    optimizer.apply_gradients(zip(zero, [kernel, bias, gamma]))
    # With zero gradients only the decay acts: w ← w − lr·decay·w = 1 − 0.5·0.1 = 0.95.
    np.testing.assert_allclose(keras.ops.convert_to_numpy(kernel), [[0.95], [0.95]])
    assert keras.ops.convert_to_numpy(bias).tolist() == [1.0]
    assert keras.ops.convert_to_numpy(gamma).tolist() == [1.0]


def test_side_heads_weigh_what_the_file_says_unless_the_recipe_says_otherwise():
    heads = nnc.load(str(ARCHITECTURES / "googlenet.arch")).network.heads
    assert recipe.loss_weights(recipe.Recipe(), heads) == [1.0, 0.3, 0.3]
    assert recipe.loss_weights(recipe.load(None, aux_loss_weight=0.5), heads) == \
        [1.0, 0.5, 0.5]
    assert recipe.loss_weights(recipe.load(None, aux_loss_weight={"aux2": 0.0}), heads) == \
        [1.0, 0.3, 0.0]
    with pytest.raises(TrainError, match="names no side head 'aux3'"):
        recipe.loss_weights(recipe.load(None, aux_loss_weight={"aux3": 1}), heads)


def test_augmentation_is_identity_at_inference_and_moves_images_in_training():
    r = recipe.load(None, flip=True, translate=0.25)
    augment = recipe.augmentation(r)
    x = np.random.default_rng(0).uniform(size=(8, 8, 8, 1)).astype("float32")
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(augment(x, training=False)), x)
    assert not np.array_equal(keras.ops.convert_to_numpy(augment(x, training=True)), x)
    assert recipe.augmentation(recipe.Recipe()) is None
