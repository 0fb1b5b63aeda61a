"""Keep the examples of a markdown document true: write its ```arch blocks into a
scratch folder (named by a preceding `<!-- file: NAME -->` comment; unnamed blocks must
pass `nnc check`), run the `$ ` commands of its ```console blocks there, and compare
the printed output with what the document shows.

    python docs/run_examples.py spec/language.md           # report differences
    python docs/run_examples.py spec/language.md --write   # rewrite the outputs

tests/test_docs.py runs the first form, so the reference cannot drift from nnc."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FENCE = re.compile(r"(<!-- file: (\S+) -->\n)?```(\w+)\n(.*?)```\n", re.S)


def refresh(document: Path) -> tuple[str, list[str]]:
    """The document with every console block's output as nnc prints it now, and the
    problems found (unnamed arch blocks that do not check)."""
    text = document.read_text()
    env = dict(os.environ, COLUMNS="200", PYTHONUNBUFFERED="1",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    with tempfile.TemporaryDirectory() as work:
        os.symlink(ROOT / "architectures", Path(work) / "architectures")
        parts, problems, position, unnamed = [], [], 0, 0
        for m in FENCE.finditer(text):
            parts.append(text[position:m.start()])
            position = m.end()
            name, language, body = m.group(2), m.group(3), m.group(4)
            if language == "arch":
                if name is None:
                    unnamed += 1
                    name = f"example{unnamed}.arch"
                (Path(work) / name).write_text(body)
                if name.startswith("example") and run(f"nnc check {name}", work, env)[0]:
                    problems.append(f"an unnamed example does not check:\n{body}")
            elif language == "console":
                commands = [line[2:] for line in body.splitlines() if line.startswith("$ ")]
                shown = "".join(f"$ {c}\n{run(c, work, env)[1]}\n" for c in commands)
                parts.append("```console\n" + shown.rstrip("\n") + "\n```\n")
                continue
            parts.append(m.group(0))
        parts.append(text[position:])
    return "".join(parts), problems


def run(command: str, cwd: str, env: dict) -> tuple[int, str]:
    p = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
    return p.returncode, p.stdout.rstrip("\n")


def main(argv: list[str]) -> int:
    document = Path(argv[0])
    new, problems = refresh(document)
    for problem in problems:
        print("problem:", problem)
    if "--write" in argv:
        document.write_text(new)
    elif new != document.read_text():
        print(f"{document}: the shown output differs from what nnc prints; rerun with --write")
        return 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
