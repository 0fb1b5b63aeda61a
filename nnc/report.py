"""Text reports: the per-row table of `nnc stats` in the papers' layout (GoogLeNet
Table 1's columns), the per-layer table of `--expand`, and the side-by-side comparison
of several networks (VGG Table 2)."""
from __future__ import annotations

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


def format_stats(stats: Stats, expand: bool = False) -> str:
    net = stats.network
    graph = net.graph
    lines = [f"network {net.name}  ({net.file})",
             f"input {dims(graph.nodes[net.input]['shape'])}, output "
             f"{dims(graph.nodes[net.output]['shape'])}",
             f"counting: {CONVENTIONS}", ""]
    if expand:
        headers = ["layer", "kind", "output", "params", "MACs", "line"]
        body = [[name, d["kind"], dims(d["shape"]), f"{sum(d['params']):,}",
                 human(d["macs"]), str(d["coord"].line)]
                for name, d in graph.nodes(data=True)]
        lines.append(table(headers, body, {3, 4, 5}))
    else:
        headers = ["row", "type", "patch/stride", "output", "depth", "params", "MACs"]
        body = [[r.name + (" (head)" if r.head else ""), r.type, r.patch,
                 dims(r.output_shape), str(r.depth), f"{r.totals.params:,}",
                 human(r.totals.macs)] for r in stats.rows]
        lines.append(table(headers, body, {4, 5, 6}))
    lines += ["", f"weight layers (depth): {stats.weight_layers}"]
    lines += totals_lines("", stats.totals)
    if net.heads:
        lines += totals_lines("without heads: ", stats.main)
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
