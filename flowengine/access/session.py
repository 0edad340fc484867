"""The session: who is connected (authenticated by the database, never said by the caller),
what the database's clock says, and what the login may do.

On PostgreSQL the login is ``session_user``: the server authenticated it (password,
certificate, LDAP, Kerberos …) and ``SET ROLE`` does not change it. On SQLite it is the
operating system's login of the process; the file's permissions are the real boundary there,
so grants on a shared file are advisory.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from flowengine.access import log
from flowengine.access.grants import Permissions
from flowengine.clock import Clock, as_utc
from flowengine.errors import InvalidInput, Remedy
from flowengine.history.records import Stamp, actor_problem
from flowengine.i18n import t
from flowengine.store import Connection
from flowengine.store import access as store

CLOCK, SYSTEM_CLOCK, INJECTED_CLOCK = store.CLOCK, store.SYSTEM_CLOCK, store.INJECTED_CLOCK


def login_of(conn: Connection) -> str:
    return store.session_login(conn)


def clock_kind(conn: Connection) -> str:
    return store.setting(conn, CLOCK) or SYSTEM_CLOCK


def check_clock(kind: str, injected: bool, database: str) -> None:
    """A fixed clock is honoured only in a database made for tests or demos."""
    if injected and kind != INJECTED_CLOCK:
        raise InvalidInput(t("{database} was made for real use: its steps are timed by the database's clock, "
                             "which nobody can set; a fixed clock is only for databases made for tests or demos",
                             database=database)).fixed_by(Remedy("unset_now"))


def stamp(conn: Connection, login: str, clock: Clock | None) -> Stamp:
    """Who records this transaction's events and when: ``clock`` only for a database made for
    tests or demos (None otherwise: the database's clock)."""
    if clock is not None:
        return Stamp.of(login, clock(), simulated=True)
    return Stamp.of(login, store.database_now(conn))


def permissions(conn: Connection, login: str) -> Permissions:
    """The login's grants, read afresh: a grant or revoke takes effect at the next transaction."""
    return Permissions.of(login, ((g.workflow, g.role) for g in store.grants_of(conn, login)))


def change(conn: Connection, action: str, login: str, workflow: str, role: str, *, by: str,
           at: datetime) -> bool:
    """Grant or revoke one (login, workflow, role), recorded in the access log; False (and
    nothing written) when it already stands so."""
    held = any(g.workflow == workflow and g.role == role for g in store.grants_of(conn, login))
    if (action == log.GRANT) == held:
        return False
    if action == log.GRANT:
        store.add_grant(conn, store.GrantRow(login, workflow, role, by, as_utc(at)))
    else:
        store.remove_grants(conn, login, workflow, [role])
    store.append_entry(conn, action, login, workflow, role, by, at)
    return True


def check_login(login: str) -> str:
    """A login as a grant names it: the rule of actor names (a database login is one)."""
    value = login.strip()
    problem = actor_problem("name", value)
    if problem is not None:
        raise InvalidInput(t("login '{login}' is not usable: give the database login, 1 to 64 printable "
                             "characters", login=login[:70]))
    return value


def by_workflow(perms: Permissions, workflows: Iterable[str]) -> dict[str, list[str]]:
    """The roles held in each workflow (``*`` for every workflow's own entry)."""
    return {workflow: perms.roles_in(workflow) for workflow in workflows}
