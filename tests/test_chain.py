"""The hash chain: a stable canonical encoding, hashes that cover every field, replay, and the
first broken link of a tampered history. Pure Python: no database."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from flowengine.clock import iso_utc
from flowengine.history import chain
from flowengine.history.records import ADVANCED, CREATED, FIELDS_SET, Event, Proposal

from . import sealing_oracle as oracle

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
DEFINITION = "d" * 64
CREATION = {"title": "Meeting place", "description": "", "origin": "", "workflow": "innovation-chain",
            "workflow_version": "1", "definition": DEFINITION}  # what the service records at creation

BASE: dict[str, Any] = {
    "proposal": "INN-1", "seq": 2, "kind": ADVANCED, "trigger": "send_to_council", "from_state": "panel_work",
    "to_state": "council_review", "actor": "kari", "role": "panel", "at": T0 + DAY, "entered_at": T0,
    "comment": "Ready", "changes": {"expected_benefit": "Less loneliness"}, "details": {},
    "idempotency_key": None, "prev_hash": "a" * 64,
}


def seal(events: list[dict[str, Any]]) -> list[Event]:
    """Events as the service writes them: numbered, linked and hashed in order."""
    sealed: list[Event] = []
    prev = chain.GENESIS
    for seq, spec in enumerate(events, start=1):
        values = {"proposal": "INN-1", "actor": "kari", "role": "panel", "comment": "", "changes": {},
                  "details": {}, "idempotency_key": None, "trigger": None, "from_state": None,
                  **spec, "prev_hash": prev}
        values.setdefault("seq", seq)
        digest = oracle.event_hash(**values)
        sealed.append(Event(hash=digest, **values))
        prev = digest
    return sealed


def history() -> list[Event]:
    """Created on day 0, a field set on day 1, sent to the council on day 2, a field cleared on day 3."""
    return seal([
        {"kind": CREATED, "to_state": "panel_work", "at": T0, "entered_at": T0,
         "changes": {"summary": "A place to meet", "cost_estimate": 100},
         "details": CREATION},
        {"kind": FIELDS_SET, "from_state": "panel_work", "to_state": "panel_work", "at": T0 + DAY,
         "entered_at": T0, "changes": {"category": "meeting place"}},
        {"kind": ADVANCED, "trigger": "send_to_council", "from_state": "panel_work", "to_state": "council_review",
         "at": T0 + 2 * DAY, "entered_at": T0, "changes": {"expected_benefit": "x"}, "comment": "Ready"},
        {"kind": FIELDS_SET, "from_state": "council_review", "to_state": "council_review", "at": T0 + 3 * DAY,
         "entered_at": T0 + 2 * DAY, "changes": {"cost_estimate": None}},
    ])


def row_for(events: list[Event]) -> Proposal:
    """The proposal row that matches a history."""
    replayed = chain.replay(events)
    return Proposal(id="INN-1", workflow="innovation-chain", workflow_version="1", definition_hash=DEFINITION,
                    title="Meeting place", description="", origin="", state=replayed.state, fields=replayed.fields,
                    created_at=events[0].at, updated_at=replayed.updated_at,
                    state_entered_at=replayed.state_entered_at, version=replayed.version,
                    head_hash=replayed.head_hash, created_by="kari")


def reseal(events: list[Event]) -> list[Event]:
    """A forger who recomputes every hash after editing: the chain links, the meaning may not."""
    specs = [{k: v for k, v in vars(e).items() if k not in ("hash", "prev_hash")} for e in events]
    return seal(specs)


# --- encoding and hashing ----------------------------------------------------------------------------


def test_the_canonical_encoding_sorts_keys_drops_spaces_and_keeps_utf8() -> None:
    assert oracle.canonical({"b": [1, 2], "a": "brukerråd"}) == '{"a":"brukerråd","b":[1,2]}'.encode()
    assert oracle.canonical({"a": 1, "b": 2}) == oracle.canonical({"b": 2, "a": 1})


def test_the_canonical_encoding_refuses_values_json_cannot_hold_exactly() -> None:
    with pytest.raises(ValueError):
        oracle.canonical({"cost": float("nan")})


def test_an_event_hash_is_stable_across_versions() -> None:
    # Stored hashes must verify with every later flowengine: this pins the encoding.
    assert oracle.event_hash(**BASE) == "bb4223f23510bb9864838361bb8db9b64b8c39be4dbfe58731d076b9a92b28d4"


def test_an_event_hash_is_sha256_over_the_previous_hash_and_the_canonical_event() -> None:
    """What an auditor re-implements from the documentation, without flowengine."""
    payload = {"proposal": "INN-1", "seq": 2, "kind": "advanced", "trigger": "send_to_council",
               "from": "panel_work", "to": "council_review", "actor": "kari", "role": "panel",
               "at": "2024-03-02T09:00:00.000000Z", "entered_at": "2024-03-01T09:00:00.000000Z",
               "comment": "Ready", "changes": {"expected_benefit": "Less loneliness"}, "details": {},
               "idempotency_key": None}
    encoded = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    assert oracle.event_hash(**BASE) == hashlib.sha256(b"a" * 64 + b"\n" + encoded).hexdigest()


@pytest.mark.parametrize(("name", "other"), [
    ("proposal", "INN-2"), ("seq", 3), ("kind", FIELDS_SET), ("trigger", "recommend"), ("trigger", None),
    ("from_state", "council_review"), ("to_state", "rejected"), ("actor", "ola"), ("role", "council"),
    ("at", T0 + DAY + timedelta(microseconds=1)), ("entered_at", T0 - DAY), ("comment", "Ready."),
    ("changes", {"expected_benefit": "Less loneliness "}), ("changes", {}), ("details", {"title": "x"}),
    ("idempotency_key", "req-1"), ("prev_hash", "b" * 64),
])
def test_the_hash_changes_with_every_part_of_the_event(name: str, other: Any) -> None:
    assert oracle.event_hash(**{**BASE, name: other}) != oracle.event_hash(**BASE)


def test_the_same_moment_in_any_time_zone_hashes_the_same() -> None:
    oslo = timezone(timedelta(hours=1))
    moved = {**BASE, "at": (T0 + DAY).astimezone(oslo), "entered_at": T0.replace(tzinfo=None)}
    assert oracle.event_hash(**moved) == oracle.event_hash(**BASE)
    assert iso_utc((T0 + DAY).astimezone(oslo)) == "2024-03-02T09:00:00.000000Z"


def test_recompute_agrees_with_the_hash_the_event_was_written_with() -> None:
    for event in history():
        assert chain.recompute(event) == event.hash


# --- replay --------------------------------------------------------------------------------------------


def test_replay_folds_states_and_fields_in_order() -> None:
    events = history()
    replayed = chain.replay(events)
    assert replayed.state == "council_review"
    assert replayed.fields == {"summary": "A place to meet", "category": "meeting place", "expected_benefit": "x"}
    assert replayed.state_entered_at == T0 + 2 * DAY  # setting fields does not restart the clock
    assert replayed.version == 4
    assert replayed.head_hash == events[-1].hash
    assert replayed.updated_at == T0 + 3 * DAY


def test_replay_of_a_prefix_is_the_past() -> None:
    replayed = chain.replay(history()[:2])
    assert replayed.state == "panel_work"
    assert replayed.fields == {"summary": "A place to meet", "cost_estimate": 100, "category": "meeting place"}
    assert replayed.state_entered_at == T0
    assert replayed.version == 2


def test_a_step_back_into_the_same_state_restarts_its_clock() -> None:
    events = seal([
        {"kind": CREATED, "to_state": "panel_work", "at": T0, "entered_at": T0,
         "details": CREATION},
        {"kind": ADVANCED, "trigger": "rework", "from_state": "panel_work", "to_state": "panel_work",
         "at": T0 + DAY, "entered_at": T0},
    ])
    assert chain.replay(events).state_entered_at == T0 + DAY
    assert chain.first_break(row_for(events), events) is None


def test_replay_needs_at_least_the_creation() -> None:
    with pytest.raises(ValueError):
        chain.replay([])


# --- the first broken link -------------------------------------------------------------------------------


def test_an_intact_history_has_no_break() -> None:
    events = history()
    assert chain.first_break(row_for(events), events) is None


def test_a_proposal_without_events_is_a_break() -> None:
    broken = chain.first_break(row_for(history()), [])
    assert broken is not None and broken.seq is None and "no events" in broken.problem


def test_a_deleted_event_breaks_the_sequence() -> None:
    events = history()
    broken = chain.first_break(row_for(events), [events[0], *events[2:]])
    assert broken is not None and broken.seq == 3
    assert "sequence number 3 where 2 was expected" in broken.problem


def test_an_edited_event_no_longer_matches_its_hash() -> None:
    events = history()
    events[2] = replace(events[2], comment="Rejected, actually")
    broken = chain.first_break(row_for(history()), events)
    assert broken is not None and broken.seq == 3 and "does not match its hash" in broken.problem


def test_an_edited_event_with_a_recomputed_hash_breaks_the_next_link() -> None:
    events = history()
    forged = replace(events[1], changes={"category": "other"})
    events[1] = replace(forged, hash=chain.recompute(forged))
    broken = chain.first_break(row_for(history()), events)
    assert broken is not None and broken.seq == 3 and "does not link" in broken.problem


def test_swapped_events_break_the_sequence() -> None:
    events = history()
    broken = chain.first_break(row_for(events), [events[0], events[2], events[1], events[3]])
    assert broken is not None and broken.seq == 3 and "sequence number" in broken.problem


def test_a_deleted_newest_event_shows_in_the_row() -> None:
    events = history()
    broken = chain.first_break(row_for(events), events[:-1])
    assert broken is not None and broken.seq == 4  # the first event the row knows and the history lacks
    assert "does not match the replay" in broken.problem
    assert "version" in broken.problem and "head hash" in broken.problem


def test_a_row_changed_behind_the_history_is_a_break() -> None:
    events = history()
    broken = chain.first_break(replace(row_for(events), state="implementation"), events)
    assert broken is not None and "(state)" in broken.problem
    broken = chain.first_break(replace(row_for(events), fields={"summary": "edited"}), events)
    assert broken is not None and "(fields)" in broken.problem
    broken = chain.first_break(replace(row_for(events), state_entered_at=T0), events)
    assert broken is not None and "entered" in broken.problem


def test_a_row_moved_to_another_definition_is_a_break() -> None:
    events = history()
    broken = chain.first_break(replace(row_for(events), definition_hash="e" * 64), events)
    assert broken is not None and broken.seq == 1 and "definition" in broken.problem


def test_a_row_whose_description_differs_from_its_creation_is_a_break() -> None:
    events = history()
    broken = chain.first_break(replace(row_for(events), title="Renamed quietly"), events)
    assert broken is not None and broken.seq == 1 and "title" in broken.problem


def test_a_rewritten_history_that_still_links_is_caught_by_its_meaning() -> None:
    """Rehashing a whole chain is possible for someone with write access; the checks of what the
    events say (and the row, whose head hash no longer matches) still catch it."""
    events = history()
    cases: list[tuple[int, dict[str, Any], str]] = [
        (0, {"kind": ADVANCED}, "does not start with the proposal's creation"),
        (2, {"kind": CREATED}, "a second creation event"),
        (2, {"from_state": "political_review"}, "leaves 'political_review' but the proposal was in 'panel_work'"),
        (2, {"at": T0}, "is dated before the event it follows"),
        (3, {"entered_at": T0}, "'entered at' time is not when the proposal entered that state"),
        (1, {"kind": "deleted"}, "unknown kind 'deleted'"),
    ]
    for index, change, problem in cases:
        forged = list(events)
        forged[index] = replace(forged[index], **change)
        forged = reseal(forged)
        broken = chain.first_break(row_for(events), forged)
        assert broken is not None and broken.seq == index + 1, (change, broken)
        assert problem in broken.problem, (change, broken.problem)


def test_a_break_reads_as_a_dict_for_json() -> None:
    broken = chain.ChainBreak("INN-1", 3, "does not link")
    assert broken.as_dict() == {"proposal": "INN-1", "seq": 3, "problem": "does not link"}
