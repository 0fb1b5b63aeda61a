"""`nnc view`'s page in a real browser (Debian's headless Chromium, which CI installs):
it renders without console errors, clicking a diagram node shows that node's layers and
their figures, the layer table expands, a source line shows the layers it made, Ctrl and
the wheel zoom the diagram about the pointer, two files' pages share one details box, a
broken file's page shows the error under its line (tabs and all), and a page served with
--serve reloads itself when the file is saved."""
from __future__ import annotations

import re
import sys
import time

import pytest
from conftest import ARCHITECTURES, IN_CI, ROOT, needs_dot, served

from nnc import cli

sys.path.insert(0, str(ROOT / "benchmarks"))
from browser import headless_chromium, missing  # noqa: E402

pytestmark = pytest.mark.skipif(missing() is not None and not IN_CI,
                                reason=f"no browser to drive: {missing()}; CI installs it")

BROKEN = "network broken\ninput 32x32x3\nconv1: conv3-16, bn, relu\nfc:\tfc-10,\tsoftmaxx\n"


@pytest.fixture(scope="module")
def browser():
    with headless_chromium() as driver:
        yield driver


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pages")
    (folder / "broken.arch").write_text(BROKEN)
    made = {}
    for name, sources in (("resnet50", [ARCHITECTURES / "resnet50.arch"]),
                          ("broken", [folder / "broken.arch"]),
                          ("pair", [ARCHITECTURES / "vggC.arch", ARCHITECTURES / "vggD.arch"])):
        made[name] = folder / f"{name}.html"
        cli.main(["view", *map(str, sources), "-o", str(made[name])])
    return made


def open_page(browser, path):
    browser.get(path.as_uri())
    assert browser.execute_script("return document.body.dataset.ready") == "1"
    assert console_errors(browser) == []


def console_errors(browser) -> list:
    return [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def details(browser) -> str:
    box = browser.find_element("css selector", "#p0 .nnc-details")
    assert box.is_displayed()
    return box.text


@needs_dot
def test_clicking_a_diagram_node_shows_its_layers_figures(browser, pages):
    open_page(browser, pages["resnet50"])
    node = browser.execute_script("""
        const data = JSON.parse(document.querySelector('#p0 script.nnc-data').textContent);
        const index = data.layers.findIndex(l => l.name === 'conv1.conv1');
        const id = Object.keys(data.nodes).find(k => data.nodes[k].includes(index));
        return [...document.querySelectorAll('g.node')].find(
            g => g.querySelector('title').textContent === id);""")
    node.click()
    text = details(browser)
    # ResNet's stem: conv 7×7, 64, stride 2 on RGB (no bias) + BN's four per channel
    assert f"3 layers · {7 * 7 * 3 * 64 + 4 * 64:,} params" in text
    assert "conv1.conv1" in text and "conv: 7×7, 64, stride 2" in text and "112×112×64" in text
    assert "resnet50.arch:" in text
    assert "nnc-picked" in node.get_attribute("class")
    assert console_errors(browser) == []


def test_the_layer_table_expands_and_a_source_line_shows_what_it_made(browser, pages):
    open_page(browser, pages["resnet50"])
    visible = "return [...document.querySelectorAll('#p0 tr.lv1, #p0 tr.lv2')].filter(r => !r.hidden).length"
    assert browser.execute_script(visible) == 0
    row = browser.find_element("css selector", "#p0 tr[data-key='r2']")   # conv3_x
    row.find_element("css selector", ".nnc-toggle").click()
    assert browser.execute_script(visible) == 4   # ResNet-50's Table 1: conv3_x is ×4
    written = (ARCHITECTURES / "resnet50.arch").read_text().splitlines()
    line = next(i for i, text in enumerate(written, 1) if text.startswith("conv3_x:"))
    browser.find_element("id", f"p0-L{line}").click()
    text = details(browser)
    assert f"line {line}" in text.splitlines()
    assert "conv3_x.1." in text and "conv3_x.4." in text and "conv2_x" not in text
    assert console_errors(browser) == []


@needs_dot
def test_ctrl_and_the_wheel_zoom_the_diagram_about_the_pointer(browser, pages):
    open_page(browser, pages["resnet50"])
    before, after, plain = browser.execute_script("""
        const svg = document.querySelector('#p0 .nnc-diagram svg');
        const box = svg.getBoundingClientRect();
        const x = box.left + box.width * 0.3, y = box.top + box.height * 0.6;
        const under = () => {   // the diagram's point under the pointer, and the zoom
          const p = svg.createSVGPoint(); p.x = x; p.y = y;
          const q = p.matrixTransform(svg.getScreenCTM().inverse());
          return [q.x, q.y, svg.viewBox.baseVal.width];
        };
        const wheel = ctrl => svg.dispatchEvent(new WheelEvent('wheel', {deltaY: -100,
            ctrlKey: ctrl, bubbles: true, cancelable: true, clientX: x, clientY: y}));
        const first = under();
        wheel(true);
        const second = under();
        wheel(false);   // the wheel alone is the page's: no zoom
        return [first, second, under()];""")
    assert after[2] == pytest.approx(before[2] / 1.2)
    assert after[:2] == pytest.approx(before[:2], abs=before[2] * 1e-3)   # float32 viewBox
    assert plain == pytest.approx(after)


def test_two_pages_side_by_side_share_one_details_box(browser, pages):
    open_page(browser, pages["pair"])
    browser.find_element("css selector", "#p0 tr[data-key='r0']").click()
    browser.find_element("css selector", "#p1 tr[data-key='r0']").click()
    shown = [box.is_displayed() for box in
             browser.find_elements("css selector", ".nnc-details")]
    assert shown == [False, True]
    assert browser.find_elements("css selector", "#p0 .nnc-picked") == []
    assert console_errors(browser) == []


def test_a_broken_files_page_shows_the_error_under_its_line(browser, pages):
    open_page(browser, pages["broken"])
    line = browser.find_element("id", "p0-L4")
    problem = browser.find_element("css selector", "#p0 .nnc-problem.nnc-error")
    assert problem.is_displayed()
    assert "unknown layer kind or block 'softmaxx'; did you mean 'softmax'?" in problem.text
    below = problem.location["y"] - (line.location["y"] + line.size["height"])
    assert 0 <= below < 2   # right under line 4, nothing between
    caret = problem.find_element("css selector", ".nnc-caret")
    word = browser.execute_script("""
        const code = document.querySelector('#p0-L4 code');
        const range = document.createRange();
        const text = [...code.querySelectorAll('span')].find(s => s.textContent.includes('softmaxx'));
        range.selectNodeContents(text);
        return range.getBoundingClientRect().left;""")
    caret_x = browser.execute_script("""
        const c = arguments[0]; const range = document.createRange();
        range.setStart(c.firstChild, c.textContent.length - 1);
        range.setEnd(c.firstChild, c.textContent.length);
        return range.getBoundingClientRect().left;""", caret)
    assert abs(caret_x - word) < 1.5   # the caret stands under the misspelt word's first letter


def test_a_served_page_reloads_itself_when_the_file_is_saved(browser, tmp_path):
    arch = tmp_path / "live.arch"
    arch.write_text("network live\ninput 8x8x1\nconv1: conv3-4\nfc: fc-10\n")
    with served(arch) as (_, line):
        url = re.search(r"serving at (\S+)", line).group(1)
        browser.get(url)
        params = "return document.querySelector('.nnc-totals td').textContent"
        assert browser.execute_script(params) == f"{(9 + 1) * 4 + (8 * 8 * 4 + 1) * 10:,}"
        arch.write_text("network live\ninput 8x8x1\nconv1: conv3-8\nfc: fc-10\n")
        expected = f"{(9 + 1) * 8 + (8 * 8 * 8 + 1) * 10:,}"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:   # the page asks twice a second
            time.sleep(0.2)
            if browser.execute_script(params) == expected:
                break
        assert browser.execute_script(params) == expected
        assert console_errors(browser) == []
