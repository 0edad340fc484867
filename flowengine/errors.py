"""One exception tree for the whole library.

    FlowEngineError
     ├── DefinitionError      a workflow file is unreadable or invalid (carries its Issues)
     ├── NotFound             an id names nothing (carries close matches)
     ├── AmbiguousWorkflow    two files in one folder declare the same workflow id
     ├── InvalidInput         a value given on the command line or to the API is malformed
     ├── Refused              a request is well-formed but the workflow does not allow it now
     │    └── TransitionRefused   a trigger may not fire (carries every reason and what is allowed)
     ├── AccessDenied         the authenticated login may not do this (carries the grant that would allow it)
     ├── ConflictError        someone else changed the proposal first; nothing was written
     ├── StoreError           the database cannot be opened, is busy, or is not at our schema
     └── Unfinished           a change was committed, but a file that was to follow it was not written

Every error builds its own message from the data it carries, so the command line only has
to print ``str(error)``. Messages speak the library's terms, never a command-line option: where
the caller can fix something (give a field, a comment, a later date …) the error carries
:class:`Remedy` values, which the command line turns into its own options. Third-party
exceptions are chained with ``from exc``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Self

from flowengine.i18n import N_, marked, t

if TYPE_CHECKING:
    from flowengine.issues import Issue


_MAX_LISTED = 12  # a message names a few known ids, not a database's worth
# What a NotFound can be about, as words of the catalogues (another kind is shown as it is given).
KINDS_NOT_FOUND = (N_("workflow"), N_("workflow file"), N_("proposal"), N_("state"), N_("role"), N_("field"),
                   N_("column"), N_("meaning"), N_("report format"), N_("event log format"))


# What a remedy can ask for. The command line maps each kind to its option (tests check that
# every kind has one).
REMEDY_KINDS = (
    "field",        # name: a field to give a value
    "comment",      # a comment explaining the step
    "actor",        # say who acts: a name (a pseudonym is enough) and a role
    "later_moment",  # look at a later moment
    "title",        # the proposal needs a title
    "description",  # longer text belongs in the description
    "note",         # longer text of a progress record belongs in its note
    "milestone",    # a milestone date needs the milestone's name
    "map",          # name: a state to map, value: a suggested target (a migration's or an import's map)
    "column",       # name: a column of an event log, value: the meaning it holds
    "assume_utc",   # read times without an offset as UTC
    "log_format",   # the format of an event log
    "workflow",     # name: the workflow to give
    "default_actor",  # a name for the events of a log that name none
    "default_role",   # a role for the events of a log that name none
    "keep_going",     # import the cases of a log that fit, and list the others
    "min_share",      # a lower share of directly-follows pairs kept when drafting a workflow from a log
    "as_of",          # value: a moment to look at instead of now (a finished log's last day)
    "out",          # another output folder
    "database",     # another database
    "create_database",  # name: the path of a database to create first (a reader creates none)
    "list_proposals",  # see which proposals there are
    "show_proposal",   # name: look at where a proposal stands now
    "list_workflows",  # see which workflows there are
    "show_workflow",   # name: look at a workflow (its states, transitions, fields)
    "grant",           # name: a login, value: "role:workflow" — what an administrator can grant it
    "unset_now",       # do not fix the clock (a database made for real use times its steps itself)
    "upgrade_schema",  # bring an older shared database's schema up to date, on purpose, after a backup
    "checkpoint",      # name: a folder to sign a checkpoint of every chain's head into, now
)


@dataclass(frozen=True)
class Remedy:
    """A fix the caller can apply, in the library's terms: ``Remedy("field", "expected_benefit")``
    is shown by the command line as ``--set expected_benefit=…``."""

    kind: str
    name: str = ""
    value: str = ""


class FlowEngineError(Exception):
    """Root of every error the library raises on purpose. ``remedies``: what the caller can do
    about it, for the command line to name as options."""

    remedies: tuple[Remedy, ...] = ()

    def fixed_by(self, *remedies: Remedy) -> Self:
        """This error with ``remedies`` added; returns it, so ``raise Error(…).fixed_by(…)`` reads on."""
        self.remedies = (*self.remedies, *remedies)
        return self


class DefinitionError(FlowEngineError):
    """A workflow definition could not be loaded or is invalid.

    ``issues`` holds every problem found, each with its file:line:column.
    """

    def __init__(self, issues: Sequence[Issue]) -> None:
        self.issues = tuple(issues)
        super().__init__("\n".join(issue.format() for issue in self.issues))


class NotFound(FlowEngineError):
    """An id (workflow, state, role…) names nothing; suggests close matches."""

    def __init__(self, kind: str, wanted: str, known: Sequence[str], hint: str = "") -> None:
        from flowengine.suggest import did_you_mean

        self.kind = kind
        self.wanted = wanted
        self.known = tuple(sorted(known))
        suggestion = did_you_mean(wanted, self.known)
        parts = [t("unknown {kind} '{wanted}'", kind=marked(kind) if kind in KINDS_NOT_FOUND else kind, wanted=wanted)]
        if suggestion:
            parts.append(t("did you mean '{suggestion}'?", suggestion=suggestion))
        elif self.known:
            shown = ", ".join(self.known[:_MAX_LISTED])
            more = ", " + t("… ({n} in all)", n=len(self.known)) if len(self.known) > _MAX_LISTED else ""
            parts.append(t("known: {ids}", ids=shown + more))
        if hint:
            parts.append(hint)
        super().__init__("; ".join(parts))


class AmbiguousWorkflow(FlowEngineError):
    """Two files in the same folder tree declare one workflow id; picking one would be a guess."""

    def __init__(self, workflow_id: str, paths: Sequence[Path]) -> None:
        self.workflow_id = workflow_id
        self.paths = tuple(paths)
        listed = ", ".join(str(p) for p in self.paths)
        super().__init__(t("workflow id '{workflow}' is declared by {n} files: {files}; give each file its own id, "
                           "or move old copies out of the folder", workflow=workflow_id, n=len(self.paths),
                           files=listed))


class InvalidInput(FlowEngineError):
    """A value is malformed (a field value, a date, an identity); the message says the fix."""


class Refused(FlowEngineError):
    """The request is understood but not allowed now; ``reasons`` lists every reason at once."""

    def __init__(self, subject: str, reasons: Sequence[str], hint: str = "") -> None:
        self.subject = subject
        self.reasons = tuple(reasons)
        self.hint = hint
        text = t("{subject}: {reasons}; nothing was written", subject=subject, reasons="; ".join(self.reasons))
        super().__init__(f"{text} — {hint}" if hint else text)


class TransitionRefused(Refused):
    """A trigger may not fire. ``allowed`` holds (trigger, roles that may fire it) for the current state;
    ``last_change`` optionally says who put the proposal there ("kari (panel) at 2019-03-01 10:00")."""

    def __init__(self, proposal_id: str, state: str, trigger: str, reasons: Sequence[str],
                 allowed: Sequence[tuple[str, tuple[str, ...]]], last_change: str = "") -> None:
        self.proposal_id = proposal_id
        self.state = state
        self.trigger = trigger
        self.allowed = tuple(allowed)
        self.last_change = last_change
        if self.allowed:
            anyone = t("any role")
            listed = ", ".join(f"{name} ({', '.join(roles) if roles else anyone})" for name, roles in self.allowed)
            hint = t("allowed now in {state}: {triggers}", state=state, triggers=listed)
        else:
            hint = t("{state} is final: nothing more can be done with {proposal}", state=state, proposal=proposal_id)
        where = (t("in {state}, last changed by {change}", state=state, change=last_change) if last_change
                 else t("in {state}", state=state))
        super().__init__(t("cannot {trigger} {proposal} ({where})", trigger=trigger, proposal=proposal_id, where=where),
                         reasons, hint)


class AccessDenied(FlowEngineError):
    """The authenticated login may not do what was asked; nothing was written. The message names
    the login, the role or capability, the workflow, and what it holds there."""


class ConflictError(FlowEngineError):
    """Someone changed the proposal between reading and writing; exactly one writer wins."""

    def __init__(self, proposal_id: str, actor: str, role: str, when: str, state: str) -> None:
        self.proposal_id = proposal_id
        self.actor = actor
        self.role = role
        self.when = when
        self.state = state
        super().__init__(t(
            "{proposal} was changed by {actor} ({role}) at {when} and is now in {state}; nothing was written — look "
            "at where it stands now and try again if the step still applies", proposal=proposal_id, actor=actor,
            role=role, when=when, state=state))


class StoreError(FlowEngineError):
    """The database could not do what was asked: unreachable, busy for too long, or at a foreign schema."""


class Unfinished(FlowEngineError):
    """A change was committed to the database, but what was to follow it outside the database (a
    file) was not written. The message says what is done and what is left; the remedies, how to
    finish it. Nothing is to be undone."""
