"""`nnc import`: a Keras model (.keras) back to a readable .arch file, with its weights
when asked. Keras is imported only to read a .keras file."""
from __future__ import annotations

import os

from nnc.cli.common import USER_ERROR, note, report
from nnc.errors import NncError
from nnc.present.output import write_atomically


def add_commands(commands, common) -> None:
    command = commands.add_parser("import", parents=[common],
                                  help="a Keras model (.keras) back to a readable .arch file")
    command.add_argument("model", metavar="MODEL", help="a .keras file")
    command.add_argument("-o", "--output", required=True, metavar="OUT",
                         help="the .arch file to write")
    command.add_argument("--partial", action="store_true",
                         help="write what the language can express, the rest listed in "
                              "comments, instead of failing")
    command.add_argument("--weights", metavar="WEIGHTS",
                         help="also write the model's weights into the imported network's "
                              "Keras model (a .keras file)")
    command.set_defaults(run=run_import)


class ImportError_(NncError):
    what = "import"


def run_import(args) -> int:
    try:
        model = read_model(args.model)
        from nnc.backends.keras.raise_ import from_keras
        from nnc.present.fold import write_arch
        text = write_arch(from_keras(model), os.path.basename(args.model), args.partial)
        write_atomically(args.output, text.encode())
        if args.weights:
            from nnc.backends.keras.raise_ import save_weights
            save_weights(model, text, args.output, args.weights)
    except NncError as e:
        report(e, args.model)
        return USER_ERROR
    note(f"wrote {args.output}")
    return 0


def read_model(path: str):
    if not os.path.isfile(path) or not path.endswith(".keras"):
        raise ImportError_(f"nnc import reads a Keras model saved as a .keras file. "
                           f"Received: {path}")
    from nnc.backends.keras.runtime import import_keras
    keras = import_keras()
    import nnc.backends.keras.layers  # noqa: F401  (nnc's own layers, for its models)
    return keras.saving.load_model(path, compile=False)
