"""The `nnc` command.

Exit status: 0 success; 2 user errors (every file is still checked and every error
reported); 1 an internal error, reported in one line as a bug (`--debug` shows the
traceback). TensorFlow and Keras are imported only by the commands that build.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from .analysis import DTYPE_BYTES
from .build import FORMATS
from .cli_train import add_commands as add_training_commands
from .driver import Compiled, check_expectations, collector_paused, compile_file
from .errors import NncError
from .expand import Limits
from .lint import lint
from .lower import PRECISIONS
from .tables import FORMATS as TABLE_FORMATS, LAYOUTS

USER_ERROR, INTERNAL_ERROR = 2, 1


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.run in (run_stats, run_check, run_diff, run_draw):
            # Front-end commands only allocate, and are over in a moment: no cyclic
            # garbage collection, which would scan a large graph again and again.
            with collector_paused():
                return args.run(args)
        return args.run(args)
    except KeyboardInterrupt:
        print("nnc: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # anything that is not a user error is a bug in nnc
        if args.debug:
            raise
        print(f"nnc: internal error: {type(e).__name__}: {e} (this is a bug in nnc; "
              f"rerun with --debug for the traceback)", file=sys.stderr)
        return INTERNAL_ERROR


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    common.add_argument("--max-params", type=int, default=Limits.max_params,
                        help="refuse networks with more parameters (default %(default)s)")
    common.add_argument("--strict", action="store_true", help="treat lint warnings as errors")
    top = argparse.ArgumentParser(prog="nnc", parents=[common],
                                  description="Compile .arch network descriptions.")
    commands = top.add_subparsers(required=True, metavar="COMMAND")

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

    build = commands.add_parser("build", parents=[common],
                                help="lower to a Keras model and save it (.keras, SavedModel, "
                                     "ONNX)")
    build.add_argument("files", nargs=1, metavar="FILE")
    build.add_argument("-o", "--output", metavar="OUT",
                       help="where to write (default: <network>.keras here)")
    build.add_argument("--format", choices=list(FORMATS),
                       help="output format (default: from OUT's suffix)")
    build.add_argument("--no-aux", action="store_true",
                       help="leave out side heads such as GoogLeNet's auxiliary classifiers")
    build.add_argument("--precision", choices=PRECISIONS, default="float32",
                       help="Keras dtype policy; logits and softmax stay float32")
    build.add_argument("--jit", action="store_true",
                       help="save the model compiled with jit_compile=True (XLA)")
    build.set_defaults(run=run_build)

    bench = commands.add_parser("bench", parents=[common],
                                help="time inference on this machine: images/s, ms per "
                                     "batch, GFLOP/s and the share of the measured peak")
    bench.add_argument("files", nargs=1, metavar="FILE")
    bench.add_argument("--batch", type=positive, default=32, help="images per batch "
                       "(default %(default)s)")
    bench.add_argument("--batches", type=positive, default=10,
                       help="timed batches; the median is reported (default %(default)s)")
    bench.add_argument("--warmup", type=positive, default=2,
                       help="untimed batches first, for tracing and compiling "
                            "(default %(default)s)")
    bench.add_argument("--jit", action="store_true", help="compile with XLA")
    bench.add_argument("--precision", choices=PRECISIONS, default="float32",
                       help="Keras dtype policy; the peak is measured in its compute dtype")
    bench.set_defaults(run=run_bench)
    add_training_commands(commands, common)  # train, eval, lesion: nnc/cli_train.py
    return top


def positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number ≥ 1. Received: {text}")
    return int(text)


def compile_all(args) -> tuple[list[tuple[str, Compiled]], list[str]]:
    """Compile every file, printing each user error; returns the compiled ones (also
    those whose expect lines failed, so their figures can be shown) and the names of
    the failed ones. One bad file does not stop the others."""
    limits = Limits(max_params=args.max_params)
    good, failed = [], []
    for path in args.files:
        try:
            compiled = compile_file(path, limits)
            problems = lint(compiled.network) + check_expectations(compiled)
        except NncError as e:
            report(e, path)
            failed.append(path)
            continue
        for problem in sorted(problems, key=lambda p: (p.coord.line, p.coord.column)):
            if args.strict:
                problem.severity = "error"
            report(problem, path, compiled.network.source)
        if any(p.severity == "error" for p in problems):
            failed.append(path)
        good.append((path, compiled))
    return good, failed


def report(e: NncError, path: str, source: str | None = None) -> None:
    if source is None:
        try:  # undecodable bytes still let the line and caret be shown
            with open(path, "rb") as f:
                source = f.read().decode("utf-8", errors="replace")
        except OSError:
            source = None
    print(e.format({path: source} if source is not None else {}), file=sys.stderr)


def summary(failed: list[str], total: int) -> None:
    if failed and total > 1:
        print(f"nnc: {len(failed)} of {total} files failed: {', '.join(failed)}",
              file=sys.stderr)


def run_stats(args) -> int:
    from . import report as text
    from .stats import to_json
    good, failed = compile_all(args)
    if args.json:
        objects = [to_json(c.stats, args.batch, args.dtype) for _, c in good]
        if objects:
            print(json.dumps(objects[0] if len(args.files) == 1 else objects, indent=1))
    elif args.format != "text":
        from .tables import render
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
    from .diff import compare, format_text, to_json
    good, failed = compile_all(args)
    if failed:
        return USER_ERROR
    result = compare(good[0][1], good[1][1])
    print(json.dumps(to_json(result), indent=1) if args.json else format_text(result))
    return 0


def run_draw(args) -> int:
    from .draw import draw
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


def run_build(args) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's INFO and WARNING logs
    good, failed = compile_all(args)
    if failed:
        return USER_ERROR
    from .build import build, summary
    [(path, compiled)] = good
    try:
        built = build(compiled, args.output, args.format, heads=not args.no_aux,
                      precision=args.precision, jit=args.jit)
    except NncError as e:
        report(e, path, compiled.network.source)
        return USER_ERROR
    print(summary(compiled, built, heads=not args.no_aux))
    return 0


def run_bench(args) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    good, failed = compile_all(args)
    if failed:
        return USER_ERROR
    from .bench import bench
    [(_, compiled)] = good
    result = bench(compiled, batch=args.batch, batches=args.batches, warmup=args.warmup,
                   jit=args.jit, precision=args.precision)
    print("\n".join(result.lines()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
