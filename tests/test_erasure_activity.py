"""An erasure step is no activity of its proposal: erasing personal data from a stalled proposal,
or from one gone quiet, leaves its stall figures — how long it waits, when it was last heard of,
who acted last — and its place among the overdue proposals as they were, in the reference
analysis and in the columnar one alike; the row's ``updated_at`` stays its last real step's (and
with it the order of ``--sort updated``), while a later step, escalation or tick still follows the
erasure step in time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from flowengine.analysis.reference import analyse
from flowengine.errors import InvalidInput
from flowengine.history.records import ERASED_STEP, Actor
from flowengine.service.erasing import ErasureRequest
from flowengine.service.facade import FlowEngine
from flowengine.store import queries

from .conftest import FixedClock
from .stress_advances import WORKFLOW, WORKFLOW_DIR, WORKFLOW_ID

NAME = "Ola Nordmann"
PANEL = Actor(NAME, "panel")
COUNCIL = Actor("cato", "council")
T0 = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)


def _figures(flow: FlowEngine, moment: datetime) -> dict[str, Any]:
    """The stall figures of the columnar analysis (what every command shows) and of the reference one."""
    (fast,) = flow.analyse([WORKFLOW_ID], as_of=moment)
    declared = flow.declared_workflow(WORKFLOW_ID)
    with flow.database.read() as conn:
        reference = analyse(declared, queries.trails(conn, until=moment, workflow=WORKFLOW_ID), moment)
    assert fast.as_dict() == reference.as_dict()
    return {"stalls": [s.as_dict() for s in fast.stalls], "quiet": [s.as_dict() for s in fast.quiet],
            "states": [s.as_dict() for s in fast.states]}


def _overdue(flow: FlowEngine, moment: datetime) -> list[tuple[str, bool]]:
    now = [(s.proposal.id, s.overdue) for s in flow.proposals(overdue=True)]
    then = [(s.proposal.id, s.overdue) for s in flow.proposals(overdue=True, as_of=moment)]
    assert now == then
    return now


@pytest.mark.parametrize("heard_of", [True, False], ids=["stalled", "gone-quiet"])
def test_an_erasure_leaves_a_stalled_proposals_figures_and_overdue_listing_unchanged(db_target: str,
                                                                                    heard_of: bool) -> None:
    clock = FixedClock(T0)
    with FlowEngine.open(db_target, workflow_dirs=[WORKFLOW_DIR], clock=clock) as flow:
        pid = flow.new_proposal(WORKFLOW, title="Meeting place", actor=PANEL, fields={"note": "private"}).proposal.id
        clock.set(days=1)
        flow.advance(pid, "ping", actor=PANEL, comment=f"{NAME} asks the council")  # into b: 30 days
        if heard_of:
            clock.set(days=25)
            flow.note(pid, "Still waiting for the council", actor=COUNCIL)
        moment = clock.set(days=40)
        before, listed = _figures(flow, moment), _overdue(flow, moment)
        found = before["stalls"] if heard_of else before["quiet"]
        assert [s["proposal"] for s in found] == [pid] and listed == [(pid, True)]
        assert found[0]["last_actor"] == ("cato" if heard_of else NAME)
        flow.erase(ErasureRequest(proposal=pid, comments=True, request="letter 17"), by=Actor("kari", "admin"))
        assert flow.history(pid)[1][-1].kind == ERASED_STEP
        after = _figures(flow, moment)
        if not heard_of:  # the name is gone from what is shown; nothing else moved
            assert flow.erase(ErasureRequest(actor=NAME)).values == 2
            after = _figures(flow, moment)
            after["quiet"][0]["last_actor"] = NAME
        assert after == before
        assert _overdue(flow, moment) == listed
        assert flow.verify().ok


def _erased_after_its_last_step(flow: FlowEngine, clock: FixedClock) -> tuple[str, str]:
    """Two proposals: ``quiet``, last stepped on day 1 and erased from on day 5; ``busy``, last
    stepped on day 3. Returns (quiet, busy)."""
    quiet = flow.new_proposal(WORKFLOW, title="Quiet", actor=PANEL).proposal.id
    clock.set(days=1)
    flow.advance(quiet, "ping", actor=PANEL, comment=f"{NAME} asks the council")
    clock.set(days=2)
    busy = flow.new_proposal(WORKFLOW, title="Busy", actor=PANEL).proposal.id
    clock.set(days=3)
    flow.advance(busy, "ping", actor=PANEL)
    clock.set(days=5)
    flow.erase(ErasureRequest(proposal=quiet, comments=True, request="letter 17"), by=Actor("kari", "admin"))
    return quiet, busy


def test_an_erasure_leaves_when_the_proposal_was_last_updated_and_its_place_by_update(db_target: str) -> None:
    clock = FixedClock(T0)
    with FlowEngine.open(db_target, workflow_dirs=[WORKFLOW_DIR], clock=clock) as flow:
        quiet, busy = _erased_after_its_last_step(flow, clock)
        day_1 = T0 + timedelta(days=1)
        assert flow.history(quiet)[1][-1].kind == ERASED_STEP
        assert flow.history(quiet)[0].updated_at == day_1  # the row
        assert flow.standing(quiet).proposal.updated_at == day_1
        assert flow.standing(quiet, as_of=T0 + timedelta(days=6)).proposal.updated_at == day_1  # the replay
        assert [s.proposal.id for s in flow.proposals(sort="updated")] == [busy, quiet]
        assert [s.proposal.id for s in flow.proposal_page(sort="updated").standings] == [busy, quiet]
        assert [s.proposal.id for s in flow.proposals(sort="updated", as_of=T0 + timedelta(days=6))] == [busy, quiet]
        assert flow.verify().ok


def test_a_step_after_an_erasure_still_follows_it_in_time(db_target: str) -> None:
    """The row's updated_at no longer says when the newest event took effect: a step may still not
    precede the erasure step, backdated or with a recording clock behind the eraser's."""
    clock = FixedClock(T0)
    with FlowEngine.open(db_target, workflow_dirs=[WORKFLOW_DIR], clock=clock) as flow:
        quiet, _busy = _erased_after_its_last_step(flow, clock)
        day_4, day_5 = T0 + timedelta(days=4), T0 + timedelta(days=5)
        with pytest.raises(InvalidInput, match="is before the last step"):
            flow.advance(quiet, "pong", actor=COUNCIL, at=day_4)
        clock.set(days=4)  # a clock behind the erasure's
        done = flow.advance(quiet, "pong", actor=COUNCIL)
        assert done.event is not None and done.event.at == day_5 and done.proposal.updated_at == day_5
        assert flow.verify().ok


HASTY = """\
id: hasty
version: 1
prefix: HST
roles: {panel: {}, council: {}}
states:
  draft: {initial: true, stage: panel, owner: panel, deadline: 30d, escalate: {after: 30d, trigger: over}}
  review: {stage: council, owner: council, deadline: 30d}
  ended: {final: true, outcome: withdrawn}
transitions:
  - {trigger: over, from: draft, to: review}
  - {trigger: withdraw, from: "*", to: ended, roles: [panel]}
"""


def test_tick_leaves_alone_a_proposal_erased_after_the_moment_and_escalates_it_after_the_erasure(
        db_target: str, tmp_path: Path) -> None:
    """An escalation is dated when it fell due, but never before the newest event: an erasure
    since then moves it to the erasure's time, and a tick as of a moment before the erasure
    leaves the proposal alone (as it does one stepped since)."""
    (tmp_path / "hasty.yaml").write_text(HASTY, encoding="utf-8")
    clock = FixedClock(T0)
    with FlowEngine.open(db_target, workflow_dirs=[tmp_path], clock=clock) as flow:
        pid = flow.new_proposal("hasty", title="Quiet", actor=PANEL).proposal.id  # the escalation falls due on day 30
        clock.set(days=40)
        flow.erase(ErasureRequest(proposal=pid), by=Actor("kari", "admin"))
        assert flow.tick(as_of=T0 + timedelta(days=35)).escalations == ()
        assert flow.history(pid)[1][-1].kind == ERASED_STEP
        clock.set(days=41)
        (escalated,) = flow.tick().escalations
        newest = flow.history(pid)[1][-1]
        assert (newest.trigger, newest.at, escalated.at) == ("over", T0 + timedelta(days=40), T0 + timedelta(days=40))
        assert flow.verify().ok
