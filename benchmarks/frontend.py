"""The front end: `nnc stats` on ResNet-152 against building keras.applications.ResNet152
to count its parameters, each in a fresh process; what the start-up costs; and how
parse + check + stats grow with generated ResNets of 1,000 to 100,000 residual units.

Times are the best of several runs (the one least disturbed by other work on the
machine); memory is the peak resident set of the process (Linux's ru_maxrss).
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from common import ARCHITECTURES, NNC, best_process, best_processes, mib, seconds, table

RESNET152 = ARCHITECTURES / "resnet152.arch"
KERAS_COUNT = ("import keras; "
               "print(keras.applications.ResNet152(weights=None).count_params())")
START_UP = {  # what any front end pays before its first line of work
    "python -c pass": "pass",
    "python -c 'import lark'": "import lark",
    "python -c 'import lark, networkx'": "import lark, networkx",
    "python -c 'import nnc.cli'": "import nnc.cli",
}
UNITS = (1_000, 10_000, 100_000)
GENERATED = """\
network resnet_{units}
input 32x32x3
default conv(bias=false)

block basic(w):
    residual:
        conv3-{{w}}, bn, relu
        conv3-{{w}}, bn
    relu

stem:  conv3-16, bn, relu
units: basic(16) x{units}
top:   avgpool, fc-10, softmax
"""


def against_keras(repeat: int) -> dict:
    runs = best_processes(repeat, {"nnc": NNC + ["stats", str(RESNET152)],
                                   "keras": [sys.executable, "-c", KERAS_COUNT]})
    ours, theirs = runs["nnc"][0], runs["keras"][0]
    start_up = {label: best_process(repeat * 2, [sys.executable, "-c", code])[0]
                for label, code in START_UP.items()}
    return {"ours": ours, "theirs": theirs, "start_up": start_up}


def against_keras_table(r: dict) -> str:
    rows = [["`nnc stats architectures/resnet152.arch`", seconds(r["ours"]), "1"],
            ["keras.applications.ResNet152(weights=None).count_params()",
             seconds(r["theirs"]), f"{r['theirs'] / r['ours']:.1f}× slower"]]
    rows += [[f"`{label}`", seconds(t), ""] for label, t in r["start_up"].items()]
    return table(["whole process", "time", "against nnc"], rows)


def scale(repeat: int, units=UNITS) -> list[dict]:
    """`nnc stats` on generated ResNets of `units` residual units."""
    results = []
    with tempfile.TemporaryDirectory() as directory:
        for n in units:
            path = Path(directory) / f"resnet_{n}.arch"
            path.write_text(GENERATED.format(units=n))
            t, memory = best_process(repeat, NNC + ["stats", str(path)])
            # the input, the stem's 3 layers, 7 per unit (5 in the body, the add, the
            # relu) and the head's 3; tests/test_bench.py checks the count
            results.append({"units": n, "layers": 7 * n + 7, "seconds": t,
                            "memory": memory, "phases": phases(path) if n == 10_000 else None})
    return results


def scale_table(results: list[dict]) -> str:
    rows, previous = [], None
    for r in results:
        growth = (f"{r['seconds'] / previous['seconds']:.1f}×",
                  f"{r['memory'] / previous['memory']:.1f}×") if previous else ("", "")
        rows.append([f"{r['units']:,}", f"{r['layers']:,}", seconds(r["seconds"]), growth[0],
                     f"{r['seconds'] / r['layers'] * 1e6:.1f}", mib(r["memory"]), growth[1],
                     f"{r['memory'] / r['layers']:,.0f}"])
        previous = r
    return table(["residual units", "layers", "`nnc stats`", "time ×", "µs per layer",
                  "peak memory", "memory ×", "bytes per layer"], rows)


def phases(path: Path) -> dict[str, float]:
    """Where the time of one `nnc stats` goes, in this process (nnc already imported),
    with the garbage collector paused as the command pauses it."""
    from nnc.analysis import compiled as driver
    from nnc.analysis import lint, stats
    from nnc.lang import expand, parse
    from nnc.present import report
    text = driver.read_source(str(path))
    times = {}

    def timed(label, call):
        start = time.perf_counter()
        result = call()
        times[label] = time.perf_counter() - start
        return result
    with driver.collector_paused():
        program = timed("parse", lambda: parse.parse_text(text, str(path)))
        net = timed("expand and check shapes", lambda: expand.expand(program, text))
        counted = timed("count (stats)", lambda: stats.compute(net))
        timed("lint and expect lines", lambda: (lint.lint(net), driver.check_expectations(
            driver.Compiled(net, counted))))
        timed("report (receptive fields, memory, paths, text)",
              lambda: report.format_stats(counted))
    return times


def phases_table(times: dict[str, float]) -> str:
    total = sum(times.values())
    return table(["phase (10,000 units, in-process)", "time", "share"],
                 [[label, seconds(t), f"{t / total:.0%}"] for label, t in times.items()])
