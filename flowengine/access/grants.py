"""What a login may do: the roles it may record steps for, per workflow, and the capabilities
beyond roles. The rules are decided here once; every write and read path of the service asks.

A grant is (login, workflow, role). ``workflow`` is a workflow id or :data:`EVERY` (every
workflow, today's and tomorrow's); ``role`` is a role a workflow declares, :data:`EVERY` (every
role, and every capability but ``admin``) or a capability:

- ``admin`` (every workflow only): grants and revokes, workflow migrations, imports, schema upgrades;
- ``system``: what ``tick`` records as the engine's own actor;
- ``reader``: reads a workflow's proposals and figures, writes nothing;
- ``pseudonym``: records steps under a display name other than the login.

Any role in a workflow includes reading it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flowengine.errors import AccessDenied, Remedy
from flowengine.history.records import SYSTEM, Actor
from flowengine.i18n import t

EVERY = "*"
ADMIN = "admin"
READER = "reader"
PSEUDONYM = "pseudonym"
SYSTEM_CAPABILITY = SYSTEM
CAPABILITIES = (ADMIN, SYSTEM_CAPABILITY, READER, PSEUDONYM)


def grant_remedy(login: str, role: str, workflow: str) -> Remedy:
    """How an administrator grants it: ``name`` the login, ``value`` ``role`` and workflow, as ``role:workflow``."""
    return Remedy("grant", login, f"{role}:{workflow}")


@dataclass(frozen=True)
class Permissions:
    """One login's grants, as (workflow, role) pairs."""

    login: str
    held: frozenset[tuple[str, str]]

    @classmethod
    def of(cls, login: str, pairs: Iterable[tuple[str, str]]) -> Permissions:
        return cls(login, frozenset(pairs))

    @property
    def admin(self) -> bool:
        return (EVERY, ADMIN) in self.held

    def holds(self, workflow: str, role: str) -> bool:
        """May act as ``role`` (or use the capability) in ``workflow``."""
        if role == ADMIN:
            return self.admin
        return any(w in (workflow, EVERY) and r in (role, EVERY) for w, r in self.held)

    def roles_in(self, workflow: str) -> list[str]:
        """The roles and capabilities held in ``workflow``, as granted (``*`` for every role)."""
        return sorted({r for w, r in self.held if w in (workflow, EVERY) and r != ADMIN})

    def may_read(self, workflow: str) -> bool:
        """Any role or capability there; an administrator reads everything (they could grant it)."""
        return self.admin or bool(self.roles_in(workflow))

    @property
    def reads_every_workflow(self) -> bool:
        return any(w == EVERY for w, _ in self.held)

    def readable(self, workflows: Iterable[str]) -> list[str]:
        return [w for w in workflows if self.may_read(w)]

    # -- checks that raise ----------------------------------------------------------------

    def check_actor(self, workflow: str, actor: Actor) -> None:
        """May record a step in ``workflow`` as ``actor``: the role is held there; the engine's own
        name is not anybody's; another display name than the login needs ``pseudonym``."""
        if SYSTEM in (actor.name, actor.role):
            raise AccessDenied(t("{name} is the engine's own name, for the steps it records by itself; "
                                 "record a step under your own name", name=SYSTEM))
        if not self.holds(workflow, actor.role):
            raise self.denied(actor.role, workflow)
        if actor.name != self.login and not self.holds(workflow, PSEUDONYM):
            raise AccessDenied(t("{login} may not record steps under another name ({name}) in {workflow}; an "
                                 "administrator can allow it", login=self.login, name=actor.name,
                                 workflow=workflow)).fixed_by(grant_remedy(self.login, PSEUDONYM, workflow))

    def check(self, workflow: str, capability: str) -> None:
        """Holds ``capability`` (``system``, ``reader``) or a role in ``workflow``."""
        if not self.holds(workflow, capability):
            raise self.denied(capability, workflow)

    def check_read(self, workflow: str) -> None:
        if not self.may_read(workflow):
            raise AccessDenied(t("{login} may not read {workflow} (no role there); an administrator can grant "
                                 "it", login=self.login, workflow=workflow)).fixed_by(
                grant_remedy(self.login, READER, workflow))

    def check_admin(self, what: str) -> None:
        """``what``: the operation, in words ("migrate a workflow")."""
        if not self.admin:
            raise AccessDenied(t("{login} may not {what}: that takes the admin capability; an administrator "
                                 "can grant it", login=self.login, what=what)).fixed_by(
                grant_remedy(self.login, ADMIN, EVERY))

    def denied(self, role: str, workflow: str) -> AccessDenied:
        here = ", ".join(self.roles_in(workflow)) or t("none")
        return AccessDenied(t("{login} may not act as {role} in {workflow} (roles here: {roles}); an administrator "
                              "can grant it", login=self.login, role=role, workflow=workflow, roles=here)).fixed_by(
            grant_remedy(self.login, role, workflow))
