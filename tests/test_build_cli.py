"""`nnc build` and the models it writes: .keras files reopen in a fresh process after
`import nnc` alone, SavedModel exports compute what the Keras model computes (ONNX is
tests/test_onnx.py's), the fixture network (every kind) builds under JAX (and PyTorch where installed), a .keras
file written under TensorFlow computes the same there and the other way round, LeNet-5
trains under JAX, and a failed build writes nothing."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
import pytest
from conftest import ROOT, run_nnc

import nnc
from nnc import cli
from nnc.backends.keras import build as build_module
from nnc.cli import common
from nnc.ir.kinds import KINDS

EVERY_KIND = ROOT / "tests" / "fixtures" / "every-kind.arch"
X = np.random.default_rng(0).uniform(0, 1, (3, 32, 32, 3)).astype("float32")


def predictions(model) -> list[np.ndarray]:
    outputs = model.predict(X, verbose=0)
    return outputs if isinstance(outputs, list) else [outputs]


def assert_same_outputs(got, expected, tolerance=1e-6) -> None:
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        np.testing.assert_allclose(np.asarray(a), b, rtol=tolerance, atol=tolerance)


@pytest.fixture(scope="session")
def saved(tmp_path_factory):
    """The fixture network written by the build API to a .keras file, and the outputs on
    X of the model that was written."""
    path = tmp_path_factory.mktemp("built") / "every_kind.keras"
    built = nnc.load(str(EVERY_KIND)).build(str(path))
    return path, predictions(built.model)


def in_fresh_process(code: str, *args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, timeout=300,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})})


PREDICT = """
model = keras.models.load_model(sys.argv[1])
outputs = model.predict(np.load(sys.argv[2]), verbose=0)
np.savez(sys.argv[3], *(outputs if isinstance(outputs, list) else [outputs]))
"""


def reopen_and_predict(imports: str, path, tmp_path, env=None) -> list[np.ndarray]:
    np.save(tmp_path / "x.npy", X)
    code = "import sys\nimport numpy as np\n" + imports + PREDICT
    result = in_fresh_process(code, path, tmp_path / "x.npy", tmp_path / "out.npz", env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return saved_outputs(tmp_path / "out.npz")


def saved_outputs(path) -> list[np.ndarray]:
    """A model's outputs as PREDICT saves them, in order."""
    arrays = np.load(path)
    return [arrays[f"arr_{i}"] for i in range(len(arrays.files))]


@pytest.mark.parametrize("imports", [
    "import keras, nnc",
    "import nnc\nassert 'keras' not in sys.modules\nimport keras",  # the lazy registration
], ids=["keras-first", "nnc-first"])
def test_a_saved_model_reopens_in_a_fresh_process_after_import_nnc(imports, saved, tmp_path):
    path, expected = saved
    assert_same_outputs(reopen_and_predict(imports, path, tmp_path), expected)


def test_without_import_nnc_keras_cannot_reopen_the_model(saved):
    """The control for the test above: what makes it pass is `import nnc`."""
    result = in_fresh_process("import sys, keras; keras.models.load_model(sys.argv[1])",
                              saved[0])
    assert result.returncode != 0
    assert "Standardize" in result.stderr  # the first of nnc's layers in the network


def test_the_fixture_has_every_kind_nnc_knows():
    """So that the tests here build, save, reload and run every kind on every backend: a
    kind added to nnc fails this until the fixture uses it."""
    layers = nnc.load(str(EVERY_KIND)).network.layers.values()
    assert set(KINDS) - {layer.kind.name for layer in layers} == set()


# --- other Keras backends: JAX (in the test extras, so CI runs it) and PyTorch ----------

BACKENDS = ["jax", pytest.param("torch", marks=pytest.mark.skipif(
    importlib.util.find_spec("torch") is None,
    reason="torch is not installed; `pip install torch` to run nnc models under "
           "KERAS_BACKEND=torch"))]

BUILD_THERE = """
import sys, numpy as np, nnc, keras
backend, source, path, x, out = sys.argv[1:]
assert keras.backend.backend() == backend, keras.backend.backend()
compiled = nnc.load(source)
model = compiled.build(path).model
assert model.count_params() == compiled.stats.totals.params
images = np.load(x)
expected = [(len(images), *compiled.network.layers[n].shape) for n in model.output_names]
outputs = model.predict(images, verbose=0)
assert [o.shape for o in outputs] == expected, ([o.shape for o in outputs], expected)
np.savez(out, *outputs)
"""


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def backend_env(backend, tmp_path_factory) -> dict[str, str]:
    """The environment of a fresh process under `backend`. JAX compiles each weight
    initializer and op the first time it meets them, about 20 s for the fixture
    network; a compilation cache shared by the processes pays that once."""
    return {"KERAS_BACKEND": backend,
            "JAX_COMPILATION_CACHE_DIR": str(tmp_path_factory.mktemp("jax-cache")),
            "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
            "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1"}


@dataclass
class BuiltThere:
    """The fixture network built under another backend in a fresh process: how the
    process ended, the .keras file it wrote, and where it put its outputs on X."""
    result: subprocess.CompletedProcess
    path: Path
    outputs: Path


@pytest.fixture(scope="module")
def built_there(backend, backend_env, tmp_path_factory) -> BuiltThere:
    directory = tmp_path_factory.mktemp(backend)
    np.save(directory / "x.npy", X)
    result = in_fresh_process(BUILD_THERE, backend, EVERY_KIND, directory / "m.keras",
                              directory / "x.npy", directory / "out.npz", env=backend_env)
    return BuiltThere(result, directory / "m.keras", directory / "out.npz")


@pytest.mark.slow  # a fresh process under the backend: half a minute
def test_another_backend_builds_the_network_with_nncs_counts_and_shapes(built_there):
    assert built_there.result.returncode == 0, built_there.result.stderr[-3000:]


@pytest.mark.slow  # a fresh process under the backend: half a minute
def test_a_model_written_under_tensorflow_computes_the_same_under_another_backend(
        backend_env, saved, tmp_path):
    path, expected = saved  # written under TensorFlow
    got = reopen_and_predict("import nnc, keras", path, tmp_path, env=backend_env)
    assert_same_outputs(got, expected, tolerance=1e-5)


@pytest.mark.slow  # a fresh process under the backend: half a minute
def test_a_model_written_under_another_backend_computes_the_same_under_tensorflow(
        built_there):
    assert built_there.result.returncode == 0, built_there.result.stderr[-3000:]
    assert keras.backend.backend() == "tensorflow"
    model = keras.models.load_model(built_there.path)
    assert_same_outputs(predictions(model), saved_outputs(built_there.outputs),
                        tolerance=1e-5)


@pytest.mark.slow
def test_lenet5_trains_under_jax_and_its_file_evaluates_the_same_under_tensorflow(tmp_path):
    """LeNet-5's own layers (the connection table, subsampling, the RBF units and their
    loss) learn under JAX, and TensorFlow computes the held-out figures JAX computed."""
    out = tmp_path / "lenet5.keras"
    result = run_nnc("train", str(ROOT / "architectures" / "lenet5.arch"), "--epochs", "3",
                     "-o", str(out), env={"KERAS_BACKEND": "jax"}, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    losses = [float(loss) for loss in re.findall(r" - loss: ([\d.]+)", result.stdout)]
    assert len(losses) == 3 and losses[0] > losses[1] > losses[2], losses
    with zipfile.ZipFile(out) as archive:
        info = json.loads(archive.read("nnc/info.json"))
    assert info["backend"] == "jax"
    evaluated = run_nnc("eval", str(out), "--json", env={"KERAS_BACKEND": "tensorflow"})
    assert evaluated.returncode == 0, evaluated.stderr[-3000:]
    figures = json.loads(evaluated.stdout)
    assert figures["loss"] == pytest.approx(info["metrics"]["val_loss"], rel=1e-5)
    assert figures["accuracy"] == pytest.approx(info["metrics"]["val_accuracy"], rel=1e-5)


def test_savedmodel_export_computes_what_the_keras_model_computes(tmp_path):
    import tensorflow as tf
    built = nnc.load(str(EVERY_KIND)).build(str(tmp_path / "every_kind"))
    assert built.format == "savedmodel" and os.path.isdir(built.path)
    reloaded = tf.saved_model.load(built.path)
    assert_same_outputs(tf.nest.flatten(reloaded.serve(X)), predictions(built.model))


# --- the command ------------------------------------------------------------------------

def test_build_writes_network_name_dot_keras_here_and_prints_a_summary(tmp_path, monkeypatch,
                                                                       capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["build", str(EVERY_KIND)]) == 0
    assert os.listdir(tmp_path) == ["every_kind.keras"]
    out = capsys.readouterr().out
    totals = nnc.load(str(EVERY_KIND)).stats.totals
    assert f"{totals.params:,} params" in out and "MACs" in out
    assert "wrote every_kind.keras (keras, " in out and " MiB) in " in out


def test_the_build_options_reach_the_saved_model(tmp_path, capsys):
    out = tmp_path / "m.keras"
    assert cli.main(["build", str(EVERY_KIND), "-o", str(out), "--no-aux", "--jit",
                     "--precision", "mixed_bfloat16"]) == 0
    assert f"{nnc.load(str(EVERY_KIND)).stats.main.params:,} params" in capsys.readouterr().out
    model = keras.models.load_model(out)
    assert model.output_names == ["prob.softmax1"]
    assert model.jit_compile is True
    assert model.get_layer("res_a.conv1").dtype_policy.name == "mixed_bfloat16"
    assert model.get_layer("prob.softmax1").dtype_policy.name == "float32"


def test_a_savedmodel_replaces_the_one_already_there(tmp_path):
    import tensorflow as tf
    out = tmp_path / "every_kind"
    assert cli.main(["build", str(EVERY_KIND), "-o", str(out)]) == 0
    assert cli.main(["build", str(EVERY_KIND), "-o", str(out), "--no-aux"]) == 0
    assert os.listdir(tmp_path) == ["every_kind"]
    assert len(tf.nest.flatten(tf.saved_model.load(str(out)).serve(X))) == 1


@pytest.mark.parametrize("arguments, message", [
    (["-o", "model.h5"], "cannot tell the output format from the suffix '.h5'"),
    (["--format", "onnx", "-o", "m.keras"], "does not fit --format onnx"),
    (["--format", "keras", "-o", "model"], "does not fit --format keras"),
    (["-o", "missing/m.keras"], "the output directory does not exist"),
    (["--format", "onnx", "--precision", "mixed_float16"], "the ONNX backend writes float32"),
])
def test_an_output_that_cannot_be_written_is_a_user_error(arguments, message, tmp_path,
                                                          monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["build", str(EVERY_KIND), *arguments]) == 2
    assert message in capsys.readouterr().err
    assert os.listdir(tmp_path) == []


def test_a_failed_build_keeps_the_good_file_and_leaves_no_partial_one(tmp_path, monkeypatch,
                                                                      capsys):
    out = tmp_path / "every_kind.keras"
    with zipfile.ZipFile(out, "w") as archive:  # a .keras file, which a build may replace
        archive.writestr("config.json", "{}")
        archive.writestr("model.weights.h5", b"a good model")
    good = out.read_bytes()

    def interrupted(model, path, format):
        with open(path, "wb") as f:
            f.write(b"half a mod")
        raise OSError("No space left on device")
    monkeypatch.setattr(build_module, "export", interrupted)
    assert cli.main(["build", str(EVERY_KIND), "-o", str(out)]) == 1
    assert "internal error: OSError: No space left on device" in capsys.readouterr().err
    assert out.read_bytes() == good
    assert os.listdir(tmp_path) == ["every_kind.keras"]


def test_a_model_that_differs_from_nnc_stats_is_reported_as_a_bug(tmp_path, monkeypatch,
                                                                  capsys):
    def miscounted(path, limits):
        compiled = nnc.load(path)
        compiled.network.layers["res_a.conv1"].params = (1, 0)
        return compiled
    monkeypatch.setattr(common, "compile_file", miscounted)
    assert cli.main(["build", str(EVERY_KIND), "-o", str(tmp_path / "m.keras")]) == 1
    err = capsys.readouterr().err
    assert "nnc: internal error: LoweringError: res_a.conv1 at " in err
    assert "this is a bug in nnc" in err
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("source, message", [
    ("input 8x8x3\nc: conv3-4, maxpol\n", "t.arch:2:13: error: unknown layer kind"),
    # 3·3·3 weights and a bias for each of 4 filters: 112 params
    ("input 8x8x3\nc: conv3-4\nexpect params = 1\n", "t.arch:3:8: error: params is 112,"),
])
def test_a_file_with_errors_builds_nothing(source, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "t.arch").write_text(source)
    assert cli.main(["build", "t.arch"]) == 2
    assert message in capsys.readouterr().err
    assert os.listdir(tmp_path) == ["t.arch"]


def test_nnc_build_runs_as_a_command(tmp_path):
    result = run_nnc("build", str(EVERY_KIND), "-o", str(tmp_path / "m.keras"))
    assert result.returncode == 0, result.stderr
    assert f"wrote {tmp_path / 'm.keras'} (keras, " in result.stdout
