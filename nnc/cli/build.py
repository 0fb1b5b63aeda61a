"""The backend commands: `nnc build` (a Keras model, a SavedModel, ONNX) and `nnc bench`.
Keras and TensorFlow are imported only when they run."""
from __future__ import annotations

from nnc.backends.keras.build import FORMATS
from nnc.backends.keras.model import PRECISIONS
from nnc.backends.keras.runtime import check_backend, import_keras
from nnc.cli.common import USER_ERROR, compile_all, note, positive, report
from nnc.errors import NncError


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
    from nnc.backends.keras.build import build, output_path, summary
    [(path, compiled)] = good
    try:
        check_backend()  # at once; Keras is imported after the output's checks
        if output_path(compiled.network.name, args.output, args.format)[1] == "onnx":
            note("exporting ONNX through TensorFlow and tf2onnx takes half a minute or "
                 "more for a full-size network")
        built = build(compiled, args.output, args.format, heads=not args.no_aux,
                      precision=args.precision, jit=args.jit)
    except NncError as e:
        report(e, path, compiled.network.source)
        return USER_ERROR
    print(summary(compiled, built, heads=not args.no_aux))
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


