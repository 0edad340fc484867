"""Small hand-built histories on a four-stage workflow, shared by the stall tests.

Five proposals, day 0 = 2019-01-01 00:00 UTC, looked at on day 40:

    TINY-1  created d0; submit d4; recommend d6; approve d16 (answer); finish d26   → implemented
    TINY-2  created d1; submit d3; send_back d8; submit d10; recommend d20; reject d23 (answer) → rejected
    TINY-3  created d2; submit d12; note d35                                        → council since d12
    TINY-4  created d5; withdraw d6                                                 → withdrawn
    TINY-5  created d3; submit d5; recommend d7; approve d9 (answer); progress d19;
            note d30                                                                → implementation

TINY-3 and TINY-5 are over their limits on day 40 and were heard of within them (the notes):
stalled. Without the notes they would have gone quiet.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from flowengine.definition.loader import build_workflow
from flowengine.definition.model import Workflow
from flowengine.definition.yamlsafe import read_text
from flowengine.history.records import ADVANCED, CREATED, FIELDS_SET, NOTED, PROGRESS, Actor, Step, Trail
from flowengine.service.facade import FlowEngine

TINY = """\
id: tiny
version: 1
prefix: TINY
title: Tiny chain
roles:
  panel: {kind: panel}
  council: {kind: council}
  admin: {kind: administration}
  service: {kind: service}
states:
  draft: {initial: true, stage: panel, owner: panel, deadline: 30d}
  council_review: {stage: council, owner: council, deadline: 10d}
  admin_review: {stage: administration, owner: admin}
  implementation: {stage: implementation, owner: service, deadline: 20d}
  done: {final: true, outcome: implemented}
  rejected: {final: true, outcome: rejected}
  withdrawn: {final: true, outcome: withdrawn}
transitions:
  - {trigger: submit, from: draft, to: council_review, roles: [panel]}
  - {trigger: send_back, from: council_review, to: draft, roles: [council], requires_comment: true}
  - {trigger: recommend, from: council_review, to: admin_review, roles: [council]}
  - {trigger: approve, from: admin_review, to: implementation, roles: [admin], requires_comment: true,
     answers_panel: true}
  - {trigger: reject, from: admin_review, to: rejected, roles: [admin], requires_comment: true, answers_panel: true}
  - {trigger: finish, from: implementation, to: done, roles: [service]}
  - {trigger: withdraw, from: "*", to: withdrawn, roles: [panel], requires_comment: true}
"""

DAY0 = datetime(2019, 1, 1, tzinfo=UTC)
AS_OF = DAY0 + timedelta(days=40)
ROLE_OF = {"submit": "panel", "send_back": "council", "recommend": "council", "approve": "admin",
           "reject": "admin", "finish": "service", "withdraw": "panel"}
COMMENTED = {"send_back", "approve", "reject", "withdraw"}
TARGET = {"submit": "council_review", "send_back": "draft", "recommend": "admin_review",
          "approve": "implementation", "reject": "rejected", "finish": "done", "withdraw": "withdrawn"}

# (created on day, [(day, trigger)]); a trigger "progress" records progress without moving, and
# "note" a note (the panel's, by ola) that moves nothing.
HISTORIES: dict[str, tuple[int, list[tuple[float, str]]]] = {
    "TINY-1": (0, [(4, "submit"), (6, "recommend"), (16, "approve"), (26, "finish")]),
    "TINY-2": (1, [(3, "submit"), (8, "send_back"), (10, "submit"), (20, "recommend"), (23, "reject")]),
    "TINY-3": (2, [(12, "submit"), (35, "note")]),
    "TINY-4": (5, [(6, "withdraw")]),
    "TINY-5": (3, [(5, "submit"), (7, "recommend"), (9, "approve"), (19, "progress"), (30, "note")]),
}


def day(n: float) -> datetime:
    return DAY0 + timedelta(days=n)


def record_histories(engine: FlowEngine) -> None:
    """Writes HISTORIES through the engine's own steps, so a store's figures can be held to `trails()`'.

    A "progress" is left out: it stands in for a record with the same effect on stays, no state change.
    """
    for pid, (created, steps) in HISTORIES.items():
        made = engine.new_proposal("tiny", title=f"Idea {pid}", actor=Actor("kari", "panel"), at=day(created))
        assert made.proposal.id == pid
        for when, trigger in steps:
            if trigger == "note":
                engine.note(pid, "still here", actor=Actor("ola", "panel"), at=day(when))
            elif trigger != "progress":
                engine.advance(pid, trigger, actor=Actor("ola", ROLE_OF[trigger]), at=day(when),
                               comment="because" if trigger in COMMENTED else "")


def trails(histories: dict[str, tuple[int, list[tuple[float, str]]]] = HISTORIES) -> list[Trail]:
    result = []
    for pid, (created, steps) in histories.items():
        state = "draft"
        made = [Step(CREATED, None, None, "draft", "kari", "panel", day(created), False)]
        for when, trigger in steps:
            if trigger == "progress":
                made.append(Step(PROGRESS, None, state, state, "per", "service", day(when), True))
                continue
            if trigger == "note":
                made.append(Step(NOTED, None, state, state, "ola", "panel", day(when), True))
                continue
            target = TARGET[trigger]
            made.append(Step(ADVANCED, trigger, state, target, "ola", ROLE_OF[trigger], day(when),
                             trigger in COMMENTED))
            state = target
        result.append(Trail(pid, f"Idea {pid}", "tiny", tuple(made)))
    return result


def upto(moment: datetime, histories: Sequence[Trail] | None = None) -> list[Trail]:
    """What the store hands the analysis for an as-of view: events up to the moment (of the five
    tiny histories unless others are given)."""
    cut = [Trail(t.proposal, t.title, t.workflow, tuple(s for s in t.steps if s.at <= moment))
           for t in (trails() if histories is None else histories)]
    return [t for t in cut if t.steps]


def tiny_workflow() -> Workflow:
    workflow, issues = build_workflow(read_text(TINY, "tiny.yaml"))
    assert not [i for i in issues if i.severity == "error"]
    return workflow


def open_ended(workflow: Workflow) -> Workflow:
    """The tiny chain with no deadline in implementation: stalls there are judged by the p90."""
    return dataclasses.replace(workflow, states={
        **workflow.states, "implementation": dataclasses.replace(workflow.states["implementation"], deadline=None)})


# -- histories of single stall tests, also held to the fast analysis ------------------------

def p90_history() -> dict[str, tuple[int, list[tuple[float, str]]]]:
    """Admin stays of 1..5 days (p90 = 4.6), and TINY-6 waiting in admin_review since day 0,
    heard of on day 5 (a note)."""
    history: dict[str, tuple[int, list[tuple[float, str]]]] = {
        f"TINY-{n}": (0, [(0, "submit"), (0, "recommend"), (n, "approve")]) for n in range(1, 6)}
    history["TINY-6"] = (0, [(0, "submit"), (0, "recommend"), (5, "note")])
    return history


def busy_implementation() -> list[Trail]:
    """Six implementations of 10 days (p90 = 10), and TINY-7 in implementation since day 0 with
    progress recorded on day 95 and a note on day 100."""
    finished = {f"TINY-{n}": (0, [(0, "submit"), (0, "recommend"), (0, "approve"), (10, "finish")])
                for n in range(1, 7)}
    busy = Trail("TINY-7", "busy", "tiny", (
        Step(CREATED, None, None, "draft", "kari", "panel", day(0), False),
        Step(ADVANCED, "submit", "draft", "council_review", "kari", "panel", day(0), False),
        Step(ADVANCED, "recommend", "council_review", "admin_review", "rita", "council", day(0), False),
        Step(ADVANCED, "approve", "admin_review", "implementation", "eva", "admin", day(0), True),
        Step(PROGRESS, None, "implementation", "implementation", "per", "service", day(95), True),
        Step(NOTED, None, "implementation", "implementation", "per", "service", day(100), True)))
    return [*trails(finished), busy]


JUMP = Trail("TINY-9", "Jumped", "tiny", (  # a step no transition declares
    Step(CREATED, None, None, "draft", "kari", "panel", day(0), False),
    Step(ADVANCED, "shortcut", "draft", "done", "mallory", "panel", day(3), False)))
CORRECTED = Trail("TINY-1", "x", "tiny", (  # fields set in draft on day 2, submitted on day 5
    Step(CREATED, None, None, "draft", "kari", "panel", day(0), False),
    Step(FIELDS_SET, None, "draft", "draft", "kari", "panel", day(2), False),
    Step(ADVANCED, "submit", "draft", "council_review", "kari", "panel", day(5), False)))
