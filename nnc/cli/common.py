"""What every command shares: the common options, the exit statuses, compiling the
files named on the command line and reporting user errors with their line and caret.

Exit status: 0 success; 2 user errors (every file is still checked and every error
reported); 1 an internal error, reported in one line as a bug (`--debug` shows the
traceback).
"""
from __future__ import annotations

import argparse
import os
import sys

from nnc.analysis.compiled import Compiled, check_expectations, compile_file
from nnc.analysis.lint import lint
from nnc.errors import NncError, TrainError
from nnc.lang.expand import Limits

USER_ERROR, INTERNAL_ERROR = 2, 1


def common_options(after_command: bool) -> argparse.ArgumentParser:
    """The options every command takes, before or after the command's name. After it,
    they default to nothing, so that `nnc --strict check` keeps what was given before
    (argparse lets a subcommand's defaults overwrite the main parser's values)."""
    def default(value):
        return argparse.SUPPRESS if after_command else value
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=default(False),
                        help="show tracebacks of internal errors and TensorFlow's logs")
    common.add_argument("--max-params", type=int, default=default(Limits.max_params),
                        help=f"refuse networks with more parameters (default "
                             f"{Limits.max_params})")
    common.add_argument("--strict", action="store_true", default=default(False),
                        help="treat lint warnings as errors")
    return common


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
    """Print the error with its line and caret. The line may be in `path` or in a file
    that `path` uses (`use "other.arch"`)."""
    sources = {path: source if source is not None else text_of(path)}
    if e.coord is not None and e.coord.file not in sources:
        sources[e.coord.file] = text_of(e.coord.file)
    print(e.format({f: text for f, text in sources.items() if text is not None}),
          file=sys.stderr)


def text_of(path: str) -> str | None:
    try:  # undecodable bytes still let the line and caret be shown
        with open(path, "rb") as f:
            return f.read().decode("utf-8", errors="replace")
    except OSError:
        return None


def summary(failed: list[str], total: int) -> None:
    if failed and total > 1:
        print(f"nnc: {len(failed)} of {total} files failed: {', '.join(failed)}",
              file=sys.stderr)


def note(text: str) -> None:
    """What a command says on the side (data adaptations, progress): stderr, so that
    --json output stays clean."""
    print(f"note: {text}", file=sys.stderr)


def check_model_path(path: str) -> None:
    """A model file that is not there is said so at once, before Keras is imported."""
    if not os.path.exists(path):
        raise TrainError(f"there is no model file '{path}'; give a .keras file that "
                         f"`nnc train` wrote. Received: {path}")
    if os.path.isdir(path) or not path.endswith(".keras"):
        raise TrainError(f"a model is a .keras file that `nnc train` wrote. "
                         f"Received: {path}")
