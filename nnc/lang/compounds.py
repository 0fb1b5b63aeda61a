"""The compounds of the language: `residual:`, `concat:`, `gate:` and `head(row):`,
each a construct whose indented rows are its body and which joins them with layers of
its own (an add, a projection shortcut, a concat, a multiply); `skip(row)`, which
joins an earlier row's output to the current one; and `from(row)`, which starts a row
from an earlier row's output.

The compound half of the expander (expand.Expander), which supplies `expand_row`, `add`,
`shape`, `created`, `layers`, `row_outputs`, and the stochastic-depth tally `drop_units`
(residual units with a drop_path so far) and `drop_paths` (their layers).
"""
from __future__ import annotations

from dataclasses import replace

from nnc.errors import (
    ArchNameError,
    ArchShapeError,
    ArchSyntaxError,
    ArchValueError,
    NncError,
    did_you_mean,
)
from nnc.ir.kinds import KINDS
from nnc.ir.kinds.core import BatchNorm, Conv
from nnc.ir.kinds.dense import Crop
from nnc.ir.kinds.joins import Add, Concat, Multiply, PadShortcut
from nnc.ir.kinds.norms import DropPath
from nnc.lang import ast
from nnc.lang.bind import COMPOUNDS, Binder, Scope, replace_position
from nnc.wording import dims

FROM = "from"  # the unit that starts a row from an earlier row


def item_text(item: ast.Item) -> str:
    return item.unit.text + (" x…" if item.repeat is not None else "")


class Compounds(Binder):
    def compound_options(self, compound: ast.Compound, scope: Scope) -> dict:
        return self.construct_options(compound.keyword, compound.options, compound.coord,
                                      scope)

    def construct_options(self, keyword: str, options, coord, scope: Scope) -> dict:
        """The options of a compound or of `skip(...)`, typed, with the file's defaults."""
        attrs, positional = COMPOUNDS[keyword]
        names = {a.name: a for a in attrs}
        given = {}
        for name, value, where in self.option_values(keyword, positional, options, scope):
            if name not in names:
                raise ArchNameError(f"'{keyword}' has no option '{name}'"
                                    f"{did_you_mean(name, names)}", where, scope.chain)
            given[name] = self.coerced(names[name], value, where, scope)
        try:
            return self.attrs_for(keyword, attrs, given)
        except NncError as e:
            raise replace_position(e, coord, scope.chain) from None

    def skip(self, unit: ast.Unit, x: str, scope: Scope) -> str:
        """`skip(down4, crop=true)`: an earlier row's output joined to this one, its centre
        cropped to this one's size where asked (U-Net's copy and crop), the earlier maps
        first, as the paper's figure draws them."""
        if unit.width or unit.stride:
            raise ArchSyntaxError(f"skip takes its row and options in parentheses, as in "
                                  f"skip(down4, crop=true). Received: {unit.text}",
                                  unit.coord, scope.chain)
        options = self.construct_options("skip", unit.options, unit.coord, scope)
        row = options["row"]
        s = self.earlier_row(row, "skip", unit, scope)
        s_shape, x_shape = self.shape(s), self.shape(x)
        if len(s_shape) != 3 or len(x_shape) != 3:
            raise ArchShapeError(f"skip joins maps of H×W×C. Received: row '{row}' "
                                 f"{dims(s_shape)} and {dims(x_shape)}", unit.coord,
                                 scope.chain)
        if s_shape[:2] != x_shape[:2]:
            if not options["crop"]:
                raise ArchShapeError(
                    f"row '{row}' gives {dims(s_shape)} where this row has {dims(x_shape)}; "
                    f"write crop=true to take its centre (U-Net's copy and crop)",
                    unit.coord, scope.chain)
            s = self.add(KINDS[Crop.name], {"height": x_shape[0], "width": x_shape[1]}, [s],
                         scope, unit.coord, unit.text)
        join = KINDS[options["join"]]  # the option's values are the joins' kind names
        if not join.concatenates and self.shape(s) != x_shape:
            raise ArchShapeError(f"skip(join=add) adds maps of one shape. Received: row "
                                 f"'{row}' {dims(self.shape(s))} and {dims(x_shape)}",
                                 unit.coord, scope.chain)
        return self.add(join, {}, [s, x], scope, unit.coord, unit.text)

    def earlier_row(self, row: str, keyword: str, unit: ast.Unit, scope: Scope) -> str:
        """The output of the earlier top-level row that `skip(row)` or `from(row)` names."""
        if row not in self.row_outputs:
            raise ArchNameError(f"{keyword} takes row '{row}', which is not an earlier row"
                                f"{did_you_mean(row, self.row_outputs)}", unit.coord,
                                scope.chain)
        return self.row_outputs[row]

    def row_start(self, row: ast.Row, x: str, scope: Scope) -> tuple[str, ast.Row]:
        """`p4: from(c5), upsample2, ...`: a row whose first unit is `from(row)` reads that
        earlier row's output instead of the previous row's (an FPN's top-down path, a
        lateral branch, a second path out of a shared trunk). Returns the row's input
        and the row without its `from`."""
        body = row.body
        if not isinstance(body, ast.Sequence) or body.items[0].unit.name != FROM:
            return x, row
        item, unit = body.items[0], body.items[0].unit
        if unit.width or unit.stride or item.repeat is not None:
            raise ArchSyntaxError(f"from takes its row in parentheses and is not repeated, "
                                  f"as in from(c4). Received: {item_text(item)}",
                                  unit.coord, scope.chain)
        if len(body.items) == 1:
            raise ArchSyntaxError(f"a row that starts with {unit.text} needs layers after "
                                  f"it, as in from(c4), conv1-256. Received: a row of only "
                                  f"{unit.text}", unit.coord, scope.chain)
        options = self.construct_options(FROM, unit.options, unit.coord, scope)
        source = self.earlier_row(options["row"], FROM, unit, scope)
        return source, replace(row, body=replace(body, items=body.items[1:]))

    def misplaced_from(self, unit: ast.Unit, scope: Scope) -> ArchSyntaxError:
        return ArchSyntaxError("from(row) starts a row: write it first in a row of the "
                              "network, as in `p4: from(c5), upsample2`, not after other "
                              f"units or inside a block or compound. Received: {unit.text}",
                              unit.coord, scope.chain)

    def residual(self, compound: ast.Compound, x: str, scope: Scope) -> str:
        options = self.compound_options(compound, scope)
        shortcut, drop = options["shortcut"], options["drop_path"]
        if drop and shortcut == "none":
            raise ArchValueError("drop_path drops the body and keeps the shortcut, but "
                                 "shortcut=none has no shortcut. Received: drop_path="
                                 f"{drop:g}", compound.coord, scope.chain)
        depth = self.drop_units
        self.drop_units += bool(drop)
        start = len(self.created)
        y = x
        for row in compound.body:
            y = self.expand_row(row, y, scope)
        if shortcut == "none":
            return y
        body_nodes = self.created[start:]
        x_shape, y_shape = self.shape(x), self.shape(y)
        if shortcut == "auto" and x_shape != y_shape:
            return y
        s = x
        if shortcut == "C" or (x_shape != y_shape and shortcut == "B"):
            s = self.projection(x, x_shape, y_shape, body_nodes, compound, scope,
                                options["projection_bn"])
        elif x_shape != y_shape and shortcut == "A":
            stride = self.shortcut_stride(x_shape, y_shape, compound, scope)
            if y_shape[2] < x_shape[2]:
                raise ArchShapeError(
                    f"a zero-padding shortcut (option A) cannot reduce channels. Received: "
                    f"body maps {dims(x_shape)} to {dims(y_shape)}", compound.coord,
                    scope.chain)
            s = self.add(KINDS[PadShortcut.name], {"stride": stride, "channels": y_shape[2]},
                         [x], scope.child("shortcut", shortcut=True), compound.coord,
                         "residual")
        elif x_shape != y_shape:
            raise ArchShapeError(
                f"residual body and shortcut disagree: the body maps {dims(x_shape)} to "
                f"{dims(y_shape)}, but shortcut=identity needs equal shapes; use shortcut=A "
                f"(zero-padding) or B (projection)", compound.coord, scope.chain)
        if drop and depth:  # the first unit's rate is 0: no layer, as in Keras
            y = self.add(KINDS[DropPath.name], {"rate": drop}, [y], scope, compound.coord,
                         "residual")
            self.drop_paths.append((y, depth))
        add = self.add(KINDS[Add.name], {}, [y, s], scope, compound.coord, "residual")
        for node in self.created[start:]:  # the innermost unit claims a layer first
            if self.layers[node].unit is None:
                self.layers[node].unit = add
        return add

    def schedule_drop_paths(self) -> None:
        """Stochastic depth's linear rule, once the network's residual units with a
        drop_path are all known: the k-th of N (from 0) drops its body at the rate it
        gives times k/N, as keras.applications' EfficientNet does."""
        for node, depth in self.drop_paths:
            layer = self.layers[node]
            layer.attrs = {**layer.attrs, "rate": layer.attrs["rate"] * depth / self.drop_units}

    def projection(self, x, x_shape, y_shape, body_nodes, compound, scope,
                   with_norm: bool | None) -> str:
        """Option B/C: a 1×1 conv with the body's stride, plus BN when the body has BN
        (or as `projection_bn` says)."""
        stride = self.shortcut_stride(x_shape, y_shape, compound, scope)
        conv_attrs = self.attrs_for(Conv.name, KINDS[Conv.name].attrs, {
            "kernel": (1, 1), "filters": y_shape[-1], "stride": (stride, stride),
            "padding": "same", "groups": 1, "activation": "none", "rounding": "exact"})
        shortcut = scope.child("shortcut", shortcut=True)
        s = self.add(KINDS[Conv.name], conv_attrs, [x], shortcut, compound.coord,
                     "projection")
        if with_norm is None:
            with_norm = any(self.layers[n].kind.normalization for n in body_nodes)
        if with_norm:
            norm = KINDS[BatchNorm.name]
            s = self.add(norm, self.attrs_for(norm.name, norm.attrs, {}), [s],
                         shortcut, compound.coord, "projection")
        return s

    def shortcut_stride(self, x_shape, y_shape, compound, scope) -> int:
        if len(x_shape) == 3 and len(y_shape) == 3:
            stride = -(-x_shape[0] // y_shape[0])
            if all(-(-a // stride) == b for a, b in zip(x_shape[:2], y_shape[:2])):
                return stride
        raise ArchShapeError(f"no strided shortcut maps {dims(x_shape)} to {dims(y_shape)}; "
                             f"the body must keep the size or divide it evenly",
                             compound.coord, scope.chain)

    def concat(self, compound: ast.Compound, x: str, scope: Scope) -> str:
        self.compound_options(compound, scope)
        outputs = []
        for i, row in enumerate(compound.body, start=1):
            branch = scope if row.label else scope.child(f"b{i}")
            outputs.append(self.expand_row(row, x, branch))
        return self.add(KINDS[Concat.name], {}, outputs, scope, compound.coord, "concat")

    def gate(self, compound: ast.Compound, x: str, scope: Scope) -> str:
        """Squeeze-and-excitation and its kin: the body computes, from the input, values
        that multiply the input (one per channel after a global pool)."""
        self.compound_options(compound, scope)
        y = x
        for row in compound.body:
            y = self.expand_row(row, y, scope)
        return self.add(KINDS[Multiply.name], {}, [x, y], scope, compound.coord, "gate")

    def head(self, row: ast.Row, scope: Scope) -> tuple[str, float]:
        options = self.compound_options(row.body, scope)
        source = options["source"]
        if source not in self.row_outputs:
            raise ArchNameError(f"head taps row '{source}', which is not an earlier row"
                                f"{did_you_mean(source, self.row_outputs)}", row.body.coord)
        y = self.row_outputs[source]
        for body_row in row.body.body:
            y = self.expand_row(body_row, y, scope)
        return y, options["loss_weight"]
