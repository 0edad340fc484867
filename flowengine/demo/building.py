"""Building the demo's outputs: a fresh SQLite database loaded from the data file, each
municipality's workflow and stall diagram, the comparison, the report as Markdown and the
published site (:mod:`flowengine.views.site`).

The reports say where the demo comes from: how many steps the final report states, how many
are inferred and how many are illustrative; a source column on every figure; what the report
tells besides the proposals; which proposals came from the audit; and every history step by
step with the report's own words (in the site: each proposal's page). A library module: it
never prints and never exits.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from flowengine.analysis.figures import Analysis, Stall
from flowengine.analysis.provenance import Marks
from flowengine.analysis.reference import worst_first
from flowengine.atomicfile import leaving_nothing_new, write_text
from flowengine.clock import Clock, system_clock
from flowengine.definition.model import Publication, Workflow
from flowengine.demo.data import ContextItem, DemoData
from flowengine.demo.loading import DemoLoad, load_demo
from flowengine.demo.reading import read_demo
from flowengine.errors import InvalidInput, Remedy
from flowengine.history.provenance import KINDS, STATED, kind_word, legend
from flowengine.history.records import Event, Proposal
from flowengine.i18n import t
from flowengine.service.facade import AuditReport, FlowEngine, Lineage
from flowengine.views.sections import Cell, Section

DATABASE_NAME = "flowengine.db"
SITE_FOLDER = "site"
# The demo is rebuilt from a published report and its actors are pseudonyms: its site publishes
# every proposal, step and answer (people still by their role only).
PUBLIC = Publication(proposals=True, comments=True, descriptions=True)


def report_title(language: str = "en") -> str:
    return t("Where ideas stall: the Interreg project 2016-2019", language=language)


@dataclass(frozen=True)
class DemoResult:
    """What :func:`build_demo` made in its output folder."""

    out_dir: Path
    database: Path
    loaded: DemoLoad
    diagrams: tuple[tuple[str, Path], ...]  # (workflow id, diagram file)
    audit: AuditReport
    analyses: tuple[Analysis, ...] = ()
    stall_diagrams: tuple[tuple[str, Path], ...] = ()  # (workflow id, stall diagram file)
    comparison: Path | None = None
    report: Path | None = None  # the published report: the site's index page
    markdown: Path | None = None  # the stall report as Markdown
    marks: Mapping[str, Marks] = field(default_factory=dict)  # which kind of step each figure rests on
    lineage: tuple[Lineage, ...] = ()

    @property
    def files(self) -> tuple[Path, ...]:
        extra = tuple(p for p in (self.comparison, self.report, self.markdown) if p is not None)
        return (self.database, *(path for _, path in self.diagrams), *(path for _, path in self.stall_diagrams),
                *extra)

    @property
    def stalls(self) -> tuple[Stall, ...]:
        """Every stalled proposal of the demo (over its limit, heard of within it), worst first."""
        return worst_first(stall for analysis in self.analyses for stall in analysis.stalls)

    @property
    def quiet(self) -> tuple[Stall, ...]:
        """Every proposal that has gone quiet (over its limit, no record since), longest silent first."""
        return tuple(sorted((s for a in self.analyses for s in a.quiet), key=lambda s: (-s.heard_days, s.proposal)))

    def rests_on(self, stall: Stall) -> str | None:
        """The weakest kind of step a stall (or a gap) rests on."""
        found = self.marks.get(stall.workflow)
        return found.stalls.get(stall.proposal) if found else None

    def as_dict(self) -> dict[str, Any]:
        return {"out_dir": str(self.out_dir), "database": str(self.database), **self.loaded.as_dict(),
                "diagrams": {wid: str(path) for wid, path in self.diagrams}, "audit": self.audit.as_dict(),
                "stall_diagrams": {wid: str(path) for wid, path in self.stall_diagrams},
                "comparison": str(self.comparison) if self.comparison else None,
                "report": str(self.report) if self.report else None,
                "markdown": str(self.markdown) if self.markdown else None,
                "stalls": [{**s.as_dict(), "rests_on": self.rests_on(s)} for s in self.stalls],
                "gone_quiet": [{**s.as_dict(), "rests_on": self.rests_on(s)} for s in self.quiet],
                "lineage": [line.as_dict() for line in self.lineage]}


def fresh_database(path: Path) -> Path:
    """Remove an old SQLite database at ``path`` (the file and its -wal/-shm, nothing else)."""
    if path.is_dir():
        raise InvalidInput(t("{path} is a folder, not a database file; move it away", path=path)).fixed_by(
            Remedy("out"))
    for old in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            old.unlink(missing_ok=True)
        except OSError as exc:
            raise InvalidInput(t("cannot remove the old database {path}: {reason}", path=old,
                                   reason=exc.strerror or exc)) from exc
    return path


@dataclass(frozen=True)
class _Histories:
    """What the report's appendix shows of each proposal, read while the database is open."""

    proposals: tuple[tuple[Proposal, list[Event], Workflow], ...]
    led_to: dict[str, list[str]]


def build_demo(out_dir: str | Path, *, data: Path | None = None, workflow_dirs: Sequence[str | Path] = (),
               clock: Clock | None = None, language: str = "en") -> DemoResult:
    """Build the demo in ``out_dir``: a fresh SQLite database ``flowengine.db`` loaded from the demo
    file, each municipality's workflow diagram (``<id>.svg``, drawn from the definition its
    proposals are pinned to) and stall diagram (``<id>-stalls.svg``), the comparison, the report
    as Markdown (``stall-report.md``) and the published site (``site/``, its index ``site/index.html``).

    The database is built beside the old one and put in its place only once every step has
    loaded, so a mistake in the file leaves the old database as it was.
    Deterministic: every record is dated by the file, and recorded (without a ``clock``) as of the
    file's as-of day; analyses use ``result.loaded.as_of``.
    """
    out = Path(out_dir)
    demo = read_demo(data)
    if clock is None or clock is system_clock:  # made for a demo: recorded as of the file's day, the same each time
        as_of = demo.as_of
        clock = lambda: as_of  # noqa: E731
    with leaving_nothing_new(out):
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidInput(t("cannot create the output folder {path}: {reason}", path=out,
                                 reason=exc.strerror or exc)) from exc
        return _build(out, demo, workflow_dirs, clock, language)


def _build(out: Path, demo: DemoData, workflow_dirs: Sequence[str | Path], clock: Clock | None,
           language: str) -> DemoResult:
    database = out / DATABASE_NAME
    if database.is_dir():
        raise InvalidInput(t("{path} is a folder, not a database file; move it away", path=database)).fixed_by(
            Remedy("out"))
    building = fresh_database(out / (DATABASE_NAME + ".building"))
    try:
        with FlowEngine.open(str(building), workflow_dirs=workflow_dirs, clock=clock) as engine:
            loaded = load_demo(engine, demo)
            audit = engine.verify()
            # The file's own offset, so titles name the file's as-of day on any machine.
            analyses = tuple(replace(a, as_of=a.as_of.astimezone(loaded.as_of.tzinfo))
                             for a in engine.analyse(list(loaded.by_workflow), as_of=loaded.as_of))
            marks = engine.provenance_marks(analyses)
            lineage = tuple(engine.lineage(as_of=loaded.as_of, language=language))
            histories = _read_histories(engine, loaded)
            diagrams = draw_workflows(engine, loaded, out, language)
    except BaseException:
        fresh_database(building)
        raise
    fresh_database(database)
    os.replace(building, database)
    result = DemoResult(out, database, loaded, diagrams, audit, analyses, marks=marks, lineage=lineage)
    result = write_reports(result, histories, language)
    with FlowEngine.open(str(database), workflow_dirs=workflow_dirs, clock=clock) as engine:
        site = write_site(engine, result, language)
    return replace(result, report=site)


def _read_histories(engine: FlowEngine, loaded: DemoLoad) -> _Histories:
    proposals = []
    led_to: dict[str, list[str]] = {}
    for entry in loaded.proposals:
        proposal, events = engine.history(entry.id, as_of=loaded.as_of)
        proposals.append((proposal, events, engine.workflow_of(proposal).workflow))
        if entry.came_from:
            led_to.setdefault(entry.came_from, []).append(entry.id)
    return _Histories(tuple(proposals), led_to)


def write_reports(result: DemoResult, histories: _Histories, language: str = "en") -> DemoResult:
    """Each workflow's stall diagram, the comparison, and the report as Markdown."""
    from flowengine.views.comparison_diagram import render_comparison
    from flowengine.views.histories import history_section, lineage_section
    from flowengine.views.report import build_sections
    from flowengine.views.report_writers import as_markdown, markdown_text
    from flowengine.views.stall_diagram import render_stall_diagram

    out, analyses, loaded = result.out_dir, result.analyses, result.loaded
    stall_diagrams = tuple((a.workflow.id, render_stall_diagram(a, out / f"{a.workflow.id}-stalls.svg", language))
                           for a in analyses)
    comparison = render_comparison(analyses, out / "compare.svg", language)
    workflows = {workflow.id: workflow for _, _, workflow in histories.proposals}
    zone = loaded.as_of.astimezone(analyses[0].as_of.tzinfo) if analyses else None
    lines = [(line.source.proposal, [s.proposal for s in line.led_to]) for line in result.lineage]
    sections = [
        provenance_section(loaded, language),
        *build_sections(analyses, language=language, marks=result.marks),
        context_section(loaded.context, language),
        lineage_section(lines, workflows, language=language),
        *(history_section(proposal, events, workflow, language=language, zone=zone,
                          led_to=histories.led_to.get(proposal.id, ()))
          for proposal, events, workflow in histories.proposals),
    ]
    markdown = out / "stall-report.md"
    source = markdown_text(source_text(loaded, language), line_start=True)
    text = f"# {markdown_text(report_title(language))}\n\n{source}\n\n" + as_markdown(sections)
    write_text(markdown, text, t("cannot write {path}", path=markdown), InvalidInput)
    return replace(result, stall_diagrams=stall_diagrams, comparison=comparison, markdown=markdown)


def write_site(engine: FlowEngine, result: DemoResult, language: str = "en") -> Path:
    """The published site in ``OUT/site``, built from the demo's database like any other
    (``flowengine report``), with where the demo comes from and what the report tells besides
    the proposals on its index; returns its index page."""
    from flowengine.views.site.build import Part, build_site

    loaded = result.loaded
    intro = [Part("source", t("Where this demo comes from", language=language),
                  (provenance_section(loaded, language),), lead=source_text(loaded, language))]
    appendix = [Part("context", t("What the report tells besides the proposals", language=language),
                     (context_section(loaded.context, language),))]
    site = build_site(engine, result.out_dir / SITE_FOLDER, analyses=result.analyses, language=language,
                      title=report_title(language), publication=PUBLIC, intro=intro, appendix=appendix)
    return site.index


def source_text(loaded: DemoLoad, language: str = "en") -> str:
    """The demo's one-paragraph account of itself: its source, its moment, and how much is invented."""
    counts = loaded.provenance
    total = sum(counts.values())
    return t("Rebuilt from {source}, as it stood on {day}. Of its {total} registrations and steps, the report states "
             "{stated}, {inferred} are inferred from it and {illustrative} are illustrative ({share} %): invented so "
             "that each municipality's chain can run, mostly the user council, which the report names nowhere. "
             "Every figure below says which kind of step it rests on. Dates are chosen to fit the report's seasons "
             "and periods; it gives few days. A proposal that has gone quiet is a gap in the records, not proof "
             "that anyone failed to act.", language=language,
             source=loaded.source or t("its source", language=language), day=loaded.as_of_day.isoformat(),
             total=total, stated=counts.get("stated", 0), inferred=counts.get("inferred", 0),
             illustrative=counts.get("illustrative", 0), share=f"{100 * loaded.illustrative_share:.0f}")


def provenance_section(loaded: DemoLoad, language: str = "en") -> Section:
    counts = loaded.provenance
    total = sum(counts.values()) or 1
    rows: tuple[tuple[Cell, ...], ...] = tuple(
        (kind_word(kind, language), counts.get(kind, 0), f"{100 * counts.get(kind, 0) / total:.0f} %",
         legend(kind, language)) for kind in KINDS)
    return Section("provenance", t("Where the steps come from", language=language),
                   (t("source", language=language), t("steps", language=language), t("share", language=language),
                    t("meaning", language=language)), rows,
                   note=t("registrations and steps of every proposal, as the data file records them",
                          language=language))


def context_section(context: Sequence[ContextItem], language: str = "en") -> Section:
    rows = tuple(
        (item.workflow or t("the project", language=language), item.when or None, item.text,
         (f"“{item.provenance.text}”" if item.provenance.kind == STATED else item.provenance.text)
         + (f" ({item.provenance.section})" if item.provenance.section else ""),
         kind_word(item.provenance.kind, language))
        for item in context
    )
    return Section("context", t("What the report tells besides the proposals", language=language),
                   (t("about", language=language), t("when", language=language), t("what", language=language),
                    t("its words, or basis", language=language), t("source", language=language)), rows,
                   note=t("facts of the project that are no step of any proposal: decisions on how services are "
                          "organised, panels set up or continued, who evaluates", language=language),
                   sources=tuple(item.provenance.kind for item in context))


def draw_workflows(engine: FlowEngine, loaded: DemoLoad, out_dir: Path,
                   language: str = "en") -> tuple[tuple[str, Path], ...]:
    """Each workflow of the demo, drawn from the definition its proposals run under."""
    from flowengine.views.workflow_diagram import render

    drawn = []
    for wid, proposals in loaded.by_workflow.items():
        workflow = engine.workflow_of(proposals[0].proposal).workflow
        drawn.append((wid, render(workflow, out_dir / f"{wid}.svg", language)))
    return tuple(drawn)
