"""The `nnc` command.

Exit status: 0 success; 2 user errors (every file is still checked and every error
reported); 1 an internal error, reported in one line as a bug (`--debug` shows the
traceback). TensorFlow and Keras are imported only by the commands that build.
"""
from __future__ import annotations

import argparse
import json
import sys

from .driver import Compiled, check_expectations, compile_file
from .errors import NncError
from .expand import Limits

USER_ERROR, INTERNAL_ERROR = 2, 1


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
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
    top = argparse.ArgumentParser(prog="nnc", parents=[common],
                                  description="Compile .arch network descriptions.")
    commands = top.add_subparsers(required=True, metavar="COMMAND")

    stats = commands.add_parser("stats", parents=[common],
                                help="params, MACs and shapes per row, like the papers' tables")
    stats.add_argument("files", nargs="+", metavar="FILE")
    stats.add_argument("--json", action="store_true", help="print JSON")
    stats.add_argument("--expand", action="store_true", help="one line per primitive layer")
    stats.set_defaults(run=run_stats)

    check = commands.add_parser("check", parents=[common],
                                help="check files and their expect lines")
    check.add_argument("files", nargs="+", metavar="FILE")
    check.set_defaults(run=run_check)
    return top


def compile_all(args) -> tuple[list[tuple[str, Compiled]], list[str]]:
    """Compile every file, printing each user error; returns the compiled ones (also
    those whose expect lines failed, so their figures can be shown) and the names of
    the failed ones. One bad file does not stop the others."""
    limits = Limits(max_params=args.max_params)
    good, failed = [], []
    for path in args.files:
        try:
            compiled = compile_file(path, limits)
            errors = check_expectations(compiled)
        except NncError as e:
            report(e, path)
            failed.append(path)
            continue
        for e in errors:
            report(e, path, compiled.network.source)
        if errors:
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
        objects = [to_json(c.stats) for _, c in good]
        if objects:
            print(json.dumps(objects[0] if len(args.files) == 1 else objects, indent=1))
    elif len(good) == 1 and len(args.files) == 1:
        print(text.format_stats(good[0][1].stats, expand=args.expand))
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
        print(f"{path}: ok ({n} expectation{'s' * (n != 1)} hold)")
    summary(failed, len(args.files))
    return USER_ERROR if failed else 0


if __name__ == "__main__":
    sys.exit(main())
