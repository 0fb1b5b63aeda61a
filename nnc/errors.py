"""Source positions and the one hierarchy of user errors.

Every error a user can cause is an `NncError` that knows where it happened (a `Coord`)
and through which block calls (a chain of `Frame`s). `format()` renders it the way C
compilers do: `file:line:col: error: ...`, the source line, a caret under the token,
then the expansion chain. Anything else that escapes is a bug in nnc.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Coord:
    """A position in a source file; `str()` gives `file:line:col` (1-based)."""
    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class Frame:
    """One block expansion: `call` is the text of the call, e.g. `bottleneck(128, s=2)`."""
    call: str
    called_at: Coord
    defined_at: Coord

    def __str__(self) -> str:
        return (f"in {self.call} called at line {self.called_at.line}"
                f" (block defined at line {self.defined_at.line})")


class NncError(Exception):
    """A user error with a position. `what` names the family in messages and tests."""
    what = "error"

    def __init__(self, message: str, coord: Coord | None = None,
                 chain: tuple[Frame, ...] = (), severity: str = "error"):
        super().__init__(message)
        self.message = message
        self.coord = coord
        self.chain = chain
        self.severity = severity
        # The texts to quote the line from, where the raiser has them (nnc.load_string):
        # then str() is the whole format(), which is what a notebook's traceback shows.
        self.sources: dict[str, str] | None = None

    def __str__(self) -> str:
        return self.format(self.sources) if self.sources else self.message

    def format(self, sources: dict[str, str] | None = None) -> str:
        """Render as `file:line:col: error: message`, the line, a caret, the chain."""
        where = f"{self.coord}: " if self.coord else ""
        lines = [f"{where}{self.severity}: {self.message}"]
        text = (sources or {}).get(self.coord.file) if self.coord else None
        if text is not None:
            lines += caret_lines(text, self.coord)
        lines += [f"  {frame}" for frame in reversed(self.chain)]
        return "\n".join(lines)


class ArchSyntaxError(NncError):
    what = "syntax"


class ArchNameError(NncError):
    what = "name"


class ArchValueError(NncError):
    """A value of the wrong type or out of range: `groups=0`, `padding=sideways`."""
    what = "value"


class ArchShapeError(NncError):
    what = "shape"


class ArchLimitError(NncError):
    what = "limit"


class ArchIOError(NncError):
    what = "io"


class ExpectationError(NncError):
    what = "expectation"


class BuildError(NncError):
    """A build that cannot be done as asked: an output path or format that does not fit,
    an exporter that is not installed. It has no position in a .arch file."""
    what = "build"


class SetupError(NncError):
    """What the command needs from this machine is not there or not valid: a Keras
    backend that is unknown or not installed. It has no position."""
    what = "setup"


class DataError(NncError):
    """Data that cannot be read or does not fit the network (`--data`): no position."""
    what = "data"


class TrainError(NncError):
    """A training, evaluation or lesion request that cannot be done as asked: a bad
    recipe, a model file nnc did not write, a unit that cannot be deleted."""
    what = "train"


def caret_lines(text: str, coord: Coord) -> list[str]:
    """The source line at `coord` and a caret under its column, indented by two spaces."""
    all_lines = text.split("\n")   # as the parser counts lines: not at U+2028 or a form feed
    if not 1 <= coord.line <= len(all_lines):
        return []
    line = all_lines[coord.line - 1].removesuffix("\r").expandtabs(1)
    return [f"  {line}", "  " + " " * (coord.column - 1) + "^"]


def closest(word: str, candidates) -> str | None:
    import difflib  # only on the error path
    close = difflib.get_close_matches(word, sorted(candidates), n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(word: str, candidates) -> str:
    """`; did you mean 'maxpool'?` for the closest candidate, or a full stop, so that
    messages read as sentences either way."""
    close = closest(word, candidates)
    return f"; did you mean '{close}'?" if close else "."
