"""How fast `nnc view`'s page opens: for the largest shipped networks, the time to write
the page (whole `nnc view` process) and, in headless Chromium (benchmarks/browser.py),
the time from navigation to the end of the load event (the page's script has run: the
tables, diagram and source are set up), and to the first contentful paint. Best of a few
fresh loads, each in a new tab state (the page is read from disk each time).

    .venv/bin/python benchmarks/run.py --only view

The target (issue 16): under a second for ResNet-152 and the biggest of the zoo.
"""
from __future__ import annotations

import os
import tempfile

from browser import headless_chromium
from common import ARCHITECTURES, NNC, best_process, table

NETWORKS = ("resnet152", "densenet201", "efficientnet-b7")   # the most layers: 806, 757
TIMING = """
const nav = performance.getEntriesByType('navigation')[0];
const paint = performance.getEntriesByName('first-contentful-paint')[0];
return [nav.domContentLoadedEventEnd, nav.loadEventEnd, paint ? paint.startTime : null,
        document.body.dataset.ready];
"""


def loading(repeat: int) -> dict[str, dict]:
    results = {}
    with tempfile.TemporaryDirectory() as folder, headless_chromium() as browser:
        for name in NETWORKS:
            page = os.path.join(folder, f"{name}.html")
            command = [*NNC, "view", str(ARCHITECTURES / f"{name}.arch"), "-o", page]
            write_seconds, _ = best_process(repeat, command)
            loads = []
            for _ in range(repeat + 2):
                browser.get("about:blank")
                browser.get(f"file://{page}")
                loaded, finished, painted, ready = browser.execute_script(TIMING)
                assert ready == "1", f"{name}: the page's script did not finish"
                loads.append((finished, loaded, painted))
            finished, loaded, painted = min(loads)
            results[name] = {"bytes": os.path.getsize(page), "write": write_seconds,
                             "dom_ms": loaded, "load_ms": finished, "paint_ms": painted}
    return results


def loading_table(results: dict[str, dict]) -> str:
    rows = [[name, f"{r['bytes'] / 1024:,.0f} KiB", f"{r['write']:.2f} s",
             f"{r['dom_ms']:.0f} ms", f"{r['paint_ms']:.0f} ms", f"{r['load_ms']:.0f} ms",
             "yes" if r["load_ms"] < 1000 else "**no**"]
            for name, r in results.items()]
    return table(["network", "page", "`nnc view` (whole process)", "DOM ready",
                  "first paint", "loaded, script run", "< 1 s"], rows)
