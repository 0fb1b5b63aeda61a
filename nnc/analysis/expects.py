"""`expect` lines: the paper's figures stated inside the .arch file, checked against
the computed stats.

    expect params.trainable = 25,557,032      exact
    expect macs ≈ 3.8G ±2%                   within a tolerance
    expect params ≈ 138M                     within the precision written (±0.5M)
    expect inception_3a.output = 28x28x256   a row's output shape

A metric is `params[.total|.trainable|.non_trainable]`, `macs`, `flops`, `connections`,
`weight_layers`, optionally after a row name (`inception_3a.macs`, which also knows
`output` and `depth`) or `inference.` (the network without its side heads).
"""
from __future__ import annotations

import re

from nnc.analysis.stats import Stats, Totals
from nnc.errors import ArchNameError, ExpectationError, did_you_mean
from nnc.lang import ast
from nnc.lang.parse import UNIT_SUFFIXES
from nnc.wording import human

TOTAL_METRICS = ("params", "params.total", "params.trainable", "params.non_trainable",
                 "macs", "flops", "connections")


def check(stats: Stats) -> list[ExpectationError]:
    """All failed expectations, and the expect lines that name no metric."""
    failures = []
    for expect in stats.network.expects:
        try:
            failure = check_one(stats, expect)
        except ArchNameError as e:  # an unknown metric: report it, check the rest
            failure = e
        if failure:
            failures.append(failure)
    return failures


def check_one(stats: Stats, expect: ast.Expect) -> ExpectationError | None:
    got = metric_value(stats, expect)
    m = expect.measure
    name = ".".join(expect.metric)
    want = m.value
    if isinstance(got, tuple) and len(got) == 1 and not isinstance(want, tuple):
        want = (want,)  # `expect fc.output = 1000`: a vector's shape is one number
    if isinstance(want, tuple) or isinstance(got, tuple):
        if not (isinstance(want, tuple) and isinstance(got, tuple)):
            raise ArchNameError(f"{name} is a {'shape' if isinstance(got, tuple) else 'number'}"
                                f". Received: {m.text}", m.coord)
        if tuple(got) == want:
            return None
        return ExpectationError(f"{name} is {'x'.join(map(str, got))}, expected {m.text}",
                                expect.coord)
    low, high = bounds(expect)
    if low <= got <= high:
        return None
    allowed = ("" if expect.compare == "=" else
               f" (allowed {human(low)} to {human(high)})")
    tol = f" {expect.tolerance.text}" if expect.tolerance else ""
    shown = f"{got:,}" + (f" ({human(got)})" if got >= 1000 else "")
    return ExpectationError(f"{name} is {shown}, expected "
                            f"{'' if expect.compare == '=' else '≈ '}{m.text}{tol}{allowed}",
                            expect.coord)


def bounds(expect: ast.Expect) -> tuple[float, float]:
    value, t = expect.measure.value, expect.tolerance
    if t is not None:  # an explicit tolerance holds for '=' and '≈' alike
        delta = value * t.amount / 100 if t.percent else t.amount
    elif expect.compare == "=":
        delta = 0
    else:  # ≈ with no tolerance: the precision the figure is written to
        delta = written_precision(expect.measure.text) / 2
    return value - delta, value + delta


def written_precision(text: str) -> float:
    """The value of one unit in the last written digit: `3.8G` -> 0.1G, `138M` -> 1M,
    `1.5e3` -> 100."""
    m = re.fullmatch(r"[\d,]*(?:\.(\d*))?(?:[eE]([+-]?\d+))?(\w*)", text)
    decimals, exponent = len(m.group(1) or ""), int(m.group(2) or 0)
    return 10.0 ** (exponent - decimals) * UNIT_SUFFIXES.get(m.group(3), 1)


def metric_value(stats: Stats, expect: ast.Expect):
    path = expect.metric
    if path[0] == "inference":
        return totals_metric(stats.main, path[1:], expect)
    if path == ("weight_layers",) or path == ("depth",):
        return stats.weight_layers
    if ".".join(path) in TOTAL_METRICS or path[0] in TOTAL_METRICS:
        return totals_metric(stats.totals, path, expect)
    row = stats.row(path[0])
    if row is None:
        names = [r.name for r in stats.rows] + ["params", "macs", "flops", "connections",
                                                "weight_layers", "inference"]
        raise ArchNameError(f"unknown metric or row '{path[0]}'{did_you_mean(path[0], names)}",
                            expect.coord)
    if path[1:] == ("output",):
        return row.output_shape
    if path[1:] == ("depth",):
        return row.depth
    return totals_metric(row.totals, path[1:], expect)


def totals_metric(t: Totals, path: tuple, expect: ast.Expect):
    values = {"params": t.params, "params.total": t.params, "params.trainable": t.trainable,
              "params.non_trainable": t.non_trainable, "macs": t.macs, "flops": 2 * t.macs,
              "connections": t.connections}
    key = ".".join(path)
    if key not in values:
        raise ArchNameError(f"unknown metric '{'.'.join(expect.metric)}'"
                            f"{did_you_mean(key, values)} Metrics: "
                            f"{', '.join(values)}, output, depth.", expect.coord)
    return values[key]
