"""Shared helpers: the repo's paths, the published figures, and compiling snippets."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

import nnc
from nnc.analysis.compiled import check_expectations

ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURES = ROOT / "architectures"
# A network small enough to train in seconds on the digits (tests of train and outputs).
TINY = """\
network tiny
input 8x8x1
default conv(bias=false)
conv1: conv3-4, bn, relu
pool:  maxpool
fc:    fc-10, softmax
"""
REFERENCE = ROOT / "tests" / "published.yaml"
# Rendering needs Graphviz's `dot` program, which CI installs (.ci/run): there a missing
# `dot` fails the tests that need it, elsewhere they are skipped with the reason.
IN_CI = bool(os.environ.get("CI"))
needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None and not IN_CI,
    reason="Graphviz's dot program is not installed (apt-get install graphviz; CI has it)")


@pytest.fixture(scope="session")
def reference() -> dict:
    """The published figures, each with its source (tests/published.yaml)."""
    assert REFERENCE.exists(), f"published figures not found at {REFERENCE}"
    return yaml.safe_load(REFERENCE.read_text())


def compile_source(source: str, file: str = "t.arch") -> nnc.Compiled:
    return nnc.compile_text(textwrap.dedent(source).lstrip("\n"), file)


def error_of(source: str, file: str = "t.arch") -> nnc.NncError:
    with pytest.raises(nnc.NncError) as info:
        compiled = compile_source(source, file)
        failures = check_expectations(compiled)
        if failures:
            raise failures[0]
    return info.value


def run_nnc(*args: str, cwd: Path | None = None, timeout: float = 120,
            env: dict | None = None) -> subprocess.CompletedProcess:
    """The command line as users run it, in a fresh process (with `env` added to the
    environment; training commands need a longer `timeout`)."""
    return subprocess.run([sys.executable, "-m", "nnc", *args], capture_output=True,
                          text=True, cwd=cwd or ROOT, timeout=timeout,
                          env={**os.environ, **env} if env else None)


@pytest.fixture(scope="session")
def load():
    """nnc.load on a shipped architecture, each compiled once per session."""
    cache: dict[str, nnc.Compiled] = {}

    def get(name: str) -> nnc.Compiled:
        if name not in cache:
            cache[name] = nnc.load(str(ARCHITECTURES / f"{name}.arch"))
        return cache[name]
    return get


def read_until(process: subprocess.Popen, text: str, seconds: float) -> str:
    """Lines of the process's output up to the one containing `text`."""
    seen: list[str] = []
    timer = threading.Timer(seconds, process.kill)  # a hung run fails, never hangs
    timer.start()
    try:
        for line in process.stdout:
            seen.append(line)
            if text in line:
                return "".join(seen)
    finally:
        timer.cancel()
    raise AssertionError(f"never printed {text!r}:\n{''.join(seen)[-3000:]}")


def ctrl_c_reaches_it() -> None:
    """preexec_fn for a process a test stops with Ctrl-C (SIGINT), as in a terminal: a
    shell that starts the test run in the background (`pytest &`, nohup, a CI script)
    ignores SIGINT there, every child inherits that, and Python then never turns it
    into KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@contextmanager
def served(path: Path):
    """`nnc view PATH --serve` on a free loopback port, as a user starts it: yields the
    process and the first line it printed (the address); on leaving, stops it with
    Ctrl-C (SIGINT) and keeps what it wrote to stderr as `process.errors`."""
    server = subprocess.Popen(
        [sys.executable, "-m", "nnc", "view", str(path), "--serve", "--port", "0"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=ctrl_c_reaches_it)
    try:
        yield server, server.stdout.readline()
    finally:
        server.send_signal(signal.SIGINT)
        server.errors = server.communicate(timeout=20)[1]
