"""The demo's published site in a real browser: Debian's headless Chromium driven by Selenium.

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


def _open(browser: object, path: Path, size: tuple[int, int]) -> object:
    from selenium.webdriver.remote.webdriver import WebDriver

    assert isinstance(browser, WebDriver)
    browser.set_window_size(*size)
    browser.get(path.as_uri())
    return browser


def test_the_site_opens_with_its_diagrams_and_tables(browser: object, built: DemoResult) -> None:
    from selenium.webdriver.common.by import By

    assert built.report is not None
    index = _open(browser, built.report, DESKTOP)
    assert "Where ideas stall" in index.title  # type: ignore[attr-defined]
    for section, expected in (("stalls", built.stalls), ("quiet", built.quiet)):
        table = index.find_element(By.CSS_SELECTOR, f"#{section} + .scroll table")  # type: ignore[attr-defined]
        rows = table.find_elements(By.CSS_SELECTOR, "tbody tr")
        assert [row.find_element(By.TAG_NAME, "th").text for row in rows] == [s.proposal for s in expected]
    assert len(built.stalls) == 2 and len(built.quiet) == 6
    marked = index.find_elements(By.CSS_SELECTOR, "td.src-illustrative")  # type: ignore[attr-defined]
    assert marked and all(cell.value_of_css_property("background-color") != "rgba(0, 0, 0, 0)"
                          for cell in marked if cell.is_displayed())  # the marker is seen, not only read
    index.save_screenshot(str(artifacts() / "site-index-desktop.png"))  # type: ignore[attr-defined]
    page = _open(browser, built.report.parent / "w" / "trondheim.html", DESKTOP)
    shown = [svg for svg in page.find_elements(By.CSS_SELECTOR, "figure svg") if svg.is_displayed()]  # type: ignore[attr-defined]
    assert len(shown) == 2  # the stall diagram and the workflow as declared
    page.save_screenshot(str(artifacts() / "site-workflow-desktop.png"))  # type: ignore[attr-defined]


@pytest.mark.parametrize("page", ["index.html", "w/trondheim.html", "p/TRD-1.html"])
def test_the_site_is_readable_on_a_phone(browser: object, built: DemoResult, page: str) -> None:
    from selenium.webdriver.common.by import By

    assert built.report is not None
    opened = _open(browser, built.report.parent / page, PHONE)
    run = opened.execute_script  # type: ignore[attr-defined]
    assert run("return document.documentElement.scrollWidth") <= run("return window.innerWidth"), (
        "the page itself must not scroll sideways; wide tables and diagrams scroll in their own frame")
    heading = opened.find_element(By.TAG_NAME, "h1")  # type: ignore[attr-defined]
    assert heading.is_displayed()
    smallest = run("const sizes = [...document.querySelectorAll('figure svg text')]"
                   ".map(t => t.getBoundingClientRect().height).filter(h => h > 0);"
                   "return sizes.length ? Math.min(...sizes) : null;")
    if smallest is not None:  # measured in the page: the diagrams' text as drawn
        assert smallest >= 11, f"diagram text {smallest:.1f} px high"
    shot = artifacts() / f"site-{page.replace('/', '-').removesuffix('.html')}-phone.png"
    opened.save_screenshot(str(shot))  # type: ignore[attr-defined]
    assert shot.stat().st_size > 5_000


AXE = REPO_ROOT / "tests" / "accessibility" / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
@pytest.mark.parametrize("page", ["index.html", "w/trondheim.html", "p/TRD-1.html", "index-nb"])
def test_axe_finds_no_serious_accessibility_violation(browser: object, built: DemoResult, nb_site: Path, page: str,
                                                      size: tuple[int, int]) -> None:
    """axe-core (pinned in tests/accessibility, installed by scripts/install --test) run inside the
    page as a screen-reader user's advocate would: no serious or critical violation."""
    assert AXE.is_file(), "axe-core is missing: run bash scripts/install --test"
    assert built.report is not None
    path = nb_site / "index.html" if page == "index-nb" else built.report.parent / page
    serious = [f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
               for v in _axe(browser, path, size) if v.get("impact") in SERIOUS]
    assert serious == [], "\n".join(serious)


def _axe(browser: object, path: Path, size: tuple[int, int]) -> list[dict[str, object]]:
    opened = _open(browser, path, size)
    opened.execute_script(AXE.read_text(encoding="utf-8"))  # type: ignore[attr-defined]
    opened.set_script_timeout(60)  # type: ignore[attr-defined]
    violations = opened.execute_async_script(  # type: ignore[attr-defined]
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations), e => done(String(e)));")
    assert isinstance(violations, list), violations
    return violations


def test_axe_does_find_violations_in_a_page_that_has_them(browser: object, tmp_path: Path) -> None:
    """The check above can fail: a picture without words and pale grey text are caught."""
    page = tmp_path / "bad.html"
    page.write_text('<!doctype html><html lang="en"><head><title>bad</title></head><body><main>'
                    '<img src="x.png"><p style="color:#ccc;background:#fff">pale</p></main></body></html>',
                    encoding="utf-8")
    found = {str(v["id"]): v.get("impact") for v in _axe(browser, page, DESKTOP)}
    assert found.get("image-alt") == "critical" and found.get("color-contrast") == "serious"


@pytest.fixture(scope="module")
def nb_site(built: DemoResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's database published in Norwegian, as `flowengine report` builds it."""
    from flowengine import FlowEngine
    from flowengine.views.site.build import build_site

    with FlowEngine.open(str(built.database)) as engine:
        return build_site(engine, tmp_path_factory.mktemp("nb") / "site", language="nb",
                          as_of=built.loaded.as_of).out
