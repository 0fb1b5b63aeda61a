"""Writing outputs so that nothing is lost: every file or directory nnc writes is made
beside its destination under a hidden temporary name and moved into place only once
complete, so a failed or interrupted command never leaves half a file nor clobbers a
good one.

Two nnc commands must not write the same output at once: `output_lock` takes an
exclusive lock (flock) on a lock file beside the output, `.NAME.lock`, which nnc creates
and removes, and refuses a second command at once. A lock dies with its process, so a
killed command leaves at most a stale lock file, which the next command takes over."""
from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import time
from contextlib import contextmanager

from nnc.errors import ArchIOError


def write_atomically(path: str, data: bytes) -> None:
    """Write beside `path`, then rename: a failed write never leaves half a file."""
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise ArchIOError(f"cannot write '{path}': it is a directory; name a file to "
                          f"write. Received: {path}")
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
                                             suffix=".tmp" + os.path.splitext(path)[1].lower(),
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


def entries(path: str, shown: int = 3) -> str:
    """`notes.txt, data/ and 2 more` for messages about a directory's contents."""
    try:
        names = sorted(os.listdir(path))
    except OSError:
        return "?"
    if not names:
        return "nothing"
    listed = [n + ("/" if os.path.isdir(os.path.join(path, n)) else "") for n in names[:shown]]
    more = len(names) - len(listed)
    return ", ".join(listed) + (f" and {more} more" if more else "")


def holds_cwd(path: str) -> bool:
    """Whether `path` is the current directory or one above it: never to be replaced."""
    try:
        here, there = os.path.realpath(os.getcwd()), os.path.realpath(path)
    except OSError:
        return False
    return here == there or here.startswith(there.rstrip(os.sep) + os.sep)


# --- locks ---------------------------------------------------------------------------------

LOCK_MARK = b"nnc lock file: an nnc command writing the output beside it holds it\n"


def lock_path(path: str, name: str = "") -> str:
    folder, base = os.path.split(os.path.normpath(path))
    if base in ("", ".", ".."):  # a name such as '.': the lock goes beside its real name
        folder, base = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f".{base}{name}.lock")


@contextmanager
def output_lock(path: str, error: type, received: str, name: str = ""):
    """Holds an exclusive lock on the output `path` (a lock file `.BASE{name}.lock`
    beside it) while the block runs; another holder refuses with `error`, whose message
    ends `Received: {received}`. The directory beside which the lock goes must exist."""
    lock = lock_path(path, name)
    handle = acquire(lock, path, error, received)
    try:
        yield lock
    finally:
        try:  # removed while still held: a waiting opener then finds it gone and retries
            os.unlink(lock)
        except OSError:
            pass
        os.close(handle)


def acquire(lock: str, path: str, error: type, received: str) -> int:
    for _ in range(50):
        handle = open_lock_file(lock, error, received)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            raise error(f"another nnc command is writing {path} now (it holds the lock "
                        f"{lock}): wait until it ends, or write elsewhere. "
                        f"Received: {received}") from None
        except OSError as e:
            os.close(handle)
            raise error(f"cannot lock {lock} ({e.strerror}), so nnc cannot tell whether "
                        f"another command is writing {path}. Received: {received}") from None
        try:
            held = os.stat(lock, follow_symlinks=False)
            mine = os.fstat(handle)
            if (held.st_dev, held.st_ino) == (mine.st_dev, mine.st_ino):
                return handle
        except OSError:
            pass
        os.close(handle)  # its holder removed it as we took it: take the new one
    raise error(f"cannot take the lock {lock}: other commands keep taking it. "
                f"Received: {received}")


def open_lock_file(lock: str, error: type, received: str) -> int:
    """Creates the lock file (with its mark), or opens the one there if nnc made it."""
    try:
        handle = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
    except FileExistsError:
        pass
    except OSError as e:
        raise error(f"cannot create the lock file {lock}: {e.strerror}. "
                    f"Received: {received}") from None
    else:
        os.write(handle, LOCK_MARK)
        return handle
    for _ in range(20):
        try:
            handle = os.open(lock, os.O_RDWR | os.O_NOFOLLOW)
        except FileNotFoundError:
            return open_lock_file(lock, error, received)  # its holder just removed it
        except OSError:
            break  # a directory, a link: not nnc's
        text = os.read(handle, len(LOCK_MARK))
        if text == LOCK_MARK:
            return handle
        os.close(handle)
        if text:
            break
        time.sleep(0.05)  # empty: another nnc command may be writing its mark now
    raise error(f"{lock} is in the way of the lock file nnc makes there, and nnc did not "
                f"write it: rename or remove it, or write elsewhere. Received: {received}")
