"""Debian's headless Chromium driven through Selenium and ChromeDriver, for the tests
of `nnc view`'s page (tests/test_view_browser.py), its screenshots in docs/img
(docs/make_screenshots.py) and its load-time benchmark (view_load.py).

Chromium and ChromeDriver come from Debian (apt-get install chromium chromium-driver:
.ci/run installs them); both are given by path, so that Selenium never looks for a
driver to download.
"""
from __future__ import annotations

import os
import shutil
from contextlib import contextmanager

CHROMIUM = os.environ.get("NNC_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("NNC_CHROMEDRIVER", "/usr/bin/chromedriver")


def missing() -> str | None:
    """What is missing to drive the browser, or None."""
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not (os.path.exists(path) or shutil.which(path)):
            return f"{path} is not installed (apt-get install {package})"
    try:
        import selenium  # noqa: F401  the test extras have it
    except ModuleNotFoundError:
        return "the selenium package is not installed (pip install '.[test]')"
    return None


@contextmanager
def headless_chromium(width: int = 1400, height: int = 1000):
    """A Selenium driver of a headless Chromium whose console messages can be read
    (driver.get_log('browser')); quit on leaving."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu",
                 "--disable-dev-shm-usage", f"--window-size={width},{height}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
