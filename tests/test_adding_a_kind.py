"""docs/adding-a-kind.md is a recipe that works: its code blocks, run in a process of their
own (registering a kind changes the global table), give a kind that compiles, counts
and lowers to a Keras model that verifies itself against the counts."""
import json
import re
import subprocess
import sys

from conftest import ROOT

GUIDE = ROOT / "docs" / "adding-a-kind.md"
# What the two files the guide edits already import at their top.
PREAMBLE = ("from nnc.ir.attrs import Attr\n"
            "from nnc.ir.kinds.base import Pointwise, register\n"
            "from nnc.backends.keras.lowering import LOWERINGS\n")
CHECK = """
import json
import nnc
from nnc.backends import check_coverage
check_coverage(LOWERINGS, "Keras")
net = nnc.compile_text(NETWORK, "prelu.arch")
model = net.to_keras()
print(json.dumps({"trainable": net.stats.totals.trainable,
                  "prelu": model.get_layer("conv1.prelu1").count_params(),
                  "kinds": [l.kind.name for l in net.network.layers.values()]}))
"""


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", GUIDE.read_text(), re.S)


def test_the_guide_adds_a_kind_that_compiles_counts_and_builds():
    code = PREAMBLE + "\n".join(blocks("python")) + f"\nNETWORK = {blocks('text')[0]!r}\n"
    result = subprocess.run([sys.executable, "-c", code + CHECK], capture_output=True,
                            text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["kinds"] == ["input", "conv", "bn", "prelu"]
    assert figures["prelu"] == 16  # one slope per channel, as Keras counts them too
    assert figures["trainable"] == (3 * 3 * 3 * 16 + 16) + 2 * 16 + 16  # as the guide says
