"""``flowengine proposal …`` and ``flowengine advance``: register proposals and move them along."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING

import click

from . import completion as complete
from .helptext import Command, Group
from .options import (
    CHECK_ASSIGNMENTS,
    as_of_option,
    database_option,
    effective_option,
    expect_version_option,
    idempotency_option,
    identity_options,
    json_option,
    language_option,
    set_option,
    workflows_option,
)
from .session import actor, open_engine, read_quickly
from .terminal import output_options, streamed
from .views import standing_row, standing_text, standings_headers, standings_table, tab_line, to_json

# flowengine.definition.model.STAGES and flowengine.service.facade.SORTS, written out so that `--help` imports neither
# (tests/test_cli_proposals.py holds them equal).
_STAGES = ("panel", "council", "administration", "political", "implementation", "evaluation", "closed")
_SORTS = ("id", "waiting", "updated", "state")
_PAGE = 50  # flowengine.service.paging.DEFAULT_LIMIT

if TYPE_CHECKING:
    from flowengine.service.results import Standing


@click.group(cls=Group)
def proposal() -> None:
    """Register proposals, list them, see where one stands, fill in its fields.

    \b
    Example:
      flowengine proposal new innovation-chain --title "Meeting place" --as kari --role panel
    """


@proposal.command("new")
@click.argument("workflow", shell_complete=complete.workflow_ids)
@click.option("--title", required=True, help="One line naming the proposal.")
@click.option("--description", default="", help="What is proposed, in the panel's own words.")
@click.option("--origin", default="", help="Where it came from: which panel, audit or meeting.")
@click.option("--from", "from_proposal", metavar="ID", shell_complete=complete.proposal_ids,
              help="The proposal it came from, e.g. the user-asks-user audit BSB-1 whose finding it is; "
                   "must exist. Both histories show the link.")
@set_option
@identity_options
@effective_option
@idempotency_option
@database_option
@workflows_option
@json_option
def new(workflow: str, title: str, description: str, origin: str, from_proposal: str | None,
        assignments: tuple[str, ...], actor_name: str | None, role: str | None, idempotency_key: str | None,
        database: str | None, workflow_dirs: tuple[str, ...], as_json: bool, effective: datetime | None = None) -> None:
    """Register a proposal under WORKFLOW (an id such as innovation-chain, or a .yaml file).

    The proposal keeps the definition the workflow file has now: later edits of the file
    apply to new proposals only.

    \b
    Example:
      flowengine proposal new innovation-chain --title "Meeting place in the centre" \\
          --origin "User panel, meeting 2017-03-02" --set summary="A place to meet" --as kari --role panel
      flowengine proposal new timra --title "Clearer web information" --from BSB-1 \\
          --set summary="Finding of the audit" --as kari --role projektledare
    """
    from flowengine.definition.fields import parse_assignments

    who = actor(actor_name, role)
    values = parse_assignments(assignments)
    with open_engine(database, workflow_dirs) as engine:
        result = engine.new_proposal(workflow, title=title, description=description, origin=origin,
                                     fields=values, actor=who, idempotency_key=idempotency_key,
                                     from_proposal=from_proposal, at=effective)
    created = result.proposal
    if as_json:
        click.echo(to_json({**created.as_dict(), "repeated": result.repeated}))
        return
    from flowengine.i18n import t

    again = " (" + t("already registered by an earlier run with this key") + ")" if result.repeated else ""
    came_from = ", " + t("from {proposal}", proposal=from_proposal.strip().upper()) if from_proposal else ""
    click.echo(t("{proposal} registered in {state}", proposal=created.id, state=created.state) + came_from + again)
    click.echo(t("next: {command}", command=f"flowengine proposal show {created.id}"))


@proposal.command("list")
@click.option("--workflow", help="Only proposals under this workflow id.", shell_complete=complete.workflow_ids)
@click.option("--state", help="Only proposals in this state.")
@click.option("--stage", type=click.Choice(_STAGES), help="Only proposals in this stage.")
@click.option("--owner", metavar="ROLE", help="Only proposals waiting for this role.")
@click.option("--overdue", is_flag=True, help="Only proposals past their state's deadline.")
@click.option("--title", "title", metavar="TEXT", help="Only proposals whose title contains TEXT (any case).")
@click.option("--sort", type=click.Choice(_SORTS), default="id", show_default=True,
              help="waiting: longest in its state first; updated: most recently changed first.")
@click.option("--limit", type=click.IntRange(min=1), default=_PAGE, show_default=True,
              help="At most this many proposals (one page).")
@click.option("--after", metavar="ID", shell_complete=complete.proposal_ids,
              help="The page after proposal ID, in the same order and filters (the 'next' line names it).")
@click.option("--all", "all_rows", is_flag=True, callback=streamed,
              help="Every match, streamed as it is read: tab-separated rows (with --json, one JSON object a line).")
@as_of_option
@language_option
@database_option
@json_option
@output_options
def list_proposals(workflow: str | None, state: str | None, stage: str | None, owner: str | None, overdue: bool,
                   title: str | None, sort: str, limit: int, after: str | None, all_rows: bool,
                   as_of: datetime | None, language: str, database: str | None, as_json: bool) -> None:
    """List proposals with their state, owner and time waiting: the first 50, and how to go on.

    Each page costs the same however many proposals the database holds: the next one starts
    after the last shown (--after ID), and --all streams every match without holding them.

    \b
    Example:
      flowengine proposal list --overdue --sort waiting
      flowengine proposal list --workflow trondheim --title "meeting place" --after TRD-120
      flowengine proposal list --all --stage implementation > implementation.tsv
    """
    if all_rows:
        if as_of is not None:
            raise click.UsageError("--all lists proposals as they stand now; leave out --as-of")
        with open_engine(database, read_only=True) as engine:
            shown = _stream(engine.each_proposal(workflow=workflow, state=state, stage=stage, owner=owner,
                                                 overdue=overdue, title=title, sort=sort, after=after,
                                                 language=language), as_json)
    else:
        from flowengine.service import quick_reads

        found = read_quickly(lambda replica: quick_reads.page(
            database, workflow=workflow, state=state, stage=stage, owner=owner, overdue=overdue, title=title,
            sort=sort, after=after, limit=limit, language=language, replica=replica)) if as_of is None else None
        if found is None:
            with open_engine(database, read_only=True) as engine:
                found = engine.proposal_page(workflow=workflow, state=state, stage=stage, owner=owner,
                                             overdue=overdue, title=title, sort=sort, after=after, limit=limit,
                                             as_of=as_of, language=language)
        shown = len(found.standings)
        if as_json:
            click.echo(to_json([s.as_dict() for s in found.standings]))
        elif found.standings:
            click.echo(standings_table(found.standings))
        if found.next_after is not None:
            from flowengine.i18n import t

            click.echo(t("next: {command}", command=_next_command(found.next_after)), err=True)
    if not shown and not as_json:
        from flowengine.i18n import t

        click.echo(t("no proposals match") if any((workflow, state, stage, owner, overdue, title, after)) else
                   t("no proposals yet: register one with {command}",
                     command="`flowengine proposal new WORKFLOW --title …`"), err=True)


def _stream(standings: Iterator[Standing], as_json: bool) -> int:
    """Write each proposal as it comes (a header line first for text); the number written."""
    import json

    count = 0
    if not as_json:
        click.echo(tab_line(standings_headers()))
    for standing in standings:
        click.echo(json.dumps(standing.as_dict(), ensure_ascii=False) if as_json else tab_line(standing_row(standing)))
        count += 1
    return count


def _next_command(after: str) -> str:
    """The command that shows the next page: the options this one was given, ``--after`` the last
    id shown."""
    import shlex

    from click.core import ParameterSource

    ctx = click.get_current_context()
    words = ["flowengine", *ctx.command_path.split()[1:]]
    for param in ctx.command.params:
        name = param.name or ""
        if not isinstance(param, click.Option) or name == "after" or \
                ctx.get_parameter_source(name) is not ParameterSource.COMMANDLINE:
            continue
        value = ctx.params[name]
        text = value.isoformat() if isinstance(value, datetime) else str(value)
        words += [param.opts[0]] if param.is_flag else [param.opts[0], text]
    return shlex.join([*words, "--after", after])


@proposal.command("show")
@click.argument("proposal_id", metavar="ID", shell_complete=complete.proposal_ids)
@as_of_option
@language_option
@database_option
@json_option
@output_options
def show(proposal_id: str, as_of: datetime | None, language: str, database: str | None, as_json: bool) -> None:
    """Where a proposal stands: state, time waiting against its deadline, who must act, what is missing.

    \b
    Example:
      flowengine proposal show INN-7
    """
    from flowengine.service import quick_reads

    standing = read_quickly(lambda replica: quick_reads.standing(database, proposal_id, as_of=as_of,
                                                                 language=language, replica=replica))
    if standing is None:
        with open_engine(database, read_only=True) as engine:
            standing = engine.standing(proposal_id, as_of=as_of, language=language)
    click.echo(to_json(standing.as_dict()) if as_json else standing_text(standing))


@proposal.command("set")
@click.argument("proposal_id", metavar="ID", shell_complete=complete.proposal_ids)
@click.argument("assignments", nargs=-1, required=True, metavar="FIELD=VALUE...", callback=CHECK_ASSIGNMENTS)
@click.option("--comment", default="", help="Why the value was set or changed.")
@expect_version_option
@identity_options
@effective_option
@idempotency_option
@database_option
@json_option
def set_fields(proposal_id: str, assignments: tuple[str, ...], comment: str, expect_version: int | None,
               actor_name: str | None, role: str | None, idempotency_key: str | None, database: str | None,
               as_json: bool, effective: datetime | None = None) -> None:
    """Fill in or correct fields of a proposal; recorded in its history. An empty value clears a field.

    \b
    Example:
      flowengine proposal set INN-7 cost_estimate=25000 case_number=2019/1234 --as kari --role panel
    """
    from flowengine.definition.fields import parse_assignments

    who = actor(actor_name, role)
    values = parse_assignments(assignments)
    with open_engine(database) as engine:
        result = engine.set_fields(proposal_id, values, actor=who, comment=comment,
                                   expected_version=expect_version, idempotency_key=idempotency_key,
                                   at=effective)
    if as_json:
        click.echo(to_json({**result.proposal.as_dict(), "changed": result.event is not None,
                            "repeated": result.repeated}))
    elif result.event is None:
        from flowengine.i18n import t

        click.echo(t("nothing to change: {proposal} already has these values", proposal=result.proposal.id))
    else:
        from flowengine.i18n import t

        click.echo(t("{proposal}: set {fields} (version {version})", proposal=result.proposal.id,
                     fields=", ".join(result.event.changes), version=result.proposal.version))


@click.command(cls=Command)
@click.argument("proposal_id", metavar="ID", shell_complete=complete.proposal_ids)
@click.argument("trigger", shell_complete=complete.triggers)
@click.option("--comment", default="", help="Why: the reasoned answer the panel will read.")
@set_option
@expect_version_option
@identity_options
@effective_option
@idempotency_option
@database_option
@json_option
def advance(proposal_id: str, trigger: str, comment: str, assignments: tuple[str, ...], expect_version: int | None,
            actor_name: str | None, role: str | None, idempotency_key: str | None, database: str | None,
            as_json: bool, effective: datetime | None = None) -> None:
    """Move proposal ID along its workflow by firing TRIGGER.

    Refused, with every reason and the steps allowed now, when the trigger does not lead out
    of the current state, your role may not fire it, a required field is missing, or a
    comment is needed. Nothing is written then.

    \b
    Example:
      flowengine advance INN-7 send_to_council --set expected_benefit="Less isolation" --as kari --role panel
    """
    from flowengine.definition.fields import parse_assignments

    who = actor(actor_name, role)
    values = parse_assignments(assignments)
    with open_engine(database) as engine:
        result = engine.advance(proposal_id, trigger, actor=who, comment=comment, fields=values,
                                expected_version=expect_version, idempotency_key=idempotency_key, at=effective)
    moved = result.proposal
    if as_json:
        click.echo(to_json({**moved.as_dict(), "event": result.event.as_dict() if result.event else None,
                            "repeated": result.repeated}))
        return
    event = result.event
    source = event.from_state if event else "?"
    from flowengine.i18n import t

    again = " (" + t("already done by an earlier run with this key") + ")" if result.repeated else ""
    click.echo(f"{moved.id}: {trigger}: {source} → {event.to_state if event else moved.state}{again}")


@click.command(cls=Command)
@click.argument("proposal_id", metavar="ID", shell_complete=complete.proposal_ids)
@click.argument("text")
@expect_version_option
@identity_options
@effective_option
@idempotency_option
@database_option
@json_option
def note(proposal_id: str, text: str, expect_version: int | None, actor_name: str | None, role: str | None,
         idempotency_key: str | None, database: str | None, as_json: bool, effective: datetime | None = None) -> None:
    """Record in proposal ID's history something heard of it that moves nothing.

    A note changes no state, field or deadline, but it is a record of that moment: a proposal
    over its deadline counts as stalled (known to be waiting) only when something was recorded
    after its deadline ran out; without any record since, it has gone quiet, which is a gap in
    the records and not proof that anyone failed to act.

    \b
    Example:
      flowengine note INN-7 "Asked the committee's secretary: still waiting for the June meeting" \\
          --as kari --role project_leader
    """
    who = actor(actor_name, role)
    with open_engine(database) as engine:
        result = engine.note(proposal_id, text, actor=who, expected_version=expect_version,
                             idempotency_key=idempotency_key, at=effective)
    if as_json:
        click.echo(to_json({**result.proposal.as_dict(), "event": result.event.as_dict() if result.event else None,
                            "repeated": result.repeated}))
        return
    from flowengine.i18n import t

    again = " (" + t("already recorded by an earlier run with this key") + ")" if result.repeated else ""
    click.echo(t("{proposal}: noted in {state} (version {version})", proposal=result.proposal.id,
                 state=result.proposal.state, version=result.proposal.version) + again)
