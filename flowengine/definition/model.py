"""A workflow definition as plain frozen data, each node knowing where in the YAML it came from.

Built by :mod:`flowengine.definition.loader`; read by validation, rendering and (later) the engine.
Nothing here imports a third-party package.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property

from flowengine.definition.durations import Duration
from flowengine.issues import Location


def content_hash(text: str) -> str:
    """The id of a definition: SHA-256 of its exact text. Proposals are pinned to it."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# The language's words the code acts on; the schema's enums say the same (tests/test_schema.py).
STAGES = ("panel", "council", "administration", "political", "implementation", "evaluation", "closed")
ROLE_KINDS = ("panel", "council", "service", "administration", "politician", "evaluator",
              "project_leader", "system", "other")
ANY_STATE = "*"


@dataclass(frozen=True)
class Labels:
    """Display text per language, with the documented fallback: language → en → the id."""

    texts: tuple[tuple[str, str], ...] = ()

    def get(self, language: str, default: str) -> str:
        texts = dict(self.texts)
        return texts.get(language) or texts.get("en") or default

    def as_dict(self) -> dict[str, str]:
        return dict(self.texts)


@dataclass(frozen=True)
class Located:
    """Where a node's parts are written: ``parts`` maps "key" or "key=item" to a location."""

    location: Location
    parts: tuple[tuple[str, Location], ...] = ()

    @cached_property
    def _by_key(self) -> dict[str, Location]:
        return dict(self.parts)

    def where(self, key: str, item: str | None = None) -> Location:
        """The location of a key's value (or of one item of a list value), else of the node."""
        parts = self._by_key
        if item is not None and f"{key}={item}" in parts:
            return parts[f"{key}={item}"]
        return parts.get(key, self.location)


class _Placed:
    """A node that knows where it is written; ``location`` is its ``at``'s, never stored twice."""

    at: Located

    @property
    def location(self) -> Location:
        return self.at.location


@dataclass(frozen=True)
class Role(_Placed):
    """A role people act in (``kind``: one of :data:`ROLE_KINDS`)."""

    id: str
    kind: str
    labels: Labels
    description: str
    at: Located

    def label(self, language: str) -> str:
        return self.labels.get(language, self.id)


@dataclass(frozen=True)
class Field(_Placed):
    """A field a proposal carries; ``type`` says what values it takes, ``options`` those of a choice."""

    id: str
    type: str
    options: tuple[str, ...]
    required: bool
    labels: Labels
    description: str
    at: Located
    public: bool = False  # a published report may show its value
    # Whether its values are personal data (a name, a health condition): True or False as the
    # workflow says, None when it does not say (a governance warning for free text, FE305).
    personal: bool | None = None

    def label(self, language: str) -> str:
        return self.labels.get(language, self.id)


@dataclass(frozen=True)
class Publication:
    """What a published report may show of a workflow's proposals beyond its figures; all off by default."""

    proposals: bool = False  # a page per proposal, the stalled list by proposal, the feeds
    comments: bool = False  # step comments (the reasoned answers) and progress notes
    descriptions: bool = False  # the proposals' descriptions


@dataclass(frozen=True)
class Escalation(_Placed):
    """A step the engine takes by itself: after ``after`` in a state without a step (in an
    implementation stage: without recorded progress), ``trigger`` fires as the actor ``system``."""

    after: Duration | None  # None only in an invalid workflow: the text is not a duration (FE211)
    after_text: str | None  # as written, even when it is not a valid duration
    trigger: str
    at: Located


@dataclass(frozen=True)
class State(_Placed):
    """A state a proposal can be in: its stage, who owns it, its deadline, how it ends (``outcome``)."""

    id: str
    initial: bool
    final: bool
    outcome: str | None
    stage: str | None
    owner: str | None
    deadline: Duration | None
    deadline_text: str | None  # as written, even when it is not a valid duration
    answers_panel: bool
    labels: Labels
    description: str
    at: Located
    readable: bool = True  # False when the state's entry is not a mapping: checks then leave it alone
    reminder: Duration | None = None  # remind the owner after this long on the deadline clock
    reminder_text: str | None = None  # as written, even when it is not a valid duration
    escalation: Escalation | None = None

    def label(self, language: str) -> str:
        return self.labels.get(language, self.id)


@dataclass(frozen=True)
class Transition(_Placed):
    """One declared step. ``sources`` is already expanded when ``from`` was ``*``."""

    trigger: str
    sources: tuple[str, ...]
    from_any: bool
    target: str
    roles: tuple[str, ...]
    requires: tuple[str, ...]
    requires_comment: bool
    answers_panel: bool
    labels: Labels
    description: str
    at: Located
    readable: bool = True  # False when 'from' or 'to' could not be read: graph checks then wait

    def label(self, language: str) -> str:
        return self.labels.get(language, self.trigger)


@dataclass(frozen=True)
class Workflow(_Placed):
    """A whole definition. Mappings keep the file's order, which output follows."""

    id: str
    version: str
    prefix: str
    title: str
    description: str
    labels: Labels
    roles: dict[str, Role]
    fields: dict[str, Field]
    states: dict[str, State]
    transitions: tuple[Transition, ...]
    source: str
    at: Located
    content_hash: str = field(default="")
    # False when some transition or state could not be read: graph checks would only echo that.
    complete: bool = True
    language: str = "en"  # the municipality's: flowengine's own words in its records are written in it
    publication: Publication = field(default_factory=Publication)

    def label(self, language: str) -> str:
        return self.labels.get(language, self.title or self.id)

    @property
    def initial_state(self) -> State | None:
        return next((state for state in self.states.values() if state.initial), None)

    @property
    def proposal_prefix(self) -> str:
        """What its proposals' ids start with: ``prefix``, else the first six letters of the id, in capitals."""
        return self.prefix or re.sub(r"[^A-Z]", "", self.id.upper())[:6] or "P"

    def outgoing(self, state_id: str) -> list[Transition]:
        """The transitions that leave ``state_id``, in file order (those from any state included)."""
        explicit, anywhere, open_states = self._leaving
        positions = explicit.get(state_id, [])
        if state_id in open_states and anywhere:
            positions = sorted([*positions, *anywhere])
        return [self.transitions[i] for i in positions]

    def leaving(self, state_id: str, trigger: str) -> Transition | None:
        """The first transition (in file order) that ``trigger`` fires from ``state_id``, if any:
        a look-up, however many states a ``from: "*"`` transition expands to."""
        explicit, _, open_states = self._leaving
        candidates = [i for i in explicit.get(state_id, []) if self.transitions[i].trigger == trigger]
        if state_id in open_states:
            candidates += self._anywhere_by_trigger.get(trigger, [])
        return self.transitions[min(candidates)] if candidates else None

    @cached_property
    def _leaving(self) -> tuple[dict[str, list[int]], list[int], frozenset[str]]:
        """Positions of the transitions leaving each state as written, those from any state, and
        the states those leave: built once, in time linear in the file (not in its expansion)."""
        explicit: dict[str, list[int]] = {}
        anywhere: list[int] = []
        open_states: set[str] = set()
        shared: set[int] = set()
        for position, transition in enumerate(self.transitions):
            if transition.from_any:
                anywhere.append(position)
                if id(transition.sources) not in shared:
                    shared.add(id(transition.sources))
                    open_states.update(transition.sources)
                continue
            for source in transition.sources:
                explicit.setdefault(source, []).append(position)
        return explicit, anywhere, frozenset(open_states)

    @cached_property
    def _anywhere_by_trigger(self) -> dict[str, list[int]]:
        found: dict[str, list[int]] = {}
        for position in self._leaving[1]:
            found.setdefault(self.transitions[position].trigger, []).append(position)
        return found


def workflow_to_dict(workflow: Workflow, language: str = "en") -> dict[str, object]:
    """A JSON-ready view of a workflow, labels resolved in ``language``; keeps file order."""
    return {
        "id": workflow.id,
        "version": workflow.version,
        "language": workflow.language,
        "publication": {"proposals": workflow.publication.proposals, "comments": workflow.publication.comments,
                        "descriptions": workflow.publication.descriptions},
        "prefix": workflow.prefix,
        "title": workflow.label(language),
        "description": workflow.description,
        "source": workflow.source,
        "content_hash": workflow.content_hash,
        "roles": [
            {"id": r.id, "kind": r.kind, "label": r.label(language)} for r in workflow.roles.values()
        ],
        "fields": [
            {"id": f.id, "type": f.type, "required": f.required, "options": list(f.options),
             "label": f.label(language), "public": f.public, "personal": f.personal}
            for f in workflow.fields.values()
        ],
        "states": [
            {"id": s.id, "label": s.label(language), "stage": s.stage, "owner": s.owner,
             "deadline": s.deadline_text, "initial": s.initial, "final": s.final, "outcome": s.outcome,
             "answers_panel": s.answers_panel, "reminder": s.reminder_text,
             "escalate": {"after": s.escalation.after_text, "trigger": s.escalation.trigger}
             if s.escalation else None}
            for s in workflow.states.values()
        ],
        "transitions": [
            {"trigger": t.trigger, "label": t.label(language),
             "from": "*" if t.from_any else list(t.sources), "to": t.target, "roles": list(t.roles),
             "requires": list(t.requires), "requires_comment": t.requires_comment,
             "answers_panel": t.answers_panel}
            for t in workflow.transitions
        ],
    }
