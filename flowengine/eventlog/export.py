"""The whole stored history as an event log for process-mining tools: CSV, XES or OCEL 2.0.

Every event of every proposal goes out (creations, steps, field changes, progress, reminders,
and kinds added later), proposal by proposal and in each by seq, streamed from the database
and written as it comes, so memory does not grow with the log (only with the number of
distinct people, whom OCEL lists as objects and pseudonymisation numbers).

An event's activity is the state the proposal is in after it. Events that leave the state
unchanged (fields set, progress, reminders) therefore repeat their state's activity, a
self-loop in a directly-follows graph; ``steps_only`` keeps creations and steps alone, which
is what a sojourn-time or directly-follows analysis wants. The ``flowengine:*`` attributes
carry everything else an event says, so an import rebuilds each event, and its hash, exactly.
"""

from __future__ import annotations

import contextlib
import gzip
import io
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from flowengine.atomicfile import replacing
from flowengine.errors import FlowEngineError, InvalidInput, NotFound
from flowengine.eventlog.csv_writer import write_csv
from flowengine.eventlog.formats import export_format_names, export_formats, suffixes
from flowengine.eventlog.logevent import LogEvent, LogSource, Pseudonymiser, as_is
from flowengine.eventlog.ocel_writer import write_ocel
from flowengine.eventlog.xes_writer import write_xes
from flowengine.history.records import ADVANCED, CREATED, FROM_KEY
from flowengine.i18n import t
from flowengine.meter import Meter, no_meter
from flowengine.store import Connection, Database, eventstream, queries

Writer = Callable[[TextIO, LogSource], None]
FORMATS = export_format_names()
WRITERS: dict[str, Writer] = {"csv": write_csv, "xes": write_xes, "ocel": write_ocel}  # one per format in FORMATS
SUFFIXES = {f.name: f.suffix for f in export_formats()}
PASSES = {"csv": 1, "xes": 1, "ocel": 2}  # OCEL writes its objects, then its events
STEP_KINDS = (CREATED, ADVANCED)  # what --steps-only keeps: the events that put a proposal in a state
_METER_EVERY = 500  # events between two reports to the meter
GZIP_SUFFIX = ".gz"


@dataclass(frozen=True)
class ExportOptions:
    """Which events, and how: ``workflows`` (all when empty), pseudonymised, steps only, and for
    CSV whether cells a spreadsheet would run stay raw."""

    workflows: tuple[str, ...] = ()
    pseudonymise: bool = False
    steps_only: bool = False
    raw_cells: bool = False  # CSV: formula-like cells as they are, not neutralised

    @property
    def selection(self) -> eventstream.Selection:
        return eventstream.Selection(tuple(dict.fromkeys(self.workflows)), STEP_KINDS if self.steps_only else ())


def planned_units(database: Database, fmt: str, options: ExportOptions = ExportOptions()) -> int:
    """How many units :func:`export_log` will report to its meter (events times passes), counted
    cheaply first so a progress bar knows its total; refuses what the export would refuse."""
    passes = _passes(fmt)
    with database.read() as conn:
        _check_workflows(conn, options.workflows)
        return eventstream.count_events(conn, options.selection) * passes


def export_log(database: Database, out: TextIO, fmt: str, options: ExportOptions = ExportOptions(), *,
               meter: Meter = no_meter) -> int:
    """Write the event log to ``out`` (text, opened with ``newline=""`` for CSV); returns the
    number of events written. One read transaction: every pass sees the same moment."""
    writer = WRITERS.get(fmt)
    if writer is None:
        raise NotFound("event log format", fmt, FORMATS)
    with database.read() as conn:
        _check_workflows(conn, options.workflows)
        passes: list[Generator[LogEvent, None, None]] = []
        source, written = _source(conn, options, meter, passes)
        try:
            writer(out, source)
        finally:  # a writer that failed (a closed pipe) leaves its pass open: close its cursor now
            for open_pass in passes:
                open_pass.close()
    return written[0] // PASSES[fmt]


def export_to_file(database: Database, path: str | Path, fmt: str, options: ExportOptions = ExportOptions(), *,
                   meter: Meter = no_meter) -> int:
    """Like :func:`export_log`, into a file written beside ``path`` and moved into place at the
    end, so a failure leaves no half log (and an older log there stays as it was); compressed
    with gzip when its name ends in ``.gz``."""
    target = Path(path)
    if not target.parent.is_dir():
        raise InvalidInput(t("cannot write the event log {path}: the folder {folder} does not exist; create it "
                             "first", path=target, folder=target.parent))
    if target.is_dir():
        example = target / ("events" + SUFFIXES.get(fmt, ""))
        raise InvalidInput(t("{path} is a folder; give a file name, e.g. {example}", path=target, example=example))
    compress = target.name.lower().endswith(GZIP_SUFFIX)
    with replacing(target, t("cannot write the event log {path}", path=target), InvalidInput) as temp, \
            _text_file(temp, compress) as handle:
        written = export_log(database, handle, fmt, options, meter=meter)
    return written


def format_of(path: str | Path) -> str | None:
    """The export format a file name asks for (``events.xes.gz`` → xes), if its suffix says."""
    from flowengine.eventlog.sources import format_by_name

    return format_by_name(Path(path).name, suffixes(export_formats()))


@contextlib.contextmanager
def _text_file(path: Path, compress: bool) -> Iterator[TextIO]:
    """UTF-8 text into ``path``; gzip-compressed with no name or time in its header, so the same
    history always gives the same bytes."""
    if not compress:
        with path.open("w", encoding="utf-8", newline="") as handle:
            yield handle
        return
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as packed, \
            io.TextIOWrapper(packed, encoding="utf-8", newline="") as handle:
        yield handle


def _passes(fmt: str) -> int:
    if fmt not in PASSES:
        raise NotFound("event log format", fmt, FORMATS)
    return PASSES[fmt]


def _check_workflows(conn: Connection, workflows: tuple[str, ...]) -> None:
    if not workflows:
        return
    known = queries.workflows_in_use(conn)
    for wanted in workflows:
        if wanted not in known:
            raise NotFound("workflow", wanted, known,
                           hint=t("the export knows the workflows that have proposals: {workflows}",
                                  workflows=", ".join(known) or t("none yet")))


def _source(conn: Connection, options: ExportOptions, meter: Meter,
            passes: list[Generator[LogEvent, None, None]]) -> tuple[LogSource, list[int]]:
    """The events as the writers read them; ``written[0]`` counts the events passed out, and
    ``passes`` collects every pass started, for closing while the connection is still open."""
    selection = options.selection
    shape: Callable[[eventstream.LoggedEvent, str | None], LogEvent] = (
        Pseudonymiser(_field_types(conn)) if options.pseudonymise else as_is)
    written = [0]

    def events() -> Iterator[LogEvent]:
        one_pass = stream()
        passes.append(one_pass)
        return one_pass

    def stream() -> Generator[LogEvent, None, None]:
        pending = 0
        came_from: str | None = None  # of the case streaming by, from its creation (which comes first)
        for logged in eventstream.logged_events(conn, selection):
            if logged.event.seq == 1:
                link = logged.event.details.get(FROM_KEY)
                came_from = link if isinstance(link, str) else None
            yield shape(logged, came_from)
            written[0] += 1
            pending += 1
            if pending == _METER_EVERY:
                meter(pending)
                pending = 0
        if pending:
            meter(pending)

    activities = tuple(eventstream.activities(conn, selection))
    return LogSource(events, activities, options.pseudonymise, options.raw_cells), written


def _field_types(conn: Connection) -> dict[str, dict[str, str]]:
    """Each stored definition's field types, which say what pseudonymisation may keep (never a
    field marked personal). A
    definition that no longer reads declares nothing, so all its text values are withheld."""
    from flowengine.engine import compiled

    types: dict[str, dict[str, str]] = {}
    for definition_hash, text, source in eventstream.stored_definitions(conn):
        try:
            fields = compiled(definition_hash, text, source).workflow.fields
        except FlowEngineError:
            fields = {}
        # A field marked personal is withheld whatever its type (a choice of diagnoses is personal too).
        types[definition_hash] = {name: "personal" if spec.personal else spec.type for name, spec in fields.items()}
    return types
