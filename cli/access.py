"""``flowengine access …`` and ``flowengine whoami``: who may act in which role of which workflow."""

from __future__ import annotations

import click

from flowengine.i18n import t

from .helptext import Command, Group
from .options import database_option, json_option
from .session import open_engine
from .views import to_json


def _where(workflows: tuple[str, ...], every: bool) -> list[str]:
    if every and workflows:
        raise click.UsageError("give --workflow or --all-workflows, not both")
    if not every and not workflows:
        raise click.UsageError("say where: --workflow WF (repeat for more) or --all-workflows")
    return ["*"] if every else list(workflows)


def _grant_options(func: click.decorators.FC) -> click.decorators.FC:
    func = click.option("--all-workflows", "every", is_flag=True,
                        help="Every workflow, today's and those added later.")(func)
    func = click.option("--workflow", "-w", "workflows", metavar="WF", multiple=True,
                        help="The workflow (= municipality) the roles are for; repeat for more.")(func)
    return click.option("--role", "-r", "roles", metavar="ROLE", multiple=True, required=True,
                        help="A role the workflow declares, or a capability: admin, system, reader, pseudonym; "
                             "repeat for more.")(func)


@click.group(cls=Group)
def access() -> None:
    """Who may act in which role of which workflow (administrators grant and revoke).

    Each person acts under their own database login (on SQLite: their operating-system login);
    every grant and revoke is recorded in an append-only, hash-chained access log.

    \b
    Example:
      flowengine access grant kari --role project_leader --workflow melhus
    """


@access.command()
@click.argument("login")
@_grant_options
@database_option
def grant(login: str, roles: tuple[str, ...], workflows: tuple[str, ...], every: bool, database: str | None) -> None:
    """Let LOGIN record steps in ROLE in a workflow (or use a capability).

    Capabilities: admin (grants, workflow migrate, import, db upgrade; for every workflow),
    system (what tick records), reader (reads a workflow, writes nothing), pseudonym (records
    under a display name other than the login).

    \b
    Example:
      flowengine access grant kari --role politician --workflow trondheim
      flowengine access grant auditor --role reader --all-workflows
    """
    with open_engine(database) as engine:
        done = engine.grant(login, list(roles), _where(workflows, every))
    for g in done:
        click.echo(t("granted {role} in {workflow} to {login}", role=g.role, workflow=g.workflow, login=g.login))
    if not done:
        click.echo(t("{login} already holds that; nothing changed", login=login))


@access.command()
@click.argument("login")
@_grant_options
@database_option
def revoke(login: str, roles: tuple[str, ...], workflows: tuple[str, ...], every: bool, database: str | None) -> None:
    """Take a role (or capability) in a workflow back from LOGIN; takes effect at its next command.

    \b
    Example:
      flowengine access revoke kari --role politician --workflow trondheim
    """
    with open_engine(database) as engine:
        done = engine.revoke(login, list(roles), _where(workflows, every))
    for g in done:
        click.echo(t("revoked {role} in {workflow} from {login}", role=g.role, workflow=g.workflow, login=g.login))
    if not done:
        click.echo(t("{login} does not hold that; nothing changed", login=login))


@access.command(name="list")
@click.argument("login", required=False)
@database_option
@json_option
def list_grants(login: str | None, database: str | None, as_json: bool) -> None:
    """Every standing grant (of LOGIN); without admin, your own.

    \b
    Example:
      flowengine access list --json
    """
    with open_engine(database, read_only=True) as engine:
        found = engine.grants(login)
    if as_json:
        click.echo(to_json([g.as_dict() for g in found]))
        return
    from flowengine.clock import local_text

    from .terminal import table

    click.echo(table([t("login"), t("workflow"), t("role"), t("granted by"), t("granted at")],
                     [[g.login, g.workflow, g.role, g.granted_by, local_text(g.granted_at)] for g in found]))


@access.command()
@database_option
@json_option
def log(database: str | None, as_json: bool) -> None:
    """Every grant and revoke ever recorded, oldest first (administrators only).

    `flowengine audit verify` checks its chain and that the standing grants are what it leaves.

    \b
    Example:
      flowengine access log
    """
    with open_engine(database, read_only=True) as engine:
        entries = engine.access_log()
    if as_json:
        click.echo(to_json([e.as_dict() for e in entries]))
        return
    from flowengine.clock import local_text

    from .terminal import table

    click.echo(table([t("#"), t("at"), t("by"), t("action"), t("login"), t("workflow"), t("role")],
                     [[str(e.seq), local_text(e.at), e.by, e.action, e.login, e.workflow, e.role] for e in entries]))


@click.command(cls=Command)
@database_option
@json_option
def whoami(database: str | None, as_json: bool) -> None:
    """Who the database says you are (your login, authenticated by it) and your roles per workflow.

    \b
    Example:
      flowengine whoami --json
    """
    with open_engine(database, read_only=True) as engine:
        me = engine.whoami()
    if as_json:
        click.echo(to_json(me.as_dict()))
        return
    click.echo(t("login: {login}", login=me.login) + (" (admin)" if me.admin else ""))
    for workflow, roles in me.roles.items():
        where = t("every workflow") if workflow == "*" else workflow
        click.echo(f"  {where}: {', '.join(t('every role') if r == '*' else r for r in roles)}")
    if me.made_for_tests:
        click.echo(t("this database was made for tests or demos: its clock may be fixed"))
