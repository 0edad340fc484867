"""Opening an event log for reading, whoever reads it (the import, workflow discovery): the
reader of its format, and the column each meaning is read from.

Every reader hands over rows as (position in the file, the values of the wanted columns in
order), positions placed by the reader's own ``where`` (``log.csv:17``, ``log.xes: trace 3,
event 2``, ``log.json: event 9 (e9)``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from flowengine.collector import paused as collection_paused  # a log read: many rows, no cycles
from flowengine.errors import InvalidInput, NotFound, Remedy
from flowengine.eventlog.formats import import_format_names, import_formats, suffixes
from flowengine.eventlog.meanings import EXACT, MEANINGS, ORDER
from flowengine.i18n import t

FORMATS = import_format_names()

__all__ = ["FORMATS", "EventLog", "collection_paused", "columns", "open_log", "parse_mapping", "readers"]


class EventLog(Protocol):
    """What the importer needs of a reader (:class:`CsvLog`, :class:`XesLog`, :class:`OcelLog`)."""

    name: str
    kind: str

    @property
    def header(self) -> list[str] | None: ...

    def where(self, position: Any) -> str: ...

    def rows(self, wanted: Sequence[str | None]) -> Iterator[tuple[Any, Sequence[str]]]: ...


def open_log(path: str | Path, fmt: str | None = None) -> EventLog:
    """A reader for the file, by ``fmt`` or else by its suffix (``.gz`` left off: a compressed
    file is told by its first bytes)."""
    from flowengine.eventlog.sources import format_by_name

    source = Path(path)
    chosen = fmt or format_by_name(source.name, suffixes(import_formats()))
    if chosen is None:
        raise InvalidInput(t("cannot tell the format of {path} from its name; say whether it is {formats}",
                             path=source.name, formats=t(" or ").join(FORMATS))).fixed_by(Remedy("log_format"))
    if chosen not in FORMATS:
        raise InvalidInput(t("unknown log format '{chosen}'; choose one of: {formats}", chosen=chosen,
                             formats=", ".join(FORMATS)))
    if not source.is_file():  # a log is read more than once: a device or a pipe cannot be (use "-" for a pipe)
        raise InvalidInput(t("cannot read {path}: not a file (a pipe goes through standard input: … - < LOG)",
                             path=source) if source.exists() else t("cannot read {path}: no such file", path=source))
    return readers()[chosen](source)


def readers() -> dict[str, Callable[[Path], EventLog]]:
    """The reader of each format in :data:`FORMATS` (imported when a log is opened)."""
    from flowengine.eventlog.csv_reader import CsvLog
    from flowengine.eventlog.ocel_reader import OcelLog
    from flowengine.eventlog.xes_reader import XesLog

    return {"csv": CsvLog, "xes": XesLog, "ocel": OcelLog}


def parse_mapping(items: Iterable[str]) -> dict[str, str]:
    """``["Case ID=case", …]`` → ``{"case": "Case ID", …}`` (meaning → column)."""
    mapping: dict[str, str] = {}
    for item in items:
        column, sep, meaning = item.rpartition("=")
        column, meaning = column.strip(), meaning.strip().lower()
        if not sep or not column or not meaning:
            raise InvalidInput(t("'{item}' is not COLUMN=MEANING, e.g. \"Case ID=case\"", item=item))
        if meaning not in MEANINGS:
            raise NotFound("meaning", meaning, list(MEANINGS), hint=t("in the column map {item}", item=item))
        if meaning in mapping and mapping[meaning] != column:
            raise InvalidInput(t("the column map names two columns for the {meaning}: '{first}' and '{second}'",
                                 meaning=meaning, first=mapping[meaning], second=column))
        mapping[meaning] = column
    return mapping


def columns(log: EventLog, mapping: dict[str, str]) -> list[str | None]:
    """The column of each meaning (then flowengine's own), checked against a CSV's header."""
    chosen = [mapping.get(meaning, standard) for meaning, (standard, _) in MEANINGS.items()]
    header = log.header
    if header is not None:
        known = set(header)
        for meaning, column in mapping.items():
            if column not in known:
                raise NotFound("column", column, header, hint=t("in {path}", path=log.name)).fixed_by(
                    Remedy("column", column, meaning))
        for meaning in ("case", "activity", "timestamp"):
            column = chosen[ORDER.index(meaning)]
            if column not in known:
                standard = MEANINGS[meaning][0]
                listed = ", ".join(header[:20]) + (", …" if len(header) > 20 else "")
                raise InvalidInput(t("{path} has no column for the {meaning} ({standard}); name the column that "
                                     "holds it (columns: {columns})", path=log.name, meaning=meaning,
                                     standard=standard, columns=listed)).fixed_by(Remedy("column", "COLUMN", meaning))
    return [*chosen, *EXACT]
