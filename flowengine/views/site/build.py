"""Building the site: every page from one database, into a fresh folder that then takes the
output folder's place.

The site is written into a new folder beside the output folder and moved into its place only
when every page is written, so a reader never sees half a site, a failure leaves the old one as
it was, and nothing is ever written through a symbolic link planted in the output folder (the
old folder, links and all, is removed, never written into). An output folder that is not a
site flowengine built (it has no ``.flowengine-site`` marker) is refused rather than replaced.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

from flowengine.analysis.disclosure import decide
from flowengine.analysis.figures import Analysis, Privacy, long_past
from flowengine.atomicfile import leaving_nothing_new
from flowengine.definition.model import Publication
from flowengine.errors import InvalidInput, Remedy
from flowengine.history.records import ADVANCED, CREATED
from flowengine.i18n import speaking, t, usable
from flowengine.meter import Meter, no_meter
from flowengine.views.comparison_diagram import comparison_diagram
from flowengine.views.drawing import draw
from flowengine.views.histories import lineage_section
from flowengine.views.sections import Section
from flowengine.views.site.feeds import Feed, atom, origin_slug
from flowengine.views.site.html import link, page
from flowengine.views.site.pages import Part, Site, index_page, proposal_href, workflow_page
from flowengine.views.site.proposal_page import Shown, proposal_page, step_text
from flowengine.views.site.style import STYLE
from flowengine.views.stall_diagram import stall_diagram
from flowengine.views.workflow_diagram import workflow_diagram

if TYPE_CHECKING:
    from flowengine.proof.checkpoint import Checkpoint
    from flowengine.service.facade import FlowEngine

__all__ = ["MARKER", "Part", "SiteResult", "build_site"]

MARKER = ".flowengine-site"
LIST_SIZE = 500  # proposals per listing page


@dataclass(frozen=True)
class SiteResult:
    out: Path
    pages: int
    proposals: int  # proposal pages
    feeds: int
    hidden: int  # counts hidden to protect privacy
    analyses: tuple[Analysis, ...]

    @property
    def index(self) -> Path:
        return self.out / "index.html"


def build_site(engine: FlowEngine, out: str | Path, *, as_of: datetime | None = None, workflows: Sequence[str] = (),
               language: str = "en", internal: bool = False, min_count: int = 3, title: str | None = None,
               analyses: Sequence[Analysis] | None = None, publication: Publication | None = None,
               intro: Sequence[Part] = (), appendix: Sequence[Part] = (), meter: Meter = no_meter,
               checkpoint: Checkpoint | None = None) -> SiteResult:
    """Build the site of ``workflows`` (every workflow with proposals when none is named) as of a
    moment into ``out``. Published (``internal`` false): roles only, free text only where the
    workflow publishes it, counts below ``min_count`` hidden with their partners, proposal pages
    only for workflows that publish them. ``analyses`` may be given when already made.

    ``publication``, when given, replaces every workflow's own setting: for data public already
    (the demo, rebuilt from a published report whose actors are pseudonyms). ``intro`` and
    ``appendix`` are parts of the index before and after the figures. ``checkpoint``: the latest
    signed checkpoint the histories were found to hold, named on every page. A report asked for
    now (no ``as_of``) of histories whose newest step is long past says so on its pages."""
    language = usable(language)
    with leaving_nothing_new(Path(out).parent):
        target = _checked(Path(out))
        return _build(engine, target, as_of, workflows, language, internal, min_count, title, analyses,
                      publication, intro, appendix, meter, checkpoint)


def _build(engine: FlowEngine, target: Path, as_of: datetime | None, workflows: Sequence[str], language: str,
           internal: bool, min_count: int, title: str | None, analyses: Sequence[Analysis] | None,
           publication: Publication | None, intro: Sequence[Part], appendix: Sequence[Part],
           meter: Meter, checkpoint: Checkpoint | None) -> SiteResult:
    with speaking(language):
        found = tuple(analyses) if analyses is not None else tuple(engine.analyse(workflows, as_of=as_of))
        if not found:
            raise InvalidInput(t("there are no proposals yet, so there is nothing to report"))
        opened = frozenset(a.workflow.id for a in found
                           if internal or (publication or a.workflow.publication).proposals)
        privacy = Privacy() if internal else decide(found, Privacy.publication(min_count), open_workflows=opened)
        marks = {wid: found_marks for wid, found_marks in engine.provenance_marks(found).items() if found_marks.any}
        # Asked for now (no moment given), of a history that ended long ago: the pages say so.
        newest = engine.newest_step([a.workflow.id for a in found]) if as_of is None and analyses is None else None
        past = newest if newest is not None and long_past(newest, found[0].as_of) else None
        site = Site(title or t("Where ideas stall"), language, privacy, found, opened, internal, marks, publication,
                    past, checkpoint)
        building = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=target.parent))
        try:
            counts = _Writer(engine, site, building, meter, intro, appendix).write_all()
            _move_into_place(building, target)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
    return SiteResult(target, *counts, len(privacy.hidden or ()), found)


def _checked(out: Path) -> Path:
    if out.is_symlink():
        raise InvalidInput(t("{folder} is a symbolic link; give the folder itself", folder=out)).fixed_by(
            Remedy("out"))
    if out.exists() and not out.is_dir():
        raise InvalidInput(t("{folder} is a file, not a folder", folder=out)).fixed_by(Remedy("out"))
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise InvalidInput(t("{folder} is not empty and holds no site flowengine built; nothing there is replaced",
                             folder=out)).fixed_by(Remedy("out"))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(t("cannot create {folder}: {reason}", folder=out.parent,
                             reason=exc.strerror or exc)) from exc
    return out


def _move_into_place(building: Path, target: Path) -> None:
    os.chmod(building, 0o755)
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.rename(target, old / "site")
        os.rename(building, target)
        shutil.rmtree(old)
    else:
        os.rename(building, target)


class _Writer:
    def __init__(self, engine: FlowEngine, site: Site, root: Path, meter: Meter, intro: Sequence[Part],
                 appendix: Sequence[Part]) -> None:
        self.engine = engine
        self.site = site
        self.root = root
        self.meter = meter
        self.intro = intro
        self.appendix = appendix
        self.pages = 0
        self.proposal_pages = 0
        self.feeds: dict[str, Feed] = {}
        # Links between proposals (an audit's findings), as registered by the site's moment; a
        # proposal is linked to only where it has a page.
        self.lines = [(line.source.proposal, [s.proposal for s in line.led_to]) for line in engine.lineage(
            [a.workflow.id for a in site.analyses], as_of=site.analyses[0].as_of, language=site.language)]
        self.published = {p.id for source, derived in self.lines for p in (source, *derived)
                          if p.workflow in site.open}
        self.led_to = {source.id: [p.id for p in derived] for source, derived in self.lines}

    def write(self, relative: str, text: str) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if relative.endswith(".html"):
            self.pages += 1
            self.meter(1)

    def write_all(self) -> tuple[int, int, int]:
        site = self.site
        self.write(MARKER, "This folder is a published report flowengine built; it is replaced whole when rebuilt.\n")
        self.write("style.css", STYLE)
        comparison = None
        if len(site.analyses) > 1:
            draw(comparison_diagram(site.analyses, site.language, site.privacy), self.root / "compare.svg")
            comparison = (self.root / "compare.svg").read_text(encoding="utf-8")
        for analysis in site.analyses:
            self.workflow(analysis)
        self.write("index.html", index_page(site, comparison, intro=self.intro, appendix=self.appendix,
                                            lineage=self.lineage()))
        moment = site.analyses[0].as_of
        for feed in self.feeds.values():
            self.write(f"feeds/{feed.key}.atom", atom(feed, site.language, moment))
        return self.pages, self.proposal_pages, len(self.feeds)

    def workflow(self, analysis: Analysis) -> None:
        site = self.site
        wf = analysis.workflow
        stalls = self.root / "w" / f"{wf.id}-stalls.svg"
        stalls.parent.mkdir(parents=True, exist_ok=True)
        draw(stall_diagram(analysis, site.language, site.privacy), stalls)
        drawn = self.root / "w" / f"{wf.id}-workflow.svg"
        draw(workflow_diagram(wf, site.language, direction="top-to-bottom"), drawn)
        lists: list[tuple[str, str]] = []
        if wf.id in site.open:
            rows = list(self.proposals(analysis))
            for number, start in enumerate(range(0, len(rows), LIST_SIZE), 1):
                chunk = rows[start:start + LIST_SIZE]
                href = f"w/{wf.id}-proposals-{number}.html"
                text = t("{first} to {last}", first=chunk[0][0], last=chunk[-1][0])
                self.write(href, self.listing(analysis, chunk, text))
                lists.append((href, text))
        self.write(f"w/{wf.id}.html", workflow_page(site, analysis, stalls.read_text(encoding="utf-8"),
                                                    drawn.read_text(encoding="utf-8"), lists))

    def proposals(self, analysis: Analysis) -> Iterable[tuple[str, str, str]]:
        """Each proposal's page; yields (id, title, where it stands) for the listings."""
        site = self.site
        wf = analysis.workflow
        stalled = {s.proposal: s for s in (*analysis.stalls, *analysis.quiet)}
        shown = Shown(wf, site.internal, site.publishes(wf))
        feed = self.feeds.setdefault(wf.id, Feed(wf.id, t("{workflow}: every step", workflow=wf.label(site.language))))
        for proposal, events in self.engine.histories(workflow=wf.id, as_of=analysis.as_of):
            self.write(proposal_href(proposal.id), proposal_page(
                site, wf, proposal, events, stalled.get(proposal.id), analysis.as_of,
                led_to=self.led_to.get(proposal.id, ()), published=self.has_page))
            self.proposal_pages += 1
            origin = None
            if proposal.origin:
                key = f"origin-{origin_slug(proposal.origin)}"
                origin = self.feeds.setdefault(key, Feed(key, t("Proposals from {origin}", origin=proposal.origin)))
            for event in events:
                if event.kind not in (CREATED, ADVANCED):
                    continue
                title = f"{proposal.id} {proposal.title}: {step_text(event, wf, site.language)}"
                summary = shown.comment(event) or step_text(event, wf, site.language)
                for target in (feed, origin):
                    if target is not None:
                        target.add(event, title, summary, proposal_href(proposal.id))
            state = wf.states.get(proposal.state)
            yield proposal.id, proposal.title, state.label(site.language) if state else proposal.state

    def has_page(self, proposal_id: str) -> bool:
        return proposal_id in self.published

    def lineage(self) -> Section | None:
        """The proposals others came from, and where those went: of published workflows only."""
        site = self.site
        shown = [(source, [p for p in derived if self.has_page(p.id)]) for source, derived in self.lines
                 if self.has_page(source.id)]
        if not shown:
            return None
        return lineage_section(shown, {a.workflow.id: a.workflow for a in site.analyses}, language=site.language)

    def listing(self, analysis: Analysis, rows: Sequence[tuple[str, str, str]], text: str) -> str:
        site = self.site
        wf = analysis.workflow
        head = "".join(f'<th scope="col">{escape(c)}</th>' for c in (t("proposal"), t("title"), t("stands now")))
        body = "".join(f'<tr><th scope="row">{link("../" + proposal_href(pid), pid)}</th><td>{escape(title)}</td>'
                       f"<td>{escape(state)}</td></tr>" for pid, title, state in rows)
        table = f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
        return page(title=f"{wf.label(site.language)}: {text} — {site.title}",
                    heading=t("{workflow}: proposals {range}", workflow=wf.label(site.language), range=text),
                    body=table, language=site.language, depth=1,
                    crumbs=[("index.html", site.title), (f"w/{wf.id}.html", wf.label(site.language))],
                    footer=site.footer())
