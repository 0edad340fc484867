"""What an event log's columns can mean to an import, and where each meaning sits in a row the
readers hand over (one tuple per event, in this order)."""

from __future__ import annotations

from flowengine.eventlog import attributes as col

# What a column can mean, and the standard (XES) name that means it without a mapping.
MEANINGS: dict[str, tuple[str, str]] = {
    "case": (col.CASE, "the case id: one case is one proposal"),
    "activity": (col.ACTIVITY, "the state the proposal is in after the event (a state id or label)"),
    "timestamp": (col.TIMESTAMP, "when the event happened, ISO 8601 with a UTC offset"),
    "actor": (col.RESOURCE, "who acted (a name or pseudonym)"),
    "role": (col.ROLE, "the role they acted in, one of the workflow's"),
    "trigger": (col.TRIGGER, "the transition taken, where several lead to the same state"),
    "comment": (col.COMMENT, "the step's comment"),
    "title": (col.CASE_TITLE, "the proposal's title (default: the case id)"),
    "lifecycle": (col.LIFECYCLE, "the event's lifecycle; only 'complete' events are steps"),
}
ORDER = tuple(MEANINGS)
# Columns read only from flowengine's own export, under their own names.
EXACT = (col.SEQ, col.KIND, col.FROM_STATE, col.ENTERED_AT, col.CHANGES, col.DETAILS, col.IDEMPOTENCY_KEY,
         col.HASH, col.CASE_WORKFLOW, col.LOGIN, col.RECORDED_AT, col.ERASABLE)
(CASE, ACTIVITY, TIME, ACTOR, ROLE, TRIGGER, COMMENT, TITLE, LIFECYCLE, SEQ, KIND, FROM, ENTERED,
 CHANGES, DETAILS, KEY, HASH, WORKFLOW, LOGIN, RECORDED, ERASABLE) = range(len(ORDER) + len(EXACT))
