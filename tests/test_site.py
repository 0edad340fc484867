"""The published site: built from the demo and from a synthetic database, searched for what a
published page must not reveal (tests/test_site_privacy.py solves its hidden counts as a reader
would)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from flowengine import FlowEngine
from flowengine.analysis.figures import SUPPRESSED
from flowengine.demo import build_demo
from flowengine.errors import InvalidInput
from flowengine.views.site.build import build_site

from .conftest import REPO_ROOT

pytestmark = pytest.mark.sqlite_only("builds SQLite files by design")
sys.path.insert(0, str(REPO_ROOT / "bench"))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("site") / "demo").out_dir


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import synthetic as generator  # bench/synthetic.py

    path = tmp_path_factory.mktemp("synthetic") / "flowengine.db"
    generator.write_database(str(path), generator.generate(40, 7))
    return path


def _texts(site: Path) -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for p in site.rglob("*") if p.is_file()}


def _actors(database: Path) -> set[str]:
    with FlowEngine.open(str(database)) as engine:
        return {e.actor for _, events in engine.histories() for e in events} - {"system"}


def test_the_demo_site_is_self_contained_and_every_link_resolves(demo: Path) -> None:
    site = demo / "site"
    for path, text in _texts(site).items():
        if path.suffix != ".html":
            continue
        assert "<script" not in text.lower()
        for href in re.findall(r'(?:href|src)="([^"#]+)', text):
            assert "://" not in href, f"{path}: fetches {href}"
            assert (path.parent / href).resolve().is_file(), f"{path}: broken link {href}"


def test_no_actor_name_appears_anywhere_in_a_published_site(demo: Path, synthetic: Path, tmp_path: Path) -> None:
    with FlowEngine.open(str(synthetic)) as engine:
        build_site(engine, tmp_path / "synthetic-site")
    for database, site in ((demo / "flowengine.db", demo / "site"), (synthetic, tmp_path / "synthetic-site")):
        names = _actors(database)
        assert names
        for path, text in _texts(site).items():
            found = [name for name in names if re.search(rf"\b{re.escape(name)}\b", text)]
            assert found == [], f"{path} names {found}"


def test_figures_only_workflows_show_no_free_text_and_hide_small_counts(synthetic: Path, tmp_path: Path) -> None:
    with FlowEngine.open(str(synthetic)) as engine:
        built = build_site(engine, tmp_path / "site")
        titles = {p.title for p, _ in engine.histories()}
        comments = {e.comment for _, events in engine.histories() for e in events if e.comment}
    assert built.proposals == 0 and built.hidden > 0
    everything = "".join(_texts(tmp_path / "site").values())
    assert not [title for title in titles if title in everything]
    assert not [comment for comment in comments if comment in everything]
    assert SUPPRESSED in everything


def test_deciding_what_to_hide_prints_nothing(synthetic: Path) -> None:
    """The solver's banner would land in a report written to standard output."""
    program = ("import sys; from flowengine import FlowEngine; from flowengine.analysis.disclosure import decide; "
               "from flowengine.analysis.figures import Privacy\n"
               f"with FlowEngine.open({str(synthetic)!r}) as engine:\n"
               "    assert decide(engine.analyse(), Privacy.publication()).hidden\n")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and "HiGHS" not in done.stderr


def test_a_symbolic_link_or_a_foreign_folder_is_never_replaced(synthetic: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "link").symlink_to(elsewhere)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep", encoding="utf-8")
    with FlowEngine.open(str(synthetic)) as engine:
        with pytest.raises(InvalidInput, match="symbolic link"):
            build_site(engine, tmp_path / "link")
        with pytest.raises(InvalidInput, match="no site flowengine built"):
            build_site(engine, tmp_path / "mine")
        built = build_site(engine, tmp_path / "site")
        planted = built.out / "w" / "planted.html"
        planted.symlink_to(elsewhere / "target.html")
        build_site(engine, tmp_path / "site")  # rebuilt whole: the planted link is gone, not written through
    assert list(elsewhere.iterdir()) == [] and not planted.exists()
    assert (tmp_path / "mine" / "notes.txt").read_text(encoding="utf-8") == "keep"


def test_the_feeds_are_atom_a_feed_reader_reads(demo: Path) -> None:
    import feedparser

    feeds = sorted((demo / "site" / "feeds").glob("*.atom"))
    assert len(feeds) >= 5 + 1  # one per workflow, and per origin
    for path in feeds:
        parsed = feedparser.parse(path.read_bytes())
        assert not parsed.bozo, f"{path}: {parsed.get('bozo_exception')}"
        assert parsed.version == "atom10" and parsed.entries
        for entry in parsed.entries:
            assert entry.id.startswith("urn:uuid:") and entry.title and entry.updated
