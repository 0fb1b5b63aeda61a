"""Training recipes: how `nnc train` trains, in a YAML file read with yaml.safe_load.

    epochs: 30
    batch_size: 128            # the global batch, split over replicas under --strategy
    seed: 0                    # initial weights, shuffling and the test split
    optimizer:
      name: sgd                # sgd, adam or rmsprop
      learning_rate: 0.1
      momentum: 0.9            # sgd and rmsprop
      nesterov: false          # sgd
      weight_decay: 1.0e-4     # Keras's decoupled decay: w <- w - lr·decay·w each step
                               # (so adam with weight_decay is AdamW)
    schedule:
      name: step               # constant, step (×factor at each boundary) or cosine
      boundaries: [15, 25]     # epochs
      factor: 0.1
    augmentation:
      flip: true               # random horizontal flips
      translate: 0.125         # random shifts up to this fraction of the size, zero fill
    aux_loss_weight: 0.3       # every side head, or {aux1: 0.3, aux2: 0.3}

Every key is optional; the defaults are those of the Recipe dataclass, and
--epochs, --batch and --lr on the command line override the file. Weight decay spares
biases and BatchNorm's γ and β, as the papers' weight decay is meant for the filters.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace

from nnc.errors import TrainError, did_you_mean
from nnc.wording import shown

OPTIMIZERS = ("sgd", "adam", "rmsprop")
STRATEGIES = ("none", "mirrored", "multiworker")  # `nnc train --strategy`: nnc/experiments/train.py
SCHEDULES = ("constant", "step", "cosine")
# YAML section -> {key in the section: Recipe field}; top-level keys map to themselves
SECTIONS = {
    "optimizer": {"name": "optimizer", "learning_rate": "learning_rate",
                  "momentum": "momentum", "nesterov": "nesterov",
                  "weight_decay": "weight_decay"},
    "schedule": {"name": "schedule", "boundaries": "boundaries", "factor": "factor"},
    "augmentation": {"flip": "flip", "translate": "translate"},
}
TOP_LEVEL = ("epochs", "batch_size", "seed", "aux_loss_weight")


@dataclass(frozen=True)
class Recipe:
    epochs: int = 10
    batch_size: int = 32
    seed: int = 0
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 0.0
    schedule: str = "constant"
    boundaries: tuple = ()
    factor: float = 0.1
    flip: bool = False
    translate: float = 0.0
    aux_loss_weight: object = None  # None: the loss_weight of each head in the .arch file
    source: str = field(default="defaults", compare=False)

    def json(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


MAX_RECIPE_BYTES = 64 * 1024  # a recipe is a few lines; a bigger file is a mistake


def load(path: str | None, **overrides) -> Recipe:
    """The recipe in `path` (or the defaults), with the command line's values on top."""
    recipe = Recipe() if path is None else from_file(path)
    given = {k: v for k, v in overrides.items() if v is not None}
    return check(replace(recipe, **given), path or "the command line")


def from_file(path: str) -> Recipe:
    import yaml  # only when a recipe is read: `nnc stats` should not pay for it
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read(MAX_RECIPE_BYTES + 1)
        if len(text) > MAX_RECIPE_BYTES:
            raise TrainError(f"a recipe is a short YAML file; this one is over "
                             f"{MAX_RECIPE_BYTES // 1024} KiB. Received: {path}")
        document = yaml.safe_load(text)
    except OSError as e:
        raise TrainError(f"cannot read the recipe: {e.strerror}. Received: {path}") from None
    except UnicodeDecodeError:
        raise TrainError(f"the recipe is not UTF-8 text. Received: {path}") from None
    except yaml.YAMLError as e:
        raise TrainError(f"the recipe is not valid YAML: {e}. Received: {path}") from None
    if document is None:
        return Recipe(source=path)
    if not isinstance(document, dict):
        raise TrainError(f"a recipe is a mapping of keys such as epochs and optimizer. "
                         f"Received: {type(document).__name__} in {path}")
    values = {}
    for key, value in document.items():
        if key in SECTIONS:
            values.update(section(key, value, path))
        elif key in TOP_LEVEL:
            values[key] = value
        else:
            raise TrainError(f"{path}: unknown recipe key {shown(key)}"
                             f"{did_you_mean(str(key)[:60], [*SECTIONS, *TOP_LEVEL])} "
                             f"Keys: {', '.join([*TOP_LEVEL, *SECTIONS])}")
    return Recipe(**values, source=path)


def section(name: str, value, path: str) -> dict:
    keys = SECTIONS[name]
    if name in ("optimizer", "schedule") and isinstance(value, str):
        value = {"name": value}  # `optimizer: adam` for the defaults of adam
    if not isinstance(value, dict):
        raise TrainError(f"{path}: '{name}' is a mapping of {', '.join(keys)}. "
                         f"Received: {shown(value)}")
    unknown = [k for k in value if k not in keys]
    if unknown:
        raise TrainError(f"{path}: '{name}' has no key {shown(unknown[0])}"
                         f"{did_you_mean(str(unknown[0])[:60], keys)} Keys: {', '.join(keys)}")
    return {keys[k]: v for k, v in value.items()}


def check(recipe: Recipe, where: str) -> Recipe:
    """Each value coerced to its type and range; YAML 1.1 reads 1e-4 as a string, so
    numbers written that way are accepted."""
    checked = {
        "epochs": whole(recipe.epochs, "epochs", where),
        "batch_size": whole(recipe.batch_size, "batch_size", where),
        "seed": whole(recipe.seed, "seed", where, minimum=0),
        "optimizer": choice(recipe.optimizer, OPTIMIZERS, "optimizer.name", where),
        "learning_rate": number(recipe.learning_rate, "optimizer.learning_rate", where,
                                positive=True),
        "momentum": number(recipe.momentum, "optimizer.momentum", where, 0, 1),
        "nesterov": boolean(recipe.nesterov, "optimizer.nesterov", where),
        "weight_decay": number(recipe.weight_decay, "optimizer.weight_decay", where, 0),
        "schedule": choice(recipe.schedule, SCHEDULES, "schedule.name", where),
        "factor": number(recipe.factor, "schedule.factor", where, positive=True),
        "flip": boolean(recipe.flip, "augmentation.flip", where),
        "translate": number(recipe.translate, "augmentation.translate", where, 0, 1),
    }
    boundaries = recipe.boundaries if isinstance(recipe.boundaries, (list, tuple)) else None
    if boundaries is None:
        raise TrainError(f"{where}: schedule.boundaries is a list of epochs. Received: "
                         f"{shown(recipe.boundaries)}")
    checked["boundaries"] = tuple(whole(b, "schedule.boundaries", where) for b in boundaries)
    if list(checked["boundaries"]) != sorted(set(checked["boundaries"])):
        raise TrainError(f"{where}: schedule.boundaries must increase. Received: "
                         f"{shown(list(boundaries))}")
    weight = recipe.aux_loss_weight
    if isinstance(weight, dict):
        checked["aux_loss_weight"] = {str(k): number(v, f"aux_loss_weight.{k}", where, 0)
                                      for k, v in weight.items()}
    elif weight is not None:
        checked["aux_loss_weight"] = number(weight, "aux_loss_weight", where, 0)
    return replace(recipe, **checked)


def whole(value, key: str, where: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise TrainError(f"{where}: {key} must be a whole number ≥ {minimum}. "
                         f"Received: {shown(value)}")
    return value


def number(value, key: str, where: str, low: float = 0.0, high: float = math.inf,
           positive: bool = False) -> float:
    try:
        result = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        result = math.nan
    if not (low <= result <= high and math.isfinite(result)) or (positive and result == 0):
        limits = ("> 0" if positive else f"from {low:g} to {high:g}" if high < math.inf
                  else f"≥ {low:g}")
        finite = "" if math.isfinite(result) or math.isnan(result) else "finite "
        raise TrainError(f"{where}: {key} must be a {finite}number {limits}. "
                         f"Received: {shown(value)}")
    return result


def boolean(value, key: str, where: str) -> bool:
    if not isinstance(value, bool):
        raise TrainError(f"{where}: {key} must be true or false. Received: {shown(value)}")
    return value


def choice(value, options, key: str, where: str) -> str:
    if value not in options:
        raise TrainError(f"{where}: {key} must be one of {', '.join(options)}"
                         f"{did_you_mean(str(value), options)} Received: {shown(value)}")
    return value


# --- what the recipe makes (imports Keras) -------------------------------------------

def optimizer(recipe: Recipe, steps_per_epoch: int):
    import keras
    rate = learning_rate(recipe, steps_per_epoch, keras)
    common = {"learning_rate": rate, "weight_decay": recipe.weight_decay or None}
    if recipe.optimizer == "sgd":
        made = keras.optimizers.SGD(momentum=recipe.momentum, nesterov=recipe.nesterov,
                                    **common)
    elif recipe.optimizer == "rmsprop":
        made = keras.optimizers.RMSprop(momentum=recipe.momentum, **common)
    else:
        made = keras.optimizers.Adam(**common)
    if recipe.weight_decay:
        made.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    return made


def learning_rate(recipe: Recipe, steps: int, keras):
    """A float, or a Keras schedule over optimizer steps (it resumes with the optimizer's
    step count after a restart)."""
    if recipe.schedule == "step" and recipe.boundaries:
        return keras.optimizers.schedules.PiecewiseConstantDecay(
            [b * steps for b in recipe.boundaries],
            [recipe.learning_rate * recipe.factor ** i
             for i in range(len(recipe.boundaries) + 1)])
    if recipe.schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(recipe.learning_rate,
                                                      recipe.epochs * steps)
    return recipe.learning_rate


def augmentation(recipe: Recipe):
    """Keras's random layers, active only in training, or None."""
    import keras
    layers = []
    if recipe.flip:
        layers.append(keras.layers.RandomFlip("horizontal", seed=recipe.seed))
    if recipe.translate:
        layers.append(keras.layers.RandomTranslation(
            recipe.translate, recipe.translate, fill_mode="constant",
            interpolation="nearest", seed=recipe.seed))
    return keras.Sequential(layers, name="augmentation") if layers else None


def loss_weights(recipe: Recipe, heads) -> list[float]:
    """The main output weighs 1; each side head its recipe weight or its .arch
    loss_weight (GoogLeNet's 0.3)."""
    weight = recipe.aux_loss_weight
    if isinstance(weight, dict):
        names = [h.name for h in heads]
        unknown = [k for k in weight if k not in names]
        if unknown:
            raise TrainError(f"{recipe.source}: aux_loss_weight names no side head "
                             f"'{unknown[0]}'{did_you_mean(unknown[0], names)} Heads: "
                             f"{', '.join(names) or 'none'}")
        return [1.0] + [weight.get(h.name, h.loss_weight) for h in heads]
    return [1.0] + [h.loss_weight if weight is None else weight for h in heads]

