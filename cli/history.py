"""``flowengine history`` and ``flowengine audit``: what happened, and proof that it was not rewritten."""

from __future__ import annotations

import click

from .options import as_of_option, database_option, json_option
from .session import moment, open_engine
from .views import history_table, to_json

EXIT_DAMAGED = 1


@click.command()
@click.argument("proposal_id", metavar="ID")
@as_of_option
@database_option
@json_option
def history(proposal_id: str, as_of: str | None, database: str | None, as_json: bool) -> None:
    """Every step of proposal ID, oldest first: who did what, when, and why.

    \b
    Example:
      flowengine history INN-7 --as-of 2019-06-30
    """
    from flowengine.history.records import FROM_KEY

    when = moment(as_of)
    with open_engine(database) as engine:
        proposal, events = engine.history(proposal_id, as_of=when)
        led_to = engine.led_to(proposal.id, as_of=when)
    came_from = events[0].details.get(FROM_KEY) if events else None
    if as_json:
        click.echo(to_json({"proposal": proposal.id, "title": proposal.title, "from": came_from,
                            "led_to": [p.id for p in led_to], "events": [event.as_dict() for event in events]}))
        return
    click.echo(f"{proposal.id}  {proposal.title}")
    if came_from:
        click.echo(f"came from  {came_from} (flowengine history {came_from})")
    if led_to:
        click.echo("led to     " + ", ".join(f"{p.id} ({p.workflow}, {p.state})" for p in led_to))
    click.echo(history_table(events))


@click.group()
def audit() -> None:
    """Check that the history has not been rewritten.

    \b
    Example:
      flowengine audit verify
    """


@audit.command()
@database_option
@json_option
def verify(database: str | None, as_json: bool) -> None:
    """Walk every proposal's hash chain; report the first broken link of each damaged one.

    Exit code 0 when every chain holds, 1 when any is broken.

    \b
    Example:
      flowengine audit verify --db /srv/flowengine/flowengine.db
    """
    with open_engine(database) as engine:
        report = engine.verify()
    if as_json:
        click.echo(to_json(report.as_dict()))
    else:
        for broken in report.breaks:
            where = f"event {broken.seq}" if broken.seq is not None else "history"
            click.echo(f"{broken.proposal}: {where}: {broken.problem}")
        for definition in report.altered_definitions:
            click.echo(f"definition {definition}: its text does not match its hash (altered in the database)")
        verdict = "every chain holds" if report.ok else (
            f"{len(report.breaks)} damaged proposal(s), {len(report.altered_definitions)} altered definition(s)")
        click.echo(f"{report.proposals} proposal(s), {report.events} event(s) checked: {verdict}", err=True)
    if not report.ok:
        raise SystemExit(EXIT_DAMAGED)
