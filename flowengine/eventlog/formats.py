"""The event log formats, listed once: which the export writes and which the import reads.

The command line builds its ``--format`` choices and help from this list rather than copying
it, and the writers and readers are checked against it by the tests. This module imports
nothing heavy: the command line reads it while it builds its options.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LOG_FORMATS", "LogFormat", "export_format_names", "export_formats", "import_format_names"]


@dataclass(frozen=True)
class LogFormat:
    """An event log format: its name, the usual file suffix, what it is, and which way it goes."""

    name: str
    suffix: str
    description: str
    exported: bool = True
    imported: bool = False


LOG_FORMATS: tuple[LogFormat, ...] = (
    LogFormat("csv", ".csv", "one row per event", imported=True),
    LogFormat("xes", ".xes", "IEEE 1849", imported=True),
    LogFormat("ocel", ".json", "OCEL 2.0 JSON"),
)


def export_formats() -> tuple[LogFormat, ...]:
    return tuple(f for f in LOG_FORMATS if f.exported)


def export_format_names() -> tuple[str, ...]:
    return tuple(f.name for f in export_formats())


def import_format_names() -> tuple[str, ...]:
    return tuple(f.name for f in LOG_FORMATS if f.imported)
