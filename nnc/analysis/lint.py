"""Lints: legal networks that are probably not what the author meant. Each is a
positioned warning; `--strict` makes them errors.

- a conv bias directly before BatchNorm: BN subtracts the mean, so the bias is wasted;
- an even kernel with 'same' padding: the padding is lopsided (one more row and column
  at the bottom and right), which shifts the feature maps by half a pixel;
- a layer whose output is never used and is not an output of the network;
- a dropout after the last layer: nothing learns from the units it drops.
"""
from __future__ import annotations

from nnc.errors import NncError
from nnc.ir.kinds import KINDS
from nnc.ir.network import Network


class ArchLint(NncError):
    what = "lint"

    def __init__(self, message, coord=None, chain=()):
        super().__init__(message, coord, chain, severity="warning")


def lint(net: Network) -> list[ArchLint]:
    found = []
    for check in (bias_before_bn, even_same_kernels, unused_outputs, trailing_dropout):
        found += check(net)
    return sorted(found, key=lambda w: (w.coord.line, w.coord.column))


def at(net: Network, node: str, message: str) -> ArchLint:
    data = net.graph.nodes[node]
    return ArchLint(message, data["coord"], data["chain"])


def bias_before_bn(net: Network) -> list[ArchLint]:
    g = net.graph
    warnings = []
    for node, data in g.nodes(data=True):
        if data["kind"] != "conv" or not data["attrs"]["bias"]:
            continue
        users = list(g.successors(node))
        if users and all(g.nodes[u]["kind"] == "bn" for u in users):
            filters = data["attrs"]["filters"]
            warnings.append(at(net, node, f"{node}: the conv bias is wasted, because the "
                               f"BatchNorm that follows subtracts the mean; write bias=false "
                               f"(or `default conv(bias=false)`) to save {filters:,} params"))
    return warnings


def even_same_kernels(net: Network) -> list[ArchLint]:
    warnings = []
    for node, data in net.graph.nodes(data=True):
        a = data["attrs"]
        kernel = a.get("kernel") if data["kind"] == "conv" else None
        if kernel and a["padding"] == "same" and any(k % 2 == 0 for k in kernel):
            warnings.append(at(net, node, f"{node}: an even {kernel[0]}×{kernel[1]} kernel "
                               f"with 'same' padding pads one more row and column at the "
                               f"bottom and right than at the top and left"))
    return warnings


def unused_outputs(net: Network) -> list[ArchLint]:
    g = net.graph
    outputs = {net.output} | {row.output for row in net.heads}
    return [at(net, node, f"{node}: this layer's output is never used")
            for node, readers in g.out_degree() if readers == 0 and node not in outputs]


def trailing_dropout(net: Network) -> list[ArchLint]:
    """Walk back from each output through weight-free layers, looking for dropout."""
    g = net.graph
    warnings = []
    for node in [net.output] + [row.output for row in net.heads]:
        while not KINDS[g.nodes[node]["kind"]].weight_layer and g.in_degree(node) == 1:
            if g.nodes[node]["kind"] == "dropout":
                warnings.append(at(net, node, f"{node}: dropout after the last weight layer "
                                   f"drops outputs that no later layer learns from"))
                break
            node = g.nodes[node]["inputs"][0]
    return warnings
