"""How the rows of an event log fit a workflow: activities named by state id or label, the
declared transition a step takes, who may take it, and times with their zone. Pure: no database."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flowengine import jsontext
from flowengine.definition.model import Workflow
from flowengine.eventlog.meanings import LOGIN, RECORDED
from flowengine.history.records import MIGRATED, Stamp, actor_problem
from flowengine.i18n import t
from flowengine.suggest import did_you_mean
from flowengine.timewindow import EARLIEST, EARLIEST_TEXT, LATEST, LATEST_TEXT


@dataclass(frozen=True)
class Problem:
    """One row that breaks the workflow: where it is, its case, and why."""

    where: str
    case: str | None
    reason: str

    def format(self) -> str:
        case = t("case {case}: ", case=self.case) if self.case is not None else ""
        return f"{self.where}: {case}{self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {"where": self.where, "case": self.case, "reason": self.reason}


@dataclass
class Resolved:
    """A transition resolved once per (state, target, trigger) and reused; ``problem`` when none fits."""

    trigger: str | None
    roles: tuple[str, ...]
    problem: str | None
    ambiguous: bool = False  # more than one transition fits: a trigger column would say which


_parse = datetime.fromisoformat



class NoOffset(str):
    """The problem of a time written without its UTC offset: one the import can fix by reading
    such times as UTC (a remedy), told apart from other problems without reading the words."""

    __slots__ = ()

def read_moment(text: str, assume_utc: bool) -> tuple[datetime, str] | str:
    """(aware UTC, iso_utc text) of a timestamp, or why it is unreadable or refused: outside the
    accepted window (:mod:`flowengine.timewindow`) a time is refused like an unreadable one.

    An import reads one per event. A time already in UTC in one of the usual layouts (what
    flowengine, PM4Py and pandas write: ``2019-03-01T09:30:00+00:00``, ``…:00.123456+00:00``,
    ``…:00Z``, ``…:00.123456Z``, ``T`` or a space) is read here: ``fromisoformat`` gives it the
    UTC zone itself, and its text is taken from its own digits, once the separators show that
    they stand where the canonical text has them."""
    parsed: datetime | None
    try:
        parsed = _parse(text)
    except ValueError:
        parsed = None
    else:
        if parsed.tzinfo is UTC and text[4:5] == "-" == text[7:8] and text[13:14] == ":" == text[16:17]:
            size = len(text)
            if (size == 32 and text[19] == "." and text[26] in "+-") or (size == 27 and text[19] == "."
                                                                        and text[26] == "Z"):
                iso = f"{text[:10]}T{text[11:26]}Z"  # 2019-03-01T09:30:00.123456+00:00, or …123456Z
            elif (size == 25 and text[19] in "+-") or (size == 20 and text[19] == "Z"):
                iso = f"{text[:10]}T{text[11:19]}.000000Z"  # 2019-03-01T09:30:00+00:00, or …:00Z
            else:
                iso = ""
            if iso and EARLIEST <= parsed < LATEST:
                return parsed, iso
    try:
        found = _read_moment(text, assume_utc, parsed)
    except OverflowError:
        found = (datetime.max.replace(tzinfo=UTC), "")
    if isinstance(found, str) or EARLIEST <= found[0] < LATEST:
        return found
    return t("bad timestamp '{text}': {reason}", text=text.strip(), reason=t(
        "the time lies outside the range flowengine accepts ({earliest} to {latest}, UTC)",
        earliest=EARLIEST_TEXT, latest=LATEST_TEXT))


def _read_moment(text: str, assume_utc: bool, moment: datetime | None) -> tuple[datetime, str] | str:
    """Any other layout, zone, or spaces around it; ``moment``: ``text`` read, if it could be."""
    if moment is None:
        try:
            text = text.strip()
            moment = _parse(text)
        except ValueError:
            return t("bad timestamp '{text}': write ISO 8601 with a UTC offset, e.g. 2019-03-01T09:30:00+01:00 "
                     "or 2019-03-01 09:30:00Z", text=text)
    if moment.tzinfo is None:
        if not assume_utc:
            return NoOffset(t("timestamp '{text}' has no UTC offset, so the moment is unknown; add the offset, or "
                              "read such times as UTC", text=text))
        moment = moment.replace(tzinfo=UTC)
    utc = moment.astimezone(UTC)
    if utc.year < 1000:
        return utc, ""  # refused by the window
    return utc, utc.isoformat(timespec="microseconds")[:26] + "Z"


def read_stamp(values: Sequence[str]) -> Stamp | str | None:
    """Who recorded an event of flowengine's own export, and when (event format 2): kept by an
    import, so it rebuilds the event's seal; None for an event of format 1; a problem as text."""
    login = values[LOGIN]
    if not login:
        return None
    moment = read_moment(values[RECORDED], False)
    return f"flowengine:recorded_at: {moment}" if isinstance(moment, str) else Stamp.of(login, moment[0])


def json_object(text: str) -> dict[str, Any] | None:
    if not text:
        return {}
    try:
        value = jsontext.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def state_index(workflow: Workflow) -> dict[str, str]:
    """Activity name → state id: each state by its id, then by each of its labels."""
    index: dict[str, str] = {}
    for sid, state in workflow.states.items():
        for _, label in state.labels.texts:
            index.setdefault(label, sid)
    index.update({sid: sid for sid in workflow.states})
    return index


def unknown_activity(workflow: Workflow, activity: str, index: Mapping[str, str]) -> str:
    close = did_you_mean(activity, list(index))
    guess = (t("did you mean '{suggestion}'?", suggestion=close) if close else
             t("states: {states}", states=", ".join(list(workflow.states)[:12])))
    return t("unknown activity '{activity}': no state of {workflow} has it as id or label ({guess})",
             activity=activity, workflow=workflow.id, guess=guess)


def resolve(workflow: Workflow, source: str, target: str, trigger: str | None) -> Resolved:
    """The declared transition from ``source`` into ``target`` (``trigger`` says which, if given)."""
    outgoing = workflow.outgoing(source)
    allowed = ", ".join(f"{step.trigger} → {step.target}" for step in outgoing) or t("none: it is final")
    if trigger is not None:
        chosen = next((step for step in outgoing if step.trigger == trigger), None)
        if chosen is None:
            return Resolved(None, (), t("no transition '{trigger}' leads out of {source} (allowed from {source}: "
                                        "{allowed})", trigger=trigger, source=source, allowed=allowed))
        if chosen.target != target:
            return Resolved(None, (), t("'{trigger}' leads from {source} to {target}, but the log has {logged}",
                                        trigger=trigger, source=source, target=chosen.target, logged=target))
        return Resolved(trigger, chosen.roles, None)
    leading = [step for step in outgoing if step.target == target]
    if not leading:
        return Resolved(None, (), t("no declared transition from {source} to {target} (allowed from {source}: "
                                    "{allowed})", source=source, target=target, allowed=allowed))
    if len(leading) > 1:
        names = ", ".join(step.trigger for step in leading)
        return Resolved(None, (), t("{n} transitions lead from {source} to {target} ({names}); the log must say "
                                    "which in a trigger column", n=len(leading), source=source, target=target,
                                    names=names), ambiguous=True)
    return Resolved(leading[0].trigger, leading[0].roles, None)


def actor_and_role_problem(workflow: Workflow, name: str, role: str, *, any_role: bool = False) -> str | None:
    """Why a row's actor cannot act in ``role``; ``any_role``: its role need not be one of the
    workflow's (an erasure step is recorded in the role of the admin who erased)."""
    problem = actor_problem("name", name)
    if problem is not None:
        return problem
    if workflow.roles and not any_role and role not in workflow.roles:
        close = did_you_mean(role, list(workflow.roles))
        hint = (t("did you mean '{suggestion}'?", suggestion=close) if close else
                t("roles: {roles}", roles=", ".join(workflow.roles)))
        return t("role '{role}' is not a role of {workflow} ({hint})", role=role, workflow=workflow.id, hint=hint)
    return None


def unimportable(kind: str, importable: Sequence[str]) -> str:
    """Why an event of an export cannot be imported by its kind."""
    if kind == MIGRATED:  # its definitions do not travel in a log
        return t("a '{kind}' event (the proposal was moved to another definition of its workflow) cannot be "
                 "imported: the log does not carry the definitions; import the history exported before the "
                 "migration, and migrate again after the import", kind=kind)
    return t("unknown kind '{kind}'; an import takes {kinds}", kind=kind, kinds=", ".join(importable))


def only_role(workflow: Workflow) -> str | None:
    return next(iter(workflow.roles)) if len(workflow.roles) == 1 else None


def foreign_definition(workflow: Workflow, created: Mapping[str, Any]) -> str:
    named = str(created.get("workflow", "?"))
    if named != workflow.id:
        return t("the case belongs to workflow '{named}', not {workflow}; import it under {named}", named=named,
                 workflow=workflow.id)
    return t("the case was created under definition {definition} of {workflow}, but its file now reads {current} and "
             "the database does not hold the older one; import with the workflow file as it was when the log was "
             "exported", definition=str(created.get("definition", "?"))[:12], workflow=workflow.id,
             current=workflow.content_hash[:12])
