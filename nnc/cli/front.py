"""The front-end commands: `nnc check`, `nnc stats`, `nnc diff` and `nnc draw`. They
never import TensorFlow, Keras, JAX or torch."""
from __future__ import annotations

import json

from nnc.analysis.memory import DTYPE_BYTES
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



def run_stats(args) -> int:
    from nnc.analysis.stats import to_json
    from nnc.present import report as text
    good, failed = compile_all(args)
    if args.json:
        objects = [to_json(c.stats, args.batch, args.dtype) for _, c in good]
        if objects:
            print(json.dumps(objects[0] if len(args.files) == 1 else objects, indent=1))
    elif args.format != "text":
        from nnc.present.tables import render
        print("\n\n".join(render(c.stats, args.format, args.layout) for _, c in good))
    elif len(good) == 1 and len(args.files) == 1:
        print(text.format_stats(good[0][1].stats, expand=args.expand, batch=args.batch,
                                dtype=args.dtype))
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
