"""Recipes mutated as tests/test_fuzz.py mutates .arch files (tokens and lines deleted,
duplicated or swapped, numbers changed, punctuation and garbage bytes inserted,
truncation): every mutant is read and checked, or refused with a TrainError whose
message is bounded in size. Nothing else may escape."""
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_fuzz import mutation

from nnc.errors import TrainError
from nnc.experiments import recipe

SOURCES = [
    b"epochs: 20\nbatch_size: 32\nseed: 0\n"
    b"optimizer: {name: sgd, learning_rate: 0.1, momentum: 0.9, weight_decay: 0.002}\n"
    b"schedule: {name: cosine}\n",
    b"epochs: 30\nbatch_size: 128\n"
    b"optimizer:\n  name: sgd\n  learning_rate: 0.1\n  nesterov: true\n"
    b"schedule: {name: step, boundaries: [15, 25], factor: 0.1}\n"
    b"augmentation: {flip: true, translate: 0.125}\naux_loss_weight: {aux1: 0.3}\n",
    b"a: &a [1, 2, 3]\nb: &b [*a, *a, *a]\nepochs: *b\n",
]


@st.composite
def mutants(draw) -> bytes:
    data = draw(st.sampled_from(SOURCES))
    for _ in range(draw(st.integers(1, 3))):
        data = draw(mutation(data))
    return data


@settings(max_examples=int(os.environ.get("NNC_FUZZ_EXAMPLES", 300)), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(mutants())
def test_mutated_recipes_are_read_or_refused(tmp_path, data):
    path = tmp_path / "recipe.yaml"
    path.write_bytes(data)
    try:
        plan = recipe.load(str(path))
    except TrainError as e:
        assert 0 < len(e.message) < 2000
        return
    assert plan.epochs >= 1 and plan.batch_size >= 1 and plan.learning_rate > 0
