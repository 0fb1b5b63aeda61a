"""Property: any mutation of a shipped architecture either compiles or fails with
nnc's own positioned error, never another exception.

CI runs a few hundred examples; set NNC_FUZZ_EXAMPLES=50000 for a long run."""
import os
import re

from conftest import ARCHITECTURES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnc.analysis.compiled import check_expectations, compile_text
from nnc.analysis.lint import lint
from nnc.errors import NncError
from nnc.lang.parse import decode

SOURCES = {p.name: p.read_bytes() for p in sorted(ARCHITECTURES.glob("*.arch"))}
TOKEN = re.compile(rb"\s+|\w+|[^\w\s]")
PUNCTUATION = list(b"()[]{},:;=-/+*%#\"'\\.") + list("×±≈".encode())


def tokens(data: bytes) -> list[bytes]:
    return TOKEN.findall(data)


@st.composite
def mutation(draw, data: bytes) -> bytes:
    op = draw(st.sampled_from(["delete_token", "duplicate_token", "swap_tokens",
                               "delete_line", "duplicate_line", "swap_lines", "number",
                               "punctuation", "garbage", "truncate"]))
    if op.endswith("line") or op == "swap_lines":
        parts = data.split(b"\n")
    elif op in ("punctuation", "garbage", "truncate"):
        parts = None
    else:
        parts = tokens(data)
    if parts is not None and len(parts) < 2:
        return data
    if parts is not None:
        i = draw(st.integers(0, len(parts) - 1))
        j = draw(st.integers(0, len(parts) - 1))
    if op in ("delete_token", "delete_line"):
        del parts[i]
    elif op in ("duplicate_token", "duplicate_line"):
        parts.insert(i, parts[i])
    elif op in ("swap_tokens", "swap_lines"):
        parts[i], parts[j] = parts[j], parts[i]
    elif op == "number":
        numbers = [k for k, t in enumerate(parts) if t.isdigit()]
        if not numbers:
            return data
        k = draw(st.sampled_from(numbers))
        parts[k] = str(draw(st.one_of(st.integers(0, 3), st.integers(0, 10 ** 12)))).encode()
    elif op == "punctuation":
        at = draw(st.integers(0, len(data)))
        return data[:at] + bytes([draw(st.sampled_from(PUNCTUATION))]) + data[at:]
    elif op == "garbage":
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    else:  # truncate
        return data[:draw(st.integers(0, len(data)))]
    return (b"\n" if op.endswith("line") or op == "swap_lines" else b"").join(parts)


@st.composite
def mutants(draw) -> tuple[str, bytes]:
    name = draw(st.sampled_from(sorted(SOURCES)))
    data = SOURCES[name]
    for _ in range(draw(st.integers(1, 3))):
        data = draw(mutation(data))
    return name, data


@settings(max_examples=int(os.environ.get("NNC_FUZZ_EXAMPLES", 300)), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(mutants())
def test_mutants_compile_or_fail_with_a_positioned_error(case):
    name, data = case
    try:
        compiled = compile_text(decode(data, name), name)
        problems = check_expectations(compiled) + lint(compiled.network)
    except NncError as e:
        problems = [e]
    for problem in problems:
        assert problem.coord is not None and problem.coord.file == name
        assert problem.coord.line >= 1 and problem.coord.column >= 1
        assert problem.format({name: data.decode("utf-8", "replace")})
