"""What a list filter needs of each stored definition's states, kept on disk in one small file.

``proposal list --stage implementation`` over a national database must know, for each of some
650 stored definitions, which of its states are in that stage, final, or under a deadline, so
that the database can do the filtering. Building 650 definitions takes seconds even from the
cache of built definitions (a state machine each); these few facts per state take a
millisecond to read. They depend only on the definition's text (its SHA-256) and on the code
that builds a Workflow, so they live beside the built definitions, in one JSON file named with
that code's stamp (:func:`buildcache.code_stamp`). A missing or damaged file only means the
facts are found again from the definitions; a file that cannot be written is not kept.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowengine import jsontext
from flowengine.definition import buildcache
from flowengine.definition.model import Workflow

_MONTH_FLOOR_SECONDS = 28 * 86400  # no calendar month is shorter
_FORMAT = 1  # bump when the file's layout changes


@dataclass(frozen=True)
class StateFacts:
    """One state of one definition, as a list filter sees it. ``deadline_floor``: seconds no
    shorter than its deadline from any start (None: no deadline)."""

    stage: str | None
    owner: str | None
    final: bool
    deadline_floor: float | None


def facts_of(workflow: Workflow) -> dict[str, StateFacts]:
    found = {}
    for name, state in workflow.states.items():
        floor = None
        if state.deadline is not None:
            floor = state.deadline.months * _MONTH_FLOOR_SECONDS + state.deadline.delta.total_seconds()
        found[name] = StateFacts(state.stage, state.owner, bool(state.final), floor)
    return found


def _path() -> Path | None:
    try:
        return buildcache.folder() / f"state-facts-{_FORMAT}-{buildcache.code_stamp()}.json"
    except RuntimeError:  # no home folder to find the cache in
        return None


class Index:
    """The facts of every definition seen so far, by content hash; :meth:`save` keeps new ones."""

    def __init__(self) -> None:
        self.known: dict[str, dict[str, StateFacts]] = {}
        self._added = False
        path = _path()
        if path is None:
            return
        with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
            raw: Any = jsontext.loads(path.read_text(encoding="utf-8"))
            for digest, states in raw.items():
                self.known[str(digest)] = {str(name): StateFacts(stage, owner, bool(final), floor)
                                           for name, (stage, owner, final, floor) in states.items()}

    def add(self, digest: str, facts: dict[str, StateFacts]) -> None:
        self.known[digest] = facts
        self._added = True

    def save(self) -> None:
        """Write the file again with what was added, atomically; quietly not when it cannot be."""
        path = _path()
        if path is None or not self._added:
            return
        temp_name = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            import tempfile  # only to keep new facts: a read of kept ones needs none

            fd, temp_name = tempfile.mkstemp(prefix=".state-facts.", suffix=".tmp", dir=path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({digest: {name: [f.stage, f.owner, f.final, f.deadline_floor] for name, f in states.items()}
                           for digest, states in sorted(self.known.items())}, handle)
            os.replace(temp_name, path)
            temp_name = None
            for older in path.parent.glob("state-facts-*.json"):  # facts from code since changed
                if older != path:
                    older.unlink(missing_ok=True)
        except OSError:
            pass
        finally:
            if temp_name is not None:
                with contextlib.suppress(OSError):
                    os.unlink(temp_name)
