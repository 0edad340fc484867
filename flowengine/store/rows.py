"""Stored rows become records: a proposal row, an event row, and an event's personal values kept
apart (event format 3) put back.

Shared by the SQLAlchemy store (:mod:`flowengine.store.queries`) and the driver's own reads
(:mod:`flowengine.store.direct`), so a proposal or an event reads the same whichever path read it.
A row is anything with the columns as attributes, its values as SQLAlchemy's types give them:
JSON parsed, times aware UTC (:func:`flowengine.store.basics.read_time`). No SQLAlchemy here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flowengine.history.erasure import ACTOR, COMMENT, ERASED, FIELD, Committed
from flowengine.history.records import Event, Proposal

Values = dict[tuple[int, int], dict[str, tuple[str, str]]]  # (proposal_pk, seq) → item → (value JSON, salt)


def proposal_from_row(row: Any) -> Proposal:
    """The Proposal of a row holding :data:`flowengine.store.queries.PROPOSAL_COLUMNS` by their names."""
    return Proposal(
        id=row.id, workflow=row.workflow, workflow_version=row.workflow_version,
        definition_hash=row.definition_hash, title=row.title, description=row.description, origin=row.origin,
        state=row.state, fields=dict(row.fields), created_at=row.created_at, updated_at=row.updated_at,
        state_entered_at=row.state_entered_at, version=row.version, head_hash=row.head_hash,
        created_by=row.created_by, came_from=row.came_from, provenance=row.provenance,
    )


def event_from_row(row: Any, kept: Values | None = None) -> Event:
    """The Event of a row that starts with :data:`flowengine.store.queries.EVENT_COLUMNS` (the event
    log's rows add more); ``kept``: the erasable values of its proposal, for an event of format 3."""
    actor, comment, changes = row.actor, row.comment, dict(row.changes)
    personal = None
    if row.personal is not None:
        actor, comment, changes, personal = restore(
            row.personal, (kept or {}).get((int(row.proposal_pk), int(row.seq)), {}), actor, comment, changes)
    return Event(
        proposal=row.proposal, seq=row.seq, kind=row.kind, trigger=row.trigger, from_state=row.from_state,
        to_state=row.to_state, actor=actor, role=row.role, at=row.at, entered_at=row.entered_at,
        comment=comment, changes=changes, details=dict(row.details),
        idempotency_key=row.idempotency_key, prev_hash=row.prev_hash, hash=row.hash, login=row.login,
        recorded_at=row.recorded_at, personal=personal,
    )


def restore(personal: Mapping[str, str], kept: Mapping[str, tuple[str, str]], actor: str, comment: str,
            changes: dict[str, Any]) -> tuple[str, str, dict[str, Any], dict[str, Committed]]:
    """An event's actor, comment and changes with its personal values put back (``ERASED``
    where they were erased), and the commitments with the salts still kept."""
    committed: dict[str, Committed] = {}
    restored_changes = dict(changes)
    for item, digest in personal.items():
        found = kept.get(item)
        value: Any = ERASED if found is None else json.loads(found[0])
        salt = None if found is None else found[1]
        column = actor if item == ACTOR else comment if item == COMMENT else changes.get(item.removeprefix(FIELD))
        # a field's place holds its commitment (a field left out: as the first steps of format 3 stored it)
        if column != ("" if item == ACTOR else digest if item == COMMENT else None) and not (
                item.startswith(FIELD) and column == {"erasable": digest}):
            # the events row itself was edited where a value kept apart belongs: show what it
            # says, held to the commitment (which it cannot match), erased or not
            value, salt = column, salt or ""
        committed[item] = Committed(digest, salt)
        if item == ACTOR:
            actor = value
        elif item == COMMENT:
            comment = value
        else:
            restored_changes[item.removeprefix(FIELD)] = value
    return actor, comment, restored_changes, committed
