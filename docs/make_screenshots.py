"""The pictures of `nnc view`'s page in README.md, taken in Debian's headless Chromium
as a user would see them:

    python docs/make_screenshots.py

writes docs/img/view-resnet50.png (ResNet-50's page, conv3_x expanded and the stem's
diagram node clicked) and docs/img/view-broken.png (the page of docs/examples/broken.arch,
which does not check). Needs chromium, chromium-driver and selenium (see
benchmarks/browser.py) and Graphviz's dot.
"""
from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
from browser import headless_chromium  # noqa: E402

sys.path.insert(0, str(ROOT))
from nnc.present.output import write_atomically  # noqa: E402

CLICK_STEM = """
const data = JSON.parse(document.querySelector('#p0 script.nnc-data').textContent);
const index = data.layers.findIndex(l => l.name === 'conv1.conv1');
const id = Object.keys(data.nodes).find(k => data.nodes[k].includes(index));
document.querySelector("#p0 tr[data-key='r2'] .nnc-toggle").click();
[...document.querySelectorAll('g.node')].find(g => g.querySelector('title').textContent === id)
  .dispatchEvent(new MouseEvent('click', {bubbles: true}));
"""
SHOW_ERROR = "document.querySelector('.nnc-problem').scrollIntoView({block: 'center'});"
PAGES = [  # (file, picture, script run before the picture)
    ("architectures/resnet50.arch", "view-resnet50.png", CLICK_STEM),
    ("docs/examples/broken.arch", "view-broken.png", SHOW_ERROR),
]


def main() -> None:
    with tempfile.TemporaryDirectory() as folder, headless_chromium(1400, 900) as browser:
        for source, picture, script in PAGES:
            page = Path(folder) / "page.html"
            subprocess.run([sys.executable, "-m", "nnc", "view", source, "-o", str(page)],
                           cwd=ROOT, capture_output=True)   # exit 2 for the broken file
            browser.get(page.as_uri())
            browser.execute_script(script)
            time.sleep(0.3)   # let the page lay out what the script changed
            write_atomically(str(DOCS / "img" / picture), browser.get_screenshot_as_png())
            print(f"wrote docs/img/{picture}")


if __name__ == "__main__":
    main()
