"""What the event-log export tests share: a history with every kind of event, built through the
service, and the check that an exported log says exactly what the database holds.

The history has two workflows (``timely``, which reminds, escalates and records progress, and
``small``), named people, free text of every sort (titles, descriptions, origins, comments of
several lines, notes, milestones, text and URL field values, an idempotency key) and
characters that need escaping in CSV, XML and JSON; each is listed here so pseudonymisation
tests can search the output for them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flowengine.eventlog import attributes as a
from flowengine.history import chain
from flowengine.history.provenance import INFERRED, Provenance
from flowengine.history.records import Actor, Event, Proposal
from flowengine.service.facade import FlowEngine
from flowengine.store import queries
from flowengine.store.database import Database, resolve_url

from . import sealing_oracle as oracle
from .conftest import FixedClock

# The workflows the history runs under (copies: this history must not move when other tests' do).
TIMELY = """\
id: timely
version: 1
prefix: TML
roles:
  panel: {}
  council: {}
  administration: {}
  politician: {}
  service: {}
fields:
  reference: {type: text}
states:
  draft: {initial: true, stage: panel, owner: panel, deadline: 30d}
  council_review: {stage: council, owner: council, deadline: 6w, reminder: 4w}
  administration_review:
    stage: administration
    owner: administration
    deadline: 60d
    reminder: 45d
    escalate: {after: 90d, trigger: escalate}
  political_review:
    stage: political
    owner: politician
    deadline: 30d
    escalate: {after: 30d, trigger: return_to_administration}
  implementation:
    stage: implementation
    owner: service
    deadline: 10w
    reminder: 8w
    escalate: {after: 20w, trigger: report_stall}
  stall_review: {stage: administration, owner: administration, deadline: 4w}
  done: {final: true, outcome: implemented}
  rejected: {final: true, outcome: rejected}
transitions:
  - {trigger: send_to_council, from: draft, to: council_review, roles: [panel]}
  - {trigger: recommend, from: council_review, to: administration_review, roles: [council]}
  - {trigger: escalate, from: administration_review, to: political_review, roles: [administration]}
  - {trigger: return_to_administration, from: political_review, to: administration_review, requires_comment: true}
  - {trigger: decide, from: [administration_review, political_review], to: implementation, roles: [administration],
     requires_comment: true, answers_panel: true}
  - {trigger: report_stall, from: implementation, to: stall_review, requires_comment: true}
  - {trigger: resume, from: stall_review, to: implementation, roles: [administration]}
  - {trigger: finish, from: implementation, to: done, roles: [service], requires_comment: true, answers_panel: true}
  - {trigger: reject, from: [council_review, administration_review, political_review, stall_review], to: rejected,
     requires_comment: true, answers_panel: true}
"""

SMALL_WORKFLOW = """\
id: small
version: 1
prefix: SML
roles:
  panel: {}
  council: {}
fields:
  summary: {type: text, required: true}
  cost: {type: number}
  reference: {type: text}
states:
  draft: {initial: true, stage: panel, owner: panel, deadline: 30d}
  review: {stage: council, owner: council, deadline: 6w}
  done: {final: true, outcome: implemented}
  dropped: {final: true, outcome: withdrawn}
transitions:
  - {trigger: submit, from: draft, to: review, roles: [panel]}
  - {trigger: approve, from: review, to: done, roles: [council], requires: [reference], requires_comment: true}
  - {trigger: send_back, from: review, to: draft, requires_comment: true}
  - {trigger: withdraw, from: "*", to: dropped, roles: [panel]}
"""

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
PANEL = Actor("Kari Nordmann", "panel")
COUNCIL = Actor("Ola Hansen", "council")
ADMINISTRATION = Actor("Eva Berg", "administration")
SERVICE = Actor("Sam Tjeneste", "service")
PEOPLE = (PANEL.name, COUNCIL.name, ADMINISTRATION.name, SERVICE.name)

TITLE = 'Benches & <shade> for the "old" square'
DESCRIPTION = "Quiet description: the square is too hot in July"
ORIGIN = "Letter from Per Olsen"
SUMMARY = "A place to meet,\nwith trees"
REFERENCE_URL = "https://example.org/letters/olsen-2024"
REFERENCE_TEXT = "Case file Olsen/2024"
COMMENT_LINES = "Looks good;\n\tsee the letter & the map <attached>"
DECISION = "Within the mandate of the administration"
NOTE = "Contractor signed with Bygg Olsen"
NOTE_LINES = "Heard from the service: opening \"soon\",\nafter the summer"
PROVENANCE_TEXT = "Read from the panel's report, «the second proposal», which names no date"
MILESTONE = "Lease signed with Bygg Olsen"
FINISH = "Opened on midsummer day"
APPROVAL = "Approved by the council, ref. Olsen"
KEY = "retry-olsen-7f3a"
FREE_TEXTS = (TITLE, DESCRIPTION, ORIGIN, SUMMARY, REFERENCE_URL, REFERENCE_TEXT, COMMENT_LINES, DECISION, NOTE,
              MILESTONE, FINISH, APPROVAL, KEY, "Second proposal in small")


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def write_workflows(folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "timely.yaml").write_text(TIMELY, encoding="utf-8")
    (folder / "small.yaml").write_text(SMALL_WORKFLOW, encoding="utf-8")
    return folder


def build_history(target: str, folder: Path) -> None:
    """TML-1 through every kind (created, fields_set, advanced, reminded, escalated by system,
    progress, noted), TML-2 just created, SML-1 approved with number and text fields, SML-2 registered
    as coming from SML-1, with its provenance, and withdrawn."""
    clock = FixedClock(T0)
    with FlowEngine.open(target, workflow_dirs=[write_workflows(folder)], clock=clock) as flow:
        tml = flow.new_proposal("timely", title=TITLE, description=DESCRIPTION, origin=ORIGIN, actor=PANEL,
                                at=at(0)).proposal.id
        flow.set_fields(tml, {"reference": REFERENCE_TEXT}, actor=PANEL, at=at(1))
        flow.advance(tml, "send_to_council", actor=PANEL, comment=COMMENT_LINES, idempotency_key=KEY, at=at(2))
        flow.advance(tml, "recommend", actor=COUNCIL, at=at(3))
        clock.set(days=50)
        flow.tick()  # a reminder after 45 days in administration_review
        clock.set(days=100)
        flow.tick()  # the escalation after 90, by the actor "system"
        flow.advance(tml, "decide", actor=ADMINISTRATION, comment=DECISION, at=at(101))
        flow.record_progress(tml, 40, actor=SERVICE, note=NOTE, milestone=MILESTONE, milestone_date="2024-06-01",
                             at=at(102))
        flow.note(tml, NOTE_LINES, actor=SERVICE, at=at(102))
        flow.advance(tml, "finish", actor=SERVICE, comment=FINISH, at=at(103))
        flow.new_proposal("timely", title="Second timely proposal", actor=Actor(COUNCIL.name, "panel"),
                          at=at(104))
        sml = flow.new_proposal("small", title="Approved in small", actor=PANEL,
                                fields={"summary": SUMMARY, "cost": 25000}, at=at(104)).proposal.id
        flow.advance(sml, "submit", actor=PANEL, at=at(105))
        flow.set_fields(sml, {"reference": REFERENCE_URL}, actor=COUNCIL, at=at(106))
        flow.advance(sml, "approve", actor=COUNCIL, comment=APPROVAL, at=at(107))
        dropped = flow.new_proposal("small", title="Second proposal in small", actor=PANEL,
                                    fields={"summary": "Short"}, at=at(108), from_proposal=sml,
                                    provenance=Provenance(INFERRED, PROVENANCE_TEXT, "Oppsummering, «side 3»",
                                                          when="våren 2018")).proposal.id
        flow.advance(dropped, "withdraw", actor=PANEL, at=at(109))


def stored(target: str, workflows: Sequence[str] = ()) -> list[tuple[Proposal, list[Event]]]:
    """Every proposal with its events as the database holds them, in export order."""
    with Database(resolve_url(target)) as database, database.read() as conn:
        found = list(queries.histories(conn))
    return [(p, events) for p, events in found if not workflows or p.workflow in workflows]


def moment(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    assert value.tzinfo is not None, f"{text} has no offset"
    return value


def assert_log_matches(records: Sequence[Mapping[str, str]], histories: Sequence[tuple[Proposal, list[Event]]],
                       *, kinds: Sequence[str] = ()) -> None:
    """``records`` (one dict of attribute name → text per exported event, as a reader found
    them) say exactly what the stored events say, and rebuild every hash of every chain."""
    expected = [(p, e) for p, events in histories for e in events if not kinds or e.kind in kinds]
    assert len(records) == len(expected), (len(records), len(expected))
    previous_hash = chain.GENESIS
    for record, (proposal, event) in zip(records, expected, strict=True):
        where = f"{event.proposal} event {event.seq}"
        assert record[a.CASE] == event.proposal, where
        assert record[a.ACTIVITY] == event.to_state, where
        assert moment(record[a.TIMESTAMP]) == event.at, where
        assert record[a.RESOURCE] == event.actor, where
        assert record[a.ROLE] == event.role, where
        assert record[a.LIFECYCLE] == "complete", where
        assert record[a.CASE_TITLE] == proposal.title, where
        assert record[a.CASE_WORKFLOW] == proposal.workflow, where
        assert record[a.CASE_WORKFLOW_VERSION] == proposal.workflow_version, where
        assert int(record[a.SEQ]) == event.seq, where
        assert record[a.KIND] == event.kind, where
        assert (record.get(a.TRIGGER) or None) == event.trigger, where
        assert (record.get(a.FROM_STATE) or None) == event.from_state, where
        assert moment(record[a.ENTERED_AT]) == event.entered_at, where
        assert record[a.COMMENT] == event.comment, where
        assert _json(record[a.CHANGES]) == event.changes, where
        assert _json(record[a.DETAILS]) == event.details, where
        assert (record.get(a.IDEMPOTENCY_KEY) or None) == event.idempotency_key, where
        assert record[a.HASH] == event.hash, where
        assert (record.get(a.LOGIN) or None) == event.login, where
        carried = _json(record[a.ERASABLE]) if record.get(a.ERASABLE) else None  # event format 3
        assert carried == (None if event.personal is None else event.as_dict()["erasable"]), where
        if not kinds:  # the whole chain is there: rebuild each hash from the log alone
            if event.seq == 1:
                previous_hash = chain.GENESIS
            rebuilt = oracle.event_hash(
                proposal=record[a.CASE], seq=int(record[a.SEQ]), kind=record[a.KIND],
                trigger=record.get(a.TRIGGER) or None, from_state=record.get(a.FROM_STATE) or None,
                to_state=record[a.ACTIVITY], actor=record[a.RESOURCE], role=record[a.ROLE],
                at=moment(record[a.TIMESTAMP]), entered_at=moment(record[a.ENTERED_AT]), comment=record[a.COMMENT],
                changes=_json(record[a.CHANGES]), details=_json(record[a.DETAILS]),
                idempotency_key=record.get(a.IDEMPOTENCY_KEY) or None, prev_hash=previous_hash,
                login=record.get(a.LOGIN) or None,
                recorded_at=moment(record[a.RECORDED_AT]) if record.get(a.RECORDED_AT) else None,
                personal=None if carried is None else {item: c["commitment"] for item, c in carried.items()})
            assert rebuilt == record[a.HASH], where
            previous_hash = rebuilt


def _json(text: str) -> Any:
    return json.loads(text)
