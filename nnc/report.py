"""Text reports: the per-row table of `nnc stats` in the papers' layout (GoogLeNet
Table 1's columns), the per-layer table of `--expand`, and the side-by-side comparison
of several networks (VGG Table 2)."""
from __future__ import annotations

from . import analysis
from .expects import human
from .registry import dims
from .stats import CONVENTIONS, Stats, Totals


def table(headers: list[str], rows: list[list[str]], numeric: set[int]) -> str:
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows)]
    lines = []
    for cells in [headers, *rows]:
        lines.append("  ".join(str(c).rjust(w) if i in numeric else str(c).ljust(w)
                               for i, (c, w) in enumerate(zip(cells, widths))).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def totals_lines(label: str, t: Totals) -> list[str]:
    return [f"{label}params: {t.params:,} (trainable {t.trainable:,}, "
            f"non-trainable {t.non_trainable:,})",
            f"{label}MACs: {t.macs:,} ({human(t.macs)}); FLOPs: {human(2 * t.macs)}; "
            f"connections: {t.connections:,}"]


def format_stats(stats: Stats, expand: bool = False, batch: int = 1,
                 dtype: str = "float32") -> str:
    net = stats.network
    graph = net.graph
    fields = analysis.receptive_fields(net)
    lines = [f"network {net.name}  ({net.file})",
             f"input {dims(graph.nodes[net.input]['shape'])}, output "
             f"{dims(graph.nodes[net.output]['shape'])}",
             f"counting: {CONVENTIONS}", ""]
    if expand:
        headers = ["layer", "kind", "output", "field/stride", "params", "MACs",
                   "connections", "line"]
        body = [[name, d["kind"], dims(d["shape"]), fields[name].text(),
                 f"{sum(d['params']):,}", human(d["macs"]), f"{d['connections']:,}",
                 str(d["coord"].line)]
                for name, d in graph.nodes(data=True)]
        lines.append(table(headers, body, {3, 4, 5, 6, 7}))
    else:
        headers = ["row", "type", "patch/stride", "output", "field/stride", "depth",
                   "params", "MACs", "connections"]
        body = [[r.name + (" (head)" if r.head else ""), r.type, r.patch,
                 dims(r.output_shape), fields[row.output].text(), str(r.depth),
                 f"{r.totals.params:,}", human(r.totals.macs), f"{r.totals.connections:,}"]
                for r, row in zip(stats.rows, net.rows)]
        lines.append(table(headers, body, {4, 5, 6, 7, 8}))
    lines += ["", f"weight layers (depth): {stats.weight_layers}"]
    lines += totals_lines("", stats.totals)
    if net.heads:
        lines += totals_lines("without heads: ", stats.main)
    lines += ["", "field/stride: the receptive field in input pixels and the step between "
                  "neighbouring outputs' fields"]
    lines += ["", *analysis.format_memory(analysis.memory(net, batch, dtype))]
    lines += ["", *analysis.format_paths(analysis.paths(net))]
    return "\n".join(lines)


def format_comparison(all_stats: list[Stats]) -> str:
    """One column per network, one line per figure."""
    headers = ["", *(s.network.name for s in all_stats)]
    figures = [
        ("input", lambda s: dims(s.network.graph.nodes[s.network.input]["shape"])),
        ("weight layers", lambda s: str(s.weight_layers)),
        ("params", lambda s: f"{s.totals.params:,}"),
        ("params (millions)", lambda s: f"{s.totals.params / 1e6:.1f}"),
        ("trainable", lambda s: f"{s.totals.trainable:,}"),
        ("MACs", lambda s: human(s.totals.macs)),
        ("FLOPs", lambda s: human(2 * s.totals.macs)),
        ("connections", lambda s: f"{s.totals.connections:,}"),
    ]
    body = [[label, *(fn(s) for s in all_stats)] for label, fn in figures]
    return table(headers, body, set(range(1, len(headers)))) + f"\n\ncounting: {CONVENTIONS}"
