"""Writing outputs so that nothing is lost: every file or directory nnc writes is made
beside its destination under a hidden temporary name and moved into place only once
complete, so a failed or interrupted command never leaves half a file nor clobbers a
good one."""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager

from nnc.errors import ArchIOError


def write_atomically(path: str, data: bytes) -> None:
    """Write beside `path`, then rename: a failed write never leaves half a file."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.",
                                             suffix=".tmp", dir=directory)
    except OSError as e:
        raise ArchIOError(f"cannot write '{path}': {e.strerror}") from None
    try:
        with os.fdopen(handle, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp's files are private
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


@contextmanager
def atomic_output(path: str, directory: bool = False):
    """Yields a temporary path beside `path` to write (a file, or a directory such as a
    SavedModel); moves it into place on success and removes it on failure."""
    folder, base = os.path.split(os.path.abspath(path))
    if directory:
        temporary = tempfile.mkdtemp(prefix=f".{base}.", suffix=".tmp", dir=folder)
    else:  # the suffix stays last: Keras saves only to a name ending in .keras
        handle, temporary = tempfile.mkstemp(prefix=f".{base}.",
                                             suffix=".tmp" + os.path.splitext(path)[1],
                                             dir=folder)
        os.close(handle)
    try:
        yield temporary
        make_public(temporary)
        move_into_place(temporary, path)
    except BaseException:
        remove(temporary)
        raise


def make_public(path: str) -> None:
    """mkstemp and mkdtemp make private files; give the output the usual permissions."""
    umask = os.umask(0)
    os.umask(umask)
    for root, dirs, files in os.walk(path) if os.path.isdir(path) else [("", [], [path])]:
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o777 & ~umask)
        for name in files:
            os.chmod(os.path.join(root, name), 0o666 & ~umask)
    if os.path.isdir(path):
        os.chmod(path, 0o777 & ~umask)


def move_into_place(temporary: str, path: str) -> None:
    if not os.path.isdir(temporary) or not os.path.exists(path):
        os.replace(temporary, path)
        return
    # rename() cannot replace a non-empty directory: set the old SavedModel aside first,
    # and put it back if the new one cannot take its place.
    old = temporary + ".old"
    os.rename(path, old)
    try:
        os.rename(temporary, path)
    except OSError:
        os.rename(old, path)
        raise
    shutil.rmtree(old, ignore_errors=True)


def remove(path: str) -> None:
    if os.path.isdir(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.exists(path):
        os.remove(path)


def size_on_disk(path: str) -> int:
    if not os.path.isdir(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(root, name))
               for root, _, files in os.walk(path) for name in files)
