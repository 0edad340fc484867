"""A stored definition compiled for firing through a ``transitions`` state machine, and the rules of firing.

A trigger fires on a small ``transitions.Machine`` built for the state it leaves: that state,
the transitions leaving it (read from the definition's own index, :meth:`Workflow.outgoing`, in
time proportional to the state's out-degree) and their targets. The machine is built per state,
not per definition, because the library expands a transition ``from: "*"`` into one transition
object per source state: a machine of the whole definition holds (states) x (such transitions)
objects (four million for a workflow of 2,000 states), while one state's machine holds no more
than what leaves it. Machines are kept per definition hash and state in a bounded
least-recently-used cache. Nothing from YAML is ever resolved as Python code: the machine gets
state and trigger names only, no callbacks or conditions, and no automatic ``to_<state>``
triggers. The checks a user must understand (role, fields, comment) are done here in plain
code before the machine fires, so a refusal can name every reason at once.

One compiled definition per hash, built once per process and cached; a definition stored in
the database is built once and kept by :mod:`flowengine.definition.buildcache`: a later process
needs no YAML parser for it, which was most of what a one-step command cost. ``transitions`` is
imported on the first firing, so a command that does not fire never pays for it.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flowengine import i18n
from flowengine.definition import buildcache
from flowengine.definition.fields import missing
from flowengine.definition.model import Transition, Workflow, content_hash
from flowengine.errors import DefinitionError, InvalidInput, NotFound, Remedy, StoreError, TransitionRefused
from flowengine.history.records import Actor

if TYPE_CHECKING:
    from collections.abc import Sequence

    from transitions import Machine

    from flowengine.definition.versions import StoredDefinition
    from flowengine.definition.yamlsafe import LocatedDocument

# How many per-state machines a process keeps (least recently used dropped first): a step fires
# from one state, a tick from a few hundred at most.
MACHINES_KEPT = 1024

_MACHINES: OrderedDict[tuple[int, str], Machine] = OrderedDict()
_MACHINES_LOCK = threading.Lock()  # threads of one process fire steps side by side
# Machines are kept per compiled definition (one per definition hash in a process, see _CACHE),
# never by the hash alone: two builds of one hash (a cache entry replaced meanwhile) keep apart.
_COMPILED_KEYS = itertools.count(1)


class _Token:
    """The model a machine fires on: the proposal's state, nothing else (no callbacks to find)."""

    __slots__ = ("state",)

    def __init__(self, state: str) -> None:
        self.state = state


@dataclass(frozen=True)
class NextStep:
    """A trigger available from a state, and what firing it would still need."""

    trigger: str
    target: str
    roles: tuple[str, ...]
    missing_fields: tuple[str, ...]
    needs_comment: bool
    label: str

    def as_dict(self) -> dict[str, Any]:
        return {"trigger": self.trigger, "to": self.target, "roles": list(self.roles),
                "missing_fields": list(self.missing_fields), "needs_comment": self.needs_comment,
                "label": self.label}


class CompiledWorkflow:
    """A workflow plus its machine; immutable once built."""

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self._key = next(_COMPILED_KEYS)
        initial = workflow.initial_state
        if initial is None:  # stored definitions were validated; this guards hand-edited databases
            raise InvalidInput(i18n.t("workflow {workflow} has no initial state", workflow=workflow.id))
        self._initial = initial.id

    @property
    def initial(self) -> str:
        return self._initial

    def transition(self, state: str, trigger: str) -> Transition | None:
        if state not in self.workflow.states:
            return None
        return self.workflow.leaving(state, trigger)

    def machine(self, state: str) -> Machine:
        """The ``transitions`` machine for firing out of ``state``: ``state``, the first transition
        (in file order) of each trigger leaving it and their targets; kept per definition and state."""
        key = (self._key, state)
        with _MACHINES_LOCK:
            kept = _MACHINES.get(key)
            if kept is not None:
                _MACHINES.move_to_end(key)
                return kept
        from transitions import Machine

        leaving: dict[str, Transition] = {}
        for transition in self.workflow.outgoing(state) if state in self.workflow.states else ():
            leaving.setdefault(transition.trigger, transition)  # what Workflow.leaving answers
        built = Machine(model=None, states=sorted({state, *(t.target for t in leaving.values())}), initial=state,
                        transitions=[{"trigger": trigger, "source": state, "dest": t.target}
                                     for trigger, t in leaving.items()],
                        auto_transitions=False, ignore_invalid_triggers=False)
        with _MACHINES_LOCK:
            _MACHINES[key] = built
            while len(_MACHINES) > MACHINES_KEPT:
                _MACHINES.popitem(last=False)
        return built

    def next_steps(self, state: str, fields: dict[str, Any], language: str = "en") -> list[NextStep]:
        steps: dict[str, Transition] = {}
        for t in self.workflow.outgoing(state) if state in self.workflow.states else ():
            steps.setdefault(t.trigger, t)
        return [
            NextStep(t.trigger, t.target, t.roles, tuple(missing(t.requires, fields)), t.requires_comment,
                     t.label(language))
            for t in steps.values()
        ]

    def refusals(self, state: str, trigger: str, actor: Actor, fields: dict[str, Any], comment: str, *,
                 any_role: bool = False) -> list[str]:
        """Every reason the trigger may not fire now, in the order a user fixes them; [] = allowed.
        ``any_role``: the step is the workflow's own (an escalation), so no role is checked."""
        transition = self.transition(state, trigger)
        if transition is None:
            elsewhere = sorted({src for t in self.workflow.transitions if t.trigger == trigger for src in t.sources})
            if elsewhere:
                shown = elsewhere if len(elsewhere) <= 10 else [*elsewhere[:10], f"… ({len(elsewhere) - 10} more)"]
                return [i18n.t("'{trigger}' does not lead out of {state} (it leads out of {states})", trigger=trigger,
                               state=state, states=", ".join(shown))]
            from flowengine.suggest import did_you_mean

            here = sorted({t.trigger for t in self.workflow.outgoing(state)}) if state in self.workflow.states else []
            close = did_you_mean(trigger, here or sorted({t.trigger for t in self.workflow.transitions}))
            if close:
                return [i18n.t("{workflow} has no trigger '{trigger}' (did you mean '{close}'?)",
                               workflow=self.workflow.id, trigger=trigger, close=close)]
            return [i18n.t("{workflow} has no trigger '{trigger}'", workflow=self.workflow.id, trigger=trigger)]
        reasons = []
        if transition.roles and actor.role not in transition.roles and not any_role:
            reasons.append(i18n.t("role '{role}' may not {trigger} (roles that may: {roles})", role=actor.role,
                                  trigger=trigger, roles=", ".join(transition.roles)))
        lacking = missing(transition.requires, fields)
        if lacking:
            reasons.append(i18n.tn("field still missing: {fields}", "fields still missing: {fields}", len(lacking),
                                   fields=", ".join(lacking)))
        if transition.requires_comment and not comment.strip():
            reasons.append(i18n.t("'{trigger}' needs a comment explaining the decision", trigger=trigger))
        return reasons

    def remedies(self, state: str, trigger: str, fields: dict[str, Any], comment: str) -> tuple[Remedy, ...]:
        """What the caller can give to make the trigger fire: the missing fields, a comment."""
        transition = self.transition(state, trigger)
        if transition is None:
            return ()
        given = [Remedy("field", name) for name in missing(transition.requires, fields)]
        if transition.requires_comment and not comment.strip():
            given.append(Remedy("comment"))
        return tuple(given)

    def fire(self, proposal_id: str, state: str, trigger: str, actor: Actor, fields: dict[str, Any],
             comment: str, *, any_role: bool = False) -> str:
        """The state after firing; TransitionRefused naming every reason when it may not fire."""
        reasons = self.refusals(state, trigger, actor, fields, comment, any_role=any_role)
        if reasons:
            allowed = [(step.trigger, step.roles) for step in self.next_steps(state, fields)]
            raise TransitionRefused(proposal_id, state, trigger, reasons, allowed).fixed_by(
                *self.remedies(state, trigger, fields, comment))
        machine = self.machine(state)
        event = machine.events.get(trigger)
        token = _Token(state)
        if event is None or not event.trigger(token):  # the checks above make this unreachable; kept as a guard
            raise TransitionRefused(proposal_id, state, trigger, [i18n.t("'{trigger}' does not lead out of {state}",
                                                                          trigger=trigger, state=state)], [])
        return token.state

    def check_role(self, actor: Actor) -> None:
        """A role the workflow does not declare is a typo, not a new kind of participant."""
        roles = self.workflow.roles
        if roles and actor.role not in roles:
            raise NotFound("role", actor.role, list(roles),
                           hint=i18n.t("roles of {workflow}: {roles}", workflow=self.workflow.id,
                                       roles=", ".join(roles)))


_CACHE: dict[str, CompiledWorkflow] = {}


def compiled(definition_hash: str, text: str, source: str) -> CompiledWorkflow:
    """The machine for one stored definition, built on first use in this process."""
    cached = _CACHE.get(definition_hash)
    if cached is not None:
        return cached
    if content_hash(text) != definition_hash:
        raise StoreError(i18n.t("the stored definition {definition} ({source}) does not match its hash: it was "
                                "altered in the database; restore it from a backup", definition=definition_hash[:12],
                                source=source))
    built = buildcache.load(definition_hash, source)
    if built is None:
        from flowengine.definition.yamlsafe import read_text

        built = _built(read_text(text, source))
        buildcache.store(definition_hash, built)  # stored definitions only: a finite set, never each edit
    cached = _CACHE[definition_hash] = CompiledWorkflow(built)
    return cached


def compiled_document(document: LocatedDocument) -> CompiledWorkflow:
    """The machine for a definition already read (and validated once, when it was first stored)."""
    definition_hash = content_hash(document.text)
    cached = _CACHE.get(definition_hash)
    if cached is None:
        cached = _CACHE[definition_hash] = CompiledWorkflow(_built(document))
    return cached


def _built(document: LocatedDocument) -> Workflow:
    from flowengine.definition.loader import build_workflow

    workflow, issues = build_workflow(document)
    if issues or not workflow.complete:
        raise DefinitionError(issues)
    return workflow


def spanning_definitions(stored: Sequence[StoredDefinition], current: Workflow | None = None) -> Workflow:
    """A workflow as figures over every version of it read it: ``current`` (else the newest of
    ``stored``, which are newest first) with the states only the other stored definitions declare
    (:func:`flowengine.definition.versions.spanning`)."""
    from flowengine.definition.versions import spanning

    if current is None:
        current = compiled(stored[0].content_hash, stored[0].text, stored[0].source).workflow
    older = [compiled(d.content_hash, d.text, d.source).workflow
             for d in stored if d.content_hash != current.content_hash]
    return spanning(current, older)


def cached(content_hash: str) -> CompiledWorkflow | None:
    return _CACHE.get(content_hash)


def any_cached() -> bool:
    """Whether this process has built any definition yet: a first step reads its definition's
    text along with the proposal (one round trip less where the database is a server)."""
    return bool(_CACHE)
