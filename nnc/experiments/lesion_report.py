"""What `nnc lesion` prints and draws: a table per experiment, the JSON, and a figure
in the manner of Veit et al. (NIPS 2016): error per deleted unit (Fig. 3), error
against the number of deleted units (Fig. 4), and error against Kendall's τ of the
new order (Fig. 5)."""
from __future__ import annotations

import importlib.util
import io
import os
import statistics

from nnc.errors import TrainError

KIND_LABELS = {"identity": "identity", "A": "zero-pad (A), downsampling",
               "projection": "projection (B), downsampling", "layer": "layer"}
PLOT_FORMATS = ("png", "svg", "pdf")
TITLES = {"single": "Deleting one unit at a time (Veit et al., Fig. 3)",
          "delete": "Deleting the chosen units",
          "delete-random": "Deleting k units at random (Fig. 4)",
          "reorder-random": "Reordering by k random swaps (Fig. 5)"}


def percent(error: float) -> str:
    return f"{100 * error:.1f}%"


def change(study, error: float) -> str:
    return f"{100 * (error - study.baseline):+.1f} points"


def of(study, experiment: str) -> list:
    return [r for r in study.results if r.experiment == experiment]


def chance(study) -> float:
    """The error of guessing: 1 − 1/classes."""
    net = study.net
    return 1 - 1 / net.shape(net.output)[-1]


# --- text --------------------------------------------------------------------------------

def format_text(study, data_note: str) -> str:
    lines = [f"{study.net.name} on {data_note}: baseline error {percent(study.baseline)} "
             f"(chance {percent(chance(study))})"]
    kinds = {u.name: u.kind for u in study.units}
    single = of(study, "delete-each")
    if single:
        width = max(len(r.deleted[0]) for r in single)
        lines += ["", TITLES["single"] + ":",
                  f"  {'unit':<{width}}  {'shortcut':<28}  {'error':>6}  vs baseline"]
        lines += [f"  {r.deleted[0]:<{width}}  {KIND_LABELS[kinds[r.deleted[0]]]:<28}  "
                  f"{percent(r.error):>6}  {change(study, r.error)}" for r in single]
    for r in of(study, "delete"):
        lines += ["", f"Deleting {', '.join(r.deleted)}: error {percent(r.error)} "
                      f"({change(study, r.error)})"]
    randoms = of(study, "delete-random")
    if randoms:
        lines += ["", TITLES["delete-random"] + ":", "  k  trials  mean error    min    max"]
        for k, group in by_count(randoms, lambda r: len(r.deleted)):
            errors = [r.error for r in group]
            lines.append(f"  {k:<2} {len(errors):>6}  {percent(statistics.mean(errors)):>10}"
                         f"  {percent(min(errors)):>5}  {percent(max(errors)):>5}")
    reorders = of(study, "reorder-random")
    if reorders:
        original = [u.name for run in study.chains() for u in run]
        lines += ["", TITLES["reorder-random"] + ":",
                  "  k  Kendall τ   error  units out of place, in their new order"]
        for r in sorted(reorders, key=lambda r: (-r.kendall_tau, r.swaps)):
            moved = [name for name, before in zip(r.order, original) if name != before]
            lines.append(f"  {r.swaps:<2} {r.kendall_tau:>9.3f}  {percent(r.error):>6}  "
                         f"{' '.join(moved) or '(none: the swaps undid each other)'}")
    return "\n".join(lines)


def by_count(results, count):
    groups: dict[int, list] = {}
    for r in results:
        groups.setdefault(count(r), []).append(r)
    return sorted(groups.items())


def to_json(study, data: dict) -> dict:
    return {"network": study.net.name, "data": data, "baseline_error": study.baseline,
            "chance_error": chance(study),
            "units": [{"name": u.name, "kind": u.kind, "row": u.row,
                       "input_shape": list(u.in_shape), "output_shape": list(u.out_shape)}
                      for u in study.units],
            "results": [r.json() for r in study.results]}


# --- the figure ----------------------------------------------------------------------------

def check_plot_path(path: str) -> str:
    """The figure's format, from its suffix; checked before any experiment runs."""
    fmt = os.path.splitext(path)[1].lstrip(".").lower()
    if fmt not in PLOT_FORMATS:
        raise TrainError(f"--plot writes {', '.join(PLOT_FORMATS)}; name the file with one "
                         f"of those suffixes. Received: --plot {path}")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise TrainError(f"the plot's directory does not exist. Received: {directory}")
    if importlib.util.find_spec("matplotlib") is None:
        raise TrainError("--plot needs matplotlib: pip install matplotlib. Received: no "
                         "module named matplotlib")
    return fmt


def plot(studies: list[tuple[str, object]], path: str) -> None:
    """One row of panels per (title, study): its experiments side by side. Written
    atomically, in the format of the suffix."""
    from matplotlib.figure import Figure

    from nnc.present.output import write_atomically
    fmt = check_plot_path(path)
    panels = [[p for p in ("single", "delete-random", "reorder-random") if has(s, p)]
              for _, s in studies]
    columns = max(len(p) for p in panels) or 1
    figure = Figure(figsize=(6.5 * columns, 3.8 * len(studies)), layout="constrained")
    axes = figure.subplots(len(studies), columns, squeeze=False)
    for row, ((title, study), kinds) in enumerate(zip(studies, panels)):
        for column in range(columns):
            ax = axes[row][column]
            if column >= len(kinds):
                ax.set_visible(False)
                continue
            DRAW[kinds[column]](ax, study)
            ax.axhline(100 * study.baseline, color="tab:green", linestyle="--",
                       label=f"baseline {percent(study.baseline)}")
            ax.axhline(100 * chance(study), color="grey", linestyle=":", label="chance")
            ax.set_ylim(0, 100)
            ax.set_ylabel("test error (%)")
            ax.set_title(f"{title}: {TITLES[kinds[column]].split(' (')[0].lower()}",
                         fontsize=10)
            ax.legend(fontsize=8, loc="best", framealpha=0.9)
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, dpi=120)
    write_atomically(path, buffer.getvalue())


def has(study, panel: str) -> bool:
    if panel == "single":
        return bool(of(study, "delete-each") or of(study, "delete"))
    return bool(of(study, panel))


def draw_single(ax, study) -> None:
    """A bar per deletion; downsampling units in another colour."""
    kinds = {u.name: u.kind for u in study.units}
    results = of(study, "delete-each") + of(study, "delete")
    labels = [", ".join(r.deleted) for r in results]
    colours = ["tab:red" if any(kinds[d] in ("A", "projection") for d in r.deleted)
               else "tab:blue" for r in results]
    ax.bar(range(len(results)), [100 * r.error for r in results], color=colours)
    ax.set_xticks(range(len(results)), labels, rotation=60, ha="right", fontsize=7)
    ax.set_xlabel("deleted unit (red: downsampling)")


def draw_random(ax, study) -> None:
    results = of(study, "delete-random")
    ax.scatter([len(r.deleted) for r in results], [100 * r.error for r in results],
               alpha=0.5, s=14)
    groups = by_count(results, lambda r: len(r.deleted))
    counts = [k for k, _ in groups]
    ax.plot(counts, [100 * statistics.mean(r.error for r in g) for _, g in groups],
            marker="o", label="mean")
    ax.set_xticks(counts)
    ax.set_xlabel("number of deleted units")


def draw_reorder(ax, study) -> None:
    results = of(study, "reorder-random")
    ax.scatter([r.kendall_tau for r in results], [100 * r.error for r in results],
               alpha=0.6, s=14)
    ax.set_xlabel("Kendall τ of the new order")
    ax.invert_xaxis()  # from the original order (τ = 1) to ever more shuffled ones


DRAW = {"single": draw_single, "delete-random": draw_random, "reorder-random": draw_reorder}
