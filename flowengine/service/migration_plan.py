"""Moving running proposals to another definition of their workflow: the plan, worked out in
full before anything is written. Pure: no database here (``FlowEngine.migrate`` writes it).

A proposal moves from the definition it runs on to the new one and keeps its stay: a state of
the same name, or the one ``--map old=new`` names, continues it, and its clock keeps running.
Refused as a whole (nothing moves) when some proposal's state has no open state to go to:

- a state the new definition does not declare, and no ``--map`` for it;
- a state the new definition declares final: a migration never ends a proposal. Ending one is
  a decision with an outcome, taken by a role through a declared step (with its comment and
  answer to the panel), so ``--map`` to a final state is refused too.

Fields the new definition needs later (required at creation, or by a step still ahead) are no
reason to refuse: they are filled in when the step comes, and the plan lists them as warnings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flowengine.definition.model import Workflow
from flowengine.definition.versions import version_label
from flowengine.errors import InvalidInput, NotFound, Refused, Remedy
from flowengine.history.records import Event, Proposal
from flowengine.i18n import N_, marked, t
from flowengine.suggest import did_you_mean


@dataclass(frozen=True)
class Running:
    """A proposal of the workflow and the definition it runs on now."""

    proposal: Proposal
    workflow: Workflow


@dataclass(frozen=True)
class Move:
    """One proposal to move: ``proposal`` as it was when planned (its version is the lock)."""

    proposal: Proposal
    to_state: str
    warnings: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        p = self.proposal
        return {"proposal": p.id, "title": p.title, "version": p.version, "from_state": p.state,
                "to_state": self.to_state, "from_definition": p.definition_hash,
                "from_version": p.workflow_version, "warnings": list(self.warnings)}


@dataclass(frozen=True)
class Unmapped:
    """A state some proposals are in that has no open state to go to in the new definition."""

    state: str
    why: str
    proposals: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"state": self.state, "why": self.why, "proposals": list(self.proposals)}


@dataclass(frozen=True)
class Plan:
    """What a migration moves where. ``already``: proposals on the new definition (a repeated run
    moves nothing); ``final``: proposals that ended, left on the definition they ended under."""

    workflow: str
    to_definition: str
    to_version: str
    source: str
    mapping: dict[str, str]
    moves: tuple[Move, ...]
    already: tuple[str, ...]
    final: tuple[str, ...]
    unmapped: tuple[Unmapped, ...]
    open_states: tuple[str, ...]  # of the new definition, for the refusal's hint

    @property
    def target(self) -> str:
        return version_label(self.to_version, self.to_definition)

    def refusal(self) -> Refused | None:
        """Every state that cannot move, with the proposals in it and the map that fixes it."""
        if not self.unmapped:
            return None
        reasons = [t("'{state}' {why}; it holds {proposals}", state=u.state, why=marked(u.why),
                     proposals=", ".join(u.proposals)) for u in self.unmapped]
        fixes = [Remedy("map", u.state, did_you_mean(u.state, self.open_states) or "STATE") for u in self.unmapped]
        return Refused(t("cannot migrate {workflow} to {version}", workflow=self.workflow, version=self.target),
                       reasons, t("map each to an open state of the new definition (open states: {states})",
                                  states=", ".join(self.open_states))).fixed_by(*fixes)

    def as_dict(self) -> dict[str, Any]:
        return {"workflow": self.workflow, "to_definition": self.to_definition, "to_version": self.to_version,
                "source": self.source, "map": self.mapping, "moves": [m.as_dict() for m in self.moves],
                "already": list(self.already), "final": list(self.final),
                "unmapped": [u.as_dict() for u in self.unmapped]}


def parse_map(items: Iterable[str]) -> dict[str, str]:
    """``old=new`` pairs into a mapping; one old state maps to one new state."""
    mapping: dict[str, str] = {}
    for item in items:
        old, sep, new = (part.strip() for part in item.partition("="))
        if not sep or not old or not new:
            raise InvalidInput(t("a state map is OLD=NEW, a state of the old definition and one of the new, e.g. "
                                 "council_review=review; got '{item}'", item=item))
        if mapping.get(old, new) != new:
            raise InvalidInput(t("the state map gives '{state}' two new states ({first} and {second}); give one",
                                 state=old, first=mapping[old], second=new))
        mapping[old] = new
    return mapping


def plan(target: Workflow, running: Sequence[Running], mapping: Mapping[str, str], *,
         known_states: Iterable[str], source: str = "") -> Plan:
    """The migration of every proposal in ``running`` to ``target``. ``known_states``: the states
    of the workflow's stored definitions, which the left side of a ``--map`` must name."""
    _check_map(target, mapping, set(known_states))
    moves: list[Move] = []
    already: list[str] = []
    final: list[str] = []
    stuck: dict[tuple[str, str], list[str]] = {}
    for item in running:
        proposal, own = item.proposal, item.workflow
        if proposal.state in own.states and own.states[proposal.state].final:
            final.append(proposal.id)
            continue
        if proposal.definition_hash == target.content_hash:
            already.append(proposal.id)
            continue
        to_state = mapping.get(proposal.state, proposal.state)
        declared = target.states.get(to_state)
        if declared is None or declared.final:
            why = N_("is final in the new definition") if declared else N_("is not a state of the new definition")
            stuck.setdefault((proposal.state, why), []).append(proposal.id)
            continue
        moves.append(Move(proposal, to_state, tuple(later_needs(target, to_state, proposal.fields))))
    return Plan(
        workflow=target.id, to_definition=target.content_hash, to_version=target.version, source=source,
        mapping=dict(mapping), moves=tuple(moves), already=tuple(already), final=tuple(final),
        unmapped=tuple(Unmapped(state, why, tuple(ids)) for (state, why), ids in sorted(stuck.items())),
        open_states=tuple(sid for sid, s in target.states.items() if not s.final),
    )


def later_needs(workflow: Workflow, state: str, fields: Mapping[str, Any]) -> list[str]:
    """What the proposal lacks for the new definition, from ``state`` on: fields required at
    creation, fields a step still ahead requires, and fields the definition no longer declares."""
    notes = [t("field '{field}' is required at creation by the new definition and not set", field=name)
             for name, spec in workflow.fields.items() if spec.required and fields.get(name) is None]
    needed: dict[str, list[str]] = {}
    for trigger, requires in _ahead(workflow, state):
        for name in requires:
            if fields.get(name) is None and trigger not in needed.setdefault(name, []):
                needed[name].append(trigger)
    notes += [t("field '{field}' is not set; {triggers} will need it", field=name, triggers=", ".join(triggers))
              for name, triggers in needed.items()]
    notes += [t("field '{field}' is not declared by the new definition (its value is kept)", field=name)
              for name in fields if name not in workflow.fields]
    return notes


def _ahead(workflow: Workflow, state: str) -> list[tuple[str, tuple[str, ...]]]:
    """(trigger, required fields) of every step reachable from ``state``, nearest first."""
    seen = {state}
    frontier = [state]
    found: list[tuple[str, tuple[str, ...]]] = []
    while frontier:
        following: list[str] = []
        for current in frontier:
            for transition in workflow.outgoing(current):
                found.append((transition.trigger, transition.requires))
                target = workflow.states.get(transition.target)
                if transition.target not in seen and target is not None and not target.final:
                    seen.add(transition.target)
                    following.append(transition.target)
        frontier = following
    return found


def _check_map(target: Workflow, mapping: Mapping[str, str], known: set[str]) -> None:
    for old, new in mapping.items():
        if old not in known:
            raise NotFound("state", old, sorted(known),
                           hint=t("the left of a state map names a state of a stored definition of {workflow}",
                                  workflow=target.id))
        if new not in target.states:
            raise NotFound("state", new, list(target.states),
                           hint=t("the right of a state map names a state of the new definition of {workflow}",
                                  workflow=target.id))
    finals = [t("{old}={new}: '{new}' is final", old=old, new=new) for old, new in mapping.items()
              if target.states[new].final]
    if finals:
        raise Refused(t("cannot migrate {workflow}", workflow=target.id), finals,
                      t("a migration never ends a proposal: map to an open state, then close the proposals "
                        "with a step of the workflow (its role, comment and outcome)"))


@dataclass(frozen=True)
class Migration:
    """A migration's outcome: its plan, and the events written (none in a dry run). ``attempts``:
    how many times it was planned (a concurrent step on a planned proposal makes it plan again)."""

    plan: Plan
    events: tuple[Event, ...]
    dry_run: bool
    attempts: int = 1

    def as_dict(self) -> dict[str, Any]:
        return {**self.plan.as_dict(), "dry_run": self.dry_run, "moved": len(self.events),
                "attempts": self.attempts, "events": [event.as_dict() for event in self.events]}
