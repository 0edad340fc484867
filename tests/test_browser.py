"""The demo's HTML report in a real browser: Debian's headless Chromium driven by Selenium.

The screenshots are kept as CI artifacts in ``out/ci-artifacts/`` (or ``$FLOWENGINE_ARTIFACTS``),
one as a phone sees the report and one as a desktop does.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowengine.demo import DemoResult, build_demo

from .conftest import REPO_ROOT

# The page is the same whatever database it was read from: one run is enough.
pytestmark = pytest.mark.sqlite_only("builds the demo, a SQLite file by design")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
PHONE = (390, 844)
DESKTOP = (1280, 1000)


def artifacts() -> Path:
    folder = Path(os.environ.get("FLOWENGINE_ARTIFACTS") or REPO_ROOT / "out" / "ci-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    return build_demo(tmp_path_factory.mktemp("browser") / "demo")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists(), (
        "Chromium and its driver are needed: run scripts/install (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--hide-scrollbars", f"--window-size={PHONE[0]},{PHONE[1]}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def test_the_report_opens_with_its_diagrams_and_tables(browser: object, built: DemoResult) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver

    assert isinstance(browser, WebDriver) and built.report is not None
    browser.set_window_size(*DESKTOP)
    browser.get(built.report.as_uri())
    assert "Where ideas stall" in browser.title
    shown = [svg for svg in browser.find_elements(By.CSS_SELECTOR, "figure svg") if svg.is_displayed()]
    assert len(shown) == 7  # the comparison and each workflow's stall diagram (5 + the audit); workflows folded
    for svg in shown:
        assert svg.size["width"] > 200 and svg.size["height"] > 100, "a diagram drawn too small to read"
    for section, expected in (("stalls", built.stalls), ("quiet", built.quiet)):
        rows = browser.find_element(By.CSS_SELECTOR, f"#{section} table").find_elements(By.CSS_SELECTOR, "tbody tr")
        assert [row.find_element(By.TAG_NAME, "td").text for row in rows] == [s.proposal for s in expected]
    assert len(built.stalls) == 2 and len(built.quiet) == 6
    marked = browser.find_elements(By.CSS_SELECTOR, "td.src-illustrative")
    assert marked and all(cell.value_of_css_property("background-color") != "rgba(0, 0, 0, 0)"
                          for cell in marked if cell.is_displayed())  # the marker is seen, not only read
    assert len(browser.find_elements(By.CSS_SELECTOR, "table")) >= 2 + 2 + 6 * 3  # stalls, quiet, compare, 3 each
    for heading in ("funnel", "feedback loop"):
        assert any(heading in h.text for h in browser.find_elements(By.TAG_NAME, "h3"))
    browser.save_screenshot(str(artifacts() / "report-desktop.png"))


def test_the_report_is_readable_on_a_phone(browser: object, built: DemoResult) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.remote.webdriver import WebDriver

    assert isinstance(browser, WebDriver) and built.report is not None
    browser.set_window_size(*PHONE)
    browser.get(built.report.as_uri())
    page_width = browser.execute_script("return document.documentElement.scrollWidth")
    view_width = browser.execute_script("return window.innerWidth")
    assert page_width <= view_width, "the page itself must not scroll sideways; wide tables scroll in place"
    heading = browser.find_element(By.TAG_NAME, "h1")
    assert heading.is_displayed() and heading.size["width"] <= view_width
    shot = artifacts() / "report-phone.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
