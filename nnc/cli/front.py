"""The front-end commands: `nnc check`, `nnc stats`, `nnc diff` and `nnc draw`. They
never import TensorFlow, Keras, JAX or torch."""
from __future__ import annotations

import argparse
import json
import re

from nnc.analysis.memory import DTYPE_BYTES, OPTIMIZER_STATE
from nnc.cli.common import USER_ERROR, compile_all, positive, report, summary
from nnc.errors import NncError
from nnc.present.tables import FORMATS as TABLE_FORMATS
from nnc.present.tables import LAYOUTS


def add_commands(commands, common) -> None:
    stats = commands.add_parser("stats", parents=[common],
                                help="params, MACs and shapes per row, like the papers' tables")
    stats.add_argument("files", nargs="+", metavar="FILE")
    stats.add_argument("--json", action="store_true", help="print JSON")
    stats.add_argument("--expand", action="store_true", help="one line per primitive layer")
    stats.add_argument("--format", choices=["text", *TABLE_FORMATS], default="text",
                       help="the per-row table as text, or ready to paste into a paper")
    stats.add_argument("--layout", choices=LAYOUTS, default="auto",
                       help="table layout for --format: ResNet's Table 1, GoogLeNet's, or "
                            "the text table's columns (default: from the network)")
    stats.add_argument("--batch", type=positive, default=1,
                       help="images per batch, for the memory figures (default 1)")
    stats.add_argument("--dtype", choices=list(DTYPE_BYTES), default="float32",
                       help="bytes per value of weights and activations (default float32)")
    stats.add_argument("--memory-budget", type=byte_size, metavar="SIZE",
                       help="device memory, like 16GiB, 512MiB or 8GB: the largest batch "
                            "that fits for training and for inference, by nnc's totals")
    stats.add_argument("--optimizer", choices=list(OPTIMIZER_STATE), default="adam",
                       help="the optimizer of the training step total: sgd keeps no "
                            "state, momentum one copy of the trainable weights, adam two "
                            "(default adam)")
    stats.set_defaults(run=run_stats)

    diff = commands.add_parser("diff", parents=[common],
                               help="per-row and total changes from one network to another")
    diff.add_argument("files", nargs=2, metavar="FILE")
    diff.add_argument("--json", action="store_true", help="print JSON")
    diff.set_defaults(run=run_diff)

    draw = commands.add_parser("draw", parents=[common],
                               help="a Graphviz diagram: rows and blocks as clusters")
    draw.add_argument("files", nargs=1, metavar="FILE")
    draw.add_argument("-o", "--output", required=True, metavar="OUT",
                      help="net.svg, net.png, net.pdf or net.dot")
    draw.add_argument("--expand", action="store_true",
                      help="every layer, instead of one node per block call")
    draw.set_defaults(run=run_draw)

    check = commands.add_parser("check", parents=[common],
                                help="check files and their expect lines")
    check.add_argument("files", nargs="+", metavar="FILE")
    check.set_defaults(run=run_check)



UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
         "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}


def byte_size(text: str) -> int:
    """A memory size: a number and a unit, binary (KiB, MiB, GiB, TiB) or decimal (KB,
    MB, GB, TB, as disk and some GPU makers count), or bytes."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", text)
    unit = match and match.group(2).upper()
    if not match or unit not in UNITS or float(match.group(1)) * UNITS[unit] < 1:
        raise argparse.ArgumentTypeError(
            "must be a size of at least one byte, a number and a unit: 16GiB, 512MiB, "
            f"8GB (10^9 bytes) or a number of bytes. Received: {text}")
    return int(float(match.group(1)) * UNITS[unit])


def memory_json(compiled, args) -> dict:
    """The stats as JSON, with the --memory-budget fit in its "memory" object."""
    from nnc.analysis.memory import fits, memory
    from nnc.analysis.stats import to_json
    result = to_json(compiled.stats, args.batch, args.dtype)
    if args.memory_budget:
        m = memory(compiled.network, args.batch, args.dtype)
        result["memory"]["budget"] = {
            "bytes": args.memory_budget, "optimizer": args.optimizer,
            **{mode: fit.json() for mode, fit in fits(m, args.memory_budget,
                                                      args.optimizer).items()}}
    return result


def run_stats(args) -> int:
    from nnc.present import report as text
    good, failed = compile_all(args)
    if args.json:
        objects = [memory_json(c, args) for _, c in good]
        if objects:
            print(json.dumps(objects[0] if len(args.files) == 1 else objects, indent=1))
    elif args.format != "text":
        from nnc.present.tables import render
        print("\n\n".join(render(c.stats, args.format, args.layout) for _, c in good))
    elif len(good) == 1 and len(args.files) == 1:
        print(text.format_stats(good[0][1].stats, expand=args.expand, batch=args.batch,
                                dtype=args.dtype, optimizer=args.optimizer,
                                budget=args.memory_budget))
    elif good:
        if args.expand:
            print("\n\n".join(text.format_stats(c.stats, expand=True) for _, c in good))
        else:
            print(text.format_comparison([c.stats for _, c in good]))
    summary(failed, len(args.files))
    return USER_ERROR if failed else 0


def run_check(args) -> int:
    good, failed = compile_all(args)
    for path, compiled in good:
        if path in failed:
            continue
        n = len(compiled.network.expects)
        print(f"{path}: ok ({n} expectation{'s hold' if n != 1 else ' holds'})")
    summary(failed, len(args.files))
    return USER_ERROR if failed else 0


def run_diff(args) -> int:
    from nnc.present.diff import compare, format_text, to_json
    good, failed = compile_all(args)
    if failed:
        return USER_ERROR
    result = compare(good[0][1], good[1][1])
    print(json.dumps(to_json(result), indent=1) if args.json else format_text(result))
    return 0


def run_draw(args) -> int:
    from nnc.present.draw import draw
    good, failed = compile_all(args)
    if failed:
        return USER_ERROR
    [(path, compiled)] = good
    try:
        fmt = draw(compiled, args.output, expand=args.expand)
    except NncError as e:
        report(e, path, compiled.network.source)
        return USER_ERROR
    print(f"{path}: wrote {args.output} ({fmt}, "
          f"{'every layer' if args.expand else 'collapsed'})")
    return 0


COMMANDS = (run_stats, run_check, run_diff, run_draw)
