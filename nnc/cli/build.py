"""The backend commands: `nnc build` (a Keras model, a SavedModel, ONNX), `nnc export`
(a trained model's weights into ONNX) and `nnc bench`. Keras and TensorFlow are imported
only when they run, and never for ONNX from an .arch file."""
from __future__ import annotations

import sys

from nnc.backends.destination import FORMATS
from nnc.backends.keras.model import PRECISIONS
from nnc.backends.keras.runtime import check_backend, import_keras
from nnc.cli.common import (
    USER_ERROR,
    check_model_path,
    compile_all,
    note,
    positive,
    report,
)
from nnc.errors import BuildError, NncError


def add_commands(commands, common) -> None:
    build = commands.add_parser("build", parents=[common],
                                help="lower to a Keras model and save it (.keras, SavedModel, "
                                     "ONNX)")
    build.add_argument("files", nargs=1, metavar="FILE")
    build.add_argument("-o", "--output", metavar="OUT",
                       help="where to write (default: <network>.keras here)")
    build.add_argument("--format", choices=list(FORMATS),
                       help="output format (default: from OUT's suffix)")
    build.add_argument("--no-aux", action="store_true",
                       help="leave out side heads such as GoogLeNet's auxiliary classifiers")
    build.add_argument("--precision", choices=PRECISIONS, default="float32",
                       help="Keras dtype policy; under mixed precision logits and "
                            "softmax stay float32")
    build.add_argument("--jit", action="store_true",
                       help="save the model compiled with jit_compile=True (XLA)")
    build.set_defaults(run=run_build)

    export = commands.add_parser("export", parents=[common],
                                 help="write a model nnc trained as ONNX, its weights "
                                      "taken by layer name")
    export.add_argument("model", metavar="MODEL")
    export.add_argument("-o", "--output", metavar="OUT", required=True, help="net.onnx")
    export.add_argument("--no-aux", action="store_true",
                        help="leave out side heads such as GoogLeNet's auxiliary classifiers")
    export.set_defaults(run=run_export)

    bench = commands.add_parser("bench", parents=[common],
                                help="time inference on this machine: images/s, ms per "
                                     "batch, GFLOP/s and the share of the measured peak")
    bench.add_argument("files", nargs=1, metavar="FILE")
    bench.add_argument("--batch", type=positive, default=32, help="images per batch "
                       "(default %(default)s)")
    bench.add_argument("--batches", type=positive, default=10,
                       help="timed batches; the median is reported (default %(default)s)")
    bench.add_argument("--warmup", type=positive, default=2,
                       help="untimed batches first, for tracing and compiling "
                            "(default %(default)s)")
    bench.add_argument("--jit", action="store_true", help="compile with XLA")
    bench.add_argument("--precision", choices=PRECISIONS, default="float32",
                       help="Keras dtype policy; the peak is measured in its compute dtype")
    bench.set_defaults(run=run_bench)


def run_build(args) -> int:
    good, failed = compile_all(args)
    if failed:
        return USER_ERROR
    from nnc.backends.build import build
    from nnc.backends.destination import output_path, summary
    [(path, compiled)] = good
    try:
        if output_path(compiled.network.name, args.output, args.format)[1] != "onnx":
            check_backend()  # at once; Keras is imported after the output's checks
        built = build(compiled, args.output, args.format, heads=not args.no_aux,
                      precision=args.precision, jit=args.jit)
    except NncError as e:
        report(e, path, compiled.network.source)
        return USER_ERROR
    print(summary(compiled, built, heads=not args.no_aux))
    return 0


def run_export(args) -> int:
    """The trained model's network, from the .arch source it carries, with its weights."""
    from nnc.backends.destination import output_path, summary
    try:
        path, format = output_path("", args.output, None)
        if format != "onnx":
            raise BuildError(f"nnc export writes ONNX: name an .onnx file. Received: "
                             f"-o {args.output}")
        check_model_path(args.model)
        import_keras()
        from nnc.backends.keras.weights import weights_by_layer
        from nnc.backends.onnx.write import write_onnx
        from nnc.experiments.model_file import open_model
        saved = open_model(args.model)
        trained = weights_by_layer(saved.model, saved.compiled.network)
        built = write_onnx(saved.compiled, path, heads=not args.no_aux, trained=trained)
    except NncError as e:
        print(e.format(), file=sys.stderr)
        return USER_ERROR
    print(summary(saved.compiled, built, heads=not args.no_aux))
    return 0


def run_bench(args) -> int:
    good, failed = compile_all(args)
    if failed:
        return USER_ERROR
    [(path, compiled)] = good
    try:
        import_keras()
    except NncError as e:
        report(e, path, compiled.network.source)
        return USER_ERROR
    from nnc.backends.keras.bench import bench
    note(f"timing {args.batches} batches of {args.batch} after {args.warmup} untimed "
         f"one(s), in turn with a matmul that measures this machine's peak")
    result = bench(compiled, batch=args.batch, batches=args.batches, warmup=args.warmup,
                   jit=args.jit, precision=args.precision)
    print("\n".join(result.lines()))
    return 0


