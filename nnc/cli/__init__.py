"""The `nnc` command: one module per group of commands (front.py: check, stats, diff,
draw; view.py: view; build.py: build, bench; train.py: train, eval, lesion), sharing
common.py."""
from __future__ import annotations

import argparse
import os
import sys

from nnc.analysis.compiled import collector_paused
from nnc.backends.keras import runtime
from nnc.cli import build, front, importing, train, view
from nnc.cli.common import INTERNAL_ERROR, common_options


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    runtime.verbose = args.debug  # TensorFlow's start-up lines only with --debug
    try:
        if args.run in front.COMMANDS:
            # Front-end commands only allocate, and are over in a moment: no cyclic
            # garbage collection, which would scan a large graph again and again.
            with collector_paused():
                return args.run(args)
        return args.run(args)
    except KeyboardInterrupt:
        print("nnc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `nnc stats … | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as e:  # anything that is not a user error is a bug in nnc
        if args.debug:
            raise
        print(f"nnc: internal error: {type(e).__name__}: {e} (this is a bug in nnc; "
              f"rerun with --debug for the traceback)", file=sys.stderr)
        return INTERNAL_ERROR


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="nnc", parents=[common_options(after_command=False)],
                                  description="Compile .arch network descriptions.")
    commands = top.add_subparsers(required=True, metavar="COMMAND")
    for group in (front, view, build, train, importing):
        group.add_commands(commands, common_options(after_command=True))
    return top
