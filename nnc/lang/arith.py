"""Arithmetic on block parameters: `{4*w}`, `bottleneck(2*base, s=2)`.

Numbers stay integers while the arithmetic is exact; a bare word that names no
parameter in scope is a symbol (`same`, `relu`) and cannot take part in arithmetic.
"""
from __future__ import annotations

import operator

from nnc.errors import ArchNameError, ArchValueError, did_you_mean
from nnc.lang import ast

OPERATORS = {"+": operator.add, "-": operator.sub, "*": operator.mul,
             "//": operator.floordiv, "/": operator.truediv}


def evaluate(expr: ast.Expr, env: dict):
    if isinstance(expr, (ast.Num, ast.Str)):
        return expr.value
    if isinstance(expr, ast.Name):
        return env.get(expr.id, expr.id)
    if isinstance(expr, ast.ListValue):
        return tuple(evaluate(item, env) for item in expr.items)
    if isinstance(expr, ast.Neg):
        return -number(expr.operand, env)
    left, right = number(expr.left, env), number(expr.right, env)
    if expr.op in ("/", "//") and right == 0:
        raise ArchValueError("division by zero", expr.right.coord)
    result = OPERATORS[expr.op](left, right)
    if expr.op == "/" and isinstance(left, int) and isinstance(right, int) and left % right == 0:
        return left // right
    return result


def number(expr: ast.Expr, env: dict):
    value = evaluate(expr, env)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if isinstance(expr, ast.Name):
            raise ArchNameError(f"'{expr.id}' is not a parameter in scope"
                                f"{did_you_mean(expr.id, env)}", expr.coord)
        raise ArchValueError(f"arithmetic needs numbers. Received: {value!r}", expr.coord)
    return value
