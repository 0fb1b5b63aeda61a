"""What nnc writes never costs the user anything: every mistake about an output (-o,
--checkpoints, a model file to read) is refused before anything is written or deleted,
with one message that says what is wrong and ends `Received: …`, and exit status 2.
Only a model of the same format, or a checkpoint directory nnc made, is ever replaced;
two commands writing the same output at once are refused by a lock; checkpoints are
resumed only by the run they are of.

Each case hashes every file of its directory before and after (`snapshot`): nothing
the user had may change, and nothing may be left behind (temporary files, lock files)."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import ROOT, TINY, read_until, run_nnc

from nnc import cli

EVERY_KIND = ROOT / "tests" / "fixtures" / "every-kind.arch"

OTHER = TINY.replace("conv3-4", "conv3-6")  # another network with the same name


def snapshot(directory: Path) -> dict[str, str]:
    """Every path under `directory` (hidden ones too): a file's sha256, 'dir', or a
    link's target."""
    seen = {}
    for root, dirs, files in os.walk(directory):
        for name in dirs + files:
            path = Path(root) / name
            key = str(path.relative_to(directory))
            if path.is_symlink():
                seen[key] = "link -> " + os.readlink(path)
            elif path.is_dir():
                seen[key] = "dir"
            else:
                seen[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return seen


def refused(argv: list[str], capsys, directory: Path, words: list[str]) -> str:
    """Runs `nnc ARGV` in-process and checks that it is refused as a user error that
    says `words`, changing nothing in `directory`."""
    before = snapshot(directory)
    status = cli.main(argv)
    err = capsys.readouterr().err
    assert status == 2, err[-3000:]
    assert "Traceback" not in err and "internal error" not in err
    assert "Received: " in err
    for word in words:
        assert word in err, err
    assert snapshot(directory) == before
    return err


# --- setups: what the user has in the directory before the command ------------------------

def user_directory(path: Path) -> None:
    path.mkdir()
    (path / "notes.txt").write_text("the user's notes")
    (path / "data").mkdir()
    (path / "data" / "a.csv").write_text("1,2,3\n")


def a_file(path: Path, text: str = "the user's own file\n") -> None:
    path.write_text(text)


def a_zip(path: Path, entries: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)


def savedmodel_and_more(path: Path) -> None:
    (path / "variables").mkdir(parents=True)
    (path / "saved_model.pb").write_bytes(b"\x08\x01")
    (path / "notes.txt").write_text("not part of a SavedModel")


@dataclass
class Case:
    id: str
    argv: list[str]                      # after `nnc`; {tmp} is the test's directory
    setup: Callable[[Path], None] = lambda tmp: None
    words: tuple[str, ...] = ()
    cwd: str = "."                       # relative to the test's directory


BUILD_CASES = [
    Case("bug1: -o an existing directory of the user's files",
         ["build", "{arch}", "-o", "userdir"], lambda t: user_directory(t / "userdir"),
         ("is not a SavedModel", "it holds data/, notes.txt", "Received: -o userdir")),
    Case("bug1: the same with --format savedmodel",
         ["build", "{arch}", "-o", "userdir", "--format", "savedmodel"],
         lambda t: user_directory(t / "userdir"), ("is not a SavedModel",)),
    Case("a SavedModel directory with the user's files in it",
         ["build", "{arch}", "-o", "sm"], lambda t: savedmodel_and_more(t / "sm"),
         ("is not a SavedModel", "notes.txt")),
    Case("an empty directory the user made",
         ["build", "{arch}", "-o", "empty"], lambda t: (t / "empty").mkdir(),
         ("is not a SavedModel", "it holds nothing")),
    Case("bug2: -o . (the current directory)", ["build", "{arch}", "-o", "."],
         lambda t: (t / "sub").mkdir(), ("the current directory", "Received: -o ."), "sub"),
    Case("-o .. (above the current directory)", ["build", "{arch}", "-o", ".."],
         lambda t: (t / "sub").mkdir(), ("the current directory",), "sub"),
    Case("an existing .keras name that is not a model", ["build", "{arch}", "-o", "m.keras"],
         lambda t: a_file(t / "m.keras"), ("not a .keras model file", "Received: -o m.keras")),
    Case("an empty file where the .keras goes", ["build", "{arch}", "-o", "m.keras"],
         lambda t: a_file(t / "m.keras", ""), ("not a .keras model file",)),
    Case("a zip that is not a Keras model", ["build", "{arch}", "-o", "m.keras"],
         lambda t: a_zip(t / "m.keras", {"a.txt": b"x"}), ("not a .keras model file",)),
    Case("an existing .onnx name that is not ONNX", ["build", "{arch}", "-o", "m.onnx"],
         lambda t: a_file(t / "m.onnx"), ("not an ONNX model file",)),
    Case("a .keras path that is a directory", ["build", "{arch}", "-o", "m.keras"],
         lambda t: user_directory(t / "m.keras"), ("the output is a directory",)),
    Case("a SavedModel path that is a file", ["build", "{arch}", "-o", "model"],
         lambda t: a_file(t / "model"), ("a SavedModel is a directory", "a file")),
    Case("a symbolic link where the output goes", ["build", "{arch}", "-o", "m.keras"],
         lambda t: (t / "m.keras").symlink_to(t / "elsewhere.keras"),
         ("a symbolic link",)),
    Case("-o into a missing directory", ["build", "{arch}", "-o", "missing/m.keras"],
         words=("the output directory does not exist",)),
    Case("-o into a file as if it were a directory", ["build", "{arch}", "-o", "f/m.keras"],
         lambda t: a_file(t / "f"), ("is not a directory but a file",)),
    Case("a suffix that does not fit --format", ["build", "{arch}", "--format", "onnx",
                                                 "-o", "m.keras"],
         words=("does not fit --format onnx",)),
    Case("a suffix that tells no format", ["build", "{arch}", "-o", "m.h5"],
         words=("cannot tell the output format",)),
    Case("a file of the user's where nnc's lock file goes",
         ["build", "{arch}", "-o", "m.keras"], lambda t: a_file(t / ".m.keras.lock"),
         ("is in the way of the lock file",)),
]


@pytest.fixture
def tiny(tmp_path) -> Path:
    """tiny.arch in a directory of its own, beside the test's."""
    folder = tmp_path / "source"
    folder.mkdir()
    (folder / "tiny.arch").write_text(TINY)
    work = tmp_path / "work"
    work.mkdir()
    return folder / "tiny.arch"


def argv_for(case: Case, arch: Path, tmp: Path) -> list[str]:
    return [a.format(arch=arch, tmp=tmp) for a in case.argv]


@pytest.mark.parametrize("case", BUILD_CASES, ids=lambda c: c.id)
def test_build_refuses_outputs_it_would_lose_something_by_writing(case, tiny, capsys,
                                                                   monkeypatch):
    work = tiny.parent.parent / "work"
    case.setup(work)
    monkeypatch.chdir(work / case.cwd)
    refused(argv_for(case, tiny, work), capsys, work, list(case.words))


def test_read_only_output_directory(tiny, capsys, monkeypatch):
    # Root may write anywhere, so the test tells nnc that the directory is not writable,
    # as os.access says for an ordinary user in a 0o555 directory.
    work = tiny.parent.parent / "work"
    (work / "ro").mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode, **kw: False
                        if os.path.basename(os.path.normpath(path)) == "ro"
                        else real_access(path, mode, **kw))
    refused(["build", str(tiny), "-o", str(work / "ro" / "m.keras")], capsys, work,
            ["cannot write in the output directory"])


def test_bugs_1_and_2_as_users_run_them(tmp_path):
    """The command in a fresh process: exit 2, the message, the user's files kept."""
    (tmp_path / "tiny.arch").write_text(TINY)
    user_directory(tmp_path / "userdir")
    (tmp_path / "sub").mkdir()
    before = snapshot(tmp_path)
    result = run_nnc("build", "tiny.arch", "-o", "userdir", cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-3000:]
    assert "is not a SavedModel" in result.stderr and "wrote" not in result.stdout
    result = run_nnc("build", "../tiny.arch", "-o", ".", cwd=tmp_path / "sub")
    assert result.returncode == 2, result.stderr[-3000:]
    assert "the current directory" in result.stderr and "internal error" not in result.stderr
    assert snapshot(tmp_path) == before


def test_a_model_of_the_same_format_is_replaced_and_a_stale_lock_taken_over(
        tiny, capsys, monkeypatch):
    work = tiny.parent.parent / "work"
    monkeypatch.chdir(work)
    assert cli.main(["build", str(tiny), "-o", "m.keras"]) == 0
    first = snapshot(work)
    # A killed nnc command leaves its lock file, with nnc's mark; the lock died with it.
    from nnc.present.output import LOCK_MARK
    (work / ".m.keras.lock").write_bytes(LOCK_MARK)
    assert cli.main(["build", str(tiny), "-o", "m.keras", "--no-aux"]) == 0
    assert "wrote m.keras (keras, " in capsys.readouterr().out
    assert sorted(snapshot(work)) == sorted(first) == ["m.keras"]  # no lock file left


# --- locks ------------------------------------------------------------------------------------

HOLD = """
import sys
from nnc.errors import BuildError
from nnc.present.output import output_lock
with output_lock(sys.argv[1], BuildError, "test"):
    print("held", flush=True)
    sys.stdin.read()
"""


@contextmanager
def held_by_another_process(path: Path):
    """Another process holds nnc's lock on `path` until the block ends."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], cwd=ROOT, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)


def test_bug3_a_second_build_of_the_same_output_is_refused(tiny, capsys, monkeypatch):
    work = tiny.parent.parent / "work"
    monkeypatch.chdir(work)
    before = snapshot(work)
    with held_by_another_process(work / "m.keras"):
        assert cli.main(["build", str(tiny), "-o", "m.keras"]) == 2
        err = capsys.readouterr().err
        assert "another nnc command is writing m.keras now" in err
        assert "Received: -o m.keras" in err
    assert snapshot(work) == before  # the holder removed its lock file


@pytest.mark.parametrize("held, argv, words", [
    ("m.keras", ["-o", "m.keras"], ["another nnc command is writing m.keras now"]),
    ("ck", ["-o", "m.keras", "--checkpoints", "ck"],
     ["another nnc command is writing ck now", "Received: --checkpoints ck"]),
    ("m.keras.ckpt", ["-o", "m.keras"], ["another nnc command is writing m.keras.ckpt"]),
], ids=["output", "--checkpoints", "default checkpoints"])
def test_bug3_a_second_train_of_the_same_output_or_checkpoints_is_refused(
        held, argv, words, tiny, capsys, monkeypatch):
    work = tiny.parent.parent / "work"
    monkeypatch.chdir(work)
    before = snapshot(work)
    with held_by_another_process(work / held):
        assert cli.main(["train", str(tiny), "--epochs", "1", *argv]) == 2
        err = capsys.readouterr().err
        assert all(w in err for w in words), err
    assert snapshot(work) == before


# --- train's outputs and checkpoints, refused before training ------------------------------

TRAIN_CASES = [
    Case("bug7: -o an existing directory", ["train", "{arch}", "-o", "userdir"],
         lambda t: user_directory(t / "userdir"),
         ("nnc train writes one .keras file", "userdir/tiny.keras", "Received: -o userdir")),
    Case("-o with another suffix than .keras", ["train", "{arch}", "-o", "m.onnx"],
         words=("must end in .keras", "Received: -o m.onnx")),
    Case("-o an existing file that is not a model", ["train", "{arch}", "-o", "m.keras"],
         lambda t: a_file(t / "m.keras"), ("not a .keras model file",)),
    Case("-o into a missing directory", ["train", "{arch}", "-o", "missing/m.keras"],
         words=("the output directory does not exist",)),
    Case("bug6: --checkpoints an existing file",
         ["train", "{arch}", "-o", "m.keras", "--checkpoints", "afile"],
         lambda t: a_file(t / "afile"), ("the checkpoints are a directory", "afile is a file",
                                         "Received: --checkpoints afile")),
    Case("--checkpoints a directory of the user's files",
         ["train", "{arch}", "-o", "m.keras", "--checkpoints", "userdir"],
         lambda t: user_directory(t / "userdir"),
         ("holds files nnc did not write", "data/, notes.txt")),
    Case("the default checkpoint directory taken by the user's files",
         ["train", "{arch}", "-o", "m.keras"], lambda t: user_directory(t / "m.keras.ckpt"),
         ("holds files nnc did not write", "Received: -o m.keras (checkpoints: m.keras.ckpt)")),
    Case("the default checkpoint directory taken by a file",
         ["train", "{arch}", "-o", "m.keras"], lambda t: a_file(t / "m.keras.ckpt"),
         ("the checkpoints are a directory",)),
    Case("--checkpoints naming the output itself",
         ["train", "{arch}", "-o", "m.keras", "--checkpoints", "m.keras"],
         words=("cannot be the output file itself",)),
    Case("--checkpoints in a missing directory",
         ["train", "{arch}", "-o", "m.keras", "--checkpoints", "missing/ck"],
         words=("parent directory does not exist",)),
    Case("checkpoints whose record is damaged",
         ["train", "{arch}", "-o", "m.keras", "--checkpoints", "ck"],
         lambda t: (t / "ck").mkdir() or a_file(t / "ck" / "nnc-checkpoint.json", "{"),
         ("cannot read which run the checkpoints are of", "--restart")),
]


@pytest.mark.parametrize("case", TRAIN_CASES, ids=lambda c: c.id)
def test_train_refuses_outputs_and_checkpoints_before_training(case, tiny, capsys,
                                                                monkeypatch):
    work = tiny.parent.parent / "work"
    case.setup(work)
    monkeypatch.chdir(work / case.cwd)
    err = refused([*argv_for(case, tiny, work), "--epochs", "1"], capsys, work,
                  list(case.words))
    assert "--format" not in err  # train has no such option


# --- model files that eval and lesion read ---------------------------------------------------

@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    """A model file as nnc train writes it (untrained weights: nothing here measures)."""
    from nnc.analysis.compiled import compile_text
    from nnc.backends.keras.model import to_keras
    from nnc.experiments import data, recipe
    from nnc.experiments.model_file import save
    from nnc.experiments.train import record
    compiled = compile_text(TINY, "tiny.arch")
    dataset = data.load("digits", (8, 8, 1))
    path = tmp_path_factory.mktemp("model") / "m.keras"
    save(to_keras(compiled, heads=True), str(path), TINY,
         {**record(compiled, dataset, recipe.load(None)), "epochs": 0, "metrics": {}})
    return path


def rewritten(source: Path, target: Path, drop=(), cut=(), replace=None) -> None:
    """A copy of a model file with entries dropped, cut in half or replaced."""
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(target, "w") as new:
        for name in old.namelist():
            if name in drop:
                continue
            data = (replace or {}).get(name, old.read(name))
            new.writestr(name, data[:len(data) // 2] if name in cut else data)


def flipped_byte(source: Path, target: Path, entry: str) -> None:
    """A byte of an entry's data changed in place: its checksum no longer holds."""
    data = bytearray(source.read_bytes())
    with zipfile.ZipFile(source) as archive:
        info = archive.getinfo(entry)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + info.compress_size // 2] ^= 0xFF
    target.write_bytes(bytes(data))


def built_model(target: Path) -> None:
    """A model nnc build wrote: a Keras model without nnc's entries."""
    assert cli.main(["build", str(EVERY_KIND), "-o", str(target)]) == 0


def weights_of_another_network(source: Path, target: Path) -> None:
    from nnc.analysis.compiled import compile_text
    from nnc.backends.keras.model import to_keras
    other = target.with_name("other-weights.keras")
    to_keras(compile_text(OTHER, "other.arch"), heads=True).save(other)
    with zipfile.ZipFile(other) as archive:
        weights = archive.read("model.weights.h5")
    other.unlink()
    rewritten(source, target, replace={"model.weights.h5": weights})


MODEL_CASES = [  # (id, how the file is made from a good one, words of the message)
    ("bug8: no nnc/info.json", lambda s, t: rewritten(s, t, drop=["nnc/info.json"]),
     ["has no record of how it was trained (nnc/info.json)"]),
    ("bug8: no nnc/source.arch", lambda s, t: rewritten(s, t, drop=["nnc/source.arch"]),
     ["has no .arch source in it (nnc/source.arch)"]),
    ("bug8: damaged weights", lambda s, t: rewritten(s, t, cut=["model.weights.h5"]),
     ["damaged", "model.weights.h5"]),
    ("bug8: damaged nnc/info.json", lambda s, t: rewritten(s, t, cut=["nnc/info.json"]),
     ["damaged", "nnc/info.json"]),
    ("bug8: not a zip", lambda s, t: a_file(t, "not a model"), ["not a zip archive"]),
    ("nnc/info.json without the data",
     lambda s, t: rewritten(s, t, replace={"nnc/info.json": b'{"file": "tiny.arch"}'}),
     ["nnc/info.json", "no 'data'"]),
    ("a .arch source that is not UTF-8",
     lambda s, t: rewritten(s, t, replace={"nnc/source.arch": b"\xff\xfe"}),
     ["nnc/source.arch", "not UTF-8"]),
    ("a .arch source that does not compile",
     lambda s, t: rewritten(s, t, replace={"nnc/source.arch": TINY.replace("maxpool",
                                                                           "maxpol").encode()}),
     ["does not compile", "tiny.arch:5:8", "maxpol"]),
    ("a .arch source of another network",
     lambda s, t: rewritten(s, t, replace={"nnc/source.arch": OTHER.encode()}),
     ["describes a network of", "parameters"]),
    ("weights of another network", weights_of_another_network,
     ["damaged", "do not load together"]),
    ("damaged config.json", lambda s, t: rewritten(s, t, cut=["config.json"]),
     ["damaged", "config.json"]),
    ("no config.json", lambda s, t: rewritten(s, t, drop=["config.json"]),
     ["not a Keras model", "no config.json"]),
    ("an entry failing its checksum", lambda s, t: flipped_byte(s, t, "config.json"),
     ["damaged", "config.json fails its checksum"]),
    ("a file cut short", lambda s, t: t.write_bytes(s.read_bytes()[:len(s.read_bytes()) // 2]),
     ["not a zip archive"]),
    ("an empty file", lambda s, t: a_file(t, ""), ["empty"]),
    ("a zip that is not a model", lambda s, t: a_zip(t, {"a.txt": b"x"}),
     ["not a Keras model", "no config.json"]),
    ("a model nnc build wrote", lambda s, t: built_model(t),
     ["has no .arch source in it", "nor a training record"]),
]


@pytest.mark.parametrize("command", ["eval", "lesion"])
@pytest.mark.parametrize("make, words", [c[1:] for c in MODEL_CASES],
                         ids=[c[0] for c in MODEL_CASES])
def test_eval_and_lesion_name_the_damaged_piece_of_a_model_file(make, words, command,
                                                                model_file, tmp_path, capsys):
    target = tmp_path / "bad.keras"
    make(model_file, target)
    capsys.readouterr()
    refused([command, str(target)], capsys, tmp_path, [*words, f"Received: {target}"])


def test_the_good_model_file_opens(model_file):
    """The control for the cases above."""
    from nnc.experiments.model_file import open_model
    saved = open_model(str(model_file))
    assert saved.info["data"]["spec"] == "digits"
    assert saved.model.count_params() == saved.compiled.stats.totals.params


def test_a_model_path_that_is_a_directory_or_missing(tmp_path, capsys):
    user_directory(tmp_path / "d.keras")
    for path in (tmp_path / "d.keras", tmp_path / "missing.keras"):
        before = snapshot(tmp_path)
        assert cli.main(["eval", str(path)]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and f"Received: {path}" in err
        assert snapshot(tmp_path) == before


# --- interrupted runs: identity and epochs -----------------------------------------------------


@pytest.fixture(scope="module")
def interrupted(tmp_path_factory) -> Path:
    """The checkpoints of tiny.arch (batch 4) killed during its third epoch: a backup
    after epoch 2."""
    directory = tmp_path_factory.mktemp("interrupted")
    (directory / "tiny.arch").write_text(TINY)
    run = subprocess.Popen([sys.executable, "-m", "nnc", "train", "tiny.arch", "--epochs",
                            "30", "--batch", "4", "-o", "m.keras", "--checkpoints", "ck"],
                           cwd=directory, text=True, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT,
                           env={**os.environ, "PYTHONUNBUFFERED": "1",
                                "TF_CPP_MIN_LOG_LEVEL": "2"})
    read_until(run, "Epoch 3/30", seconds=240)
    run.kill()
    run.wait()
    metadata = json.loads((directory / "ck" / "backup" / "training_metadata.json").read_text())
    assert metadata["epoch"] == 2
    assert (directory / "ck" / "nnc-checkpoint.json").exists()
    return directory / "ck"


@pytest.fixture
def work_with(interrupted, tmp_path, monkeypatch):
    """A directory holding tiny.arch, other.arch and a copy of the interrupted run's
    checkpoints under the given name."""
    def make(name: str) -> Path:
        (tmp_path / "tiny.arch").write_text(TINY)
        (tmp_path / "other.arch").write_text(OTHER)
        shutil.copytree(interrupted, tmp_path / name)
        monkeypatch.chdir(tmp_path)
        return tmp_path
    return make


@pytest.mark.slow
@pytest.mark.parametrize("argv, words", [
    (["other.arch", "--epochs", "30", "--batch", "4"],
     ["are of another run",
      "network source ('tiny' from tiny.arch, now 'tiny' from other.arch)", "--restart"]),
    (["tiny.arch", "--epochs", "30", "--batch", "4", "--lr", "0.01"],
     ["are of another run", "recipe (learning_rate 0.001, now 0.01)"]),
    (["tiny.arch", "--epochs", "30", "--batch", "4", "--seed", "1"],
     ["are of another run", "data (digits, now digits, changed since)", "seed 0, now 1"]),
    (["tiny.arch", "--epochs", "1", "--batch", "4"],
     ["already hold 2 epochs of this run", "asked for 1", "more than 2", "Received: epochs=1"]),
    (["tiny.arch", "--epochs", "2", "--batch", "4"], ["already hold 2 epochs"]),
], ids=["bug4: another network", "another recipe", "another split", "bug5: fewer epochs",
        "bug5: as many epochs"])
@pytest.mark.parametrize("checkpoints", ["--checkpoints", "default"])
def test_checkpoints_resume_only_their_own_run(argv, words, checkpoints, work_with, capsys):
    given = checkpoints == "--checkpoints"
    work = work_with("ck" if given else "m.keras.ckpt")
    refused(["train", *argv, "-o", "m.keras", *(["--checkpoints", "ck"] if given else [])],
            capsys, work, words)


@pytest.mark.slow
def test_checkpoints_of_the_same_run_resume(work_with, capsys):
    work = work_with("m.keras.ckpt")
    assert cli.main(["train", "tiny.arch", "--epochs", "3", "--batch", "4",
                     "-o", "m.keras"]) == 0
    captured = capsys.readouterr()
    assert "resuming after epoch 2" in captured.err
    assert "trained 3 epochs, 2 of them restored from the backup" in captured.out
    assert sorted(os.listdir(work)) == ["m.keras", "other.arch", "tiny.arch"]


@pytest.mark.slow
def test_restart_discards_only_checkpoints_nnc_made(work_with, capsys):
    """train(restart=True), which `nnc train --restart` calls, trains another network
    afresh where an interrupted run left its checkpoints; a directory without nnc's
    record is refused all the same."""
    import nnc
    from nnc.errors import TrainError
    from nnc.experiments import data, recipe
    from nnc.experiments.train import train
    work = work_with("ck")
    user_directory(work / "userdir")
    other = nnc.load("other.arch")
    plan = recipe.load(None, epochs=1, batch_size=32)
    dataset = data.load("digits", (8, 8, 1), plan.seed)
    notes = []
    before = snapshot(work)
    with pytest.raises(TrainError, match="holds files nnc did not write"):
        train(other, dataset, plan, "m.keras", "userdir", restart=True, log=notes.append)
    assert snapshot(work) == before
    trained = train(other, dataset, plan, "m.keras", "ck", restart=True, log=notes.append)
    assert (trained.epochs, trained.resumed_from) == (1, 0)
    assert notes == ["discarded the checkpoints in ck: training starts afresh"]
    record = json.loads((work / "ck" / "nnc-checkpoint.json").read_text())
    assert record["file"] == "other.arch"
    assert not (work / "ck" / "backup").exists()
    assert snapshot(work)["userdir/notes.txt"] == before["userdir/notes.txt"]
