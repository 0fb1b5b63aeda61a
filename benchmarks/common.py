"""What the benchmark sections share: the machine's description, timing a command in a
fresh process (with its peak memory), and Markdown tables."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
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
    from nnc.bench import cpu_name
    backend = keras.backend.backend()
    framework = __import__(backend)
    return (f"{platform.system()} {platform.machine()}, {cpu_name()}, {os.cpu_count()} "
            f"cores; Python {platform.python_version()}, Keras {keras.__version__} "
            f"(backend {backend} {framework.__version__}), lark {lark.__version__}, "
            f"networkx {networkx.__version__}")


def best_of(repeat: int, run) -> float:
    """The shortest of `repeat` runs: the run least disturbed by other work."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def run_process(command: list[str]) -> tuple[float, int]:
    """Seconds and peak resident memory (bytes) of one run of `command`, which must
    succeed. Output is discarded; stderr is shown if the command fails."""
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=errors,
                                   env=QUIET)
        _, status, usage = os.wait4(process.pid, 0)  # the rusage of this child alone
        seconds = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode != 0:
            errors.seek(0)
            raise RuntimeError(f"{' '.join(command)} failed:\n"
                               f"{errors.read().decode()[-2000:]}")
    return seconds, usage.ru_maxrss * 1024  # Linux reports KiB


def best_process(repeat: int, command: list[str]) -> tuple[float, int]:
    """The shortest time of `repeat` runs, and the largest peak memory."""
    runs = [run_process(command) for _ in range(repeat)]
    return min(t for t, _ in runs), max(m for _, m in runs)


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
