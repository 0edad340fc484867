"""Where a tolerant import writes what did not fit: one line per problem (where in the file, the
case, why), as CSV or as JSON, into a file that appears only once the import is over.

The problems stream in as the import finds them, so the file is written as they come (memory
does not grow with their number); when the import has to read the log a second time (its
cases are scattered over the file) it starts the file again.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Protocol, TextIO

from flowengine.atomicfile import replacing
from flowengine.errors import InvalidInput
from flowengine.eventlog.fitting import Problem
from flowengine.i18n import t
from flowengine.views.spreadsheet import neutralise

REJECT_FORMATS = ("csv", "json")
COLUMNS = ("where", "case", "reason")


class Rejects(Protocol):
    """What a tolerant import hands its problems to."""

    def add(self, problem: Problem) -> None: ...

    def restart(self) -> None: ...


class RejectsFile:
    """Problems written to an open text file as CSV (a header row, then ``where,case,reason``) or
    as JSON (``{"log": …, "problems": [{"where", "case", "reason"}, …]}``)."""

    def __init__(self, handle: TextIO, fmt: str, log: str) -> None:
        if fmt not in REJECT_FORMATS:
            raise InvalidInput(t("unknown format of a rejects file '{chosen}'; choose one of: {formats}", chosen=fmt,
                                 formats=", ".join(REJECT_FORMATS)))
        self.handle = handle
        self.fmt = fmt
        self.log = log
        self.count = 0
        self.restart()

    def restart(self) -> None:
        self.handle.seek(0)
        self.handle.truncate()
        self.count = 0
        if self.fmt == "csv":
            self._csv = csv.writer(self.handle, lineterminator="\n")
            self._csv.writerow(COLUMNS)
        else:
            self.handle.write('{"log": ' + json.dumps(self.log, ensure_ascii=False) + ', "problems": [')

    def add(self, problem: Problem) -> None:
        if self.fmt == "csv":
            self._csv.writerow(tuple(map(neutralise, (problem.where, problem.case or "", problem.reason))))
        else:
            self.handle.write(("," if self.count else "") + "\n  " + json.dumps(problem.as_dict(), ensure_ascii=False))
        self.count += 1

    def close(self, summary: dict[str, Any] | None = None) -> None:
        """End the JSON document (with ``summary``'s keys after the problems); CSV needs nothing."""
        if self.fmt == "json":
            tail = "".join(f", {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)}"
                           for key, value in (summary or {}).items())
            self.handle.write(f"\n]{tail}}}\n")


@contextmanager
def rejects_file(path: Path, fmt: str, log: str) -> Iterator[RejectsFile]:
    """A :class:`RejectsFile` at ``path``, which appears (replacing any file there) only when the
    block ends without an error; the caller calls :meth:`RejectsFile.close` before that."""
    if not path.parent.is_dir():
        raise InvalidInput(t("cannot write the rejects file {path}: the folder {folder} does not exist", path=path,
                             folder=path.parent))
    with ExitStack() as stack:
        temp = stack.enter_context(replacing(path, t("cannot write the rejects file {path}", path=path), InvalidInput))
        handle = stack.enter_context(temp.open("w+", encoding="utf-8", newline=""))
        yield RejectsFile(handle, fmt, log)
