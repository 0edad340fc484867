"""An erasure step is no activity of its proposal: erasing personal data from a stalled proposal,
or from one gone quiet, leaves its stall figures — how long it waits, when it was last heard of,
who acted last — and its place among the overdue proposals as they were, in the reference
analysis and in the columnar one alike."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from flowengine.analysis.reference import analyse
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
