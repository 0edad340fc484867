"""The site's index and workflow pages, from the analyses and the stall report's sections.

Counts go through the one privacy decision (:class:`~flowengine.analysis.figures.Privacy`), so
a page shows a count exactly as the tables and diagrams beside it do; stalled and quiet
proposals are listed one by one only for workflows whose pages are published (:class:`Site.open`).
Where histories were rebuilt from a source, every figure says which kind of step it rests on
(stated, inferred, illustrative), as the stall report does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING

from flowengine.analysis.cells import SITE, cell, done
from flowengine.analysis.figures import CARRIED_ON, Analysis, Privacy
from flowengine.analysis.provenance import Marks
from flowengine.clock import iso_utc
from flowengine.definition.model import Publication, Workflow
from flowengine.history.provenance import ILLUSTRATIVE, INFERRED, KINDS, kind_word, legend, weakest
from flowengine.i18n import t
from flowengine.i18n.formats import long_date
from flowengine.views.figure_wording import DASH, local_day
from flowengine.views.report import build_comparison, build_sections, quiet_section, stall_section
from flowengine.views.sections import Section
from flowengine.views.site.html import diagram_figure, link, page, section_html
from flowengine.views.stall_diagram import SEVERITY_COLOURS, SOLID_STAYS, tint

if TYPE_CHECKING:
    from flowengine.proof.checkpoint import Checkpoint

__all__ = ["Part", "Site", "index_page", "proposal_href", "workflow_href", "workflow_page"]

_SECTIONS = ("stages", "states", "funnel", "feedback", "transitions", "loops", "flow")


@dataclass(frozen=True)
class Part:
    """A part of the index beyond the figures, given by whoever builds the site (the demo: where
    its data comes from, what its source tells besides the proposals): an anchor, a heading, a
    lead text and tables."""

    anchor: str
    heading: str
    sections: tuple[Section, ...] = ()
    lead: str = ""


@dataclass(frozen=True)
class Site:
    """What every page of one site shares."""

    title: str
    language: str
    privacy: Privacy
    analyses: tuple[Analysis, ...]
    open: frozenset[str]  # workflows whose proposals have pages (all, for an internal site)
    internal: bool
    marks: Mapping[str, Marks] = field(default_factory=dict)  # by workflow, where histories record provenance
    publication: Publication | None = None  # in place of each workflow's own setting, when given
    newest: datetime | None = None  # the newest step of the histories shown, when the report is long past it
    checkpoint: Checkpoint | None = None  # the latest signed checkpoint the histories were found to hold

    @property
    def as_of(self) -> str:
        return long_date(local_day(self.analyses[0].as_of, self.analyses[0].as_of), self.language) \
            if self.analyses else ""

    def publishes(self, workflow: Workflow) -> Publication:
        """What a published page may show of ``workflow``'s proposals beyond its figures."""
        return self.publication if self.publication is not None else workflow.publication

    def lead(self, text: str) -> str:
        """A page's lead, with what a reader must know first when the history ended long before
        the report's moment."""
        if self.newest is None or not self.analyses:
            return text
        moment = self.analyses[0].as_of
        return text + " " + t("The newest record is from {newest}, long before {date}: every proposal still open "
                              "counts as waiting all that time. As of {newest}, the report shows the history as it "
                              "stood when its records end.", date=self.as_of,
                              newest=long_date(local_day(self.newest, moment), self.language))

    def footer(self) -> str:
        if self.internal:
            text = t("Internal report: names, comments and every count are shown. Do not publish it.")
        else:
            text = t("Published report: people are shown by their role only; comments and fields only where the "
                     "workflow publishes them. Counts marked “:” are hidden to protect privacy: those below {n}, and "
                     "as many others as it takes that none of them can be worked out from the rest.",
                     n=self.privacy.min_count)
        if self.checkpoint is not None:
            taken = self.checkpoint
            text += " " + t("Every history shown still holds what the signed checkpoint of {time} recorded: {chains} "
                            "chains, Merkle root {root}, key {key}.", time=iso_utc(taken.time),
                            chains=len(taken.heads), root=taken.root, key=taken.key_id)
        return text


def proposal_href(proposal_id: str) -> str:
    return f"p/{proposal_id}.html"


def workflow_href(workflow_id: str) -> str:
    return f"w/{workflow_id}.html"


def _count(site: Site, n: int, key: str) -> str:
    return escape(site.privacy.count(n, key))


def _rests_on(site: Site) -> dict[str, str | None]:
    """For each headline figure, the weakest step it rests on (None: no step records one)."""
    marks = site.marks

    def of(kinds: Sequence[str | None]) -> str | None:
        return weakest(list(kinds))

    analyses = [a for a in site.analyses if a.workflow.id in marks]
    return {
        "stalled": of([marks[a.workflow.id].stalls.get(s.proposal) for a in analyses for s in a.stalls]),
        "quiet": of([marks[a.workflow.id].stalls.get(s.proposal) for a in analyses for s in a.quiet]),
        "answered": of([marks[a.workflow.id].feedback for a in analyses]),
        "done": of([kind for a in analyses for kind in (
            marks[a.workflow.id].funnel.get("implemented"), marks[a.workflow.id].funnel.get("partially_implemented"),
            marks[a.workflow.id].funnel.get("evaluation"), marks[a.workflow.id].stages.get("implementation"))]),
        "carried": of([marks[a.workflow.id].funnel.get(outcome) for a in analyses for outcome in CARRIED_ON]),
    }


def _figures(site: Site) -> str:
    analyses = site.analyses
    rests = _rests_on(site)
    stalled = sum(len(a.stalls) for a in analyses)
    count = site.privacy.count
    items = [
        (count(sum(a.proposals for a in analyses), cell(SITE, "proposals")), t("proposals"), None, False),
        (count(stalled, cell(SITE, "stalled")), t("stalled now"), rests["stalled"], stalled > 0),
        (count(sum(len(a.quiet) for a in analyses), cell(SITE, "quiet")), t("gone quiet (no record since)"),
         rests["quiet"], False),
        (count(sum(a.feedback.answered.count for a in analyses), cell(SITE, "answered")), t("got a reasoned answer"),
         rests["answered"], False),
        (count(sum(done(a) for a in analyses), cell(SITE, "done")), t("implemented, in use or partly in place"),
         rests["done"], False),
        (count(sum(a.funnel.carried_on for a in analyses), cell(SITE, "carried_on")), t("carried on elsewhere"),
         rests["carried"], False),
    ]
    html = []
    for value, what, kind, warn in items:
        note = ""
        if kind in (ILLUSTRATIVE, INFERRED):
            note = f'<small class="src-{kind}">{escape(t("rests on {kind} steps", kind=kind_word(kind)))}</small>'
        html.append(f'<li class="{"warn" if warn else ""}"><b>{escape(value)}</b>{escape(what)}{note}</li>')
    return '<ul class="figures">' + "".join(html) + "</ul>"


def provenance_legend() -> str:
    """What stated, inferred and illustrative mean (for pages where some history records them)."""
    items = "".join(f'<dt><span class="src src-{kind}">{escape(kind_word(kind))}</span></dt>'
                    f"<dd>{escape(legend(kind))}</dd>" for kind in KINDS)
    lead = t("Some histories were rebuilt from a source after the fact. Each step says where it comes from, and "
             "each figure which is the weakest kind of step it rests on:")
    return (f'<h2 id="sources">{escape(t("Where the steps come from"))}</h2><p>{escape(lead)}</p>'
            f'<dl class="legend">{items}</dl>')


def _stall_lists(site: Site, depth: int, analyses: Sequence[Analysis]) -> str:
    """The stalled proposals and those gone quiet, of the workflows whose proposals are published."""
    listed = [a for a in analyses if a.workflow.id in site.open]
    marks = {a.workflow.id: site.marks[a.workflow.id] for a in listed if a.workflow.id in site.marks}
    links = {s.proposal: f"{'../' * depth}{proposal_href(s.proposal)}" for a in listed for s in (*a.stalls, *a.quiet)}
    html = section_html(stall_section(listed, site.language, site.privacy, marks), "h2", "stalls", links)
    html += section_html(quiet_section(listed, site.language, site.privacy, marks), "h2", "quiet", links)
    figures_only = [a for a in analyses if a.workflow.id not in site.open and (a.stalls or a.quiet)]
    if figures_only:
        names = ", ".join(a.workflow.label(site.language) for a in figures_only)
        note = t("{workflows} publish figures only: their stalled and quiet proposals are counted, not listed.",
                 workflows=names)
        html += f'<p class="note">{escape(note)}</p>'
    return html


def colour_scale(privacy: Privacy) -> str:
    """The stall colours explained in words, for readers who cannot tell them apart."""
    levels = [
        (SEVERITY_COLOURS[0], t("white: nobody has stayed there yet")),
        (SEVERITY_COLOURS[1], t("light yellow: up to a quarter of the slowest state's median stay")),
        (SEVERITY_COLOURS[2], t("orange: a quarter to a half")),
        (SEVERITY_COLOURS[3], t("dark orange: a half to three quarters")),
        (SEVERITY_COLOURS[4], t("dark brown: over three quarters — the slowest")),
        (tint(SEVERITY_COLOURS[3]), t("pale with a dotted border: the median rests on fewer than {n} stays, so "
                                      "read it as a hint", n=SOLID_STAYS)),
    ]
    if privacy.min_count > 1:
        levels.append(("#D9D9D9", t("grey: too few to show")))
    items = "".join(f'<li><span class="swatch" style="background:{colour}" aria-hidden="true"></span>{escape(text)}'
                    "</li>" for colour, text in levels)
    intro = t("The darker a state, the longer proposals stay there (the median of finished stays, or of those "
              "waiting where nobody has left yet). The scale runs from light yellow to dark brown, so it reads in "
              "grey print and for colour-blind readers; every state also says its figures in words. A thick red "
              "border marks proposals over the deadline or stalled now.")
    heading = escape(t("How to read the colours"))
    return f'<h3 id="colours">{heading}</h3><p>{escape(intro)}</p><ul class="scale">{items}</ul>'


def _part_html(part: Part) -> str:
    lead = f'<p class="lead">{escape(part.lead)}</p>' if part.lead else ""
    return (f'<h2 id="{escape(part.anchor)}">{escape(part.heading)}</h2>{lead}'
            + "".join(section_html(s) for s in part.sections))


def index_page(site: Site, comparison_svg: str | None, *, intro: Sequence[Part] = (), appendix: Sequence[Part] = (),
               lineage: Section | None = None) -> str:
    """``lineage``: the proposals others came from, of workflows whose proposals are published."""
    body = [_figures(site), *(_part_html(part) for part in intro), _stall_lists(site, 0, site.analyses)]
    if len(site.analyses) > 1:
        body.append(f'<h2 id="compare">{escape(t("Municipalities side by side"))}</h2>')
        if comparison_svg:
            body.append(diagram_figure(comparison_svg, t("Median days per stage; the darker, the slower."),
                                       "compare", "compare.svg"))
        body += [section_html(s) for s in build_comparison(site.analyses, language=site.language,
                                                          privacy=site.privacy)]
    items = "".join(f"<li>{link(workflow_href(a.workflow.id), a.workflow.label(site.language))} — "
                    f"{_count(site, a.proposals, cell(a.workflow.id, 'proposals'))} {escape(t('proposals'))}</li>"
                    for a in site.analyses)
    body.append(f'<h2 id="workflows">{escape(t("Workflows"))}</h2><ul>{items}</ul>')
    if lineage is not None and lineage.rows:
        links = {str(row[0]): proposal_href(str(row[0])) for row in lineage.rows}
        body.append(section_html(lineage, "h2", "lineage", links))
    body += [_part_html(part) for part in appendix]
    if site.marks:
        body.append(provenance_legend())
    lead = site.lead(t("As of {date}: where proposals from the user panels stand, and where they stall.",
                       date=site.as_of))
    return page(title=f"{site.title} — {site.as_of}", heading=site.title, body="".join(body), language=site.language,
                depth=0, lead=lead, footer=site.footer())


def workflow_page(site: Site, analysis: Analysis, stall_svg: str, workflow_svg: str,
                  proposal_lists: Sequence[tuple[str, str]]) -> str:
    """``proposal_lists``: (href from the root, text) of the pages listing its proposals."""
    wf = analysis.workflow
    language = site.language
    marks = {wf.id: site.marks[wf.id]} if wf.id in site.marks else {}
    sections = {s.key: s for s in build_sections([analysis], language=language, privacy=site.privacy, marks=marks)
                if s.workflow == wf.id}
    body = []
    if wf.id in site.open:
        body.append(_stall_lists(site, 1, [analysis]))
    body.append(f'<h2 id="diagram">{escape(t("Where proposals wait"))}</h2>')
    caption = t("The declared workflow, top to bottom, coloured by how long proposals stay in each state.")
    overall = marks[wf.id].overall() if marks else None
    if overall in (ILLUSTRATIVE, INFERRED):
        caption += " " + t("Its figures rest on {kind} steps too: the tables below say which, row by row.",
                           kind=kind_word(overall or ""))
    body.append(diagram_figure(stall_svg, caption, f"stalls-{wf.id}", f"{wf.id}-stalls.svg"))
    body.append(colour_scale(site.privacy))
    body += [section_html(_titled(sections[key]), "h2", key) for key in _SECTIONS if key in sections]
    body.append(f'<h2 id="workflow">{escape(t("The workflow as declared"))}</h2>')
    body.append(diagram_figure(workflow_svg, t("{workflow}, version {version}: every state and transition.",
                                               workflow=wf.label(language), version=wf.version or DASH),
                               f"workflow-{wf.id}", f"{wf.id}-workflow.svg"))
    if proposal_lists:
        items = "".join(f"<li>{link('../' + href, text)}</li>" for href, text in proposal_lists)
        body.append(f'<h2 id="proposals">{escape(t("Every proposal"))}</h2><ul>{items}</ul>')
    if marks:
        body.append(provenance_legend())
    lead = site.lead(t("As of {date}; {proposals} proposals.", date=site.as_of,
                       proposals=site.privacy.count(analysis.proposals, cell(wf.id, "proposals"))))
    return page(title=f"{wf.label(language)} — {site.title}", heading=wf.label(language), body="".join(body),
                language=language, depth=1, crumbs=[("index.html", site.title)], lead=lead, footer=site.footer())


def _titled(section: Section) -> Section:
    """The section with its title shortened: the page already names the workflow."""
    _, _, rest = section.title.partition(": ")
    return Section(section.key, rest[:1].upper() + rest[1:] if rest else section.title, section.columns,
                   section.rows, section.workflow, section.note, section.sources)
