"""Lints: legal networks that are probably not what the author meant. Each is a
positioned warning; `--strict` makes them errors.

- a bias directly before BatchNorm: BN subtracts the mean, so the bias is wasted (not
  for the projection shortcuts nnc makes itself);
- an even kernel with 'same' padding where that padding is lopsided (one more row and
  column at the bottom and right), which shifts the feature maps by half a pixel;
- a layer whose output is never used and is not an output of the network;
- a dropout after the last layer: nothing learns from the units it drops;
- a gate whose body does not end in values between 0 and 1 (a sigmoid): it scales its
  input by any amount, of either sign, where squeeze-and-excitation only attenuates;
- a layer scale outside a residual body: started at 1e-6, it all but zeroes the signal
  that every later layer sees, where in a body it only quiets the body at first;
- a network parameter that nothing reads: a use line that sets it changes nothing.
"""
from __future__ import annotations

from nnc.errors import NncError
from nnc.ir.kinds.base import same_padding
from nnc.ir.network import Layer, Network


class ArchLint(NncError):
    what = "lint"

    def __init__(self, message, coord=None, chain=()):
        super().__init__(message, coord, chain, severity="warning")


def lint(net: Network) -> list[ArchLint]:
    found = []
    for check in (bias_before_norm, even_same_kernels, unused_outputs, trailing_dropout,
                  unbounded_gates, scales_outside_residuals, unused_parameters):
        found += check(net)
    return sorted(found, key=lambda w: (w.coord.line, w.coord.column))


def at(layer: Layer, message: str) -> ArchLint:
    return ArchLint(message, layer.coord, layer.chain)


def bias_before_norm(net: Network) -> list[ArchLint]:
    """A bias that only normalization reads is subtracted again with the mean. Layers of
    a shortcut are the compiler's (a projection and its BatchNorm): the user cannot act."""
    warnings = []
    for node, layer in net.layers.items():
        if not layer.attrs.get("bias") or layer.shortcut:
            continue
        users = [net.layers[u] for u in net.graph.successors(node)]
        if users and all(u.kind.normalization for u in users):
            warnings.append(at(layer, f"{node}: the {layer.kind.name} bias is wasted, "
                               f"because the BatchNorm that follows subtracts the mean; "
                               f"write bias=false (or `default {layer.kind.name}(bias=false)`) "
                               f"to save {layer.shape[-1]:,} params"))
    return warnings


def even_same_kernels(net: Network) -> list[ArchLint]:
    """Only where the padding really is lopsided: a kernel whose stride equals its size
    and divides the input (`conv4-96/4` on 224) pads nothing under 'same'."""
    warnings = []
    for node, layer in net.layers.items():
        a = layer.attrs
        kernel = a.get("kernel") if layer.kind.weight_layer and layer.kind.sliding else None
        if not kernel or a.get("padding") != "same":  # a transposed conv pads nothing
            continue
        size = net.shape(layer.inputs[0])[:2]
        if any(k % 2 == 0 and same_padding(n, k, s) % 2
               for n, k, s in zip(size, kernel, a["stride"])):
            warnings.append(at(layer, f"{node}: an even {kernel[0]}×{kernel[1]} kernel "
                               f"with 'same' padding pads one more row and column at the "
                               f"bottom and right than at the top and left"))
    return warnings


def unused_outputs(net: Network) -> list[ArchLint]:
    outputs = set(net.outputs())
    return [at(net.layers[node], f"{node}: this layer's output is never used")
            for node, readers in net.graph.out_degree()
            if readers == 0 and node not in outputs]


def trailing_dropout(net: Network) -> list[ArchLint]:
    """Walk back from each output through weight-free layers, looking for dropout."""
    warnings = []
    for node in net.outputs():
        layer = net.layers[node]
        while not layer.kind.weight_layer and len(layer.inputs) == 1:
            if layer.kind.stochastic:
                warnings.append(at(layer, f"{node}: dropout after the last weight layer "
                                   f"drops outputs that no later layer learns from"))
                break
            node = layer.inputs[0]
            layer = net.layers[node]
    return warnings


def unbounded_gates(net: Network) -> list[ArchLint]:
    gates = ((node, layer, net.layers[layer.inputs[1]]) for node, layer in net.layers.items()
             if layer.kind.scales)
    return [at(layer, f"{node}: the gate's body ends in {values.name} ({values.kind.name}), "
                      f"whose values are not in [0, 1], so the gate can amplify or flip its "
                      f"input; end it with sigmoid or hard_sigmoid")
            for node, layer, values in gates if not values.kind.gates(values.attrs)]


def scales_outside_residuals(net: Network) -> list[ArchLint]:
    return [at(layer, f"{node}: a layer scale outside a residual body multiplies the whole "
                      f"signal by {layer.attrs['init']:g} at the start; ConvNeXt scales the "
                      f"body of each residual unit")
            for node, layer in net.layers.items()
            if layer.kind.starts_small and layer.unit is None]


def unused_parameters(net: Network) -> list[ArchLint]:
    return [ArchLint(f"network parameter '{name}' is never read by a row, block or "
                     f"default, so a value given for it changes nothing", coord)
            for name, coord in net.unused_parameters]
