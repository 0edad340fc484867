"""The output formats of the views, listed once: diagram files and stall report formats.

The command line builds its choices, help texts and usage errors from these lists rather than
copying them, so adding a format here (and its writer) is all it takes. This module imports
nothing heavy: the command line reads it while it builds its options.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flowengine.errors import FlowEngineError
from flowengine.i18n import N_
from flowengine.suggest import either

__all__ = ["DIAGRAM_FORMATS", "REPORT_FORMATS", "SITE_SUFFIXES", "DiagramFormat", "ReportFormat", "diagram_format",
           "diagram_suffix_choices", "diagram_suffixes", "report_format_names", "report_format_of",
           "report_suffixes"]


@dataclass(frozen=True)
class DiagramFormat:
    """A diagram file: its suffix picks it; ``graphviz`` is the format ``dot -T`` writes (``dot``:
    the DOT text itself, written without Graphviz)."""

    suffix: str
    graphviz: str
    description: str


@dataclass(frozen=True)
class ReportFormat:
    """A way to write the stall report's tables (the writers live in :mod:`flowengine.views.report`);
    a file whose name ends in one of ``suffixes`` is written in it."""

    name: str
    description: str
    suffixes: tuple[str, ...] = ()


DIAGRAM_FORMATS: tuple[DiagramFormat, ...] = (
    DiagramFormat(".svg", "svg", N_("a drawing for screens and web pages, stamped with the digest of its DOT")),
    DiagramFormat(".png", "png", N_("a picture")),
    DiagramFormat(".pdf", "pdf", N_("a page to print")),
    DiagramFormat(".dot", "dot", N_("the Graphviz source, for other tools")),
)

REPORT_FORMATS: tuple[ReportFormat, ...] = (
    ReportFormat("table", N_("aligned text"), (".txt", ".text")),
    ReportFormat("json", N_("for programs"), (".json",)),
    ReportFormat("csv", N_("for spreadsheets"), (".csv",)),
    ReportFormat("markdown", N_("for documents"), (".md", ".markdown")),
)
# A web page is not one of them: the published report is a site of its own.
SITE_SUFFIXES = (".html", ".htm", ".xhtml")


def diagram_suffixes() -> tuple[str, ...]:
    return tuple(f.suffix for f in DIAGRAM_FORMATS)


def diagram_suffix_choices() -> str:
    """``".svg, .png, .pdf or .dot"``, for messages and help texts."""
    return either(diagram_suffixes())


def report_format_names() -> tuple[str, ...]:
    return tuple(f.name for f in REPORT_FORMATS)


def report_suffixes() -> tuple[str, ...]:
    return tuple(suffix for f in REPORT_FORMATS for suffix in f.suffixes)


def report_format_of(output: Path) -> str | None:
    """The report format a file's suffix names, or None when it names none."""
    suffix = Path(output).suffix.lower()
    return next((f.name for f in REPORT_FORMATS if suffix in f.suffixes), None)


def diagram_format(output: Path) -> DiagramFormat:
    """The format ``output``'s suffix names; refuses a file without one of the suffixes."""
    suffix = Path(output).suffix.lower()
    found = next((f for f in DIAGRAM_FORMATS if f.suffix == suffix), None)
    if found is None:
        allowed = diagram_suffix_choices()
        if not suffix:
            raise FlowEngineError(f"diagram file '{Path(output).name}' has no extension; use {allowed}")
        raise FlowEngineError(f"unsupported diagram format '{suffix}'; use {allowed}")
    return found
