"""Lesion studies (Veit et al., NIPS 2016): residual units and plain layers found in the
graph, deletions and reorderings done on the graph and checked against what they must
compute, refusals, Kendall's τ; and the experiment itself: a small ResNet and its plain
twin trained on the digits, each unit deleted in turn."""
from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from conftest import ROOT, compile_source, run_nnc

from nnc.errors import TrainError
from nnc.experiments import lesion

MINI = """
    network mini
    input 8x8x1
    default conv(bias=false)
    default residual(shortcut={shortcut})

    block basic(w, s=1):
        residual:
            conv3-{{w}}/{{s}}, bn, relu
            conv3-{{w}}, bn
        relu

    conv1: conv3-4, bn, relu
    s1:    basic(4) x2
    s2:    basic(8, s=2), basic(8)
    pool:  avgpool
    fc:    fc-3, softmax
"""
PLAIN = """
    network plain
    input 8x8x1
    default conv(bias=false)
    conv1: conv3-4, bn, relu
    s1:    conv3-4, bn, relu, conv3-4, bn, relu
    s2:    conv3-8/2, bn, relu, conv3-8, bn, relu
    pool:  avgpool
    fc:    fc-3, softmax
"""
X = np.random.default_rng(0).uniform(size=(16, 8, 8, 1)).astype("float32")


def mini(shortcut="A"):
    return compile_source(MINI.format(shortcut=shortcut))


def randomized(compiled):
    """The model with every weight random, BatchNorm's statistics included (variances
    positive), so that no layer is the identity by accident."""
    model = compiled.to_keras(heads=False)
    rng = np.random.default_rng(1)
    for layer in model.layers:
        layer.set_weights([rng.uniform(0.5, 1.5, w.shape) if "variance" in w.path
                           else rng.normal(0, 0.5, w.shape) for w in layer.weights])
    return model


def outputs(model):
    return keras.ops.convert_to_numpy(model(X, training=False))


def silence(model, unit: str) -> None:
    """Zero the γ and β of the body's last BN: the body then outputs 0 and the unit
    computes relu(x + 0) = x, its input having been through a ReLU already."""
    bn = model.get_layer(f"{unit}.bn2")
    bn.set_weights([np.zeros_like(w) if i < 2 else w
                    for i, w in enumerate(bn.get_weights())])


# --- units -----------------------------------------------------------------------------

def test_residual_units_are_named_after_their_scope_with_their_shortcut():
    units = lesion.find_units(mini("A").network)
    assert [(u.name, u.kind) for u in units] == [
        ("s1.1", "identity"), ("s1.2", "identity"), ("s2.1", "A"), ("s2.2", "identity")]
    s21 = units[2]
    assert (s21.input, s21.shortcut, s21.end) == ("s1.2.relu2", "s2.1.shortcut.pad_shortcut1",
                                                  "s2.1.relu2")
    assert s21.removed == {"s2.1.conv1", "s2.1.bn1", "s2.1.relu1", "s2.1.conv2", "s2.1.bn2",
                           "s2.1.add1"}  # the body and the add; the post-add ReLU stays
    assert (s21.in_shape, s21.out_shape) == ((8, 8, 4), (4, 4, 8))
    assert [u.kind for u in lesion.find_units(mini("B").network)][2] == "projection"


def test_a_plain_network_has_layer_units_and_only_same_shape_ones_can_go():
    units = lesion.find_units(compile_source(PLAIN).network)
    assert [u.name for u in units] == ["conv1.conv1", "s1.conv1", "s1.conv2", "s2.conv1",
                                       "s2.conv2", "fc.fc1"]
    assert units[1].segment == ("s1.conv1", "s1.bn1", "s1.relu1")
    refused = {u.name: u.refusal(False) for u in units}
    assert [n for n, why in refused.items() if why is None] == ["s1.conv1", "s1.conv2",
                                                                "s2.conv2"]
    assert "maps 8×8×4 to 4×4×8" in refused["s2.conv1"]


def test_an_option_b_downsampling_unit_is_refused_unless_its_projection_stays():
    compiled = mini("B")
    units = lesion.pick(lesion.find_units(compiled.network), ["s2.1"])
    with pytest.raises(TrainError, match="projection .* pass --keep-shortcut"):
        lesion.deleted(compiled.network, units)
    net = lesion.deleted(compiled.network, units, keep_shortcut=True)
    assert net.layers["s2.1.relu2"].inputs == ("s2.1.shortcut.bn1",)


def test_an_unknown_unit_is_refused_with_a_suggestion_and_the_list():
    units = lesion.find_units(mini().network)
    with pytest.raises(TrainError) as info:
        lesion.pick(units, ["s2,1"])
    assert "no unit 's2,1'; did you mean 's2.1'?" in info.value.message
    assert "Units: s1.1, s1.2, s2.1, s2.2" in info.value.message


# --- what the edited networks compute -------------------------------------------------------

def test_deleting_a_unit_is_silencing_its_body():
    compiled = mini()
    model = randomized(compiled)
    units = lesion.pick(lesion.find_units(compiled.network), ["s1.2", "s2.2"])
    without = lesion.lesioned_model(lesion.deleted(compiled.network, units), model)
    for unit in ("s1.2", "s2.2"):
        silence(model, unit)
    np.testing.assert_allclose(outputs(without), outputs(model), rtol=1e-5, atol=1e-6)


def test_deleting_an_option_a_downsampling_unit_leaves_its_zero_padding_shortcut():
    compiled = mini()
    model = randomized(compiled)
    units = lesion.pick(lesion.find_units(compiled.network), ["s2.1"])
    without = lesion.lesioned_model(lesion.deleted(compiled.network, units), model)
    silence(model, "s2.1")  # add = subsampled input with zero channels, already ≥ 0
    np.testing.assert_allclose(outputs(without), outputs(model), rtol=1e-5, atol=1e-6)


def test_deleting_a_plain_layer_removes_its_bn_and_relu_too():
    compiled = compile_source(PLAIN)
    units = lesion.pick(lesion.find_units(compiled.network), ["s1.conv2"])
    net = lesion.deleted(compiled.network, units)
    assert {"s1.conv2", "s1.bn2", "s1.relu2"}.isdisjoint(net.graph)
    assert net.layers["s2.conv1"].inputs == ("s1.relu1",)
    assert net.rows[1].output == "s1.relu1"
    model = lesion.lesioned_model(net, randomized(compiled))
    assert model.count_params() == compiled.to_keras().count_params() - (9 * 16 + 4 * 4)


def test_reordering_wires_the_units_in_their_new_order():
    compiled = mini()
    run = lesion.pick(lesion.find_units(compiled.network), ["s1.1", "s1.2"])
    net = lesion.reordered(compiled.network, [(run, [1, 0])])
    graph = net.layers
    assert graph["s1.2.conv1"].inputs == ("conv1.relu1",)
    assert graph["s1.2.add1"].inputs == ("s1.2.bn2", "conv1.relu1")
    assert graph["s1.1.conv1"].inputs == ("s1.2.relu2",)
    assert graph["s2.1.conv1"].inputs == ("s1.1.relu2",)  # after the run
    order = list(graph)
    assert order.index("s1.2.relu2") < order.index("s1.1.conv1")  # topological again


def test_swapping_a_silenced_unit_with_another_changes_nothing():
    """u2(id(x)) = id(u2(x)): the reordered model computes what the original does."""
    compiled = mini()
    model = randomized(compiled)
    silence(model, "s1.1")
    run = lesion.pick(lesion.find_units(compiled.network), ["s1.1", "s1.2"])
    swapped = lesion.lesioned_model(lesion.reordered(compiled.network, [(run, [1, 0])]),
                                    model)
    np.testing.assert_allclose(outputs(swapped), outputs(model), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("permutation, tau", [
    ([0, 1, 2, 3], 1.0), ([3, 2, 1, 0], -1.0),
    ([1, 0, 2, 3], 1 - 2 * 1 / 6),  # one discordant pair of six
    ([2, 0, 1], 1 - 2 * 2 / 3),     # (2,0) and (2,1) discordant of three pairs
])
def test_kendall_tau(permutation, tau):
    assert lesion.kendall_tau(permutation) == pytest.approx(tau)


# --- the experiment ---------------------------------------------------------------------

FIXTURES = ROOT / "tests" / "fixtures"
RECIPE = FIXTURES / "lesion-digits.yaml"


@pytest.fixture(scope="module")
def studies(tmp_path_factory):
    """Both networks trained with the same recipe, then `nnc lesion --delete-each --json`
    on each: {name: (the JSON, the model's path)}."""
    directory = tmp_path_factory.mktemp("lesion")
    found = {}
    for name in ("resnet20", "plain20"):
        model = directory / f"{name}.keras"
        trained = run_nnc("train", str(FIXTURES / f"{name}-digits.arch"), "--recipe",
                          str(RECIPE), "-o", str(model), timeout=600)
        assert trained.returncode == 0, trained.stderr[-3000:]
        result = run_nnc("lesion", str(model), "--delete-each", "--json", "--plot",
                         str(directory / f"{name}.png"), timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        found[name] = json.loads(result.stdout), model
    return found


def errors(study) -> dict[str, float]:
    return {r["deleted"][0]: r["error"] for r in study["results"]}


@pytest.mark.slow
def test_a_resnet_survives_the_deletion_of_a_unit_and_a_plain_network_does_not(studies):
    """Veit et al. (2016), Fig. 3, on the digits (chance: 90% error). The bounds leave
    room around what five trainings of this recipe gave (seeds and splits varied; the
    figures are in README.md, Training and lesion studies): both networks learn (0.2–2.7%
    error); deleting one identity unit of the ResNet costs 0.7–3.3 points at the median
    and at most 15 points, except the first unit after the stem, whose deletion cost 7–35
    points (early units still build the representation) but never brought the error
    near chance; deleting a layer of the plain net sends the error towards chance (most
    above 80%, at most 2 of its 16 layers under 50%)."""
    resnet, plain = studies["resnet20"][0], studies["plain20"][0]
    assert resnet["baseline_error"] <= 0.05 and plain["baseline_error"] <= 0.05
    kinds = {u["name"]: u["kind"] for u in resnet["units"]}
    res = errors(resnet)
    assert list(res) == list(kinds)  # every unit of option A can be deleted
    identity = {n: e for n, e in res.items() if kinds[n] == "identity"}
    first, *others = identity
    baseline = resnet["baseline_error"]
    assert np.median(list(identity.values())) <= baseline + 0.08, identity
    assert all(identity[n] <= baseline + 0.20 for n in others), identity
    assert identity[first] <= 0.60, identity
    flat = list(errors(plain).values())
    assert len(flat) == 16  # 18 convs but the two that change the shape
    assert np.median(flat) >= 0.70, flat
    assert sum(e >= 0.50 for e in flat) >= 12, flat
    assert np.mean(flat) - np.mean(list(identity.values())) >= 0.50


@pytest.mark.slow
def test_lesion_prints_a_table_and_writes_the_plot(studies):
    path = studies["resnet20"][1]
    assert (path.parent / "resnet20.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = run_nnc("lesion", str(path), "--delete", "stage2.2", "stage3.3",
                     "--delete-random", "2", "--reorder-random", "1", "--trials", "3",
                     timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0].startswith("resnet20_digits on digits (test split, 451 images): "
                               "baseline error ")
    assert any(l.startswith("Deleting stage2.2, stage3.3: error ") for l in lines)
    assert "Deleting k units at random (Fig. 4):" in lines
    assert any(l.split()[:2] == ["2", "3"] for l in lines)  # k = 2, 3 trials
    assert "Reordering by k random swaps (Fig. 5):" in lines


@pytest.mark.slow
def test_lesion_json_of_random_deletions_and_reorderings(studies):
    path = studies["resnet20"][1]
    result = run_nnc("lesion", str(path), "--delete-random", "1", "3", "--reorder-random",
                     "2", "--trials", "2", "--json", "--seed", "5", timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    study = json.loads(result.stdout)
    randoms = [r for r in study["results"] if r["experiment"] == "delete-random"]
    assert [len(r["deleted"]) for r in randoms] == [1, 1, 3, 3]
    identity = {u["name"] for u in study["units"] if u["kind"] == "identity"}
    assert all(set(r["deleted"]) <= identity for r in randoms)
    reorders = [r for r in study["results"] if r["experiment"] == "reorder-random"]
    assert [r["swaps"] for r in reorders] == [2, 2]  # k is recorded with each trial
    for r in reorders:
        # The runs that may be reordered are stage1.1-1.3, stage2.2-2.3 and stage3.2-3.3:
        # the 7 identity units. Swapping places i < j puts 2(j - i) - 1 pairs out of
        # order, at most 3 within a run of 3; two swaps at most 6 of the 21 pairs, so
        # τ = 1 - 2·6/21 = 3/7 at least.
        assert sorted(r["order"]) == sorted(identity)
        assert 3 / 7 - 1e-9 <= r["kendall_tau"] <= 1 and 0 <= r["error"] <= 1


@pytest.mark.slow
def test_lesion_refuses_what_it_cannot_do(studies):
    path = studies["resnet20"][1]
    result = run_nnc("lesion", str(path), "--delete", "stage4.1")
    assert result.returncode == 2
    assert "no unit 'stage4.1'" in result.stderr and "Units: stage1.1," in result.stderr
    result = run_nnc("lesion", str(path), "--plot", "out.gif")
    assert result.returncode == 2 and "--plot writes png, svg, pdf" in result.stderr
