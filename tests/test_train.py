"""`nnc train` and `nnc eval` as users run them: the model file carries its .arch source
and needs nothing else; eval's figures against numpy arithmetic on the model's own
predictions; side heads and augmentation; a run killed during epoch 2 resumes from the
backup; two MultiWorkerMirroredStrategy workers on 127.0.0.1 end with equal weights."""
from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
import zipfile

import keras
import numpy as np
import pytest
from conftest import ROOT, TINY, read_until, run_nnc

import nnc
from nnc.experiments import data

pytestmark = pytest.mark.slow  # every test here trains a network


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """tiny.arch trained two epochs on the digits; the .arch file is deleted afterwards,
    so everything later must come from the model file."""
    directory = tmp_path_factory.mktemp("train")
    arch = directory / "tiny.arch"
    arch.write_text(TINY)
    result = run_nnc("train", str(arch), "--epochs", "2", "--lr", "0.01", "-o",
                     str(directory / "m.keras"), timeout=300)
    arch.unlink()
    return directory / "m.keras", result


def test_train_reports_the_data_notes_and_the_result(trained):
    path, result = trained
    assert result.returncode == 0, result.stderr[-3000:]
    assert "note: 451 of 1,797 images held out for testing" in result.stderr
    assert "trained 2 epochs" in result.stdout and f"wrote {path}" in result.stdout
    assert not os.path.exists(f"{path}.ckpt")  # the checkpoints go once training ends


def test_the_model_file_carries_the_source_and_how_it_was_trained(trained):
    path, _ = trained
    with zipfile.ZipFile(path) as archive:
        assert archive.read("nnc/source.arch").decode() == TINY
        info = json.loads(archive.read("nnc/info.json"))
    assert (info["network"], info["file"], info["epochs"]) == ("tiny", "tiny.arch", 2)
    assert info["data"] == {"spec": "digits", "seed": 0, "classes": [str(i) for i in range(10)],
                            "train_images": 1346, "test_images": 451}
    assert (info["recipe"]["optimizer"], info["recipe"]["learning_rate"]) == ("adam", 0.01)


def test_eval_agrees_with_numpy_on_the_models_own_predictions(trained):
    path, _ = trained
    result = run_nnc("eval", str(path), "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout)
    model = keras.models.load_model(path)
    x, y = data.load("digits", (8, 8, 1)).split("test")
    p = model.predict(x, verbose=0)
    assert figures["images"] == len(y) == 451
    assert figures["error"] == pytest.approx(np.mean(p.argmax(1) != y))
    assert figures["accuracy"] == pytest.approx(1 - figures["error"])
    assert figures["loss"] == pytest.approx(-np.mean(np.log(p[np.arange(len(y)), y])),
                                            rel=1e-4)  # cross-entropy on the softmax
    top5 = np.argsort(-p, axis=1)[:, :5]
    assert figures["top5_error"] == pytest.approx(np.mean((top5 != y[:, None]).all(1)))
    assert figures["error"] < 0.5  # it learned: chance is 90% error


def test_eval_prints_a_table(trained):
    result = run_nnc("eval", str(trained[0]), "--split", "train")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "tiny on digits (train split, 1,346 images)" in result.stdout
    for name in ("loss", "accuracy", "error", "top-5 error"):
        assert f"  {name} " in result.stdout


def test_eval_refuses_a_model_nnc_did_not_train(tmp_path):
    (tmp_path / "tiny.arch").write_text(TINY)
    assert run_nnc("build", str(tmp_path / "tiny.arch"), "-o",
                   str(tmp_path / "b.keras")).returncode == 0
    result = run_nnc("eval", str(tmp_path / "b.keras"))
    assert result.returncode == 2
    assert "has no .arch source in it" in result.stderr and "Traceback" not in result.stderr


def test_side_heads_augmentation_and_mirrored_strategy(tmp_path):
    """every-kind.arch has six side heads and a 32×32×3 input: the 8×8 grey digits are
    made 32×32 and RGB; the augmentation layers wrap the model only while it trains;
    MirroredStrategy runs on the one local device there is here."""
    recipe = tmp_path / "r.yaml"
    recipe.write_text("augmentation: {flip: true, translate: 0.1}\naux_loss_weight: 0.5\n")
    out = tmp_path / "every.keras"
    result = run_nnc("train", str(ROOT / "tests" / "fixtures" / "every-kind.arch"),
                     "--epochs", "1", "--recipe", str(recipe), "--strategy", "mirrored",
                     "-o", str(out), timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "grey copied to 3 channels" in result.stderr
    assert "8×8 images made 32×32: each pixel repeated 4×4" in result.stderr
    model = keras.models.load_model(out)
    graph = nnc.load(str(ROOT / "tests" / "fixtures" / "every-kind.arch")).network.graph
    assert len(model.outputs) == 7  # the main output and the six heads
    assert all(layer.name in graph or layer.name.rpartition(".")[0] in graph
               for layer in model.layers)  # no augmentation layer was saved
    figures = json.loads(run_nnc("eval", str(out), "--json").stdout)
    assert figures["images"] == 451 and 0 <= figures["error"] <= 1


def test_strategies_say_what_they_need():
    result = run_nnc("train", str(ROOT / "tests" / "fixtures" / "resnet20-digits.arch"),
                     "--strategy", "multiworker", env={"TF_CONFIG": ""})
    assert result.returncode == 2
    assert "--strategy multiworker reads the cluster from TF_CONFIG" in result.stderr


# --- resuming and workers -------------------------------------------------------------------

def nnc_process(*args, env=None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "nnc", *args], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONUNBUFFERED": "1",
                                 "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})})


def test_a_run_killed_during_epoch_2_resumes_there_and_finishes(tmp_path):
    arch = tmp_path / "tiny.arch"
    arch.write_text(TINY)
    out, checkpoints = tmp_path / "m.keras", tmp_path / "ckpt"
    # Batches of 4 make an epoch of 337 steps, about a second: the kill lands inside it.
    args = ["train", str(arch), "--epochs", "3", "--batch", "4", "-o", str(out),
            "--checkpoints", str(checkpoints)]
    first = nnc_process(*args)
    read_until(first, "Epoch 2/3", seconds=180)  # epoch 1 is over, and backed up
    first.kill()
    first.wait()
    assert not out.exists()
    backup = json.loads((checkpoints / "backup" / "training_metadata.json").read_text())
    assert backup["epoch"] == 1
    with zipfile.ZipFile(checkpoints / "last.keras") as archive:
        assert json.loads(archive.read("nnc/info.json"))["epochs"] == 1

    second = run_nnc(*args, timeout=300)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "resuming after epoch 1" in second.stderr
    assert "Epoch 1/3" not in second.stdout
    assert "Epoch 2/3" in second.stdout and "Epoch 3/3" in second.stdout
    assert "trained 3 epochs, 1 of them restored from the backup" in second.stdout
    with zipfile.ZipFile(out) as archive:
        assert json.loads(archive.read("nnc/info.json"))["epochs"] == 3
    assert not (checkpoints / "backup").exists()  # Keras removes it at the end
    assert (checkpoints / "last.keras").exists()  # a directory given is kept


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_on_this_machine_finish_with_identical_weights(tmp_path):
    arch = tmp_path / "tiny.arch"
    arch.write_text(TINY)
    workers = [f"127.0.0.1:{p}" for p in free_ports(2)]
    processes = []
    for index in range(2):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        processes.append(nnc_process("train", str(arch), "--epochs", "2", "--strategy",
                                     "multiworker", "-o", str(tmp_path / f"w{index}.keras"),
                                     env={"TF_CONFIG": json.dumps(config)}))
    logs = []
    try:
        for process in processes:
            logs.append(process.communicate(timeout=300)[0])
    finally:
        for process in processes:
            process.kill()
    for process, log in zip(processes, logs):
        assert process.returncode == 0, log[-3000:]
    first, second = (keras.models.load_model(tmp_path / f"w{i}.keras") for i in range(2))
    names = [w.path for w in first.weights]
    assert names == [w.path for w in second.weights]
    for name, a, b in zip(names, first.get_weights(), second.get_weights()):
        np.testing.assert_array_equal(a, b, err_msg=name)  # BN statistics included
    assert any("moving_mean" in n for n in names)
    # Each worker took half of every global batch of 32: 1,346 images, 43 steps.
    assert all(f"{math.ceil(1346 / 32)}/{math.ceil(1346 / 32)}" in log for log in logs)
