"""The `nnc train`, `nnc eval` and `nnc lesion` commands (added to the parser of nnc/cli/__init__.py).

Importing this module imports only the standard library and PyYAML, as the front end
must: the commands import nnc.experiments (numpy, Keras) when they
run. Notes (what was done to the data,
a resumed run) go to stderr, so that --json output stays clean.
"""
from __future__ import annotations

import json
import random
import sys

from nnc.backends.keras.runtime import check_backend, import_keras
from nnc.cli.common import USER_ERROR, check_model_path, compile_all, note, report
from nnc.errors import NncError, TrainError
from nnc.experiments.recipe import STRATEGIES

SPLITS = ("test", "train", "all")  # the names Dataset.split knows (nnc/experiments/data.py)
# What `nnc eval` prints after the loss, of what model_file.evaluate measured: a class
# vector's accuracy and errors, or a map's per-pixel scores
EVAL_ROWS = (("accuracy", "accuracy"), ("error", "error"), ("top5_error", "top-5 error"),
             ("pixel_accuracy", "pixel accuracy"), ("pixel_error", "pixel error"),
             ("mean_iou", "mean IoU"))


def add_commands(commands, common) -> None:
    train = commands.add_parser("train", parents=[common],
                                help="train the compiled network with Keras's fit")
    train.add_argument("files", nargs=1, metavar="FILE")
    data_option(train, default="digits")
    train.add_argument("-o", "--output", metavar="OUT",
                       help="the trained .keras file (default: <network>.keras here)")
    train.add_argument("--recipe", metavar="YAML", help="optimizer, schedule, weight decay, "
                       "augmentation, side-head loss weights (README: Training and lesion "
                       "studies)")
    train.add_argument("--epochs", type=int, help="override the recipe's epochs")
    train.add_argument("--batch", type=int, dest="batch_size",
                       help="override the recipe's (global) batch size")
    train.add_argument("--lr", type=float, dest="learning_rate",
                       help="override the recipe's learning rate")
    train.add_argument("--seed", type=int, help="override the recipe's seed")
    train.add_argument("--checkpoints", metavar="DIR",
                       help="where the backup for resuming and the latest epoch's model go "
                            "(default: OUT.ckpt, removed when training ends)")
    train.add_argument("--restart", action="store_true",
                       help="discard the checkpoints of an interrupted run (only in a "
                            "checkpoint directory nnc made) and train afresh")
    train.add_argument("--strategy", choices=STRATEGIES, default="none",
                       help="tf.distribute: mirrored over the local GPUs, or multiworker "
                            "across the machines in TF_CONFIG (TensorFlow backend)")
    train.set_defaults(run=run_train)

    evaluate = commands.add_parser("eval", parents=[common],
                                   help="loss, accuracy and error of a model nnc trained")
    evaluate.add_argument("model", metavar="MODEL")
    data_option(evaluate)
    evaluate.add_argument("--json", action="store_true", help="print JSON")
    evaluate.set_defaults(run=run_eval)

    lesion = commands.add_parser("lesion", parents=[common],
                                 help="delete or reorder residual units of a trained model "
                                      "and measure the error (Veit et al. 2016)")
    lesion.add_argument("model", metavar="MODEL")
    data_option(lesion)
    lesion.add_argument("--delete", nargs="+", metavar="UNIT", help="delete these units "
                        "together, e.g. stage2.2 stage3.1")
    lesion.add_argument("--delete-each", action="store_true",
                        help="delete each unit alone (Fig. 3); the default experiment")
    lesion.add_argument("--delete-random", nargs="+", type=int, metavar="K",
                        help="delete K random identity units, --trials times (Fig. 4)")
    lesion.add_argument("--reorder-random", nargs="+", type=int, metavar="K",
                        help="K random swaps of same-shape units of a row, --trials "
                             "times (Fig. 5)")
    lesion.add_argument("--trials", type=int, default=10,
                        help="trials per K (default %(default)s)")
    lesion.add_argument("--keep-shortcut", action="store_true",
                        help="deleting a unit with a projection shortcut keeps the "
                             "projection alone")
    lesion.add_argument("--seed", type=int, default=0,
                        help="seed of the random choices (default %(default)s)")
    lesion.add_argument("--plot", metavar="OUT", help="write a figure (.png, .svg, .pdf)")
    lesion.add_argument("--json", action="store_true", help="print JSON")
    lesion.set_defaults(run=run_lesion)


def data_option(command, default=None) -> None:
    command.add_argument("--data", default=default, metavar="SPEC",
                         help="digits, a directory of class folders, an .npz file or IDX "
                              "files" + (" (default: digits)" if default else
                                         " (default: the data the model was trained on)"))
    if default is None:
        command.add_argument("--split", choices=SPLITS, default="test",
                             help="which images: those training held out (default), the "
                                  "training images, or all")


def run_train(args) -> int:
    good, failed = compile_all(args)
    if failed:
        return USER_ERROR
    [(path, compiled)] = good
    from nnc.experiments import data, recipe
    net = compiled.network
    try:
        plan = recipe.load(args.recipe, epochs=args.epochs, batch_size=args.batch_size,
                           learning_rate=args.learning_rate, seed=args.seed)
        check_backend()
        dataset = data.load(args.data, net.shape(net.input), plan.seed,
                            output_shape=net.shape(net.output))
        for line in dataset.notes:
            note(line)
        note(f"recipe ({plan.source}): {plan.epochs} epochs, batch {plan.batch_size}, "
             f"{plan.optimizer} at {plan.learning_rate:g} ({plan.schedule} schedule), "
             f"weight decay {plan.weight_decay:g}, seed {plan.seed}")
        import_keras()
        from nnc.experiments.train import train
        trained = train(compiled, dataset, plan, args.output, args.checkpoints,
                        args.strategy, log=note, restart=args.restart)
    except NncError as e:
        report(e, path, net.source)
        return USER_ERROR
    restored = (f", {trained.resumed_from} of them restored from the backup"
                if trained.resumed_from else "")
    metric, accuracy = next((k, v) for k, v in trained.metrics.items()
                            if k.startswith("val_") and k.endswith("accuracy"))
    error = "pixel error" if metric == "val_pixel_accuracy" else "error"
    print(f"{net.name}: trained {trained.epochs} epochs{restored} in "
          f"{trained.seconds:.0f} s; {error} on the held-out images {1 - accuracy:.2%}")
    print(f"wrote {trained.path}")
    return 0


def open_with_data(args):
    """The saved model and the images to measure it on: --data, or the data it was
    trained on, split as training split it."""
    check_model_path(args.model)
    import_keras()
    from nnc.experiments import data
    from nnc.experiments.model_file import open_model
    saved = open_model(args.model)
    net = saved.compiled.network
    trained_on = saved.info["data"]
    dataset = data.load(args.data or trained_on["spec"], net.shape(net.input),
                        trained_on["seed"], output_shape=net.shape(net.output))
    for line in dataset.notes:
        note(line)
    x, y = dataset.split(args.split)
    return saved, x, y, {"spec": dataset.name, "split": args.split, "images": len(y)}


def run_eval(args) -> int:
    try:
        saved, x, y, data = open_with_data(args)
        from nnc.experiments.model_file import evaluate
        result = evaluate(saved.model, saved.compiled, x, y)
    except NncError as e:
        print(e.format(), file=sys.stderr)
        return USER_ERROR
    if args.json:
        print(json.dumps({"network": saved.compiled.network.name, "data": data, **result},
                         indent=1))
        return 0
    pixels = f", {result['pixels']:,} pixels" if "pixels" in result else ""
    print(f"{saved.compiled.network.name} on {data['spec']} ({args.split} split, "
          f"{len(y):,} images{pixels})")
    rows = [("loss", f"{result['loss']:.4f}")] + [
        (name, f"{result[key]:.2%}") for key, name in EVAL_ROWS if key in result]
    print("\n".join(f"  {name:<14} {value:>8}" for name, value in rows))
    return 0


def run_lesion(args) -> int:
    from nnc.experiments.lesion_report import (
        check_plot_path,
        format_text,
        plot,
        to_json,
    )
    try:
        if args.plot:
            check_plot_path(args.plot)
        for option, values in (("--trials", [args.trials]),
                               ("--delete-random", args.delete_random or []),
                               ("--reorder-random", args.reorder_random or [])):
            if min(values, default=1) < 1:
                raise TrainError(f"{option} takes whole numbers ≥ 1. Received: {option} "
                                 f"{' '.join(map(str, values))}")
        saved, x, y, data = open_with_data(args)
        from nnc.experiments.lesion import Study
        study = Study(saved, x, y)
        run_experiments(study, args)
        if args.plot:
            plot([(study.net.name, study)], args.plot)
    except NncError as e:
        print(e.format(), file=sys.stderr)
        return USER_ERROR
    if args.json:
        print(json.dumps(to_json(study, data), indent=1))
    else:
        print(format_text(study, f"{data['spec']} ({args.split} split, "
                                 f"{data['images']:,} images)"))
    if args.plot:
        note(f"wrote {args.plot}")
    return 0


def run_experiments(study, args) -> None:
    rng = random.Random(args.seed)
    chosen = args.delete or args.delete_random or args.reorder_random
    if args.delete_each or not chosen:
        study.delete_each(args.keep_shortcut)
        skipped = [u for u in study.units if u.refusal(args.keep_shortcut)]
        if skipped and any(u.kind != "layer" for u in skipped):
            note(f"not deleted: {', '.join(u.name for u in skipped)} (projection "
                 f"shortcuts; --keep-shortcut deletes their bodies)")
    if args.delete:
        study.delete(args.delete, args.keep_shortcut)
    if args.delete_random:
        study.delete_random(args.delete_random, args.trials, rng)
    if args.reorder_random:
        study.reorder_random(args.reorder_random, args.trials, rng)
