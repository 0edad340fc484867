"""One exception tree for the whole library.

    FlowEngineError
     ├── DefinitionError      a workflow file is unreadable or invalid (carries its Issues)
     ├── NotFound             an id names nothing (carries close matches)
     └── AmbiguousWorkflow    two files in one folder declare the same workflow id

Every error builds its own message from the data it carries, so the command line only has
to print ``str(error)``. Third-party exceptions are chained with ``from exc``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowengine.issues import Issue


class FlowEngineError(Exception):
    """Root of every error the library raises on purpose."""


class DefinitionError(FlowEngineError):
    """A workflow definition could not be loaded or is invalid.

    ``issues`` holds every problem found, each with its file:line:column.
    """

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = tuple(issues)
        super().__init__("\n".join(issue.format() for issue in self.issues))


class NotFound(FlowEngineError):
    """An id (workflow, state, role…) names nothing; suggests close matches."""

    def __init__(self, kind: str, wanted: str, known: Sequence[str], hint: str = "") -> None:
        from flowengine.suggest import did_you_mean

        self.kind = kind
        self.wanted = wanted
        self.known = tuple(sorted(known))
        suggestion = did_you_mean(wanted, self.known)
        parts = [f"unknown {kind} '{wanted}'"]
        if suggestion:
            parts.append(f"did you mean '{suggestion}'?")
        elif self.known:
            parts.append("known: " + ", ".join(self.known))
        if hint:
            parts.append(hint)
        super().__init__("; ".join(parts))


class AmbiguousWorkflow(FlowEngineError):
    """Two files in the same folder tree declare one workflow id; picking one would be a guess."""

    def __init__(self, workflow_id: str, paths: Sequence[Path]) -> None:
        self.workflow_id = workflow_id
        self.paths = tuple(paths)
        listed = ", ".join(str(p) for p in self.paths)
        super().__init__(f"workflow id '{workflow_id}' is declared by {len(self.paths)} files: {listed}; "
                         "give each file its own id, or move old copies out of the folder")
