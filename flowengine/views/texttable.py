"""Plain-text tables for terminals and reports: no dependency, predictable width, sorted by the caller.

Given a ``width``, a table never takes more. Columns of text are wrapped first (the widest gives
way one character at a time, each down to a readable floor); then the columns the caller marks
``optional`` are left out, least needed first; then every column but the first (the ids people
copy) may wrap, identifiers at ``-``, ``_`` or ``/``; only then are more columns left out, from
the right. A table that left columns out says which, under it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

GAP = "  "
TEXT_FLOOR = 16  # the narrowest a column of prose is wrapped to before columns are left out
FLOOR = 6  # the narrowest any other column is wrapped to, as a last resort
# A line may break at spaces, after _ / or a comma, and after a hyphen between letters (not in a date).
_BREAK = re.compile(r"(\s+)|(?<=[_/,])(?=\S)|(?<=[^\W\d_]-)(?=[^\W\d_])")


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], *, width: int | None = None,
          optional: Sequence[str] = ()) -> str:
    cells = [[_cell(value) for value in row] for row in rows]
    natural = [len(h) for h in headers]
    for row in cells:
        for index, value in enumerate(row):
            natural[index] = max(natural[index], len(value))
    columns = list(range(len(headers)))
    widths: list[int] | None = natural
    left_out: list[str] = []
    if width is not None:
        prose = {i for i in columns[1:] if any(" " in row[i] for row in cells)}
        text_floors = {i: min(natural[i], TEXT_FLOOR) if i in prose else natural[i] for i in columns}
        widths = _fit(natural, columns, text_floors, width)
        for name in optional:
            if widths is not None:
                break
            if name in headers[1:] and headers.index(name) in columns:
                columns.remove(headers.index(name))
                left_out.append(name)
                widths = _fit(natural, columns, text_floors, width)
        floors = {i: natural[i] if i == columns[0] else min(natural[i], FLOOR) for i in columns}
        widths = widths or _fit(natural, columns, floors, width)
        while widths is None and len(columns) > 1:
            left_out.append(headers[columns.pop()])
            widths = _fit(natural, columns, floors, width)
    shown = [(index, (widths or natural)[index]) for index in columns]
    lines = _lines([headers[i] for i, _ in shown], [w for _, w in shown])
    lines.append(GAP.join("-" * w for _, w in shown))
    for row in cells:
        lines += _lines([row[i] for i, _ in shown], [w for _, w in shown])
    if left_out:
        lines += wrap(f"(left out to fit {width} characters: {', '.join(left_out)})", width or 1)
    return "\n".join(lines)


def _fit(natural: Sequence[int], columns: Sequence[int], floors: dict[int, int], width: int) -> list[int] | None:
    """Widths (indexed like ``natural``) for ``columns`` within ``width``, each no narrower than its
    floor, or None when the floors alone take more. The widest column gives way one character at a
    time, so that long columns end up alike."""
    widths = list(natural)
    gaps = len(GAP) * (len(columns) - 1)
    excess = sum(natural[i] for i in columns) + gaps - width
    if excess > 0 and sum(floors[i] for i in columns) + gaps > width:
        return None
    while excess > 0:
        index = max((i for i in columns if widths[i] > floors[i]), key=lambda i: (widths[i], i))
        widths[index] -= 1
        excess -= 1
    return widths


def _lines(values: Sequence[str], widths: Sequence[int]) -> list[str]:
    wrapped = [wrap(value, width) for value, width in zip(values, widths, strict=True)]
    height = max(len(parts) for parts in wrapped)
    return [GAP.join((parts[line] if line < len(parts) else "").ljust(width)
                     for parts, width in zip(wrapped, widths, strict=True)).rstrip()
            for line in range(height)]


def wrap(value: str, width: int) -> list[str]:
    """``value`` in lines of at most ``width`` characters, broken where :data:`_BREAK` allows,
    inside a word only where a word alone is too long."""
    if len(value) <= width:
        return [value]
    parts = _BREAK.split(value)
    lines: list[str] = []
    line = ""
    glue = ""
    for number, part in enumerate(parts):
        if number % 2:  # a separator: the spaces matched, or None where the break is after - _ / ,
            glue = " " if part else ""
            continue
        if not part:
            continue
        joined = f"{line}{glue}{part}" if line else part
        if len(joined) <= width:
            line = joined
            continue
        if line:
            lines.append(line)
        while len(part) > width:
            lines.append(part[:width])
            part = part[width:]
        line = part
    if line:
        lines.append(line)
    return lines or [""]


def _cell(value: object) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value) or "-"
    return str(value).replace("\n", " ")
