"""Text reports: the per-row table of `nnc stats` in the papers' layout (GoogLeNet
Table 1's columns), the per-layer table of `--expand`, and the side-by-side comparison
of several networks (VGG Table 2)."""
from __future__ import annotations

from nnc.analysis.memory import DTYPE_BYTES, INCLUDES, Memory, fits, memory
from nnc.analysis.paths import MAX_DIGITS, Paths, count_paths
from nnc.analysis.receptive import receptive_fields
from nnc.analysis.stats import CONVENTIONS, Stats, Totals
from nnc.wording import dims, human, human_bytes


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


ROW_HEADERS = ["row", "type", "patch/stride", "output", "field/stride", "depth", "params",
               "MACs", "connections"]
ROW_NUMERIC = {4, 5, 6, 7, 8}  # the columns of figures, aligned right


def row_cells(stats: Stats, fields: dict) -> list[list[str]]:
    """The per-row table of `nnc stats` as text cells, one list per row, under
    ROW_HEADERS: the terminal and the notebook's HTML both show these."""
    return [[r.name + (" (head)" if r.head else ""), r.type, r.patch,
             dims(r.output_shape), fields[row.output].text(), str(r.depth),
             f"{r.totals.params:,}", human(r.totals.macs), f"{r.totals.connections:,}"]
            for r, row in zip(stats.rows, stats.network.rows)]


def format_stats(stats: Stats, expand: bool = False, batch: int = 1,
                 dtype: str = "float32", optimizer: str = "adam",
                 budget: int | None = None) -> str:
    net = stats.network
    fields = receptive_fields(net)
    lines = [f"network {net.name}  ({net.file})",
             f"input {dims(net.shape(net.input))}, output {dims(net.shape(net.output))}",
             f"counting: {CONVENTIONS}", ""]
    if expand:
        headers = ["layer", "kind", "output", "field/stride", "params", "MACs",
                   "connections", "line"]
        body = [[name, layer.kind.name, dims(layer.shape), fields[name].text(),
                 f"{sum(layer.params):,}", human(layer.macs), f"{layer.connections:,}",
                 str(layer.coord.line)]
                for name, layer in net.layers.items()]
        lines.append(table(headers, body, {3, 4, 5, 6, 7}))
    else:
        lines.append(table(ROW_HEADERS, row_cells(stats, fields), ROW_NUMERIC))
    lines += ["", f"weight layers (depth): {stats.weight_layers}"]
    lines += totals_lines("", stats.totals)
    if net.heads:
        lines += totals_lines("without heads: ", stats.main)
    lines += ["", "field/stride: the receptive field in input pixels and the step between "
                  "neighbouring outputs' fields"]
    lines += ["", *format_memory(memory(net, batch, dtype), optimizer, budget)]
    lines += ["", *format_paths(count_paths(net))]
    return "\n".join(lines)


def format_comparison(all_stats: list[Stats]) -> str:
    """One column per network, one line per figure."""
    headers = ["", *(s.network.name for s in all_stats)]
    figures = [
        ("input", lambda s: dims(s.network.shape(s.network.input))),
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


MEMORY_LABELS = {"weights": "weights", "activations": "activations (every layer output)",
                 "peak_live": "peak live at inference",
                 "training_kept": "kept for backward in training",
                 "backward_peak": "peak of the backward pass",
                 "inference_total": "inference total",
                 "training_step_total": "training step total"}


def format_memory(m: Memory, optimizer: str = "adam", budget: int | None = None) -> list[str]:
    """Memory as a small table: one line per figure, per image and per batch, the totals,
    what each includes (the words of docs/seeing.md), and with a budget, the largest
    batches that fit it."""
    batch = m.batch > 1
    labels = {**MEMORY_LABELS,
              "training_step_total": f"training step total ({optimizer})"}
    lines = [f"memory ({m.dtype}, {DTYPE_BYTES[m.dtype]} bytes a value"
             + (f", batch {m.batch}" if batch else "") + "):",
             f"  {'weights:':<34} {human_bytes(m.weights):>10}"]
    for key, value in (("activations", m.activations), ("peak_live", m.peak_live),
                       ("training_kept", m.training_kept),
                       ("backward_peak", m.backward_peak)):
        line = f"  {labels[key] + ':':<34} {human_bytes(value):>10} per image"
        lines.append(line + (f", {human_bytes(value * m.batch)} per batch" if batch else ""))
    for key, value in (("inference_total", m.inference_total()),
                       ("training_step_total", m.training_total(optimizer))):
        lines.append(f"  {labels[key] + ':':<34} {human_bytes(value):>10}")
    lines.append("what each includes:")
    lines += [f"  {MEMORY_LABELS[key]}: {words}" for key, words in INCLUDES.items()]
    if budget:
        lines += ["", f"memory budget {human_bytes(budget)} ({optimizer}, {m.dtype}):"]
        for mode, fit in fits(m, budget, optimizer).items():
            lines.append(f"  {mode + ':':<11} " + (
                f"largest batch {fit.batch:,}, total {human_bytes(fit.total)}, "
                f"headroom {human_bytes(fit.headroom)}" if fit.batch else
                f"does not fit: one image needs {human_bytes(fit.one_image)}"))
    return lines


BAR_WIDTH = 40
SHOWN_SHARE = 0.001  # lengths holding less than 0.1% of paths are summed into the tails


def path_summary(p: Paths) -> list[str]:
    """How many paths, and (with residual units) the range most of them are in."""
    power = f"2^{p.units}" if p.units and p.count == 2 ** p.units else ""
    if p.digits <= MAX_DIGITS:
        count = f"{p.count:,}" + (f" = {power}" if power else "")
    else:
        count = f"{power or f'about 10^{p.digits - 1}'} ({p.digits:,} digits)"
    lines = [f"paths from input to output: {count}"
             + (f"; residual units: {p.units}" if p.units else " (no residual units)")]
    if p.units:
        low, high = p.central_range(0.95)
        lines.append(f"path length = residual bodies passed through; "
                     f"{p.share(low, high):.1%} of paths are {low}–{high} long")
    return lines


def path_rows(p: Paths) -> list[tuple[str, float]]:
    """(length, share) for each length holding at least SHOWN_SHARE of the paths, with
    the shorter and longer ones summed into a `≤n` and a `≥n` row where there are any."""
    lengths = list(p.lengths)
    shown = [k for k in lengths if p.fraction(k) >= SHOWN_SHARE]
    rows = []
    if shown[0] > lengths[0]:
        rows.append((f"≤{shown[0] - 1}", p.share(lengths[0], shown[0] - 1)))
    rows += [(str(k), p.fraction(k)) for k in shown]
    if shown[-1] < lengths[-1]:
        rows.append((f"≥{shown[-1] + 1}", p.share(shown[-1] + 1, lengths[-1])))
    return rows


def format_paths(p: Paths) -> list[str]:
    """The path-length distribution drawn as a horizontal histogram."""
    lines = path_summary(p)
    if not p.units:
        return lines
    rows = path_rows(p)
    top = max(share for _, share in rows)
    lines.append("  length   share")
    lines += [f"  {label:>6} {share:7.2%} {bar(share / top)}" for label, share in rows]
    return lines


def bar(fraction: float) -> str:
    """A bar of BAR_WIDTH characters at fraction 1, in eighths of a character."""
    eighths = round(fraction * BAR_WIDTH * 8)
    return "█" * (eighths // 8) + ("", "▏", "▎", "▍", "▌", "▋", "▊", "▉")[eighths % 8]
