"""CSV cells a spreadsheet will not run: a cell that begins with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return is a formula to Excel, LibreOffice and Google Sheets (``=cmd|' /C calc'!A0``,
``@SUM(…)``), so every CSV flowengine writes starts such a cell with an apostrophe, which
spreadsheets show as text. A plain number (``-3.5``) is no formula and stays as it is.

The change is reversible: :func:`restore` undoes exactly what :func:`neutralise` did (a cell
that already began with apostrophes before a formula character gets one more), and the CSV
import applies it, so an exported log reads back equal. ``raw`` writing (the export's option)
leaves every cell as it is.
"""

from __future__ import annotations

import re

FORMULA_STARTS = frozenset("=+-@\t\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _risky(value: str) -> bool:
    body = value.lstrip("'")
    return bool(body) and body[0] in FORMULA_STARTS and _NUMBER.fullmatch(body) is None


def neutralise(value: str) -> str:
    """``value`` as a cell no spreadsheet evaluates: an apostrophe before a formula's first character."""
    if value and (value[0] in FORMULA_STARTS or value[0] == "'") and _risky(value):
        return "'" + value
    return value


def restore(value: str) -> str:
    """What :func:`neutralise` was given: the apostrophe it added taken off, anything else kept."""
    if value[:1] == "'" and _risky(value[1:]) and value[1:2] in FORMULA_STARTS | {"'"}:
        return value[1:]
    return value
