"""The names an event log's columns (CSV) and attributes (XES, OCEL) carry, shared by export and
import so that what flowengine writes it reads back unchanged.

The standard ones are the XES extensions' names (concept, time, org, lifecycle), which PM4Py,
ProM, Disco and Celonis recognise without a mapping. What only flowengine knows travels under
the ``flowengine:`` prefix, which process-mining tools keep as plain attributes.

Reading of a log, as process mining reads it: each case is a proposal; the activity of an event
is the state the proposal is in after it; the time in a state is the time until the case's
next step.
"""

from __future__ import annotations

CASE = "case:concept:name"  # the proposal's id
ACTIVITY = "concept:name"  # the state the proposal is in after the event (its id)
TIMESTAMP = "time:timestamp"  # ISO 8601 with offset; flowengine writes UTC with microseconds
RESOURCE = "org:resource"  # who acted (a pseudonym with --pseudonymise)
ROLE = "org:role"  # the role they acted in
LIFECYCLE = "lifecycle:transition"  # always "complete": every event is a finished step

# Case attributes (repeated on each CSV row, once per trace in XES).
CASE_PREFIX = "case:"  # a case attribute's column; XES trace and OCEL object attributes go without it
CASE_TITLE = "case:title"
CASE_WORKFLOW = "case:workflow"
CASE_WORKFLOW_VERSION = "case:workflow_version"
CASE_FROM = "case:from"  # the proposal it came from (``proposal new … --from``): an audit, say

# flowengine's own, per event: together with the standard ones they rebuild the event exactly,
# so an import of flowengine's export reproduces every hash of the chain.
SEQ = "flowengine:seq"
KIND = "flowengine:kind"
TRIGGER = "flowengine:trigger"
FROM_STATE = "flowengine:from"
ENTERED_AT = "flowengine:entered_at"
COMMENT = "flowengine:comment"
CHANGES = "flowengine:changes"  # JSON object
DETAILS = "flowengine:details"  # JSON object
IDEMPOTENCY_KEY = "flowengine:idempotency_key"
HASH = "flowengine:hash"  # the event's chain hash, for checking a round trip; never trusted on import
LOGIN = "flowengine:login"  # the authenticated login that recorded the event (event format 2)
RECORDED_AT = "flowengine:recorded_at"  # when it was recorded, by the database's clock (event format 2)
# Event format 3: each personal value's commitment and salt, a JSON object
# {"<item>": {"commitment": "<64 hex>", "salt": "<64 hex>" | null}} (item: actor, comment or field:NAME;
# salt null: the value was erased and reads "[erased]"), so an import rebuilds the same seals and
# erasable values. Left out for events of formats 1 and 2, and when pseudonymised.
ERASABLE = "flowengine:erasable"

CSV_COLUMNS = (CASE, ACTIVITY, TIMESTAMP, RESOURCE, ROLE, LIFECYCLE, CASE_TITLE, CASE_WORKFLOW,
               CASE_WORKFLOW_VERSION, CASE_FROM, SEQ, KIND, TRIGGER, FROM_STATE, ENTERED_AT, COMMENT, CHANGES, DETAILS,
               IDEMPOTENCY_KEY, HASH, LOGIN, RECORDED_AT, ERASABLE)
COMPLETE = "complete"
