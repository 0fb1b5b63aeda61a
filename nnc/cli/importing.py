"""`nnc import`: a Keras model (.keras) or an ONNX model (.onnx) back to a readable .arch
file, with its weights when asked. Keras is imported only to read a .keras file, never
for an .onnx one."""
from __future__ import annotations

import os

from nnc.cli.common import USER_ERROR, report
from nnc.errors import NncError
from nnc.present.output import write_atomically

READABLE = (".keras", ".onnx")


def add_commands(commands, common) -> None:
    command = commands.add_parser("import", parents=[common],
                                  help="a Keras (.keras) or ONNX (.onnx) model back to a "
                                       "readable .arch file")
    command.add_argument("model", metavar="MODEL", help="a .keras or .onnx file")
    command.add_argument("-o", "--output", required=True, metavar="OUT",
                         help="the .arch file to write")
    command.add_argument("--partial", action="store_true",
                         help="write what the language can express, the rest listed in "
                              "comments, instead of failing")
    command.add_argument("--weights", metavar="WEIGHTS",
                         help="also write the imported network's Keras model with the "
                              "source's weights (a .keras file; from a .keras source)")
    command.set_defaults(run=run_import)


class ModelFileError(NncError):
    what = "import"


def run_import(args) -> int:
    from nnc.present.fold import write_arch
    try:
        check_paths(args)
        source = os.path.basename(args.model)
        if args.model.endswith(".onnx"):
            from nnc.backends.onnx.raise_ import from_onnx
            text = write_arch(from_onnx(read_onnx(args.model)), source, args.partial)
        else:
            from nnc.backends.keras.raise_ import from_keras
            model = read_keras(args.model)
            text = write_arch(from_keras(model), source, args.partial)
        write_atomically(args.output, text.encode())
        print(f"wrote {args.output} ({len(text.splitlines())} lines)")
        if args.weights:
            from nnc.backends.keras.raise_ import save_weights
            save_weights(model, text, args.output, args.weights)
            print(f"wrote {args.weights}")
    except NncError as e:
        report(e, args.model)
        return USER_ERROR
    return 0


def check_paths(args) -> None:
    if not os.path.isfile(args.model) or not args.model.endswith(READABLE):
        raise ModelFileError(f"nnc import reads a Keras model saved as a .keras file or an "
                             f"ONNX model (.onnx). Received: {args.model}")
    if args.weights and not args.model.endswith(".keras"):
        raise ModelFileError(f"--weights copies the weights of a Keras model; from an ONNX "
                             f"model they are not imported. Received: {args.model}")
    if args.weights and not args.weights.endswith(".keras"):
        raise ModelFileError(f"--weights writes a .keras file. Received: {args.weights}")


def read_onnx(path: str):
    import onnx
    try:
        return onnx.load(path)
    except Exception as e:  # protobuf's DecodeError and the like: not an ONNX model
        raise ModelFileError(f"'{path}' is not an ONNX model that the onnx package can "
                             f"read. Received: {type(e).__name__}: {e}") from None


def read_keras(path: str):
    from nnc.backends.keras.runtime import import_keras
    keras = import_keras()
    import nnc.backends.keras.layers  # noqa: F401  (nnc's own layers, for its models)
    try:
        return keras.saving.load_model(path, compile=False)
    except (TypeError, ValueError, OSError) as e:  # a custom class not registered here, ...
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ModelFileError(f"Keras cannot load '{path}' (a custom layer must be "
                             f"registered with keras.saving.register_keras_serializable "
                             f"in the process that loads it). Received: {first}") from None
