"""Regenerate the pictures and tables of README.md's "Seeing a network" section and of
docs/seeing.md by running `nnc`, as a user would:

    python docs/make_figures.py

writes docs/img/*.svg and *.png (Graphviz's `dot` must be installed) and docs/tables/*,
then puts each generated text between its markers in README.md and docs/seeing.md:

    <!-- make_figures: tables/resnet50.md -->
    ...replaced...
    <!-- /make_figures -->

Every file is written atomically; the rest of README.md is left as it is.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
DIAGRAMS = [  # (architecture file, picture name, extra nnc draw options)
    ("architectures/resnet152.arch", "resnet152", []),
    ("architectures/googlenet.arch", "googlenet", []),
    ("architectures/unet.arch", "unet", []),
    ("docs/examples/three-conv3-vs-conv7.arch", "three-conv3-vs-conv7", ["--expand"]),
]
TEXTS = {  # generated text file -> the nnc command that prints it
    "tables/resnet50.md": ["stats", "--format", "markdown", "architectures/resnet50.arch"],
    "tables/googlenet.md": ["stats", "--format", "markdown", "architectures/googlenet.arch"],
    "tables/resnet50.tex": ["stats", "--format", "latex", "architectures/resnet50.arch"],
    "tables/vggC-vs-vggD.txt": ["diff", "architectures/vggC.arch", "architectures/vggD.arch"],
    "tables/three-conv3-vs-conv7.txt": ["stats", "docs/examples/three-conv3-vs-conv7.arch"],
    "tables/resnet110-cifar.txt": ["stats", "architectures/resnet110-cifar.arch"],
}
MARKER = re.compile(r"(<!-- make_figures: (\S+) -->\n)(.*?)(<!-- /make_figures -->)", re.S)


def nnc(*args: str) -> str:
    result = subprocess.run([sys.executable, "-m", "nnc", *args], cwd=ROOT,
                            capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"nnc {' '.join(args)} failed:\n{result.stderr}")
    return result.stdout


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(handle, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(temporary, 0o644)
    os.replace(temporary, path)


def fenced(name: str, text: str) -> str:
    """Markdown tables go in as they are; other text inside a code fence."""
    return text if name.endswith(".md") else f"```\n{text}```\n"


def fill_markers(document: Path, generated: dict[str, str]) -> None:
    old = document.read_text(encoding="utf-8")
    new = MARKER.sub(lambda m: m.group(1) + fenced(m.group(2), generated[m.group(2)])
                     + m.group(4), old)
    if new != old:
        write(document, new)
        print(f"updated {document.relative_to(ROOT)}")


def main() -> None:
    (DOCS / "img").mkdir(exist_ok=True)
    for source, name, options in DIAGRAMS:
        for suffix in ("svg", "png"):
            print(nnc("draw", source, "-o", f"docs/img/{name}.{suffix}", *options).strip())
    generated = {}
    for name, command in TEXTS.items():
        generated[name] = nnc(*command)
        write(DOCS / name, generated[name])
        print(f"wrote docs/{name}")
    for document in (ROOT / "README.md", DOCS / "seeing.md"):
        fill_markers(document, generated)


if __name__ == "__main__":
    main()
