"""Firing goes through a ``transitions`` machine built for the state it leaves: what the machine
does is what the engine answers, and a transition ``from: "*"`` costs the machine one
transition, however many states the workflow has."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import pytest
import transitions
from transitions.core import MachineError

from flowengine import engine
from flowengine.definition.yamlsafe import read_text
from flowengine.errors import TransitionRefused
from flowengine.history.records import Actor

PANEL = Actor("pia", "panel")
SMALL = """\
id: small
version: 1
prefix: SM
roles:
  panel: {kind: panel}
states:
  draft: {initial: true, stage: panel, owner: panel}
  review: {stage: panel, owner: panel}
  elsewhere: {stage: panel, owner: panel}
  done: {final: true, outcome: implemented}
  withdrawn: {final: true, outcome: withdrawn}
transitions:
  - {trigger: submit, from: draft, to: review, roles: [panel]}
  - {trigger: detour, from: draft, to: elsewhere, roles: [panel]}
  - {trigger: finish, from: [review, elsewhere], to: done, roles: [panel]}
  - {trigger: withdraw, from: "*", to: withdrawn, roles: [panel]}
"""


def chain_with_exits(states: int, exits: int) -> str:
    """``states`` states in a line (the last two final), and ``exits`` transitions ``from: "*"``."""
    lines = ["id: long", "version: 1", "prefix: LONG", "roles:", "  panel: {kind: panel}", "states:"]
    for index in range(states - 2):
        lines.append(f"  s{index}: {{stage: panel, owner: panel{', initial: true' if index == 0 else ''}}}")
    lines += ["  done: {final: true, outcome: implemented}", "  out: {final: true, outcome: withdrawn}",
              "transitions:"]
    lines += [f"  - {{trigger: next{index}, from: s{index}, to: s{index + 1}, roles: [panel]}}"
              for index in range(states - 3)]
    lines.append(f"  - {{trigger: finish, from: s{states - 3}, to: done, roles: [panel]}}")
    lines += [f'  - {{trigger: exit{index}, from: "*", to: out, roles: [panel]}}' for index in range(exits)]
    return "\n".join(lines) + "\n"


@pytest.fixture(autouse=True)
def fresh_machines(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts with no machine kept (one may tamper with the machine it gets)."""
    monkeypatch.setattr(engine, "_MACHINES", OrderedDict())
    yield


def _compiled(text: str) -> engine.CompiledWorkflow:
    return engine.compiled_document(read_text(text, "test.yaml"))


def _transitions_in(machine: transitions.Machine) -> int:
    return sum(len(by_source) for event in machine.events.values() for by_source in event.transitions.values())


def test_the_state_after_firing_is_the_one_the_transitions_machine_moved_its_model_to() -> None:
    compiled = _compiled(SMALL)
    assert compiled.fire("SM-1", "draft", "submit", PANEL, {}, "") == "review"
    machine = compiled.machine("draft")
    assert isinstance(machine, transitions.Machine)
    (taken,) = machine.events["submit"].transitions["draft"]
    taken.dest = "elsewhere"  # the machine, not the definition, decides where a firing lands
    assert compiled.fire("SM-1", "draft", "submit", PANEL, {}, "") == "elsewhere"


def test_a_state_s_machine_holds_only_the_triggers_leaving_it_and_refuses_any_other() -> None:
    compiled = _compiled(SMALL)
    machine = compiled.machine("review")
    assert sorted(machine.get_triggers("review")) == ["finish", "withdraw"]
    assert not any(name.startswith("to_") for name in machine.events)  # no automatic triggers
    token = engine._Token("done")  # a model standing in a state this machine does not lead out of
    with pytest.raises(MachineError):
        machine.events["finish"].trigger(token)


def test_refusals_are_named_before_the_machine_is_asked() -> None:
    compiled = _compiled(SMALL)
    with pytest.raises(TransitionRefused, match="role 'council' may not submit"):
        compiled.fire("SM-1", "draft", "submit", Actor("ola", "council"), {}, "")
    with pytest.raises(TransitionRefused, match="does not lead out of draft"):
        compiled.fire("SM-1", "draft", "finish", PANEL, {}, "")
    assert not engine._MACHINES  # no machine built for a refused step


def test_a_transition_from_any_state_is_one_transition_of_each_state_s_machine() -> None:
    compiled = _compiled(SMALL)
    for state, leaving in (("draft", 3), ("review", 2), ("elsewhere", 2)):
        assert _transitions_in(compiled.machine(state)) == leaving
        assert compiled.fire("SM-1", state, "withdraw", PANEL, {}, "") == "withdrawn"


def test_firing_in_a_2000_state_workflow_with_from_any_transitions_builds_only_what_leaves_the_state(
        monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []

    base = transitions.Machine.transition_cls

    class Counted(base):
        def __init__(self, source: str, dest: str, *args: Any, **kwargs: Any) -> None:
            built.append(source)
            super().__init__(source, dest, *args, **kwargs)

    monkeypatch.setattr(transitions.Machine, "transition_cls", Counted)
    exits = 5
    compiled = _compiled(chain_with_exits(2000, exits))
    assert len(compiled.workflow.states) == 2000
    per_firing = []
    state = "s0"
    for index in range(300):
        before = len(built)
        state = compiled.fire("LONG-1", state, f"next{index}", PANEL, {}, "")
        per_firing.append(len(built) - before)
    assert state == "s300"
    assert max(per_firing) == 1 + exits  # the state's own way on and the exits: never one per state
    before = len(built)
    assert compiled.fire("LONG-1", "s1234", "exit3", PANEL, {}, "") == "out"
    assert compiled.fire("LONG-2", "s1234", "exit4", PANEL, {}, "") == "out"
    assert len(built) - before == 1 + exits  # the second firing from s1234 reuses its machine


def test_machines_kept_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "MACHINES_KEPT", 10)
    compiled = _compiled(chain_with_exits(100, 1))
    state = "s0"
    for index in range(50):
        state = compiled.fire("LONG-1", state, f"next{index}", PANEL, {}, "")
    assert len(engine._MACHINES) == 10
    assert list(engine._MACHINES)[-1][1] == "s49"  # the most recently used is kept
