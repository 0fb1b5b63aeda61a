"""The checkpoint directory of `nnc train` and its identity.

The directory says which run it is of (`nnc-checkpoint.json`, written when nnc makes
it): the network's source, the data and the recipe. A run resumes only from checkpoints
of the same run, and refuses those of another one, saying what differs; `restart=True`
(`nnc train --restart`) discards them, but only in a directory nnc made. A directory that
holds anything else is never written into.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil

import keras
import numpy as np

from nnc.backends.destination import existing
from nnc.errors import TrainError
from nnc.present.output import entries

IDENTITY = "nnc-checkpoint.json"  # in a checkpoint directory: which run it is of
BACKUP, LAST = "backup", "last.keras"  # also in it: Keras's backup, the latest model


def check_checkpoint_path(base: str, path: str, option: str) -> None:
    if os.path.abspath(base) == os.path.abspath(path):
        raise TrainError(f"the checkpoint directory cannot be the output file itself. "
                         f"Received: {option}")
    parent = os.path.dirname(os.path.abspath(base))
    if not os.path.isdir(parent):
        raise TrainError(f"the checkpoint directory's parent directory does not exist; "
                         f"nnc does not create it. Received: {option} (no directory "
                         f"{parent})")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise TrainError(f"cannot write in the checkpoint directory's parent directory "
                         f"(no permission). Received: {option} (directory {parent})")
    refuse_non_directory(base, option)


def refuse_non_directory(directory: str, option: str) -> None:
    """Checkpoints go in a directory (or a link to one): a file is refused, never replaced."""
    if os.path.lexists(directory) and not os.path.isdir(directory):
        what = existing(directory)
        raise TrainError(f"the checkpoints are a directory, which nnc makes, but "
                         f"{directory} is {what}, which nnc "
                         f"will not replace: name a directory. Received: {option}")


def check_worker_base(base: str, option: str) -> None:
    """Under multiworker, the checkpoint directory holds one directory per worker."""
    if os.path.isdir(base):
        others = [n for n in os.listdir(base) if not n.startswith("worker-")]
        if others:
            raise TrainError(f"the checkpoint directory {base} holds files nnc did not "
                             f"write there (it holds {entries(base)}): nnc does not write "
                             f"into it: name a new or empty directory with --checkpoints. "
                             f"Received: {option}")


def identity_of(compiled, data, recipe) -> dict:
    """What decides a run: the network's source, the data (the images and labels of both
    splits) and the recipe (its epochs only where the schedule spans them)."""
    net = compiled.network
    digest = hashlib.sha256()
    for array in (data.x_train, data.y_train, data.x_test, data.y_test):
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype}{array.shape}".encode())
        digest.update(array.data)
    plan = {k: v for k, v in recipe.json().items() if k not in ("source", "epochs")}
    if recipe.schedule == "cosine":  # the learning rate decays over all the epochs
        plan["epochs"] = recipe.epochs
    return {"checkpoints_of": "nnc train", "network": net.name,
            "file": os.path.basename(net.file),
            "source_sha256": hashlib.sha256(net.source.encode()).hexdigest(),
            "data": {"spec": data.name, "sha256": digest.hexdigest()},
            "recipe": plan, "backend": keras.backend.backend()}


def inspect_checkpoints(directory: str, identity: dict, recipe, restart: bool,
                        option: str) -> tuple[int, bool | None]:
    """The epochs to resume after, and whether nnc made the directory (None: there is no
    directory; False: an empty one nnc did not make, used and kept). Refuses, before
    anything is written or deleted, checkpoints nnc did not make, those of another run,
    and a run asked for no more epochs than its checkpoints already hold."""
    refuse_non_directory(directory, option)
    if not os.path.lexists(directory):
        return 0, None
    names = set(os.listdir(directory))
    if IDENTITY not in names:
        if names:
            older = (" (if these are the checkpoints of an older nnc, which did not record "
                     "which run they are of, remove the directory to train afresh)"
                     if names <= {BACKUP, LAST} else "")
            raise TrainError(
                f"the checkpoint directory {directory} holds files nnc did not write there "
                f"(it holds {entries(directory)}, and no {IDENTITY}): nnc neither resumes "
                f"from it nor writes into it: name a new or empty directory with "
                f"--checkpoints{older}. Received: {option}")
        return 0, False  # an empty directory: used, and kept
    stored = read_identity(os.path.join(directory, IDENTITY), restart, option)
    made = bool(stored.get("made_directory", True)) if stored else True
    if restart:
        return 0, made
    done = epochs_in_backup(os.path.join(directory, BACKUP))
    differences = differing(stored, identity)
    if differences and names & {BACKUP, LAST}:
        raise TrainError(
            f"the checkpoints in {directory} are of another run, which differs in its "
            f"{'; its '.join(differences)}. nnc resumes only the run they are of: pass "
            f"--restart to discard them and train afresh, or name other checkpoints with "
            f"--checkpoints. Received: {option}")
    if done >= recipe.epochs:
        raise TrainError(
            f"the checkpoints in {directory} already hold {done} epochs of this run, and "
            f"it is asked for {recipe.epochs} in all: ask for more than {done} epochs "
            f"(--epochs) to resume it, or pass --restart to discard the checkpoints and "
            f"train afresh. Received: epochs={recipe.epochs}")
    return done, made


def read_identity(path: str, restart: bool, option: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as f:
            stored = json.load(f)
        if isinstance(stored, dict) and stored.get("checkpoints_of") == "nnc train":
            return stored
        why = "it is not the record nnc writes"
    except (OSError, ValueError) as e:
        why = str(getattr(e, "strerror", None) or e)
    if restart:
        return None  # nnc's name for it: discarded with the rest
    raise TrainError(f"cannot read which run the checkpoints are of ({path}: {why}): pass "
                     f"--restart to discard them and train afresh. Received: {option}")


def differing(stored: dict, identity: dict) -> list[str]:
    """What differs between two runs, in words, e.g. `recipe (learning_rate 0.001, now
    0.01)`."""
    said = []
    if stored.get("source_sha256") != identity["source_sha256"]:
        then = f"'{stored.get('network')}' from {stored.get('file')}"
        now = f"'{identity['network']}' from {identity['file']}"
        said.append(f"network source ({then}, now {now}"
                    + (", changed since" if then == now else "") + ")")
    then, now = stored.get("data") or {}, identity["data"]
    if then.get("sha256") != now["sha256"]:
        said.append(f"data ({then.get('spec')}, now {now['spec']}"
                    + (", changed since" if then.get("spec") == now["spec"] else "") + ")")
    then, now = stored.get("recipe") or {}, identity["recipe"]
    keys = [k for k in sorted(set(then) | set(now)) if then.get(k) != now.get(k)]
    if keys:
        said.append("recipe (" + ", ".join(
            f"{k} {then.get(k, 'unset')}, now {now.get(k, 'unset')}" for k in keys) + ")")
    if stored.get("backend") != identity["backend"]:
        said.append(f"Keras backend ({stored.get('backend')}, now "
                    f"{identity['backend']})")
    return said


def discard(directory: str, made: bool) -> None:
    """Removes what nnc writes in a checkpoint directory, and the directory itself if
    nnc made it and nothing else is left in it."""
    shutil.rmtree(os.path.join(directory, BACKUP), ignore_errors=True)
    for name in os.listdir(directory):
        if name in (LAST, IDENTITY) or (name.startswith((f".{LAST}.", f".{IDENTITY}."))
                                        and ".tmp" in name):
            with contextlib.suppress(OSError):
                os.remove(os.path.join(directory, name))
    if made:
        with contextlib.suppress(OSError):
            os.rmdir(directory)


def epochs_in_backup(backup: str) -> int:
    try:
        with open(os.path.join(backup, "training_metadata.json"), encoding="utf-8") as f:
            return int(json.load(f)["epoch"])
    except (OSError, ValueError, KeyError):
        return 0
