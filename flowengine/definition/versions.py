"""The versions of a workflow: every definition stored for it, and one view spanning them all.

A proposal is pinned to the exact text of its definition (its content hash). Editing a
workflow's file makes a new stored definition the first time a proposal is created under (or
migrated to) the edited text; proposals already running keep theirs. A file edited without
raising its ``version:`` gives two definitions with one version string: they are told apart
by their hash, written ``1 (a1b2c3d)``. Pure: no database here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from flowengine.clock import iso_utc
from flowengine.definition.model import Workflow

SHORT_HASH = 7  # as git abbreviates: enough to tell a workflow's few definitions apart


@dataclass(frozen=True)
class StoredDefinition:
    """One stored definition of a workflow: the exact text some proposals were (or are) run under."""

    content_hash: str
    workflow: str
    version: str
    source: str
    text: str
    stored_at: datetime


def short_hash(content_hash: str) -> str:
    return content_hash[:SHORT_HASH]


def version_label(version: str, content_hash: str) -> str:
    """A definition named so that no other can be mistaken for it: ``1 (a1b2c3d)``."""
    return f"{version or '-'} ({short_hash(content_hash)})"


def version_labels(definitions: Iterable[tuple[str, str]]) -> dict[str, str]:
    """(hash, version) pairs → how to name each: the version string, with the short hash added
    when another definition of the workflow carries the same string (its file was edited
    without raising ``version:``)."""
    pairs = list(definitions)
    uses = Counter(version for _, version in pairs)
    return {content_hash: version_label(version, content_hash) if uses[version] > 1 else version or "-"
            for content_hash, version in pairs}


@dataclass(frozen=True)
class DefinitionVersion:
    """One stored definition of a workflow and the proposals on it."""

    workflow: str
    content_hash: str
    version: str
    label: str  # the version, or "version (short hash)" when the version string is not unique
    stored_at: datetime  # first stored: when the first proposal was created under (or moved to) it
    source: str  # the file it was read from then
    proposals: int  # proposals on it now, final ones included
    open: int  # of those, the ones not in a final state
    current: bool  # the workflow's file reads exactly this text now

    def as_dict(self) -> dict[str, Any]:
        return {"workflow": self.workflow, "version": self.version, "label": self.label,
                "content_hash": self.content_hash, "short_hash": short_hash(self.content_hash),
                "stored_at": iso_utc(self.stored_at), "source": self.source, "proposals": self.proposals,
                "open": self.open, "current": self.current}


def definition_versions(stored: Sequence[tuple[StoredDefinition, Workflow]],
                        states: Mapping[str, Mapping[str, int]], current_hash: str | None) -> list[DefinitionVersion]:
    """``stored``: each definition (newest first) with its workflow; ``states``: per definition hash,
    how many proposals are in each state."""
    labels = version_labels((d.content_hash, d.version) for d, _ in stored)
    found = []
    for definition, workflow in stored:
        counts = states.get(definition.content_hash, {})
        open_now = sum(n for state, n in counts.items()
                       if not (state in workflow.states and workflow.states[state].final))
        found.append(DefinitionVersion(
            workflow=definition.workflow, content_hash=definition.content_hash, version=definition.version,
            label=labels[definition.content_hash], stored_at=definition.stored_at, source=definition.source,
            proposals=sum(counts.values()), open=open_now, current=definition.content_hash == current_hash))
    return found


def spanning(current: Workflow, older: Iterable[Workflow]) -> Workflow:
    """``current`` plus the states only older definitions declare (``older``: newest first), each
    as the newest of them declares it (stage, owner, labels, deadline, final and outcome), never
    initial. Figures over every version then match states by name, and a retired state keeps its
    stage instead of showing as undeclared. Transitions are the current ones only."""
    states = dict(current.states)
    for workflow in older:
        for sid, state in workflow.states.items():
            if sid not in states:
                states[sid] = replace(state, initial=False)
    if len(states) == len(current.states):
        return current
    return replace(current, states=states)
