"""The event log formats, listed once: which the export writes and which the import reads.

The command line builds its ``--format`` choices and help from this list rather than copying
it, and the writers and readers are checked against it by the tests. This module imports
nothing heavy: the command line reads it while it builds its options.

Any of them may be gzip-compressed: read when the file starts as gzip does, written when the
output's name ends in ``.gz`` (``events.xes.gz``).
"""

from __future__ import annotations

from dataclasses import dataclass

from flowengine.i18n import N_

__all__ = ["LOG_FORMATS", "LogFormat", "export_format_names", "export_formats", "import_format_names",
           "import_formats", "suffixes"]


@dataclass(frozen=True)
class LogFormat:
    """An event log format: its name, the usual file suffixes (the first is written), what it is,
    and which way it goes."""

    name: str
    suffix: str
    description: str
    exported: bool = True
    imported: bool = False
    also: tuple[str, ...] = ()  # other suffixes files of this format are given

    @property
    def suffixes(self) -> tuple[str, ...]:
        return (self.suffix, *self.also)


LOG_FORMATS: tuple[LogFormat, ...] = (
    LogFormat("csv", ".csv", N_("one row per event"), imported=True),
    LogFormat("xes", ".xes", N_("IEEE 1849"), imported=True),
    LogFormat("ocel", ".json", N_("OCEL 2.0 JSON"), imported=True, also=(".jsonocel",)),
)


def export_formats() -> tuple[LogFormat, ...]:
    return tuple(f for f in LOG_FORMATS if f.exported)


def export_format_names() -> tuple[str, ...]:
    return tuple(f.name for f in export_formats())


def import_formats() -> tuple[LogFormat, ...]:
    return tuple(f for f in LOG_FORMATS if f.imported)


def import_format_names() -> tuple[str, ...]:
    return tuple(f.name for f in import_formats())


def suffixes(formats: tuple[LogFormat, ...]) -> tuple[tuple[str, str], ...]:
    """(format, suffix) for every suffix of ``formats``, for telling a file's format by its name."""
    return tuple((f.name, suffix) for f in formats for suffix in f.suffixes)
