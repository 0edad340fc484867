"""Grants for the façade: who am I, grant, revoke, list, the access log. The rules are in
:mod:`flowengine.access`; here they meet the workflows (a role granted must be one the workflow
declares) and the write helper."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flowengine.access import log, session
from flowengine.access.grants import CAPABILITIES, EVERY
from flowengine.clock import iso_utc
from flowengine.errors import InvalidInput, NotFound
from flowengine.i18n import t
from flowengine.service.context import Engine
from flowengine.service.lookup import declared_workflow
from flowengine.store import Connection, queries
from flowengine.store import access as store


@dataclass(frozen=True)
class Grant:
    """One standing grant: ``workflow`` or ``*`` (every workflow), ``role`` or ``*`` (every role)
    or a capability."""

    login: str
    workflow: str
    role: str
    granted_by: str
    granted_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"login": self.login, "workflow": self.workflow, "role": self.role, "granted_by": self.granted_by,
                "granted_at": iso_utc(self.granted_at)}


@dataclass(frozen=True)
class Identity:
    """Who the database says is acting, what it may do, and how its steps are timed."""

    login: str
    admin: bool
    roles: dict[str, list[str]]  # workflow (or ``*``) → roles and capabilities held there
    made_for_tests: bool
    database: str

    def as_dict(self) -> dict[str, Any]:
        return {"login": self.login, "admin": self.admin, "roles": self.roles,
                "clock": session.INJECTED_CLOCK if self.made_for_tests else session.SYSTEM_CLOCK,
                "database": self.database}


def whoami(engine: Engine) -> Identity:
    with engine.database.read() as conn:
        perms = engine.permissions(conn)
        workflows = sorted({w for w, _ in perms.held} | set(queries.workflows_in_use(conn)))
    roles = {w: perms.roles_in(w) for w in workflows if w == EVERY or perms.roles_in(w)}
    return Identity(engine.login, perms.admin, roles, engine.recording_clock is not None,
                    engine.database.display_name)


def change(engine: Engine, action: str, login: str, roles: Sequence[str], workflows: Sequence[str]) -> list[Grant]:
    """Grant or revoke each role in each workflow, in one transaction; admin only."""
    login = session.check_login(login)
    if not roles:
        raise InvalidInput(t("name at least one role to grant or revoke, e.g. project_leader"))
    if not workflows:
        raise InvalidInput(t("name the workflows the roles are for, or every workflow"))
    for workflow in workflows:
        if workflow != EVERY:
            _check_roles(engine, workflow, roles)

    def write(conn: Connection) -> list[Grant]:
        engine.permissions(conn).check_admin(t("grant or revoke roles"))
        stamp = engine.stamp(conn)
        done = []
        for workflow in workflows:
            for role in roles:
                if session.change(conn, action, login, workflow, role, by=stamp.login, at=stamp.recorded_at):
                    done.append(Grant(login, workflow, role, stamp.login, stamp.recorded_at))
        return done

    return engine.transaction(write, operation=action)


def _check_roles(engine: Engine, workflow: str, roles: Sequence[str]) -> None:
    declared = declared_workflow(engine, workflow)
    for role in roles:
        if role not in (*CAPABILITIES, EVERY) and role not in declared.roles:
            raise NotFound("role", role, [*declared.roles, *CAPABILITIES],
                           hint=t("{workflow} declares these roles; the others are capabilities", workflow=workflow))


def grants(engine: Engine, login: str | None = None) -> list[Grant]:
    with engine.database.read() as conn:
        perms = engine.permissions(conn)
        if not perms.admin:  # others see their own grants only
            if login not in (None, engine.login):
                perms.check_admin(t("see another login's grants"))
            login = engine.login
        rows = store.grants_of(conn, login)
    return [Grant(*row) for row in rows]


def log_entries(engine: Engine) -> list[log.Entry]:
    with engine.database.read() as conn:
        engine.permissions(conn).check_admin(t("read the access log"))
        return log.entries(conn)
