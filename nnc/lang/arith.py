"""Arithmetic on block parameters: `{4*w}`, `bottleneck(2*base, s=2)`.

Numbers stay integers while the arithmetic is exact; a bare word that names no
parameter in scope is a symbol (`same`, `relu`) and cannot take part in arithmetic.
A few functions write the rounding rules of the papers' reference code:
`divisible(v, 8)` is the MobileNet and EfficientNet width rule, `ceil(1.2*n)` the
EfficientNet depth rule.
"""
from __future__ import annotations

import math
import operator

from nnc.errors import ArchNameError, ArchValueError, did_you_mean
from nnc.lang import ast

OPERATORS = {"+": operator.add, "-": operator.sub, "*": operator.mul,
             "//": operator.floordiv, "/": operator.truediv}


def divisible(value, divisor):
    """The nearest multiple of `divisor` to `value`, at least `divisor` and never more
    than 10% below `value`: `_make_divisible` of the MobileNetV2, MobileNetV3 and
    EfficientNet reference code, which rounds every width they scale."""
    if divisor <= 0 or divisor != int(divisor):
        raise ValueError(f"the divisor must be a whole number ≥ 1. Received: {divisor:g}")
    divisor = int(divisor)
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * value else rounded


# name: (function, fewest arguments, most arguments or None for any number)
FUNCTIONS = {
    "min": (min, 2, None),
    "max": (max, 2, None),
    "floor": (math.floor, 1, 1),
    "ceil": (math.ceil, 1, 1),
    "round": (round, 1, 1),  # to the nearest integer, halves to even, as Python
    "divisible": (divisible, 2, 2),
}


def evaluate(expr: ast.Expr, env: dict):
    value = evaluated(expr, env)
    if isinstance(value, float) and not math.isfinite(value):
        raise ArchValueError(f"numbers must be finite. Received: {value}", expr.coord)
    return value


def evaluated(expr: ast.Expr, env: dict):
    if isinstance(expr, (ast.Num, ast.Str)):
        return expr.value
    if isinstance(expr, ast.Name):
        return env.get(expr.id, expr.id)
    if isinstance(expr, ast.ListValue):
        return tuple(evaluate(item, env) for item in expr.items)
    if isinstance(expr, ast.Neg):
        return -number(expr.operand, env)
    if isinstance(expr, ast.Call):
        return call(expr, env)
    left, right = number(expr.left, env), number(expr.right, env)
    if expr.op in ("/", "//") and right == 0:
        raise ArchValueError("division by zero", expr.right.coord)
    result = OPERATORS[expr.op](left, right)
    if expr.op == "/" and isinstance(left, int) and isinstance(right, int) and left % right == 0:
        return left // right
    return result


def call(expr: ast.Call, env: dict):
    if expr.function not in FUNCTIONS:
        raise ArchNameError(f"unknown function '{expr.function}'"
                            f"{did_you_mean(expr.function, FUNCTIONS)} Functions: "
                            f"{', '.join(FUNCTIONS)}", expr.coord)
    function, fewest, most = FUNCTIONS[expr.function]
    count = len(expr.args)
    if count < fewest or (most is not None and count > most):
        wanted = fewest if fewest == most else f"{fewest} or more"
        raise ArchValueError(f"{expr.function}() takes {wanted} argument(s). Received: "
                             f"{count}", expr.coord)
    values = [number(arg, env) for arg in expr.args]
    try:
        return function(*values)
    except (ValueError, OverflowError) as e:
        raise ArchValueError(f"{expr.function}(): {e}", expr.coord) from None


def number(expr: ast.Expr, env: dict):
    value = evaluate(expr, env)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if isinstance(expr, ast.Name) and expr.id in env:
            raise ArchValueError(f"arithmetic needs numbers. Received: {expr.id} = "
                                 f"{value!r}", expr.coord)
        if isinstance(expr, ast.Name):
            raise ArchNameError(f"'{expr.id}' is not a parameter in scope"
                                f"{did_you_mean(expr.id, env)}", expr.coord)
        raise ArchValueError(f"arithmetic needs numbers. Received: {value!r}", expr.coord)
    return value
