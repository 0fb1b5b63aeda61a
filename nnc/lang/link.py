"""Files that use other files: `use "efficientnet-b0.arch"(width=1.1, depth=1.2)`.

A file may use one other file of its own folder. It gets that file's blocks, defaults
and network parameters, with the values the `use` line gives, and, where it has none of
its own, that file's input and rows: so EfficientNet-B3 is its input line and the
coefficients of compound scaling over B0's table, and a library of blocks is a file
that others use for its blocks. Its own `network` name and `expect` lines stay its own.

Only a plain file name is accepted (no folders, no `..`), so a file reaches nothing
outside its folder; files that use each other, and chains deeper than MAX_DEPTH, are
positioned errors.
"""
from __future__ import annotations

import os
from dataclasses import replace

from nnc.errors import (
    ArchLimitError,
    ArchNameError,
    ArchSyntaxError,
    NncError,
    did_you_mean,
)
from nnc.lang import ast
from nnc.lang.parse import parse_text, read_source

MAX_DEPTH = 8


def link(program: ast.Program, chain: tuple[str, ...] = ()) -> ast.Program:
    """The program with the file it uses merged in (recursively)."""
    if not program.uses:
        return program
    if len(program.uses) > 1:
        raise ArchSyntaxError("a file uses one other file (which may use another). "
                              "Received: a second 'use' line", program.uses[1].coord)
    use = program.uses[0]
    path = used_path(use, program.file)
    chain = chain + (program.file,)
    if os.path.normpath(path) in map(os.path.normpath, chain):
        names = [os.path.basename(f) for f in chain + (path,)]
        raise ArchLimitError(f"files use each other: {' → '.join(names)}", use.coord)
    if len(chain) > MAX_DEPTH:
        raise ArchLimitError(f"files use files more than {MAX_DEPTH} deep", use.coord)
    try:
        used = link(parse_text(read_source(path), path), chain)
    except NncError as e:
        if e.coord is None:  # the file cannot be read: say which line wanted it
            raise type(e)(e.message, use.coord) from None
        raise
    return merged(program, used, use)


def used_path(use: ast.Use, file: str) -> str:
    name = use.path
    if not name.endswith(".arch") or name != os.path.basename(name) or name in (".", ".."):
        raise ArchSyntaxError(f"use names an .arch file in this file's folder, without a "
                              f"folder. Received: \"{name}\"", use.coord)
    return os.path.join(os.path.dirname(file), name)


def merged(program: ast.Program, used: ast.Program, use: ast.Use) -> ast.Program:
    own_blocks = {b.name: b for b in program.blocks}
    for block in used.blocks:
        if block.name in own_blocks:
            raise ArchNameError(f"block '{block.name}' is also defined in {used.file} at "
                                f"line {block.coord.line}, which this file uses",
                                own_blocks[block.name].coord)
    params = bound(used.params, use, used.file)
    clash = {p.name for p in params} & {p.name for p in program.params}
    if clash:
        mine = next(p for p in program.params if p.name in clash)
        raise ArchNameError(f"network parameter '{mine.name}' is also one of {used.file}'s; "
                            f"give it a value on the use line instead", mine.coord)
    own_rows = bool(program.rows)
    return replace(
        program,
        input=program.input if program.input is not None else used.input,
        input_coord=program.input_coord if program.input is not None else used.input_coord,
        defaults=used.defaults + program.defaults,
        blocks=used.blocks + program.blocks,
        rows=program.rows if own_rows else used.rows,
        params=params + program.params,
        uses=())


def bound(params: tuple[ast.Param, ...], use: ast.Use, file: str) -> tuple[ast.Param, ...]:
    """The used file's parameters, with the values of the use line as their defaults."""
    names = {p.name for p in params}
    given = {}
    for option in use.options:
        if option.name is None:
            raise ArchSyntaxError("a use line names the parameters it sets, as in "
                                  "use \"file.arch\"(width=1.1)", option.coord)
        if option.name not in names:
            listed = ", ".join(sorted(names)) or "none"
            raise ArchNameError(f"{file} has no network parameter '{option.name}'"
                                f"{did_you_mean(option.name, names)} Its parameters: "
                                f"{listed}", option.coord)
        if option.name in given:
            raise ArchNameError(f"'{option.name}' is given twice", option.coord)
        given[option.name] = option.value
    return tuple(replace(p, default=given.get(p.name, p.default)) for p in params)
