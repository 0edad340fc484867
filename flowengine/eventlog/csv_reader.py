"""Reading a CSV event log row by row, with the physical line each row starts on.

One event per row, the first row naming the columns (as PM4Py, Disco, Celonis and flowengine's
own export write them). The delimiter is the one the header uses most of ``,``, ``;`` and tab
(European spreadsheets write ``;``). A field may span lines inside quotes, so a row's line is
the line it *starts* on, the one an editor shows. Nothing is held but the current row. The file
may be gzip-compressed, and ``nan``/``NaN`` cells (pandas' missing values) read as empty
(:mod:`flowengine.eventlog.sources`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import TextIO

from flowengine.errors import InvalidInput
from flowengine.eventlog.sources import DAMAGED, MISSING, damaged, open_text
from flowengine.i18n import t
from flowengine.views.spreadsheet import restore

_DELIMITERS = (",", ";", "\t")
# A comment or a JSON column may be long (csv's default, 128 kB, is not enough), but nothing in a
# log needs more than this: a longer field or physical line is refused with its line, and no line
# is ever read whole before it is measured (a 1 GB line of commas costs no more than a short one).
MAX_FIELD_CHARS = 10_000_000
MAX_LINE_CHARS = 10_000_000
BLOCK_CHARS = 1 << 20  # characters read at once, then split into lines


_FIELD_TOO_LONG = "field larger than field limit"  # how the csv module says a field passed its limit

def _too_long(name: str, line: int) -> InvalidInput:
    return InvalidInput(t("{where}: the line is longer than {n} characters; a log's row needs far less: the file is "
                          "not read (nothing was written)", where=f"{name}:{line}", n=f"{MAX_LINE_CHARS:,}"))


def _lines(handle: TextIO, name: str, first: int) -> Iterator[str]:
    """The physical lines of ``handle`` (each with its own ``\\n``, ``\\r\\n`` or ``\\r``),
    read a block at a time and split in C by :class:`io.StringIO` with the file's newline rule,
    so no Python runs per line. A line longer than :data:`MAX_LINE_CHARS` is refused with its
    number as soon as more than that of it is read, never read whole."""
    return chain.from_iterable(_blocks(handle, name, first))


def _blocks(handle: TextIO, name: str, first: int) -> Iterator[Iterable[str]]:
    """The whole lines of each block read (the last, unfinished one carried into the next)."""
    size = min(BLOCK_CHARS, MAX_LINE_CHARS)  # so a line that starts and ends in one block is short enough
    line = first  # the line the carried text starts on
    carried = ""
    while block := handle.read(size):
        text = carried + block if carried else block
        if carried and _first_end(text) > MAX_LINE_CHARS:
            raise _too_long(name, line)
        end = len(text) - 1 if text[-1] == "\r" else len(text)  # a last \r may be the first half of \r\n
        cut = max(text.rfind("\n", 0, end), text.rfind("\r", 0, end)) + 1
        whole, carried = text[:cut], text[cut:]
        if whole:
            yield io.StringIO(whole, newline="")
            line += whole.count("\n") + whole.count("\r") - whole.count("\r\n")
        if len(carried) - carried.endswith("\r") > MAX_LINE_CHARS:  # a \r held back ends it
            raise _too_long(name, line)
    if carried:
        yield (carried,)


def _first_end(text: str) -> int:
    """Where the first line of ``text`` ends (its terminator's index), or its length."""
    found = [at for at in (text.find("\n"), text.find("\r")) if at >= 0]
    return min(found) if found else len(text)


class CsvLog:
    """A CSV file of events; ``header`` is read on opening, rows are streamed by :meth:`rows`."""

    kind = "csv"
    raw_cells = False  # True: cells as they are (a log exported raw); else an export's apostrophes come off

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = path.name
        try:
            with open_text(path) as handle:
                first = handle.readline(MAX_LINE_CHARS + 1)
                if len(first) > MAX_LINE_CHARS and first[-1] not in "\r\n":
                    raise _too_long(path.name, 1)
        except DAMAGED as error:
            raise damaged(path, error) from error
        except OSError as error:
            raise InvalidInput(t("cannot read {path}: {reason}", path=path, reason=error.strerror or error)) from error
        except UnicodeDecodeError as error:
            raise InvalidInput(t("{path} is not UTF-8 text (byte {byte}); save it as UTF-8", path=path,
                                 byte=error.start)) from error
        if not first.strip():
            raise InvalidInput(t("{path} is empty: a CSV log starts with a row of column names", path=path))
        self.delimiter = max(_DELIMITERS, key=first.count)
        header = next(csv.reader([first], delimiter=self.delimiter))
        self.header = [name.strip() for name in header]
        doubled = sorted({name for name in self.header if self.header.count(name) > 1})
        if doubled:
            raise InvalidInput(t("{where}: the column {columns} appears twice; name every column once",
                                 where=f"{self.name}:1", columns=", ".join(doubled)))

    def where(self, position: int) -> str:
        return f"{self.name}:{position}"

    def rows(self, wanted: Sequence[str | None]) -> Iterator[tuple[int, tuple[str, ...]]]:
        """(line, values) for every row: the values of the ``wanted`` columns in that order, ""
        where the column is not in the file, is empty, or the row is short."""
        index = {name: position for position, name in enumerate(self.header)}
        width = len(self.header)
        missing = width  # every row gets one empty cell at the end, read for absent columns
        pick = itemgetter(*[index.get(name, missing) if name is not None else missing for name in wanted])
        csv.field_size_limit(MAX_FIELD_CHARS)
        line = 2
        nothing = MISSING
        restoring = not self.raw_cells
        try:
            with open_text(self.path) as handle:
                reader = csv.reader(_lines(handle, self.name, 1), delimiter=self.delimiter)
                next(reader, None)
                line = reader.line_num + 1
                for row in reader:
                    if row:
                        if len(row) != width:
                            row = (row + [""] * width)[:width]
                        if not nothing.isdisjoint(row):
                            row = ["" if value in nothing else value for value in row]
                        if restoring and "'" in "".join(row) and any(value[:1] == "'" for value in row):
                            # a cell neutralised on export (looked for cell by cell only where an apostrophe is)
                            row = [restore(value) for value in row]
                        row.append("")
                        yield line, pick(row)
                    line = reader.line_num + 1
        except csv.Error as error:
            if _FIELD_TOO_LONG in str(error):
                raise InvalidInput(t("{where}: a field is longer than {n} characters; the file is not read (nothing "
                                     "was written)", where=f"{self.name}:{line}", n=f"{MAX_FIELD_CHARS:,}")) from error
            raise InvalidInput(t("{where}: not readable as CSV: {reason}", where=f"{self.name}:{line}",
                                 reason=error)) from error
        except UnicodeDecodeError as error:
            raise InvalidInput(t("{path} is not UTF-8 text (near line {line}); save it as UTF-8", path=self.name,
                                 line=line)) from error
        except DAMAGED as error:
            raise damaged(self.name, error) from error
        except OSError as error:
            raise InvalidInput(t("cannot read {path} (near line {line}): {reason}", path=self.name, line=line,
                                 reason=error.strerror or error)) from error
