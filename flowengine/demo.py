"""The Interreg demo: the project's proposals, read from a YAML data file, moved along their
municipalities' workflows on the dates the file gives, and drawn.

The data file (bundled: ``workflows/demo/interreg-2016-2019.yaml``; its header comment
describes the format) is read with :mod:`flowengine.definition.yamlsafe` like a workflow, and every
record is written through the public :class:`~flowengine.service.facade.FlowEngine` API with the
file's dates (``at=``), so the demo database is what a project leader would have recorded.
Every mistake in the file is reported at its file:line:column with what to do about it; a
step the workflow refuses is reported with the engine's own refusal, prefixed with the place.

A library module: it never prints and never exits.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from flowengine.analysis.figures import Analysis, Stall
from flowengine.analysis.reference import worst_first
from flowengine.clock import Clock, iso_utc
from flowengine.definition.registry import bundled_dir, discover, search_dirs
from flowengine.definition.yamlsafe import LocatedDocument, PathKey, read_file
from flowengine.errors import (
    AmbiguousWorkflow,
    FlowEngineError,
    InvalidInput,
    NotFound,
    Refused,
    Remedy,
    TransitionRefused,
)
from flowengine.history.records import Actor, Proposal
from flowengine.issues import Location, printable
from flowengine.service.facade import AuditReport, FlowEngine

DEMO_NAME = "interreg-2016-2019.yaml"
DATABASE_NAME = "flowengine.db"
FORMAT_HINT = "see the comment at the top of the bundled demo file for the format"

_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}):(\d{2}))?$")
_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")
_NOON = time(12, 0)
T = TypeVar("T")  # a step given by its day alone happens at noon, local time

_TOP_KEYS = ("as_of", "utc_offset", "title", "description", "proposals")
_PROPOSAL_KEYS = ("workflow", "title", "description", "origin", "source", "date", "actor", "role", "fields",
                  "steps")
_STEP_KEYS = ("date", "trigger", "actor", "role", "comment", "fields")


def demo_file() -> Path:
    """The bundled demo data file (installed with the bundled workflows)."""
    return bundled_dir() / "demo" / DEMO_NAME


# -- what the file says ---------------------------------------------------------------------


@dataclass(frozen=True)
class DemoStep:
    """One step of a proposal: a trigger to fire, or (without one) fields to set."""

    path: PathKey
    at: datetime
    actor: Actor
    trigger: str | None
    comment: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class DemoProposal:
    path: PathKey
    workflow: str
    title: str
    description: str
    origin: str
    source: str  # the passage of the report its story follows; kept for reports, not stored
    at: datetime
    actor: Actor
    fields: dict[str, Any]
    steps: tuple[DemoStep, ...]


@dataclass(frozen=True)
class DemoData:
    """A demo file read and checked; nothing written yet."""

    document: LocatedDocument
    path: Path
    title: str
    description: str
    as_of: datetime  # the end of the as-of day, in the file's UTC offset
    offset: timezone
    proposals: tuple[DemoProposal, ...]

    @property
    def as_of_day(self) -> date:
        """The as-of day as the file writes it."""
        return self.as_of.astimezone(self.offset).date()

    def where(self, path: PathKey) -> Location:
        return self.document.value_at(path)


# -- what was loaded ------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedProposal:
    id: str
    workflow: str
    title: str
    state: str  # where it stands after its last step
    steps: int  # steps after registration that wrote an event
    source: str
    location: str  # file:line:column of its entry in the demo file
    proposal: Proposal  # the record as its last step left it

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "workflow": self.workflow, "title": self.title, "state": self.state,
                "steps": self.steps, "source": self.source, "location": self.location}


@dataclass(frozen=True)
class DemoLoad:
    """What :func:`load_demo` wrote: proposals in file order, events in all, and the as-of moment."""

    path: Path
    title: str
    description: str
    as_of: datetime  # the end of the as-of day in the file's UTC offset: the moment analyses stand at
    as_of_day: date  # that day, as the file writes it
    proposals: tuple[LoadedProposal, ...]
    events: int

    @property
    def by_workflow(self) -> dict[str, tuple[LoadedProposal, ...]]:
        """Proposals per workflow id, workflows sorted by id, proposals in file order."""
        grouped: dict[str, list[LoadedProposal]] = {}
        for loaded in self.proposals:
            grouped.setdefault(loaded.workflow, []).append(loaded)
        return {wid: tuple(grouped[wid]) for wid in sorted(grouped)}

    def as_dict(self) -> dict[str, Any]:
        return {"file": str(self.path), "title": self.title, "as_of": iso_utc(self.as_of),
                "as_of_day": self.as_of_day.isoformat(),
                "proposals": len(self.proposals), "events": self.events,
                "workflows": {wid: [p.id for p in found] for wid, found in self.by_workflow.items()},
                "loaded": [p.as_dict() for p in self.proposals]}


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
    report: Path | None = None  # the self-contained HTML report
    markdown: Path | None = None  # the stall report as Markdown

    @property
    def files(self) -> tuple[Path, ...]:
        extra = tuple(p for p in (self.comparison, self.report, self.markdown) if p is not None)
        return (self.database, *(path for _, path in self.diagrams), *(path for _, path in self.stall_diagrams),
                *extra)

    @property
    def stalls(self) -> tuple[Stall, ...]:
        """Every stalled proposal of the demo, worst first."""
        return worst_first(stall for analysis in self.analyses for stall in analysis.stalls)

    def as_dict(self) -> dict[str, Any]:
        return {"out_dir": str(self.out_dir), "database": str(self.database), **self.loaded.as_dict(),
                "diagrams": {wid: str(path) for wid, path in self.diagrams}, "audit": self.audit.as_dict(),
                "stall_diagrams": {wid: str(path) for wid, path in self.stall_diagrams},
                "comparison": str(self.comparison) if self.comparison else None,
                "report": str(self.report) if self.report else None,
                "markdown": str(self.markdown) if self.markdown else None,
                "stalls": [stall.as_dict() for stall in self.stalls]}


# -- reading --------------------------------------------------------------------------------


def read_demo(path: Path | None = None) -> DemoData:
    """Read and check a demo file (the bundled one by default) without writing anything.

    Raises DefinitionError for a file that is not readable YAML, InvalidInput (with file:line:column
    and a fix) for anything else wrong in it.
    """
    source = Path(path) if path is not None else demo_file()
    return _Reader(read_file(source), source).read()


class _Reader:
    def __init__(self, document: LocatedDocument, path: Path) -> None:
        self.doc = document
        self.path = path
        self.offset = UTC

    def fail(self, path: PathKey, message: str, hint: str, *, at_key: bool = False) -> InvalidInput:
        where = self.doc.where(path) if at_key else self.doc.value_at(path)
        return InvalidInput(printable(f"{where}: {message} ({hint})"))

    def read(self) -> DemoData:
        top = self.mapping((), self.doc.data, "the demo file", _TOP_KEYS, required=("as_of", "proposals"))
        if "utc_offset" in top:
            self.offset = self.utc_offset(("utc_offset",), top["utc_offset"])
        as_of = self.as_of(("as_of",), top["as_of"])
        items = top["proposals"]
        if not isinstance(items, list) or not items:
            raise self.fail(("proposals",), "'proposals' must be a list of proposals", FORMAT_HINT)
        proposals = tuple(self.proposal(("proposals", i), item, as_of) for i, item in enumerate(items))
        return DemoData(self.doc, self.path, self.text(("title",), top.get("title")),
                        self.text(("description",), top.get("description")), as_of, self.offset, proposals)

    def mapping(self, path: PathKey, value: Any, what: str, keys: Sequence[str],
                required: Sequence[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"{what} must be a mapping of keys such as {', '.join(required)}", FORMAT_HINT)
        from flowengine.suggest import did_you_mean

        for key in value:
            if key not in keys:
                close = did_you_mean(key, keys)
                hint = f"did you mean '{close}'?" if close else f"allowed keys: {', '.join(keys)}"
                raise self.fail((*path, key), f"unknown key '{key}' in {what}", hint, at_key=True)
        for key in required:
            if value.get(key) in (None, ""):
                raise self.fail(path, f"{what} has no '{key}'", f"add {key}: …; {FORMAT_HINT}")
        return value

    def text(self, path: PathKey, value: Any, *, required: bool = False) -> str:
        if value is None:
            if required:
                raise self.fail(path, f"'{path[-1]}' is empty", "give it a value")
            return ""
        if isinstance(value, (dict, list, bool)):
            raise self.fail(path, f"'{path[-1]}' must be text", "write it as one line, or as a folded block (>)")
        return str(value).strip()

    def utc_offset(self, path: PathKey, value: Any) -> timezone:
        match = _OFFSET.match(str(value).strip()) if isinstance(value, str) else None
        if not match:
            raise self.fail(path, f"utc_offset {value!r} is not an offset from UTC",
                            'write it with quotes as "+01:00" (Central European Time) or "+00:00"')
        sign, hours, minutes = match.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes))
        if delta >= timedelta(hours=24):
            raise self.fail(path, f"utc_offset {value!r} is not an offset from UTC", 'e.g. "+01:00"')
        return timezone(-delta if sign == "-" else delta)

    def as_of(self, path: PathKey, value: Any) -> datetime:
        """The end of the as-of day, so that steps on that day are included."""
        day = self.when(path, value, "as_of", with_time=False).astimezone(self.offset).date()
        next_midnight = datetime.combine(day + timedelta(days=1), time(), self.offset)
        return (next_midnight - timedelta(microseconds=1)).astimezone(UTC)

    def when(self, path: PathKey, value: Any, what: str, *, with_time: bool = True) -> datetime:
        text = value if isinstance(value, str) else ""
        match = _DATE.match(text.strip())
        example = "YYYY-MM-DD, e.g. 2017-11-23" + (", or with a time: 2017-11-23 14:00" if with_time else "")
        if not match or (match.group(2) and not with_time):
            raise self.fail(path, f"{what} {value!r} is not a date", f"write it as {example}")
        try:
            day = date.fromisoformat(match.group(1))
            clock = time(int(match.group(2)), int(match.group(3))) if match.group(2) else _NOON
        except ValueError:
            raise self.fail(path, f"{what} {value!r} is not a date of the calendar", f"write it as {example}") from None
        return datetime.combine(day, clock, self.offset).astimezone(UTC)

    def actor(self, path: PathKey, spec: Mapping[str, Any]) -> Actor:
        try:
            return Actor(self.text((*path, "actor"), spec["actor"]), self.text((*path, "role"), spec["role"]))
        except InvalidInput as exc:
            raise self.fail((*path, "actor"), str(exc), "a pseudonym and a role of the workflow") from None

    def fields(self, path: PathKey, value: Any) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(path, "'fields' must be a mapping of field: value", "e.g. fields: {summary: …}")
        for name, item in value.items():
            if isinstance(item, (dict, list)):
                raise self.fail((*path, name), f"field '{name}' must be one value, not a list or mapping",
                                "write text, a number, a date YYYY-MM-DD or a link")
        return dict(value)

    def proposal(self, path: PathKey, item: Any, as_of: datetime) -> DemoProposal:
        spec = self.mapping(path, item, "a proposal", _PROPOSAL_KEYS,
                            required=("workflow", "title", "date", "actor", "role"))
        at = self.when((*path, "date"), spec["date"], "date")
        self.not_after(as_of, (*path, "date"), at)
        steps_raw = spec.get("steps") or []
        if not isinstance(steps_raw, list):
            raise self.fail((*path, "steps"), "'steps' must be a list of steps", FORMAT_HINT)
        steps: list[DemoStep] = []
        previous = at
        for j, raw in enumerate(steps_raw):
            step = self.step((*path, "steps", j), raw, as_of)
            if step.at < previous:
                raise self.fail((*step.path, "date"), f"this step ({_day_text(step.at, self.offset)}) comes before "
                                f"the one above it ({_day_text(previous, self.offset)})",
                                "steps are recorded in date order: fix the date or the order")
            previous = step.at
            steps.append(step)
        return DemoProposal(
            path=path, workflow=self.text((*path, "workflow"), spec["workflow"], required=True),
            title=self.text((*path, "title"), spec["title"], required=True),
            description=self.text((*path, "description"), spec.get("description")),
            origin=self.text((*path, "origin"), spec.get("origin")),
            source=self.text((*path, "source"), spec.get("source")),
            at=at, actor=self.actor(path, spec), fields=self.fields((*path, "fields"), spec.get("fields")),
            steps=tuple(steps))

    def step(self, path: PathKey, item: Any, as_of: datetime) -> DemoStep:
        spec = self.mapping(path, item, "a step", _STEP_KEYS, required=("date", "actor", "role"))
        if spec.get("trigger") in (None, "") and not spec.get("fields"):
            raise self.fail(path, "a step needs a trigger, or fields to set",
                            "add trigger: … (as the workflow names it), or fields: {…}")
        at = self.when((*path, "date"), spec["date"], "date")
        self.not_after(as_of, (*path, "date"), at)
        trigger = self.text((*path, "trigger"), spec.get("trigger")) or None
        return DemoStep(path, at, self.actor(path, spec), trigger, self.text((*path, "comment"), spec.get("comment")),
                        self.fields((*path, "fields"), spec.get("fields")))

    def not_after(self, as_of: datetime, path: PathKey, at: datetime) -> None:
        if at > as_of:
            raise self.fail(path, f"{_day_text(at, self.offset)} is after as_of ({_day_text(as_of, self.offset)})",
                            "move as_of later, or the date earlier: the demo stands at as_of")


def _day_text(moment: datetime, offset: timezone) -> str:
    """A moment as the file would write it: the day alone for noon (or the end of the as-of day)."""
    local = moment.astimezone(offset)
    if local.time() in (_NOON, time(23, 59, 59, 999999)):
        return local.strftime("%Y-%m-%d")
    return local.strftime("%Y-%m-%d %H:%M")


# -- loading --------------------------------------------------------------------------------


def load_demo(engine: FlowEngine, path: Path | DemoData | None = None) -> DemoLoad:
    """Register every proposal of a demo file (the bundled one by default) and apply its steps,
    through the engine's public API and on the file's dates. The database must hold no proposals.

    Raises InvalidInput (file:line:column, what is wrong, what to do) for a mistake in the file
    or a step its workflow refuses; DefinitionError when a workflow file it names is invalid.
    """
    data = path if isinstance(path, DemoData) else read_demo(path)
    already = engine.proposals()
    if already:
        raise Refused(f"cannot load the demo into a database that holds {len(already)} proposal(s)",
                      [f"the demo's proposal ids and dates assume a fresh database ({already[0].proposal.id} exists)"],
                      "give a new database file")
    files = _workflow_files(engine, data)
    loaded: list[LoadedProposal] = []
    events = 0
    for spec in data.proposals:
        created = _guarded(data, spec.path, partial(
            engine.new_proposal, files[spec.workflow], title=spec.title, description=spec.description,
            origin=spec.origin, actor=spec.actor, fields=spec.fields, at=spec.at))
        record = created.proposal
        events += 1
        steps = 0
        for step in spec.steps:
            if step.trigger:
                call = partial(engine.advance, record.id, step.trigger, actor=step.actor, comment=step.comment,
                               fields=step.fields, at=step.at)
            else:
                call = partial(engine.set_fields, record.id, step.fields, actor=step.actor, comment=step.comment,
                               at=step.at)
            result = _guarded(data, step.path, call)
            record = result.proposal
            if result.event is not None:
                events += 1
                steps += 1
        loaded.append(LoadedProposal(record.id, record.workflow, record.title, record.state, steps, spec.source,
                                     str(data.where(spec.path)), record))
    return DemoLoad(data.path, data.title, data.description, data.as_of, data.as_of_day, tuple(loaded), events)


def _workflow_files(engine: FlowEngine, data: DemoData) -> dict[str, str]:
    """The file of each workflow the demo names, found in one pass over the folders (as
    ``registry.locate_workflow`` finds one): ids are looked up once, not once per proposal."""
    entries = discover(search_dirs(engine.workflow_dirs))
    files: dict[str, str] = {}
    for spec in data.proposals:
        wid = spec.workflow
        if wid in files:
            continue
        if Path(wid).suffix in (".yaml", ".yml") or os.sep in wid:  # a path, as the API accepts
            files[wid] = wid
            continue
        matches = [entry for entry in entries if entry.id == wid and not entry.shadowed]
        if len(matches) > 1:
            raise _placed(data, (*spec.path, "workflow"), AmbiguousWorkflow(wid, [m.path for m in matches]))
        if not matches:
            raise _placed(data, (*spec.path, "workflow"), NotFound(
                "workflow", wid, [e.id for e in entries if not e.shadowed],
                hint="run 'flowengine workflow list' to see them"))
        files[wid] = str(matches[0].path)
    return files


def _guarded(data: DemoData, path: PathKey, call: Callable[[], T]) -> T:
    """Run one API call; a refusal or a bad value becomes one line at the place in the file."""
    try:
        return call()
    except TransitionRefused as exc:
        raise _placed(data, (*path, "trigger"), exc) from exc
    except (NotFound, AmbiguousWorkflow, InvalidInput, Refused) as exc:
        raise _placed(data, _blame(path, exc), exc) from exc


def _blame(path: PathKey, exc: FlowEngineError) -> PathKey:
    """The key in the file an error is about, as near as its kind and message tell."""
    if isinstance(exc, NotFound):
        return {"role": (*path, "role"), "field": (*path, "fields", exc.wanted),
                "workflow": (*path, "workflow"), "workflow file": (*path, "workflow")}.get(exc.kind, path)
    if isinstance(exc, AmbiguousWorkflow):
        return (*path, "workflow")
    text = str(exc)
    named = re.search(r"field '([^']+)'|'([^']+)' is a required field", text)
    if named:
        return (*path, "fields", next(group for group in named.groups() if group))
    for key in ("comment", "title", "description", "origin"):
        if f"the {key}" in text:
            return (*path, key)
    return path


def _placed(data: DemoData, path: PathKey, exc: FlowEngineError) -> InvalidInput:
    return InvalidInput(printable(f"{data.where(path)}: {exc}"))


# -- building -------------------------------------------------------------------------------


def fresh_database(path: Path) -> Path:
    """Remove an old SQLite database at ``path`` (the file and its -wal/-shm, nothing else)."""
    if path.is_dir():
        raise InvalidInput(f"{path} is a folder, not a database file; move it away").fixed_by(Remedy("out"))
    for old in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            old.unlink(missing_ok=True)
        except OSError as exc:
            raise InvalidInput(f"cannot remove the old database {old}: {exc.strerror or exc}") from exc
    return path


def build_demo(out_dir: str | Path, *, data: Path | None = None, workflow_dirs: Sequence[str | Path] = (),
               clock: Clock | None = None, language: str = "en") -> DemoResult:
    """Build the demo in ``out_dir``: a fresh SQLite database ``flowengine.db`` loaded from the demo
    file, each municipality's workflow diagram (``<id>.svg``, drawn from the definition its
    proposals are pinned to) and stall diagram (``<id>-stalls.svg``), the comparison, the stall
    report as Markdown and the HTML report.

    The database is built beside the old one and put in its place only once every step has
    loaded, so a mistake in the file leaves the old database as it was.
    Deterministic: every record is dated by the file; analyses use ``result.loaded.as_of``.
    """
    out = Path(out_dir)
    demo = read_demo(data)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"cannot create the output folder {out}: {exc.strerror or exc}") from exc
    database = out / DATABASE_NAME
    if database.is_dir():
        raise InvalidInput(f"{database} is a folder, not a database file; move it away").fixed_by(Remedy("out"))
    building = fresh_database(out / (DATABASE_NAME + ".building"))
    try:
        with FlowEngine.open(str(building), workflow_dirs=workflow_dirs, clock=clock) as engine:
            loaded = load_demo(engine, demo)
            audit = engine.verify()
            # The file's own offset, so titles name the file's as-of day on any machine.
            analyses = tuple(replace(a, as_of=a.as_of.astimezone(loaded.as_of.tzinfo))
                             for a in engine.analyse(list(loaded.by_workflow), as_of=loaded.as_of))
            diagrams = draw_workflows(engine, loaded, out, language)
    except BaseException:
        fresh_database(building)
        raise
    fresh_database(database)
    os.replace(building, database)
    stall_diagrams, comparison, report, markdown = write_stall_views(analyses, dict(diagrams), out, language)
    return DemoResult(out, database, loaded, diagrams, audit, analyses, stall_diagrams, comparison, report, markdown)


def write_stall_views(analyses: Sequence[Analysis], workflow_diagrams: Mapping[str, Path], out_dir: Path,
                      language: str = "en") -> tuple[tuple[tuple[str, Path], ...], Path, Path, Path]:
    """Each workflow's stall diagram, the comparison, the stall report as Markdown, and the
    HTML report that inlines them all."""
    from flowengine.views.comparison_diagram import render_comparison
    from flowengine.views.htmlreport import html_report
    from flowengine.views.report import as_markdown, build_sections
    from flowengine.views.stall_diagram import render_stall_diagram

    stall_diagrams = tuple((a.workflow.id, render_stall_diagram(a, out_dir / f"{a.workflow.id}-stalls.svg", language))
                           for a in analyses)
    comparison = render_comparison(analyses, out_dir / "compare.svg", language)
    markdown = out_dir / "stall-report.md"
    markdown.write_text(as_markdown(build_sections(analyses, language=language)), encoding="utf-8")
    page = html_report(
        analyses, stall_svgs={wid: path.read_text(encoding="utf-8") for wid, path in stall_diagrams},
        workflow_svgs={wid: path.read_text(encoding="utf-8") for wid, path in workflow_diagrams.items()},
        comparison_svg=comparison.read_text(encoding="utf-8"), language=language,
        title="Where ideas stall: the Interreg project 2016-2019")
    report = out_dir / "report.html"
    report.write_text(page, encoding="utf-8")
    return stall_diagrams, comparison, report, markdown


def draw_workflows(engine: FlowEngine, loaded: DemoLoad, out_dir: Path,
                   language: str = "en") -> tuple[tuple[str, Path], ...]:
    """Each workflow of the demo, drawn from the definition its proposals run under."""
    from flowengine.views.workflow_diagram import render

    drawn = []
    for wid, proposals in loaded.by_workflow.items():
        workflow = engine.workflow_of(proposals[0].proposal).workflow
        drawn.append((wid, render(workflow, out_dir / f"{wid}.svg", language)))
    return tuple(drawn)
