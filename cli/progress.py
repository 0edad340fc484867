"""``flowengine progress``: how far an implementation has come, recorded like any step."""

from __future__ import annotations

import click

from . import completion as complete
from .helptext import Command
from .options import DAY, database_option, expect_version_option, idempotency_option, identity_options, json_option
from .session import actor, open_engine
from .views import to_json


@click.command(cls=Command)
@click.argument("proposal_id", metavar="ID", shell_complete=complete.proposal_ids)
@click.argument("percent", metavar="PERCENT")
@click.option("--note", default="", help="What was done since the last record, or what holds it up.")
@click.option("--milestone", metavar="NAME", help='A milestone reached, e.g. "Lease signed".')
@click.option("--milestone-date", "milestone_date", metavar="YYYY-MM-DD", type=DAY,
              help="When the milestone was reached.")
@expect_version_option
@identity_options
@idempotency_option
@database_option
@json_option
def progress(proposal_id: str, percent: str, note: str, milestone: str | None, milestone_date: str | None,
             expect_version: int | None, actor_name: str | None, role: str | None, idempotency_key: str | None,
             database: str | None, as_json: bool) -> None:
    """Record how far proposal ID's implementation has come: PERCENT, a whole number from 0 to 100,
    or "partly" when part of it is known to be done but no share is.

    Only while the proposal is in a state of stage implementation. Every record restarts that
    state's deadline, so an implementation counts as overdue (stalled) only when no progress has
    been recorded for longer than its deadline. Nothing is written when the input is refused.

    \b
    Example:
      flowengine progress INN-7 40% --note "Premises found" --milestone "Lease signed" \\
          --milestone-date 2024-05-01 --as kari --role service
      flowengine progress INN-7 partly --note "The hub is open two days a week" --as kari --role service
    """
    who = actor(actor_name, role)
    with open_engine(database) as engine:
        result = engine.record_progress(proposal_id, percent, actor=who, note=note, milestone=milestone,
                                        milestone_date=milestone_date, expected_version=expect_version,
                                        idempotency_key=idempotency_key)
        standing = None if as_json else engine.standing(result.proposal.id)  # for when it now falls due
    recorded = result.proposal
    event = result.event
    if as_json:
        click.echo(to_json({**recorded.as_dict(), "event": event.as_dict() if event else None,
                            "repeated": result.repeated}))
        return
    from flowengine.clock import local_text
    from flowengine.i18n import t

    details = event.details if event else {}
    reached = t(", milestone '{milestone}'", milestone=details["milestone"]) if details.get("milestone") else ""
    again = t(" (already recorded by an earlier run with this key)") if result.repeated else ""
    share = t("in part") if details.get("percent") is None else f"{details['percent']} %"
    click.echo(t("{proposal}: progress {share} in {state}{milestone}{again}", proposal=recorded.id, share=share,
                 state=recorded.state, milestone=reached, again=again))
    if standing and standing.due_at is not None and event is not None and standing.clock_started_at == event.at:
        click.echo(t("deadline {deadline} counts from this record: due {due}", deadline=standing.deadline,
                     due=local_text(standing.due_at)))
