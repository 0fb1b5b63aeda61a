"""Veit et al.'s lesion study (NIPS 2016, Figs. 3–5) on the digits, for README.md's
"Training and lesion studies" section:

    python docs/make_lesion_figure.py

trains tests/fixtures/resnet20-digits.arch and its plain twin plain20-digits.arch with
`nnc train` and the recipe tests/fixtures/lesion-digits.yaml (the same as
tests/test_lesion.py), then deletes each unit, k random units and reorders units of
both, and writes docs/img/lesion-digits.png (ResNet above, plain below) and
docs/tables/lesion-digits.txt (what `nnc lesion` prints for each). About three minutes
on two CPU cores.
"""
from __future__ import annotations

import random
import subprocess
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
FIXTURES = ROOT / "tests" / "fixtures"
NETWORKS = [("resnet20", "ResNet-20 (option A)"), ("plain20", "plain-20")]
RANDOM_COUNTS, REORDER_SWAPS, TRIALS = [1, 2, 3, 4, 5], [1, 2, 3, 4], 5


def train(name: str, directory: Path) -> Path:
    model = directory / f"{name}.keras"
    result = subprocess.run([sys.executable, "-m", "nnc", "train",
                             str(FIXTURES / f"{name}-digits.arch"), "--recipe",
                             str(FIXTURES / "lesion-digits.yaml"), "-o", str(model)],
                            cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"nnc train {name} failed:\n{result.stderr}")
    print("\n".join(result.stdout.strip().splitlines()[-2:]))  # the summary, not each epoch
    return model


def study(model: Path):
    from nnc.experiments import data
    from nnc.experiments.lesion import Study
    from nnc.experiments.model_file import open_model
    saved = open_model(str(model))
    net = saved.compiled.network
    x, y = data.load("digits", net.layers[net.input].shape,
                     saved.info["data"]["seed"]).split("test")
    lesioned = Study(saved, x, y)
    rng = random.Random(0)
    lesioned.delete_each()
    lesioned.delete_random(RANDOM_COUNTS, TRIALS, rng)
    lesioned.reorder_random(REORDER_SWAPS, TRIALS, rng)
    return lesioned


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from nnc.experiments.lesion_report import format_text, plot
    from nnc.present.output import write_atomically
    with tempfile.TemporaryDirectory() as directory:
        studies = [(title, study(train(name, Path(directory)))) for name, title in NETWORKS]
    (DOCS / "img").mkdir(exist_ok=True)
    (DOCS / "tables").mkdir(exist_ok=True)
    plot(studies, str(DOCS / "img" / "lesion-digits.png"))
    text = "\n\n".join(format_text(s, "digits (test split, 451 images)") for _, s in studies)
    write_atomically(str(DOCS / "tables" / "lesion-digits.txt"), (text + "\n").encode())
    print(text)


if __name__ == "__main__":
    main()
