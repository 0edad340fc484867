"""An event log as OCEL 2.0 JSON: proposals and the people who acted are objects, events
are related to both.

The four top-level arrays of the specification (``objectTypes``, ``eventTypes``, ``objects``,
``events``) are written as text while the history streams by, in two passes: the first writes
each proposal object (its title, workflow and version from its creation, and its ``state`` as
it changed over time: OCEL 2.0's time-stamped object attributes), the second the events.

Every attribute value is a JSON string, as the published OCEL 2.0 JSON schema requires; its
type (string, integer, time) is declared in the event or object type, as in OCEL's XML
format. An event's type is its activity (the state it leaves the proposal in), its time the
moment it happened, its id ``<proposal>:<seq>``. It relates to its proposal (qualifier
``proposal``) and to the actor object (``actor:<name>``, qualifier: the role they acted in). A
proposal registered as coming from another (an audit's finding) carries that one's id in its
``from`` attribute; it is not an object-to-object relationship, because the other proposal may be
outside the export (``--workflow``).
"""

from __future__ import annotations

import json
from itertools import chain, groupby
from typing import Any, TextIO

from flowengine.eventlog.attributes import (
    ACTIVITY,
    CASE_FROM,
    CASE_PREFIX,
    CASE_TITLE,
    CASE_WORKFLOW,
    CASE_WORKFLOW_VERSION,
    CHANGES,
    COMMENT,
    DETAILS,
    ENTERED_AT,
    ERASABLE,
    FROM_STATE,
    HASH,
    IDEMPOTENCY_KEY,
    KIND,
    LIFECYCLE,
    LOGIN,
    RECORDED_AT,
    RESOURCE,
    ROLE,
    SEQ,
    TIMESTAMP,
    TRIGGER,
)
from flowengine.eventlog.logevent import DATE, INT, LogEvent, LogSource, event_attributes, timestamp_text

PROPOSAL = "proposal"  # the object type of proposals, and the qualifier relating an event to its proposal
ACTOR = "actor"  # the object type of the people (or "system") who acted
ACTOR_PREFIX = "actor:"  # actor object ids, kept apart from proposal ids
STATE = "state"  # the proposal object's attribute that changes at every step
_OCEL_TYPES = {DATE: "time", INT: "integer"}  # every other attribute is a string
_EVENT_ATTRIBUTES = ((RESOURCE, "string"), (ROLE, "string"), (LIFECYCLE, "string"), (SEQ, "integer"),
                     (KIND, "string"), (TRIGGER, "string"), (FROM_STATE, "string"), (ENTERED_AT, "time"),
                     (COMMENT, "string"), (CHANGES, "string"), (DETAILS, "string"), (IDEMPOTENCY_KEY, "string"),
                     (HASH, "string"), (LOGIN, "string"), (RECORDED_AT, "time"), (ERASABLE, "string"))
_WITHOUT_WHEN_PSEUDONYMISED = frozenset({IDEMPOTENCY_KEY, HASH, LOGIN, RECORDED_AT, ERASABLE})
_CARRIED_ELSEWHERE = frozenset({ACTIVITY, TIMESTAMP})  # the event's type and time
_JSON = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode  # built once, not per value as json.dumps does


def object_attribute(key: str) -> str:
    """The proposal object's name for a case attribute: ``case:title`` is ``title``."""
    return key.removeprefix(CASE_PREFIX)


def event_id(event: LogEvent) -> str:
    return f"{event.case}:{event.seq}"


def actor_id(resource: str) -> str:
    return ACTOR_PREFIX + resource


def write_ocel(out: TextIO, source: LogSource) -> None:
    proposal_attributes = [CASE_WORKFLOW, CASE_WORKFLOW_VERSION, CASE_FROM] if source.pseudonymised else [
        CASE_TITLE, CASE_WORKFLOW, CASE_WORKFLOW_VERSION, CASE_FROM]
    object_types = [
        {"name": PROPOSAL, "attributes": [{"name": object_attribute(key), "type": "string"}
                                          for key in [*proposal_attributes, STATE]]},
        {"name": ACTOR, "attributes": []},
    ]
    declared = [{"name": name, "type": kind} for name, kind in _EVENT_ATTRIBUTES
                if not (source.pseudonymised and name in _WITHOUT_WHEN_PSEUDONYMISED)]
    event_types = [{"name": activity, "attributes": declared} for activity in source.activities]
    out.write('{"objectTypes": ' + _json(object_types) + ",\n")
    out.write('"eventTypes": ' + _json(event_types) + ",\n")
    out.write('"objects": [')
    proposals, actors = _write_proposals(out, source)
    for position, actor in enumerate(actors, start=proposals):
        out.write(("," if position else "") + "\n" + _json({"id": actor_id(actor), "type": ACTOR}))
    out.write('\n],\n"events": [')
    for position, event in enumerate(source.events()):
        out.write(("," if position else "") + "\n" + _json(_event(event)))
    out.write("\n]}\n")


def _write_proposals(out: TextIO, source: LogSource) -> tuple[int, list[str]]:
    """The first pass: one object per proposal, its state a time-stamped attribute. Returns how
    many proposals were written, and the actors in order of first appearance (one entry per
    person, not per event)."""
    actors: dict[str, None] = {}
    written = 0
    for case, events in groupby(source.events(), key=_case):
        first = next(events)
        created = timestamp_text(first.at)
        attributes = [{"name": object_attribute(key), "value": text, "time": created}
                      for key, text in ((CASE_TITLE, first.title), (CASE_WORKFLOW, first.workflow),
                                        (CASE_WORKFLOW_VERSION, first.workflow_version),
                                        (CASE_FROM, first.came_from)) if text is not None]
        head = _json({"id": case, "type": PROPOSAL})[:-1]  # left open for its attributes
        out.write(("," if written else "") + "\n" + head + ', "attributes": [')
        out.write(", ".join(_json(attribute) for attribute in attributes))
        state = None
        for event in chain((first,), events):
            actors.setdefault(event.resource)
            if event.activity != state:
                state = event.activity
                out.write(", " + _json({"name": STATE, "value": state, "time": timestamp_text(event.at)}))
        out.write("]}")
        written += 1
    return written, list(actors)


def _event(event: LogEvent) -> dict[str, Any]:
    return {
        "id": event_id(event),
        "type": event.activity,
        "time": timestamp_text(event.at),
        "attributes": [{"name": key, "value": text} for key, _, text in event_attributes(event)
                       if key not in _CARRIED_ELSEWHERE],
        "relationships": [{"objectId": event.case, "qualifier": PROPOSAL},
                          {"objectId": actor_id(event.resource), "qualifier": event.role}],
    }


def _case(event: LogEvent) -> str:
    return event.case


def _json(value: Any) -> str:
    return _JSON(value)
