"""What the benchmark sections share: the machine's description, timing a command in a
fresh process (with its peak memory), and Markdown tables."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURES = ROOT / "architectures"
FIXTURES = ROOT / "tests" / "fixtures"
QUIET = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
NNC = [sys.executable, "-m", "nnc"]


def machine() -> str:
    """The processor, the core count and the versions that the timings depend on."""
    import keras
    import lark
    import networkx

    from nnc.backends.keras.bench import cpu_name
    backend = keras.backend.backend()
    framework = __import__(backend)
    return (f"{platform.system()} {platform.machine()}, {cpu_name()}, {os.cpu_count()} "
            f"cores; Python {platform.python_version()}, Keras {keras.__version__} "
            f"(backend {backend} {framework.__version__}), lark {lark.__version__}, "
            f"networkx {networkx.__version__}")


# Linux keeps a process's peak memory across exec, so a command started from this
# process (which may hold Keras) would report this process's peak: each command is
# started from a small Python process that times it and reports its peak alone.
LAUNCHER = """
import resource, subprocess, sys, time
start = time.perf_counter()
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
seconds = time.perf_counter() - start
print(seconds, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024, code)
"""


class CommandFailed(RuntimeError):
    """A timed command that did not succeed: its exit status (negative: the signal that
    killed it) and its peak memory."""

    def __init__(self, command: list[str], status: int, memory: int, errors: str):
        super().__init__(f"{' '.join(command)} failed (exit status {status}):\n{errors}")
        self.status, self.memory = status, memory


def run_process(command: list[str]) -> tuple[float, int]:
    """Seconds and peak resident memory (bytes) of one run of `command`, which must
    succeed. Its output is discarded; its stderr is shown if it fails."""
    with tempfile.TemporaryFile() as errors:
        launched = subprocess.run([sys.executable, "-c", LAUNCHER, *command], env=QUIET,
                                  stdout=subprocess.PIPE, stderr=errors, text=True)
        seconds, memory, code = launched.stdout.split()
        if launched.returncode or int(code):
            errors.seek(0)
            raise CommandFailed(command, int(code), int(memory),
                                errors.read().decode()[-2000:])
    return float(seconds), int(memory)


def best_processes(repeat: int, commands: dict[str, list[str]]) -> dict[str, tuple]:
    """For each command, the shortest time of `repeat` runs and the largest peak
    memory. The commands run in turn, round after round, so that a change in the
    machine's load falls on all of them alike."""
    runs = {name: [] for name in commands}
    for _ in range(repeat):
        for name, command in commands.items():
            runs[name].append(run_process(command))
    return {name: (min(t for t, _ in r), max(m for _, m in r)) for name, r in runs.items()}


def best_process(repeat: int, command: list[str]) -> tuple[float, int]:
    return best_processes(repeat, {"": command})[""]


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A Markdown table; every column but the first is right-aligned (numbers)."""
    lines = ["| " + " | ".join(headers) + " |",
             "| " + " | ".join(["---"] + ["---:"] * (len(headers) - 1)) + " |"]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines)


def seconds(t: float) -> str:
    return f"{t:.2f} s" if t >= 0.1 else f"{t * 1e3:.0f} ms"


def mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"
