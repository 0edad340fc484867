"""The stall report's sections written in each report format: text tables, Markdown, CSV, JSON
(:mod:`flowengine.views.formats` lists them), and the note a report on a history long past
states first. Tables people read round days to :data:`~flowengine.views.report.READING_DIGITS`;
JSON and CSV keep every digit.

Every writer also writes piece by piece (:func:`format_chunks`), a section at a time, so a
report of hundreds of workflows is written out as its sections are made rather than held
whole; JSON is written by the json module's C encoder one section (and one workflow's figures)
a line, as ``indent`` would make it fall back to the pure-Python encoder, some 20 times slower.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from flowengine.analysis.figures import Analysis, Privacy
from flowengine.clock import iso_utc
from flowengine.errors import NotFound
from flowengine.i18n import t
from flowengine.views.formats import report_format_names
from flowengine.views.report import for_reading
from flowengine.views.sections import Cell, Section
from flowengine.views.spreadsheet import neutralise
from flowengine.views.texttable import table, wrap

__all__ = ["as_csv", "as_format", "as_json_data", "as_markdown", "as_text", "format_chunks",
           "json_chunks", "markdown_text", "with_note", "with_note_chunks"]


def _reading_rows(section: Section) -> tuple[tuple[Cell, ...], ...]:
    return tuple(tuple(for_reading(value) for value in row) for row in section.rows)


# -- a history that ended long ago ------------------------------------------------------------

def with_note(fmt: str, text: str, note: str | None) -> str:
    """``text`` in report format ``fmt`` with ``note`` stated first (JSON carries it as a field)."""
    return "".join(with_note_chunks(fmt, [text], note))


def with_note_chunks(fmt: str, chunks: Iterable[str], note: str | None) -> Iterator[str]:
    """:func:`with_note` of a report written piece by piece."""
    if note is None or fmt == "json":
        yield from chunks
        return
    if fmt == "csv":
        pieces = iter(chunks)
        header, _, body = next(pieces, "").partition("\n")
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerow(("note", "", "as_of", "note", neutralise(note)))
        yield f"{header}\n{out.getvalue()}{body}"
        yield from pieces
        return
    yield f"> {markdown_text(note, line_start=True)}\n\n" if fmt == "markdown" else f"{note}\n\n"
    yield from chunks


# -- writers --------------------------------------------------------------------------------

def as_text(sections: Iterable[Section], width: int | None = None) -> str:
    """The sections as text tables, each no wider than ``width`` characters when it is given."""
    return "".join(_text_chunks(sections, width))


def _text_chunks(sections: Iterable[Section], width: int | None = None) -> Iterator[str]:
    for index, section in enumerate(sections):
        body = table(section.columns, _reading_rows(section), width=width) if section.rows else t("(none)")
        note = f"\n{_within(section.note, width)}" if section.note else ""
        yield f"{'' if not index else chr(10) * 2}{_within(section.title, width)}\n\n{body}{note}"
    yield "\n"


def _within(text: str, width: int | None) -> str:
    if width is None:
        return text
    return "\n".join(part for line in text.split("\n") for part in wrap(line, width))


def as_markdown(sections: Iterable[Section]) -> str:
    return "".join(_markdown_chunks(sections))


def _markdown_chunks(sections: Iterable[Section]) -> Iterator[str]:
    for index, section in enumerate(sections):
        lines = [f"## {_md(section.title)}", ""]
        if section.rows:
            lines.append("| " + " | ".join(_md(c) for c in section.columns) + " |")
            lines.append("|" + "|".join(" --- " for _ in section.columns) + "|")
            lines += ["| " + " | ".join(_md(_text(v)) for v in row) + " |" for row in _reading_rows(section)]
        else:
            lines.append(t("(none)"))
        if section.note:
            lines += ["", f"*{_md(section.note)}*"]
        yield ("\n\n" if index else "") + "\n".join(lines)
    yield "\n"


def as_csv(sections: Iterable[Section]) -> str:
    """Long form, one value per line (section, workflow, row, column, value): every section
    fits one sheet and pivots back into its table. A cell a spreadsheet would run as a formula
    starts with an apostrophe (:mod:`flowengine.views.spreadsheet`)."""
    return "".join(_csv_chunks(sections))


def _csv_chunks(sections: Iterable[Section]) -> Iterator[str]:
    """:func:`as_csv` a section at a time; the header is the first piece, alone."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("section", "workflow", "row", "column", "value"))
    yield out.getvalue()
    for section in sections:
        out.seek(0)
        out.truncate()
        for row in section.rows:
            key = _text(row[0])
            for column, value in zip(section.columns[1:], row[1:], strict=True):
                writer.writerow((section.key, section.workflow or "", neutralise(key), neutralise(column),
                                 neutralise(_text(value))))
        yield out.getvalue()


def as_json_data(sections: Iterable[Section], analyses: Sequence[Analysis], privacy: Privacy) -> dict[str, Any]:
    """The sections; the full figures too unless privacy holds some back. Given iterators, the
    sections and figures stay iterators, for :func:`json_chunks` to write one at a time."""
    lazy = not isinstance(sections, Sequence)
    data: dict[str, Any] = {
        "as_of": iso_utc(analyses[0].as_of) if analyses else None,
        "privacy": {"roles_only": privacy.roles_only, "min_count": privacy.min_count},
        "sections": (s.as_dict() for s in sections) if lazy else [s.as_dict() for s in sections],
    }
    if not privacy.roles_only and not privacy.min_count:
        data["figures"] = (a.as_dict() for a in analyses) if lazy else [a.as_dict() for a in analyses]
    return data


def json_chunks(data: Mapping[str, Any]) -> Iterator[str]:
    """``data`` as JSON, one top-level field a line and each item of a list (or iterator) field
    on a line of its own; each piece by the json module's C encoder."""
    dumps = json.JSONEncoder(ensure_ascii=False).encode  # no indent: the C encoder
    yield "{"
    for index, (key, value) in enumerate(data.items()):
        yield f"{',' if index else ''}\n  {dumps(key)}: "
        if isinstance(value, list | tuple | Iterator):
            opened = False
            for item in value:
                yield f"{',' if opened else '['}\n    {dumps(item)}"
                opened = True
            yield "\n  ]" if opened else "[]"
        else:
            yield dumps(value)
    yield "\n}\n"


def as_format(name: str, sections: Sequence[Section], data: dict[str, Any] | None = None, *,
              width: int | None = None) -> str:
    """``sections`` written in report format ``name`` (one of
    :data:`~flowengine.views.formats.REPORT_FORMATS`); JSON writes ``data`` when given (e.g.
    :func:`as_json_data`), else the sections alone; tables are no wider than ``width``, if given."""
    return "".join(format_chunks(name, sections, data, width=width))


def format_chunks(name: str, sections: Iterable[Section], data: Mapping[str, Any] | None = None, *,
                  width: int | None = None) -> Iterator[str]:
    """:func:`as_format` piece by piece, a section at a time: ``sections`` (and ``data``'s
    list fields) may be iterators, made as they are written."""
    if name == "json":
        return json_chunks(data if data is not None else {"sections": (s.as_dict() for s in sections)})
    if name == "table":
        return _text_chunks(sections, width)
    writer = _CHUNK_WRITERS.get(name)
    if writer is None:
        raise NotFound("report format", name, report_format_names())
    return writer(sections)


_CHUNK_WRITERS: dict[str, Callable[[Iterable[Section]], Iterator[str]]] = {
    "csv": _csv_chunks, "markdown": _markdown_chunks}  # json and the table take arguments of their own


def _text(value: Cell) -> str:
    """A cell as text; a float with every digit Python keeps (``repr``: it reads back equal)."""
    if value is None:
        return "-"
    return repr(value) if isinstance(value, float) else str(value)


# Markdown's own marks (emphasis, code, links and images, tables, strikethrough) and the backslash
# that escapes them; an underscore inside a word (panel_work) is no mark and stays as it is. "<",
# ">" and "&" become entities: no raw HTML survives any renderer. At the start of a line, a heading,
# a list item or a numbered item would begin: that first mark is escaped too.
_MARKS = re.compile(r"[\\`*\[\]|~]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")
_LINE_START = re.compile(r"^(?:#|[-+=]|\d+(?=[.)]))")
_HTML = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})


def markdown_text(text: str, *, line_start: bool = False) -> str:
    """``text`` (a title, a label, a comment: anything a user wrote) as Markdown that shows it
    literally: every Markdown mark escaped, HTML as entities, on one line; ``line_start`` when
    it begins a line of its own (a paragraph, a quote)."""
    one_line = " ".join(text.splitlines()) if ("\n" in text or "\r" in text) else text
    shown = _MARKS.sub(lambda mark: "\\" + mark.group(), one_line.translate(_HTML))
    if line_start:
        shown = _LINE_START.sub(lambda mark: mark.group() + "\\" if mark.group()[0].isdigit()
                                else "\\" + mark.group(), shown)
    return shown


_md = markdown_text

