"""`nnc lesion`: the lesion studies of Veit et al. (NIPS 2016) on a trained model.

The network is rebuilt from the .arch source saved in the model file, with units
deleted or reordered in its graph, lowered to Keras again, given the trained weights by
layer name, and evaluated. Nothing is retrained: that is the point of the experiment.

Units. In a residual network a unit is a residual compound: the add that closes it,
the body that feeds the add's first input, the shortcut that feeds its second (the
unit's input itself, or the layers the expander marked as that unit's shortcut: option
A's zero padding or a projection), and the element-wise layers that follow the add in
the same block call (ResNet's post-add ReLU). It is named after the add's scope:
`stage2.1`. Deleting it removes the body and the add, so
that the unit's output is its shortcut's output (Veit et al.: "leaving only the skip
connection"); the post-add ReLU stays, and as the unit's input has been through a ReLU
already it changes nothing there. Option A's shortcut has no weights, so a downsampling
unit of option A can be deleted too; a projection (option B) is a learned layer, and
deleting the body beside it is refused unless --keep-shortcut, which keeps the
projection alone as the unit. In a network without residual units, a unit is a weight
layer with the BN, activation and dropout that follow it (`stage1.1.conv2`), and only
those whose input and output shapes agree can be deleted.

Reordering (Veit et al., Fig. 5) permutes units within a row among runs of consecutive
units whose shapes agree (identity shortcuts), by random swaps of two units.
"""
from __future__ import annotations

import dataclasses
import itertools
import random
from dataclasses import dataclass, replace

import networkx as nx

from nnc.errors import TrainError, closest
from nnc.experiments.labels import per_pixel
from nnc.ir.network import BODY, Layer, Network
from nnc.wording import dims


@dataclass(frozen=True)
class Unit:
    name: str
    kind: str                # identity, A, projection (residual units) or layer
    row: str
    input: str               # the node the unit reads
    output: str              # the node whose value a deletion replaces
    shortcut: str            # what replaces it: the shortcut's output, or the input
    removed: frozenset       # the nodes a deletion removes
    segment: tuple           # every node of the unit, in graph order, for reordering
    in_shape: tuple
    out_shape: tuple

    @property
    def end(self) -> str:
        return self.segment[-1]

    @property
    def same_shape(self) -> bool:
        return self.in_shape == self.out_shape and self.kind in ("identity", "layer")

    def refusal(self, keep_shortcut: bool) -> str | None:
        """Why this unit cannot be deleted, or None."""
        if self.kind == "layer" and self.in_shape != self.out_shape:
            return (f"'{self.name}' maps {dims(self.in_shape)} to {dims(self.out_shape)}: "
                    f"without it the next layer would get the wrong shape")
        if self.kind == "projection" and not keep_shortcut:
            return (f"'{self.name}' is a downsampling unit whose shortcut is a projection "
                    f"(option B, a learned 1×1 conv); deleting its body breaks the shapes "
                    f"unless the projection stays alone in its place: pass --keep-shortcut "
                    f"to do that")
        return None


def find_units(net: Network) -> list[Unit]:
    """The residual units, in graph order; in a network that has none, the layers."""
    adds = [n for n, layer in net.layers.items() if layer.closes_unit]
    units = [u for u in (residual_unit(net, add) for add in adds) if u is not None]
    if adds:
        return name_uniquely(units)
    return [layer_unit(net, n) for n, layer in net.layers.items()
            if layer.kind.weight_layer and n not in head_nodes(net)]


def residual_unit(net: Network, add: str) -> Unit | None:
    layers, graph = net.layers, net.graph
    join = layers[add]
    body_out, shortcut_out = join.inputs[BODY], join.inputs[1 - BODY]
    shortcut, x = [], shortcut_out
    while layers[x].shortcut and layers[x].unit == add:  # back to the unit's input
        shortcut.append(x)
        x = layers[x].inputs[0]
    body = nodes_between(net, x, body_out)
    if body is None or any(set(graph.successors(n)) - body - {add} for n in body):
        return None  # a body that does not start at the input, or that is tapped elsewhere
    weighted = any(sum(layers[n].params) for n in shortcut)
    kind = "identity" if not shortcut else "projection" if weighted else "A"
    tail = trailing(net, add, lambda n: (layers[n].row, layers[n].calls) == (join.row,
                                                                             join.calls))
    segment = tuple(n for n in layers if n in body or n in shortcut or n in tail
                    or n == add)
    scope = add.rpartition(".")[0]  # the unit is called what its add's scope is called
    return Unit(scope or add, kind, join.row, x, add, shortcut_out,
                frozenset(body | {add}), segment, net.shape(x), join.shape)


def layer_unit(net: Network, node: str) -> Unit:
    x = net.layers[node].inputs[0]
    row = net.layers[node].row
    tail = trailing(net, node, lambda n: net.layers[n].row == row)
    segment = (node, *tail)
    return Unit(node, "layer", row, x, segment[-1], x, frozenset(segment), segment,
                net.shape(x), net.shape(segment[-1]))


def nodes_between(net: Network, start: str, end: str) -> set | None:
    """The nodes on the paths from `start` (excluded) back from `end` (included), or
    None if some path reaches the network's input without passing `start`."""
    found, todo = set(), [end]
    while todo:
        node = todo.pop()
        if node == start or node in found:
            continue
        inputs = net.layers[node].inputs
        if not inputs:
            return None
        found.add(node)
        todo.extend(inputs)
    return found


def trailing(net: Network, node: str, belongs) -> list[str]:
    """The element-wise layers that follow `node` alone (BN, ReLU, dropout), while
    `belongs` says they are part of the same unit."""
    graph = net.graph
    tail = []
    while True:
        successors = list(graph.successors(node))
        if len(successors) != 1 or len(list(graph.predecessors(successors[0]))) != 1:
            return tail
        nxt = net.layers[successors[0]]
        if not (nxt.kind.minor and nxt.kind.arity == 1 and belongs(nxt.name)
                and nxt.shape == net.shape(node)):
            return tail
        tail.append(nxt.name)
        node = nxt.name


def name_uniquely(units: list[Unit]) -> list[Unit]:
    """A block with two residual compounds has two adds in one scope: name those by
    their add."""
    counts = {}
    for u in units:
        counts[u.name] = counts.get(u.name, 0) + 1
    return [u if counts[u.name] == 1 else replace(u, name=u.output) for u in units]


def head_nodes(net: Network) -> set[str]:
    return {n for r in net.heads for n in r.nodes}


def pick(units: list[Unit], names) -> list[Unit]:
    by_name = {u.name: u for u in units}
    chosen = []
    for name in names:
        if name not in by_name:
            close = closest(name, by_name)
            raise TrainError(f"the network has no unit '{name}'"
                             f"{f'; did you mean {close!r}?' if close else '.'} Units: "
                             f"{', '.join(by_name)}")
        chosen.append(by_name[name])
    return chosen


# --- surgery -----------------------------------------------------------------------------

def deleted(net: Network, units: list[Unit], keep_shortcut: bool = False) -> Network:
    """The inference network with `units` deleted."""
    for unit in units:
        why = unit.refusal(keep_shortcut)
        if why:
            raise TrainError(f"cannot delete {why}. Received: {unit.name}")
    replacement = {u.output: u.shortcut for u in units}
    removed = set().union(*(u.removed for u in units)) if units else set()
    return rebuilt(net, removed, {}, replacement)


def reordered(net: Network, moves) -> Network:
    """The inference network with each run of units (consecutive, same shapes) in its
    new order: `moves` pairs a run with a permutation of its indices."""
    # The run's last unit is read by what follows the run: that reads the new last one.
    replacement = {units[-1].end: units[order[-1]].end for units, order in moves
                   if order[-1] != len(units) - 1}
    new_inputs = {}
    for units, order in moves:
        previous = resolve(units[0].input, replacement)  # a run may follow another run
        for unit in (units[i] for i in order):
            for node in unit.segment:
                inputs = net.layers[node].inputs
                if unit.input in inputs:
                    new_inputs[node] = tuple(previous if i == unit.input else i
                                             for i in inputs)
            previous = unit.end
    return rebuilt(net, set(), new_inputs, replacement)


def resolve(node: str, replacement: dict) -> str:
    while node in replacement:
        node = replacement[node]
    return node


def rebuilt(net: Network, removed: set, new_inputs: dict, replacement: dict) -> Network:
    """A copy of the inference network without `removed`, with `new_inputs` for some
    nodes and every other reader of a node in `replacement` reading its replacement,
    its nodes in a topological order again."""

    heads = head_nodes(net)
    order = {n: i for i, n in enumerate(net.layers)}
    draft: dict[str, Layer] = {}
    for node, layer in net.layers.items():
        if node in removed or node in heads:
            continue
        inputs = new_inputs.get(node) or tuple(resolve(i, replacement) for i in layer.inputs)
        draft[node] = dataclasses.replace(layer, inputs=inputs)
    edges = nx.DiGraph((i, node) for node, layer in draft.items() for i in layer.inputs)
    edges.add_nodes_from(draft)
    graph = nx.DiGraph()  # lowering walks the layers in insertion order
    graph.add_nodes_from(nx.lexicographical_topological_sort(edges, key=order.get))
    graph.add_edges_from(edges.edges)
    layers = {node: draft[node] for node in graph}
    rows = [replace(row, nodes=[n for n in row.nodes if n in graph],
                    input=resolve(row.input, replacement),
                    output=resolve(row.output, replacement))
            for row in net.rows if not row.head]
    return replace(net, graph=graph, layers=layers, output=resolve(net.output, replacement),
                   rows=rows, expects=())


def lesioned_model(net: Network, trained):
    """The edited graph lowered to Keras (and checked against its own stats, as every
    lowering is), with the trained weights copied over by layer name."""
    from nnc.analysis.compiled import Compiled
    from nnc.analysis.stats import compute
    from nnc.backends.keras.model import to_keras
    model = to_keras(Compiled(net, compute(net)), heads=False)
    for layer in model.layers:
        if layer.weights:
            layer.set_weights(trained.get_layer(layer.name).get_weights())
    return model


# --- the experiments -----------------------------------------------------------------

@dataclass
class Result:
    experiment: str          # delete, delete-each, delete-random, reorder-random
    deleted: list[str]
    error: float
    kendall_tau: float | None = None
    order: list[str] | None = None  # the reordered units, in their new order
    swaps: int | None = None        # k, the random swaps that made the order

    def json(self) -> dict:
        extra = {} if self.kendall_tau is None else {"swaps": self.swaps,
                                                     "kendall_tau": self.kendall_tau,
                                                     "order": self.order}
        return {"experiment": self.experiment, "deleted": self.deleted,
                "error": self.error, **extra}


class Study:
    """A trained model, the held-out images, and the errors of its lesioned variants."""

    def __init__(self, saved, x, y):
        self.saved, self.x, self.y = saved, x, y
        self.net = saved.compiled.network
        output = self.net.shape(self.net.output)
        if per_pixel(output):
            raise TrainError(f"nnc lesion measures a classifier's error, as Veit et al. "
                             f"do, and {self.net.name}'s output is a map of per-pixel "
                             f"classes ({dims(output)}); nnc eval measures it. "
                             f"Received: {saved.path}")
        self.units = find_units(self.net)
        self.baseline = self.error(rebuilt(self.net, set(), {}, {}))
        self.results: list[Result] = []

    def error(self, net: Network) -> float:
        from nnc.experiments.model_file import error_of, predict
        return error_of(predict(lesioned_model(net, self.saved.model), self.x), self.y)

    def deletable(self, keep_shortcut: bool) -> list[Unit]:
        return [u for u in self.units if u.refusal(keep_shortcut) is None]

    def delete(self, names, keep_shortcut=False, experiment="delete") -> Result:
        units = pick(self.units, names)
        result = Result(experiment, [u.name for u in units],
                        self.error(deleted(self.net, units, keep_shortcut)))
        self.results.append(result)
        return result

    def delete_each(self, keep_shortcut=False) -> list[Result]:
        return [self.delete([u.name], keep_shortcut, "delete-each")
                for u in self.deletable(keep_shortcut)]

    def delete_random(self, counts, trials: int, rng: random.Random) -> list[Result]:
        """Fig. 4: K units chosen at random among those whose shortcut is the identity
        (or, in a plain network, the layers that keep the shape)."""
        pool = [u.name for u in self.units if u.same_shape]
        too_many = [k for k in counts if k > len(pool)]
        if too_many:
            raise TrainError(f"--delete-random asks for {too_many[0]} units, but only "
                             f"{len(pool)} keep their shape. Received: {too_many[0]}")
        return [self.delete(rng.sample(pool, k), experiment="delete-random")
                for k in counts for _ in range(trials)]

    def chains(self) -> list[list[Unit]]:
        """Runs of consecutive same-shape units within a row: what may be reordered."""
        runs = []
        for unit in (u for u in self.units if u.same_shape):
            if runs and runs[-1][-1].end == unit.input and runs[-1][-1].row == unit.row:
                runs[-1].append(unit)
            else:
                runs.append([unit])
        return [run for run in runs if len(run) > 1]

    def reorder_random(self, counts, trials: int, rng: random.Random) -> list[Result]:
        """Fig. 5: K swaps of two units of the same run, the error against Kendall's τ
        between the original and the new order of all the units that may move."""
        chains = self.chains()
        pairs = [(c, i, j) for c, run in enumerate(chains)
                 for i, j in itertools.combinations(range(len(run)), 2)]
        if not pairs:
            raise TrainError("no two consecutive units of a row have the same shapes, so "
                             "there is nothing to reorder. Received: --reorder-random")
        results = []
        for k in (k for k in counts for _ in range(trials)):
            orders = [list(range(len(run))) for run in chains]
            for c, i, j in (rng.choice(pairs) for _ in range(k)):
                orders[c][i], orders[c][j] = orders[c][j], orders[c][i]
            moves = list(zip(chains, orders))
            offsets = list(itertools.accumulate((len(run) for run in chains), initial=0))
            sequence = [offsets[c] + i for c, order in enumerate(orders) for i in order]
            results.append(Result("reorder-random", [], self.error(reordered(self.net, moves)),
                                  kendall_tau(sequence),
                                  [run[i].name for run, order in moves for i in order], k))
        self.results += results
        return results


def kendall_tau(permutation: list[int]) -> float:
    """Kendall's τ between 0, 1, …, n-1 and `permutation` (no ties): the share of pairs
    in the same order minus the share in the opposite order."""
    n = len(permutation)
    if n < 2:
        return 1.0
    discordant = sum(permutation[i] > permutation[j]
                     for i, j in itertools.combinations(range(n), 2))
    return 1 - 4 * discordant / (n * (n - 1))
