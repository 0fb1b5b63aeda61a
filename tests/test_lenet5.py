"""LeNet-5 as published (LeCun et al. 1998, section II.B, Table I): its figures against
networks.yaml, the layers it needs (conv's connection table, trainable subsampling, the
squashing function, Euclidean RBF outputs) checked against hand arithmetic, their errors,
and the built model trained on scikit-learn's bundled 8×8 digits."""
from __future__ import annotations

import json
import math

import keras
import numpy as np
import pytest
from conftest import ARCHITECTURES, compile_source, error_of, run_nnc

import nnc
from nnc.backends.keras.layers import (
    EuclideanRBF,
    RBFMapLoss,
    Subsample,
    TableConv2D,
    squash,
)
from nnc.ir.kinds.lecun import rbf_codes

LENET5 = ARCHITECTURES / "lenet5.arch"


@pytest.fixture(scope="module")
def lenet5():
    return nnc.load(str(LENET5))


@pytest.fixture(scope="module")
def model(lenet5):
    return lenet5.to_keras()


# --- the paper's figures ---------------------------------------------------------------

def test_every_row_has_the_papers_trainable_params_and_connections(lenet5, reference):
    published = reference["lenet5"]
    for name, figures in published["per_layer"].items():
        row = lenet5.stats.row(name)
        assert row is not None, f"no row {name}"
        assert row.totals.trainable == figures["params"], name
        assert row.totals.connections == figures["connections"], name
    assert [r.name for r in lenet5.stats.rows] == list(published["per_layer"])
    assert lenet5.stats.totals.trainable == published["trainable_params"] == 60_000
    assert lenet5.stats.totals.connections == published["connections"] == 340_908
    # The RBF codes, 84 × 10, are the only parameters that are not trained.
    assert lenet5.stats.totals.non_trainable == 84 * 10
    assert lenet5.stats.weight_layers == 7  # "7 layers, not counting the input"


def test_the_json_reports_connections_per_row_and_in_total(reference):
    result = run_nnc("stats", "--json", str(LENET5))
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    published = reference["lenet5"]
    assert stats["connections"] == published["connections"]
    assert stats["params"]["trainable"] == published["trainable_params"]
    assert {r["name"]: (r["trainable"], r["connections"]) for r in stats["rows"]} == {
        name: (f["params"], f["connections"]) for name, f in published["per_layer"].items()}


def test_the_text_report_has_a_connections_column(capsys):
    from nnc import cli
    assert cli.main(["stats", str(LENET5)]) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(line for line in lines if line.startswith("row "))
    assert header.split()[-1] == "connections"
    c3 = next(line for line in lines if line.startswith("C3 "))
    assert c3.split()[-1] == "151,600"
    assert "connections: 340,908" in "\n".join(lines)


def test_the_c3_table_in_the_file_is_table_I(lenet5, reference):
    graph = lenet5.network.layers
    (c3,) = lenet5.network.rows[2].nodes
    assert graph[c3].attrs["table"] == tuple(
        "".join(row.split()) for row in reference["lenet5"]["c3_table"])
    # Maps 0-5 see 3 S2 maps, 6-14 see 4, 15 sees all 6 (section II.B).
    table = graph[c3].attrs["table"]
    seen = [sum(row[f] == "X" for row in table) for f in range(16)]
    assert seen == [3] * 6 + [4] * 9 + [6]


def test_the_shapes_are_the_papers(lenet5):
    shapes = {r.name: r.output_shape for r in lenet5.stats.rows}
    assert shapes == {"C1": (28, 28, 6), "S2": (14, 14, 6), "C3": (10, 10, 16),
                      "S4": (5, 5, 16), "C5": (1, 1, 120), "F6": (84,), "output": (10,)}


# --- the new layers, by hand arithmetic --------------------------------------------------

def test_a_connection_table_counts_only_the_connected_pairs():
    compiled = compile_source("""
        input 6x6x3
        c: conv3-2(padding=valid, table=["X .", "X X", ". X"])
    """)
    stats = compiled.stats.row("c").totals
    links = 4  # X marks
    assert stats.trainable == 3 * 3 * links + 2
    assert stats.macs == 4 * 4 * 3 * 3 * links
    assert stats.connections == 4 * 4 * (3 * 3 * links + 2)


def test_subsample_has_two_params_per_map_and_one_connection_per_input_and_bias():
    stats = compile_source("""
        input 28x28x6
        s: subsample2(activation=squash)
    """).stats.row("s").totals
    assert (stats.trainable, stats.non_trainable) == (2 * 6, 0)
    assert stats.connections == 14 * 14 * 6 * (4 + 1)


def test_squash_is_lecuns_function():
    a = np.array([-3.0, -1.0, 0.0, 0.5, 1.0, 3.0], "float32")
    expected = 1.7159 * np.tanh(2 * a / 3)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(squash(a)), expected, rtol=1e-6)
    assert abs(float(squash(np.float32(1.0))) - 1.0) < 1e-4  # f(±1) = ±1


def test_table_conv_is_a_conv_whose_unconnected_kernels_are_zero():
    table = ["X.X", ".XX"]
    layer = TableConv2D(3, (2, 2), table)
    x = np.random.default_rng(0).normal(size=(2, 5, 5, 2)).astype("float32")
    y = keras.ops.convert_to_numpy(layer(x))
    kernel = layer.get_weights()[0]
    full = np.zeros((2, 2, 2, 3), "float32")
    for link, (c, f) in enumerate([(0, 0), (0, 2), (1, 1), (1, 2)]):
        full[:, :, c, f] = kernel[:, :, link]
    expected = keras.ops.convert_to_numpy(keras.ops.conv(x, full))
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    assert layer.count_params() == 2 * 2 * 4 + 3


def test_subsample_is_the_window_sum_times_a_coefficient_plus_a_bias():
    layer = Subsample((2, 2))
    x = np.arange(2 * 4 * 4 * 2, dtype="float32").reshape(2, 4, 4, 2)
    layer.build(x.shape)
    layer.coefficient.assign([0.5, -2.0])
    layer.bias.assign([1.0, 3.0])
    sums = x.reshape(2, 2, 2, 2, 2, 2).sum(axis=(2, 4))
    expected = sums * np.array([0.5, -2.0]) + np.array([1.0, 3.0])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), expected, rtol=1e-6)


def test_rbf_outputs_minus_the_squared_distance_to_fixed_codes():
    codes = ["XX.", "..X"]
    layer = EuclideanRBF(2, codes)
    x = np.array([[1.0, 1.0, -1.0], [0.0, 2.0, 0.5]], "float32")
    y = keras.ops.convert_to_numpy(layer(x))
    w = np.array([[1, 1, -1], [-1, -1, 1]], "float32")
    expected = -((x[:, None, :] - w[None]) ** 2).sum(-1)
    np.testing.assert_allclose(y, expected, rtol=1e-6)
    assert layer.trainable_weights == [] and layer.count_params() == 6


def test_rbf_codes_drawn_from_a_seed_are_fixed_signs():
    codes = rbf_codes(10, 84, 1998)
    assert codes == rbf_codes(10, 84, 1998) != rbf_codes(10, 84, 1999)
    assert len(codes) == 10 and all(len(c) == 84 and set(c) <= {"X", "."} for c in codes)
    assert len(set(codes)) == 10


def test_the_papers_loss_is_cross_entropy_with_a_rubbish_class_at_minus_j():
    y = np.array([[4.0, 1.0, 9.0]], "float32")  # penalties y_i; the layer outputs −y_i
    j = 2.0
    loss = float(RBFMapLoss(j)(np.array([1]), -y))
    expected = y[0, 1] + math.log(math.exp(-j) + np.exp(-y[0]).sum())  # eq. (9)
    assert loss == pytest.approx(expected, rel=1e-5)


# --- errors ------------------------------------------------------------------------------

@pytest.mark.parametrize("table, message", [
    ('["X X", "X X"]', "a row per input map and a column per filter: 3×2"),
    ('["X .", "X .", "X ."]', "no X in column(s) 1"),
])
def test_a_table_that_does_not_fit_is_a_positioned_shape_error(table, message):
    e = error_of(f"""
        input 8x8x3
        c: conv3-2(table={table})
    """)
    assert e.what == "shape" and message in e.message
    assert (e.coord.line, e.coord.column) == (2, 4)


def test_a_table_of_other_marks_is_a_positioned_value_error():
    e = error_of("""
        input 8x8x2
        c: conv3-2(table=["X o", "X X"])
    """)
    assert e.what == "value" and "strings of X and ." in e.message
    assert "Received: table=" in e.message
    assert (e.coord.line, e.coord.column) == (2, 12)


def test_a_table_and_groups_together_are_refused():
    e = error_of("""
        input 8x8x2
        c: conv3-2(groups=2, table=["X .", ". X"])
    """)
    assert e.what == "shape" and "give one or the other" in e.message


def test_rbf_needs_a_vector_and_codes_that_fit():
    e = error_of("""
        input 8x8x2
        r: rbf-10
    """)
    assert e.what == "shape" and "vector input" in e.message
    e = error_of("""
        input 8x8x1
        f: fc-4
        r: rbf-2(codes=["X X X", "X X ."])
    """)
    assert e.what == "shape" and "2×4" in e.message
    assert (e.coord.line, e.coord.column) == (3, 4)


# --- built and trained -------------------------------------------------------------

def test_the_built_model_counts_what_nnc_counts_and_reloads(model, lenet5, tmp_path):
    trainable = sum(math.prod(w.shape) for w in model.trainable_weights)
    frozen = sum(math.prod(w.shape) for w in model.non_trainable_weights)
    assert (trainable, frozen) == (60_000, 840)
    assert model.get_layer("C3.conv1").count_params() == 1_516
    path = tmp_path / "lenet5.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    x = np.random.default_rng(1).normal(size=(2, 32, 32, 1)).astype("float32")
    np.testing.assert_allclose(reloaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-5, atol=1e-5)


def digits_32x32():
    """scikit-learn's bundled digits (no download): 8×8 values 0-16, each pixel made 3×3
    and the 24×24 image centred in 32×32 as LeCun centred MNIST's 20×20 digits; scaled so
    that the background is −0.1 and ink 1.175, as in the paper."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    digits = load_digits()
    images = np.kron(digits.images / 16, np.ones((3, 3)))
    images = np.pad(images, ((0, 0), (4, 4), (4, 4)))[..., None] * 1.275 - 0.1
    return train_test_split(images.astype("float32"), digits.target, test_size=0.25,
                            stratify=digits.target, random_state=0)


@pytest.mark.slow
def test_lenet5_learns_the_digits(lenet5):
    keras.utils.set_random_seed(0)
    x_train, x_test, y_train, y_test = digits_32x32()
    model = lenet5.to_keras()
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=RBFMapLoss(),
                  metrics=["accuracy"])  # the largest output, −y_i, is the nearest code
    model.fit(x_train, y_train, epochs=10, batch_size=32, verbose=0)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    assert accuracy >= 0.95
