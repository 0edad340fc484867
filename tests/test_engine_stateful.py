"""The engine against an independent model, on random valid workflows.

Hypothesis builds a workflow (2 to 7 states, transitions among them, some from ``"*"``, random
roles, ``requires`` and ``requires_comment``), checks it with the linter, and then runs random
requests against a fresh database: new proposals, triggers (valid or not) fired by roles
(declared or not) with field values (valid, invalid or clearing) and with or without a
comment, and field corrections. An oracle computed here from the workflow *as generated* (not
from flowengine's model of it) says whether each request must be accepted or refused and what
the proposal looks like afterwards. On PostgreSQL (``$FLOWENGINE_TEST_PG``) every example
starts from the same server database, emptied with TRUNCATE: a new database for each example
would cost more than the example.

After every step: the stored row equals the replay of its events and the model, the audit
passes, a refusal wrote nothing and an acceptance wrote exactly one event with the next seq.
Hypothesis is derandomized and bounded; the clock is a counter, so runs are identical.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import event as tally
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from flowengine.definition.loader import check_text
from flowengine.errors import ConflictError, FlowEngineError, InvalidInput, NotFound, Refused, TransitionRefused
from flowengine.history import chain
from flowengine.history.records import ADVANCED, CREATED, FIELDS_SET, Actor
from flowengine.service.facade import FlowEngine, StepResult

from .databases import ON_POSTGRESQL, reset, targets

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)

ROLE_POOL = ("panel", "council", "administration", "service")
STAGE_POOL = ("panel", "council", "administration", "political", "implementation", "evaluation")
OUTCOME_POOL = ("implemented", "rejected", "parked", "withdrawn", "transferred")
TRIGGER_POOL = ("go", "back", "approve", "reject", "park", "skip", "review", "escalate", "close", "finish",
                "revise", "hold")
UNKNOWN_TRIGGER = "frobnicate"
UNDECLARED_ROLE = "intruder"
UNKNOWN_FIELD = "colour"
COMMENTS = ("", "   ", "The panel asked for it.", "Agreed at the meeting.")


class _Invalid:
    def __repr__(self) -> str:
        return "INVALID"


INVALID: Any = _Invalid()  # the value is refused with InvalidInput

FIELD_TYPES: dict[str, tuple[str, tuple[str, ...]]] = {  # name -> (type, options)
    "summary": ("text", ()),
    "cost": ("number", ()),
    "decided_on": ("date", ()),
    "category": ("choice", ("meeting place", "other")),
    "link": ("url", ()),
}
# Per field type: valid values as (given, stored), and values refused with InvalidInput.
VALID: dict[str, tuple[tuple[Any, Any], ...]] = {
    "text": (("idea", "idea"), ("  padded  ", "padded")),
    "number": (("12,5", 12.5), ("25000", 25000), (7, 7)),
    "date": (("2024-05-01", "2024-05-01"), ("2024-06-30", "2024-06-30")),
    "choice": (("other", "other"), ("meeting place", "meeting place")),
    "url": (("https://example.org/report", "https://example.org/report"),),
}
REFUSED: dict[str, tuple[Any, ...]] = {
    "text": ("x" * 10_001,),
    "number": ("1,500", "many", True),
    "date": ("01.05.2024", "2024-02-30"),
    "choice": ("Other",),
    "url": ("example.org",),
}
CLEARING = (("", None), ("   ", None), (None, None))


@dataclass(frozen=True)
class Step:
    trigger: str
    sources: tuple[str, ...]
    from_any: bool
    target: str
    roles: tuple[str, ...]
    requires: tuple[str, ...]
    requires_comment: bool


@dataclass(frozen=True)
class Spec:
    """The generated workflow as the test understands it: the oracle's only source."""

    id: str
    prefix: str
    initial: str
    open_states: tuple[str, ...]
    final_states: tuple[str, ...]
    roles: tuple[str, ...]
    fields: dict[str, bool]  # name -> required
    steps: tuple[Step, ...]
    text: str

    def step(self, state: str, trigger: str) -> Step | None:
        found = [s for s in self.steps if s.trigger == trigger and state in s.sources]
        assert len(found) <= 1
        return found[0] if found else None

    def triggers_from(self, state: str) -> set[str]:
        return {s.trigger for s in self.steps if state in s.sources}

    @property
    def all_triggers(self) -> list[str]:
        return sorted({s.trigger for s in self.steps})


@st.composite
def workflows(draw: st.DrawFn) -> Spec:
    n_open = draw(st.sampled_from([2, 3, 4, 1]))
    n_final = draw(st.sampled_from([1, 2, 3]))
    open_states = tuple(f"s{i}" for i in range(n_open))
    final_states = tuple(f"f{i}" for i in range(n_final))
    roles = tuple(r for r in ROLE_POOL if draw(st.booleans()))
    fields = {name: draw(st.booleans()) for name in FIELD_TYPES if draw(st.booleans())}
    prefix = draw(st.sampled_from(["GEN", ""]))

    def details() -> tuple[tuple[str, ...], tuple[str, ...], bool]:
        chosen_roles = tuple(r for r in roles if draw(st.booleans()))
        requires = tuple(f for f in fields if draw(st.integers(0, 3)) == 0)
        return chosen_roles, requires, draw(st.booleans())

    # (sources, from "*", target): a backbone through every open state to the first final
    # state, every other final state from some open state, then random extras.
    shapes: list[tuple[tuple[str, ...], bool, str]] = [
        ((open_states[i],), False, target)
        for i, target in enumerate([*open_states[1:], final_states[0]])
    ]
    shapes += [((draw(st.sampled_from(open_states)),), False, target) for target in final_states[1:]]
    all_states = open_states + final_states
    for _ in range(draw(st.integers(0, 4))):
        target = draw(st.sampled_from(all_states))
        if draw(st.integers(0, 2)) == 0:
            shapes.append((open_states, True, target))
        else:
            sources = tuple(s for s in open_states if draw(st.booleans())) or (draw(st.sampled_from(open_states)),)
            shapes.append((sources, False, target))

    used: set[tuple[str, str]] = set()
    steps: list[Step] = []
    for sources, from_any, target in shapes:
        first = draw(st.integers(0, len(TRIGGER_POOL) - 1))
        names = TRIGGER_POOL[first:] + TRIGGER_POOL[:first]
        trigger = next((n for n in names if not any((s, n) in used for s in sources)), None)
        if trigger is None:  # only extras can run out of names (the backbone comes first)
            continue
        used.update((s, trigger) for s in sources)
        step_roles, requires, comment = details()
        steps.append(Step(trigger, sources, from_any, target, step_roles, requires, comment))

    document: dict[str, Any] = {"id": "gen-flow", "version": 1}
    if prefix:
        document["prefix"] = prefix
    if roles:
        document["roles"] = {r: {} for r in roles}
    if fields:
        document["fields"] = {
            name: {"type": FIELD_TYPES[name][0], **({"options": list(FIELD_TYPES[name][1])}
                                                    if FIELD_TYPES[name][1] else {}),
                   **({"required": True} if required else {})}
            for name, required in fields.items()
        }
    states: dict[str, Any] = {}
    for i, sid in enumerate(open_states):
        entry: dict[str, Any] = {"stage": draw(st.sampled_from(STAGE_POOL))}
        if i == 0:
            entry = {"initial": True, **entry}
        if roles and draw(st.booleans()):
            entry["owner"] = draw(st.sampled_from(roles))
        if draw(st.booleans()):
            entry["deadline"] = draw(st.sampled_from(["30d", "6w", "P3M"]))
        states[sid] = entry
    for sid in final_states:
        states[sid] = {"final": True, "outcome": draw(st.sampled_from(OUTCOME_POOL))}
    document["states"] = states
    transitions = []
    for step in steps:
        entry = {"trigger": step.trigger,
                 "from": "*" if step.from_any else (step.sources[0] if len(step.sources) == 1 else list(step.sources)),
                 "to": step.target}
        if step.roles:
            entry["roles"] = list(step.roles)
        if step.requires:
            entry["requires"] = list(step.requires)
        if step.requires_comment:
            entry["requires_comment"] = True
        transitions.append(entry)
    document["transitions"] = transitions
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    return Spec("gen-flow", prefix or "GENFLO", open_states[0], open_states, final_states, roles, fields,
                tuple(steps), text)


@settings(max_examples=60, derandomize=True, deadline=None, database=None)
@given(workflows())
def test_generated_workflows_pass_the_checker(spec: Spec) -> None:
    result = check_text(spec.text, "gen-flow.yaml", strict=False)
    assert result.ok, [issue.format() for issue in result.errors]
    assert result.workflow is not None
    for state in spec.open_states:  # the engine reads "*" as every open state, as the test does
        wanted = spec.triggers_from(state)
        assert {t.trigger for t in result.workflow.outgoing(state)} == wanted


# --- the oracle --------------------------------------------------------------------------------


@dataclass
class Model:
    """A proposal as the test expects it to be stored."""

    state: str
    fields: dict[str, Any]
    version: int


@dataclass
class Expected:
    """What a request must do: refuse with ``error`` or be accepted leaving ``state``/``fields``."""

    error: type[FlowEngineError] | None = None
    state: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    reasons: int = 0  # for a TransitionRefused: how many reasons it must name
    writes: bool = True


def _coerce(spec: Spec, given: Mapping[str, tuple[Any, Any]]) -> type[FlowEngineError] | dict[str, Any]:
    """The first bad value decides the error, in the order the values were given."""
    coerced: dict[str, Any] = {}
    for name, (_raw, stored) in given.items():
        if name not in spec.fields:
            return NotFound
        if stored is INVALID:
            return InvalidInput
        coerced[name] = stored
    return coerced


def _merge(current: Mapping[str, Any], coerced: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    changes = {k: v for k, v in coerced.items() if current.get(k) != v}
    merged = {k: v for k, v in current.items() if k not in changes}
    merged.update({k: v for k, v in changes.items() if v is not None})
    return changes, merged


def _role_unknown(spec: Spec, role: str) -> bool:
    return bool(spec.roles) and role not in spec.roles


def expect_create(spec: Spec, role: str, given: Mapping[str, tuple[Any, Any]]) -> Expected:
    if _role_unknown(spec, role):
        return Expected(NotFound)
    coerced = _coerce(spec, given)
    if not isinstance(coerced, dict):
        return Expected(coerced)
    values = {k: v for k, v in coerced.items() if v is not None}
    if any(required and name not in values for name, required in spec.fields.items()):
        return Expected(Refused)
    return Expected(state=spec.initial, fields=values)


def expect_advance(spec: Spec, current: Model | None, trigger: str, role: str,
                   given: Mapping[str, tuple[Any, Any]], comment: str, version: int | None) -> Expected:
    checked = _expect_change(spec, current, role, given, version)
    if isinstance(checked, Expected):
        return checked
    current, _, merged = checked
    step = spec.step(current.state, trigger)
    if step is None:
        return Expected(TransitionRefused, reasons=1)
    reasons = 0
    if step.roles and role not in step.roles:
        reasons += 1
    if any(name not in merged for name in step.requires):
        reasons += 1
    if step.requires_comment and not comment.strip():
        reasons += 1
    if reasons:
        return Expected(TransitionRefused, reasons=reasons)
    return Expected(state=step.target, fields=merged)


def expect_set_fields(spec: Spec, current: Model | None, role: str,
                      given: Mapping[str, tuple[Any, Any]], version: int | None) -> Expected:
    if not given:
        return Expected(InvalidInput)
    checked = _expect_change(spec, current, role, given, version)
    if isinstance(checked, Expected):
        return checked
    current, changes, merged = checked
    return Expected(state=current.state, fields=merged, writes=bool(changes))


def _expect_change(spec: Spec, current: Model | None, role: str, given: Mapping[str, tuple[Any, Any]],
                   version: int | None) -> Expected | tuple[Model, dict[str, Any], dict[str, Any]]:
    """The checks every change makes before its own: a refusal, or (proposal, changes, merged fields)."""
    if current is None:
        return Expected(NotFound)
    if version is not None and version != current.version:
        return Expected(ConflictError)
    if _role_unknown(spec, role):
        return Expected(NotFound)
    coerced = _coerce(spec, given)
    if not isinstance(coerced, dict):
        return Expected(coerced)
    changes, merged = _merge(current.fields, coerced)
    if any(value is None and spec.fields[name] for name, value in changes.items()):
        return Expected(Refused)  # a required field may not be emptied, by a step either
    return current, changes, merged


# --- the machine ---------------------------------------------------------------------------------


def rarely(data: st.DataObject, one_in: int, label: str) -> bool:
    """True about once in ``one_in`` draws (Hypothesis favours small integers, so not integers == 0)."""
    return data.draw(st.sampled_from([False] * (one_in - 1) + [True]), label=label)


class Counter:
    """A clock that moves one minute each time it is read."""

    def __init__(self) -> None:
        self.ticks = 0

    def __call__(self) -> datetime:
        self.ticks += 1
        return T0 + timedelta(minutes=self.ticks)


@cache
def empty_database() -> str:
    """A new database, migrated once per test run: each example starts from a copy of it, or on
    a server from it emptied (the migration costs more than the rest of an example)."""
    folder = Path(tempfile.mkdtemp(prefix="flowengine-template-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    target = targets().new(folder, "empty.db")
    FlowEngine.open(target).close()
    assert ON_POSTGRESQL or not (folder / "empty.db-wal").exists()  # closed cleanly: the file alone is the database
    return target


def fresh_database(folder: Path) -> str:
    """An empty, migrated database for one example."""
    if ON_POSTGRESQL:
        reset(empty_database())
        return empty_database()
    shutil.copyfile(empty_database(), folder / "flow.db")
    return str(folder / "flow.db")


class EngineMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder: Path | None = None
        self.engine: FlowEngine | None = None
        self.spec: Spec | None = None
        self.path = Path()
        self.model: dict[str, Model] = {}
        self.events = 0

    @initialize(spec=workflows())
    def open_engine(self, spec: Spec) -> None:
        assume(check_text(spec.text, "gen-flow.yaml", strict=False).ok)
        self.folder = Path(tempfile.mkdtemp(prefix="flowengine-stateful-"))
        (self.folder / "workflows").mkdir()
        self.path = self.folder / "workflows" / f"{spec.id}.yaml"
        self.path.write_text(spec.text, encoding="utf-8")
        self.engine = FlowEngine.open(fresh_database(self.folder), workflow_dirs=[self.folder / "workflows"],
                                      clock=Counter())
        self.spec = spec
        required = {name: VALID[FIELD_TYPES[name][0]][0] for name, needed in spec.fields.items() if needed}
        self._create(spec.roles[0] if spec.roles else "panel", required, by_id=False)

    def teardown(self) -> None:
        if self.engine is not None:
            self.engine.close()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)

    # -- drawing requests --------------------------------------------------------------------

    def _role(self, data: st.DataObject) -> str:
        assert self.spec is not None
        if rarely(data, 8, "undeclared role?"):
            return UNDECLARED_ROLE
        return data.draw(st.sampled_from(self.spec.roles or ROLE_POOL), label="role")

    def _values(self, data: st.DataObject, *, for_creation: bool = False) -> dict[str, tuple[Any, Any]]:
        """Field values as (given, stored), mostly valid; for a creation, required fields mostly given."""
        assert self.spec is not None
        given: dict[str, tuple[Any, Any]] = {}
        names = list(self.spec.fields)
        if rarely(data, 12, "unknown field?"):
            names.append(UNKNOWN_FIELD)
        for name in data.draw(st.permutations(names), label="field order"):
            if name == UNKNOWN_FIELD:
                given[name] = ("blue", "blue")
                continue
            kind = FIELD_TYPES[name][0]
            if for_creation and self.spec.fields[name]:
                action = data.draw(st.sampled_from(("valid",) * 9 + ("skip", "clear", "invalid")), label=name)
            else:
                action = data.draw(st.sampled_from(("skip",) * 6 + ("valid",) * 5 + ("clear", "clear", "invalid")),
                                   label=name)
            if action == "valid":
                given[name] = data.draw(st.sampled_from(VALID[kind]), label=f"{name} value")
            elif action == "clear":
                given[name] = data.draw(st.sampled_from(CLEARING), label=f"{name} value")
            elif action == "invalid":
                given[name] = (data.draw(st.sampled_from(REFUSED[kind]), label=f"{name} value"), INVALID)
        return given

    def _proposal_id(self, data: st.DataObject, *, open_first: bool = False) -> str:
        """Mostly a known proposal (for a step, mostly one that is not final yet); its id in any case."""
        assert self.spec is not None
        ids = sorted(self.model)
        open_ids = [pid for pid in ids if self.model[pid].state not in self.spec.final_states]
        if open_first and open_ids and not rarely(data, 4, "any proposal?"):
            ids = open_ids
        if not ids or rarely(data, 12, "unknown id?"):
            return "ZZZ-99"
        chosen = data.draw(st.sampled_from(ids), label="proposal")
        return chosen.lower() if rarely(data, 6, "lower case?") else chosen

    def _trigger(self, data: st.DataObject, pid: str) -> str:
        """Mostly a trigger that leads out of the proposal's state; else any, or an unknown one."""
        assert self.spec is not None
        current = self.model.get(pid.upper())
        here = sorted(self.spec.triggers_from(current.state)) if current else []
        if here and not rarely(data, 3, "any trigger?"):
            return data.draw(st.sampled_from(here), label="trigger")
        return data.draw(st.sampled_from([*self.spec.all_triggers, UNKNOWN_TRIGGER]), label="trigger")

    def _expected_version(self, data: st.DataObject, pid: str) -> int | None:
        """Mostly none given; else the version the model knows, or now and then one that is stale."""
        current = self.model.get(pid.upper())
        if current is None or not data.draw(st.booleans(), label="expected version?"):
            return None
        return current.version - 1 if rarely(data, 4, "stale?") else current.version

    # -- checking one request -------------------------------------------------------------------

    def _check(self, expected: Expected, call: Any, pid: str | None, kind: str) -> None:
        assert self.engine is not None and self.spec is not None
        before = self.model.get(pid.upper()) if pid else None
        tally(f"{kind}: {expected.error.__name__ if expected.error else 'accepted'}")
        try:
            result: StepResult = call()
        except FlowEngineError as error:
            assert expected.error is not None, f"refused but the oracle accepts: {error}"
            assert type(error) is expected.error, f"{type(error).__name__}, wanted {expected.error.__name__}: {error}"
            if isinstance(error, TransitionRefused):
                assert len(error.reasons) == expected.reasons, error
            self._assert_nothing_written(pid, before)
            return
        assert expected.error is None, f"accepted, but the oracle wants {expected.error.__name__}"
        assert result.proposal.state == expected.state
        assert result.proposal.fields == expected.fields
        assert not result.repeated
        if not expected.writes:
            assert result.event is None
            self._assert_nothing_written(pid, before)
            return
        event = result.event
        assert event is not None and event.kind == kind
        previous = before.version if before else 0
        assert event.seq == previous + 1 == result.proposal.version
        _, history = self.engine.history(result.proposal.id)
        assert history[-1] == event
        assert len(history) == previous + 1
        self.events += 1
        assert self.engine.verify().events == self.events  # exactly one event more, in all the store
        self.model[result.proposal.id] = Model(expected.state, dict(expected.fields), event.seq)

    def _assert_nothing_written(self, pid: str | None, before: Model | None) -> None:
        assert self.engine is not None
        report = self.engine.verify()
        assert report.events == self.events
        assert report.proposals == len(self.model)
        if pid and before is not None:
            proposal, history = self.engine.history(pid)
            assert proposal.version == before.version == len(history)

    # -- rules ----------------------------------------------------------------------------------

    def _create(self, role: str, given: Mapping[str, tuple[Any, Any]], *, by_id: bool) -> None:
        assert self.engine is not None and self.spec is not None
        spec, engine = self.spec, self.engine
        expected = expect_create(spec, role, given)
        wanted_id = f"{spec.prefix}-{len(self.model) + 1}"
        workflow = spec.id if by_id else str(self.path)  # a path skips reading every workflow folder

        def call() -> StepResult:
            return engine.new_proposal(workflow, title="A proposal", actor=Actor("kari", role),
                                       fields={k: raw for k, (raw, _) in given.items()})

        count = len(self.model)
        self._check(expected, call, None, CREATED)
        if expected.error is None:
            assert len(self.model) == count + 1 and wanted_id in self.model  # PREFIX-n, counting up

    @rule(data=st.data())
    def create_proposal(self, data: st.DataObject) -> None:
        role = self._role(data)
        given = self._values(data, for_creation=True)
        self._create(role, given, by_id=rarely(data, 8, "by id?"))

    @rule(data=st.data())
    def advance(self, data: st.DataObject) -> None:
        assert self.engine is not None and self.spec is not None
        spec, engine = self.spec, self.engine
        pid = self._proposal_id(data, open_first=True)
        trigger = self._trigger(data, pid)
        current = self.model.get(pid.upper())
        step = spec.step(current.state, trigger) if current else None
        if step and not rarely(data, 3, "careless?"):  # a user who mostly knows what the step needs
            role = data.draw(st.sampled_from(step.roles), label="role") if step.roles else self._role(data)
            given = {name: VALID[FIELD_TYPES[name][0]][0] for name in step.requires
                     if name not in current.fields} if current else {}
            given.update(self._values(data) if rarely(data, 3, "more fields?") else {})
            comment = COMMENTS[-1] if step.requires_comment else data.draw(st.sampled_from(COMMENTS), label="comment")
        else:
            role = self._role(data)
            given = self._values(data) if data.draw(st.booleans(), label="with fields?") else {}
            comment = data.draw(st.sampled_from(COMMENTS), label="comment")
        version = self._expected_version(data, pid)
        expected = expect_advance(spec, current, trigger, role, given, comment, version)

        def call() -> StepResult:
            return engine.advance(pid, trigger, actor=Actor("ola", role), comment=comment,
                                  fields={k: raw for k, (raw, _) in given.items()}, expected_version=version)

        self._check(expected, call, pid, ADVANCED)

    @rule(data=st.data())
    def set_fields(self, data: st.DataObject) -> None:
        assert self.engine is not None and self.spec is not None
        spec, engine = self.spec, self.engine
        pid = self._proposal_id(data)
        role = self._role(data)
        given = self._values(data)
        version = self._expected_version(data, pid)
        expected = expect_set_fields(spec, self.model.get(pid.upper()), role, given, version)

        def call() -> StepResult:
            return engine.set_fields(pid, {k: raw for k, (raw, _) in given.items()}, actor=Actor("eva", role),
                                     expected_version=version)

        self._check(expected, call, pid, FIELDS_SET)

    # -- invariants -------------------------------------------------------------------------------

    @invariant()
    def rows_equal_the_replay_and_the_model(self) -> None:
        if self.engine is None or self.spec is None:
            return
        report = self.engine.verify()
        assert report.ok, report.as_dict()
        assert (report.proposals, report.events) == (len(self.model), self.events)
        for pid, wanted in self.model.items():
            proposal, events = self.engine.history(pid)
            replayed = chain.replay(events)
            assert (proposal.state, proposal.fields, proposal.version) == (
                replayed.state, replayed.fields, replayed.version)
            assert (proposal.state, proposal.fields, proposal.version) == (wanted.state, wanted.fields, wanted.version)
            standing = self.engine.standing(pid)
            assert {step.trigger for step in standing.next_steps} == self.spec.triggers_from(proposal.state)
            assert standing.final == (proposal.state in self.spec.final_states)


EngineMachine.TestCase.settings = settings(
    max_examples=30, stateful_step_count=15, derandomize=True, deadline=None, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
)
TestEngineAgreesWithTheOracleAndTheChainOnRandomWorkflows = EngineMachine.TestCase
