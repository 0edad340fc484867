"""The one sealing function and the one step builder: the seal is byte for byte the canonical
encoding (tests/sealing_oracle.py, written the obvious way), and the builder chains, numbers and
times every event as replay and ``audit verify`` expect."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowengine.clock import iso_utc
from flowengine.history import chain, erasure
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


HEX64 = st.text("0123456789abcdef", min_size=64, max_size=64)


@settings(max_examples=300, deadline=None)
@given(actor=TEXT, comment=TEXT, changes=st.dictionaries(TEXT, JSON_VALUE, max_size=4),
       personal_fields=st.lists(TEXT, max_size=3), commit_actor=st.booleans(), commit_comment=st.booleans(),
       digest=HEX64, login=TEXT, recorded_at=MOMENT, at=MOMENT, prev_hash=HEX64)
def test_a_format_3_seal_is_byte_for_byte_the_canonical_encodings_hash(
        actor: str, comment: str, changes: dict[str, object], personal_fields: list[str], commit_actor: bool,
        commit_comment: bool, digest: str, login: str, recorded_at: datetime, at: datetime, prev_hash: str) -> None:
    personal = {f"field:{name}": digest[::-1] for name in personal_fields}
    if commit_actor:
        personal["actor"] = digest
    if commit_comment:
        personal["comment"] = digest[1:] + digest[0]
    values: dict[str, Any] = {
        "proposal": "INN-1", "seq": 3, "kind": FIELDS_SET, "trigger": None, "from_state": "a", "to_state": "a",
        "actor": actor, "role": "panel", "comment": comment, "changes": changes, "details": {"k": [1]},
        "idempotency_key": None, "prev_hash": prev_hash}
    assert seal(prev_hash, "INN-1", 3, FIELDS_SET, None, "a", "a", actor, "panel", iso_utc(at), iso_utc(at), comment,
                changes, {"k": [1]}, None, login, iso_utc(recorded_at), personal) == oracle.event_hash(
        at=at, entered_at=at, login=login, recorded_at=recorded_at, personal=personal, **values)


@given(item=TEXT, value=JSON_VALUE, salt=HEX64)
def test_a_commitment_is_the_documented_hash_of_domain_item_salt_and_value(item: str, value: object,
                                                                           salt: str) -> None:
    assert erasure.commit(item, salt, value) == oracle.commitment(item, salt, value)


def test_a_format_3_seal_differs_from_format_2_and_hides_the_value() -> None:
    args = ("a" * 64, "INN-1", 2, FIELDS_SET, None, "a", "a", "Ola Nordmann", "panel", iso_utc(T0), iso_utc(T0),
            "has schizophrenia", {}, {}, None, "ola", iso_utc(T0))
    salt = erasure.new_salt()
    personal = {"actor": erasure.commit("actor", salt, "Ola Nordmann")}
    assert seal(*args) != seal(*args, personal)
    # the value no longer enters the seal: another name under the same commitment seals the same
    assert seal(*args, personal) == seal(*args[:7], "Kari", *args[8:], personal)
    assert len(salt) == 64 and salt != erasure.new_salt()


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


def _counted(start: int = 0) -> Callable[[], str]:
    """A pool whose random bytes are a counter's hashes: the same salts for every pool made so."""
    stream = itertools.count(start)

    def source(size: int) -> bytes:
        return b"".join(hashlib.sha256(b"%d" % next(stream)).digest() for _ in range(size // 32))

    return erasure.salt_pool(source)


@pytest.mark.parametrize("form", ["format 1", "format 2", "format 3", "format 3, repeatable salts"])
def test_a_bulk_advance_builds_the_very_row_a_step_builds(form: str) -> None:
    from flowengine.history.records import SYSTEM, Stamp

    stamp = None if form == "format 1" else Stamp.of("importer", T0 + 9 * DAY, simulated="repeatable" in form)
    personal = frozenset({"phone"}) if form.startswith("format 3") else None
    details = creation_details(title="Bench", description="", origin="log", workflow="w", workflow_version="1",
                               definition="d" * 64)
    by_step, by_advance = ChainBuilder("BL-1", stamp, personal, _counted()), ChainBuilder("BL-1", stamp, personal,
                                                                                          _counted())
    rows: list[tuple[Any, Any]] = [(by_step.create("received", "kari", "clerk", T0, details=details),
                                    by_advance.create("received", "kari", "clerk", T0, details=details))]
    for day, (actor, trigger, target, comment) in enumerate([
            ("ola", "check", "checked", ""), ("ola", "adjust", "adjusted", "Once more"),
            (SYSTEM, "check", "checked", "ÆØÅ \"quoted\""), (SYSTEM, "adjust", "adjusted", ""),
            ("Åse «Å» Ørn", "check", "checked", "")], start=1):
        at = T0 + day * DAY
        rows.append((by_step.step(ADVANCED, actor, "clerk", at, trigger=trigger, to_state=target, comment=comment),
                     by_advance.advance(actor, "clerk", at, iso_utc(at), trigger, target, comment)))
    for stepped, advanced in rows:
        assert stepped == advanced
        assert advanced.hash == oracle.event_hash(
            proposal="BL-1", seq=advanced.seq, kind=advanced.kind, trigger=advanced.trigger,
            from_state=advanced.from_state, to_state=advanced.to_state, actor=advanced.actor, role=advanced.role,
            at=advanced.at, entered_at=advanced.entered_at, comment=advanced.comment, changes=advanced.changes,
            details=advanced.details, idempotency_key=None, prev_hash=advanced.prev_hash, login=advanced.login,
            recorded_at=advanced.recorded_at,
            personal=None if advanced.personal is None else erasure.digests(advanced.personal))
        for item, committed in (advanced.personal or {}).items():
            assert committed.digest == oracle.commitment(item, committed.salt, chain.personal_value(advanced.event(),
                                                                                                 item))
    assert [sorted(row.personal or {}) for _, row in rows] == (
        [[]] * 6 if personal is None else
        [["actor"], ["actor"], ["actor", "comment"], ["comment"], [], ["actor"]])
    assert (by_step.seq, by_step.state, by_step.head, by_step.entered_at, by_step.entered_iso) == (
        by_advance.seq, by_advance.state, by_advance.head, by_advance.entered_at, by_advance.entered_iso)


def test_salts_from_a_pool_are_fresh_32_byte_values_drawn_many_at_a_time() -> None:
    asked: list[int] = []
    stream = _counted()

    def source(size: int) -> bytes:
        asked.append(size)
        return bytes.fromhex("".join(stream() for _ in range(size // 32)))

    pool = erasure.salt_pool(source)
    drawn = [pool() for _ in range(erasure.SALTS_DRAWN + 1)]
    expected = _counted()
    assert drawn == [expected() for _ in drawn]  # the source's bytes, in order, each used once
    assert asked == [32 * erasure.SALTS_DRAWN] * 2  # one call for a block of salts, the next when it runs out
    assert all(len(salt) == 64 and int(salt, 16) >= 0 for salt in drawn) and len(set(drawn)) == len(drawn)
    real = erasure.salt_pool()
    assert len({real() for _ in range(3000)}) == 3000
    with pytest.raises(ValueError, match="gave 5 bytes"):
        erasure.salt_pool(lambda size: b"short")()


def test_a_bulk_advance_before_the_creation_is_refused() -> None:
    with pytest.raises(ValueError, match="no creation event"):
        ChainBuilder("BL-1").advance("ola", "clerk", T0, iso_utc(T0), "check", "checked", "")
