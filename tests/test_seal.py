"""The one sealing function and the one step builder: the seal is byte for byte the canonical
encoding (tests/sealing_oracle.py, written the obvious way), and the builder chains, numbers and
times every event as replay and ``audit verify`` expect."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowengine.clock import iso_utc
from flowengine.history import chain
from flowengine.history.records import ADVANCED, CREATED, FIELDS_SET, PROGRESS, Proposal
from flowengine.history.seal import GENESIS, seal
from flowengine.history.steps import ChainBuilder, creation_details

from . import sealing_oracle as oracle

TEXT = st.text(st.characters(codec="utf-8"), max_size=30)  # any text a UTF-8 file can carry
JSON_VALUE = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                          | TEXT, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
                          max_leaves=8)
MOMENT = st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31), timezones=st.just(UTC))
T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@settings(max_examples=300, deadline=None)
@given(proposal=TEXT, seq=st.integers(min_value=0, max_value=2**40), kind=TEXT, trigger=st.none() | TEXT,
       from_state=st.none() | TEXT, to_state=TEXT, actor=TEXT, role=TEXT, at=MOMENT, entered_at=MOMENT, comment=TEXT,
       changes=st.dictionaries(TEXT, JSON_VALUE, max_size=4), details=st.dictionaries(TEXT, JSON_VALUE, max_size=4),
       idempotency_key=st.none() | TEXT, prev_hash=st.text("0123456789abcdef", min_size=64, max_size=64))
def test_the_seal_is_byte_for_byte_the_canonical_encodings_hash(
        proposal: str, seq: int, kind: str, trigger: str | None, from_state: str | None, to_state: str, actor: str,
        role: str, at: datetime, entered_at: datetime, comment: str, changes: dict[str, object],
        details: dict[str, object], idempotency_key: str | None, prev_hash: str) -> None:
    values: dict[str, Any] = {
        "proposal": proposal, "seq": seq, "kind": kind, "trigger": trigger, "from_state": from_state,
        "to_state": to_state, "actor": actor, "role": role, "comment": comment, "changes": changes,
        "details": details, "idempotency_key": idempotency_key, "prev_hash": prev_hash}
    assert seal(prev_hash, proposal, seq, kind, trigger, from_state, to_state, actor, role, iso_utc(at),
                iso_utc(entered_at), comment, changes, details, idempotency_key) == oracle.event_hash(
        at=at, entered_at=entered_at, **values)


def built_history() -> list[Any]:
    chain_ = ChainBuilder("INN-1")
    details = creation_details(title="Meeting place", description="", origin="panel", workflow="innovation-chain",
                               workflow_version="1", definition="d" * 64)
    return [
        chain_.create("panel_work", "kari", "panel", T0, details=details, fields={"summary": "A place"}),
        chain_.step(FIELDS_SET, "kari", "panel", T0 + DAY, changes={"category": "meeting place"}),
        chain_.step(ADVANCED, "kari", "panel", T0 + 2 * DAY, trigger="send", to_state="council_review",
                    comment="Ready"),
        chain_.step(PROGRESS, "ola", "council", T0 + 3 * DAY, details={"percent": 10}),
    ]


def test_the_builder_numbers_links_and_times_every_event_as_verify_expects() -> None:
    rows = built_history()
    events = [row.event() for row in rows]
    assert [e.seq for e in events] == [1, 2, 3, 4]
    assert [e.kind for e in events] == [CREATED, FIELDS_SET, ADVANCED, PROGRESS]
    assert [e.from_state for e in events] == [None, "panel_work", "panel_work", "council_review"]
    assert [e.entered_at for e in events] == [T0, T0, T0, T0 + 2 * DAY]  # when the state left was entered
    assert events[0].prev_hash == GENESIS
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(events))
    for event in events:
        assert event.hash == oracle.event_hash(
            proposal=event.proposal, seq=event.seq, kind=event.kind, trigger=event.trigger,
            from_state=event.from_state, to_state=event.to_state, actor=event.actor, role=event.role, at=event.at,
            entered_at=event.entered_at, comment=event.comment, changes=event.changes, details=event.details,
            idempotency_key=event.idempotency_key, prev_hash=event.prev_hash)
    assert [row.at_iso for row in rows] == [iso_utc(e.at) for e in events]


def test_a_chain_continued_from_a_stored_proposal_follows_its_head() -> None:
    rows = built_history()
    events = [row.event() for row in rows]
    replayed = chain.replay(events)
    stored = Proposal(id="INN-1", workflow="innovation-chain", workflow_version="1", definition_hash="d" * 64,
                      title="Meeting place", description="", origin="panel", state=replayed.state,
                      fields=replayed.fields, created_at=T0, updated_at=replayed.updated_at,
                      state_entered_at=replayed.state_entered_at, version=replayed.version,
                      head_hash=replayed.head_hash, created_by="kari")
    following = ChainBuilder.after(stored).step(ADVANCED, "eva", "administration", T0 + 4 * DAY, trigger="decide",
                                                to_state="implementation", comment="Yes")
    assert (following.seq, following.prev_hash, following.from_state) == (5, events[-1].hash, "council_review")
    assert following.entered_at == T0 + 2 * DAY
    assert chain.first_break(stored, events) is None


def test_a_chain_is_created_once_and_stepped_only_after_its_creation() -> None:
    fresh = ChainBuilder("INN-2")
    with pytest.raises(ValueError, match="no creation event"):
        fresh.step(ADVANCED, "kari", "panel", T0, trigger="send", to_state="council_review")
    fresh.create("panel_work", "kari", "panel", T0, details={})
    with pytest.raises(ValueError, match="created once"):
        fresh.create("panel_work", "kari", "panel", T0, details={})


@pytest.mark.parametrize("stamped", [False, True])
def test_a_bulk_advance_builds_the_very_row_a_step_builds(stamped: bool) -> None:
    from flowengine.history.records import Stamp

    stamp = Stamp.of("importer", T0 + 9 * DAY) if stamped else None
    details = creation_details(title="Bench", description="", origin="log", workflow="w", workflow_version="1",
                               definition="d" * 64)
    by_step, by_advance = ChainBuilder("BL-1", stamp), ChainBuilder("BL-1", stamp)
    rows: list[tuple[Any, Any]] = [(by_step.create("received", "kari", "clerk", T0, details=details),
                                    by_advance.create("received", "kari", "clerk", T0, details=details))]
    for day, (trigger, target, comment) in enumerate([("check", "checked", ""), ("adjust", "adjusted", "Once more"),
                                                      ("check", "checked", "ÆØÅ \"quoted\"")], start=1):
        at = T0 + day * DAY
        rows.append((by_step.step(ADVANCED, "ola", "clerk", at, trigger=trigger, to_state=target, comment=comment),
                     by_advance.advance("ola", "clerk", at, iso_utc(at), trigger, target, comment)))
    for stepped, advanced in rows:
        assert stepped == advanced
    assert (by_step.seq, by_step.state, by_step.head, by_step.entered_at, by_step.entered_iso) == (
        by_advance.seq, by_advance.state, by_advance.head, by_advance.entered_at, by_advance.entered_iso)


def test_a_bulk_advance_before_the_creation_is_refused() -> None:
    with pytest.raises(ValueError, match="no creation event"):
        ChainBuilder("BL-1").advance("ola", "clerk", T0, iso_utc(T0), "check", "checked", "")
