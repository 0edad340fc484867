"""``flowengine tick``: apply due escalations and hand out due reminders; for cron."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from . import completion as complete
from .checkpoints import key_option, signer
from .helptext import Command
from .options import MOMENT, database_option, json_option
from .session import open_engine
from .views import to_json

if TYPE_CHECKING:
    from flowengine.service.deadlines import TickReport


@click.command(cls=Command)
@click.option("--as-of", "as_of", metavar="DATE", type=MOMENT,
              help="Apply what was due by the end of this day (YYYY-MM-DD) instead of by now; proposals with a "
                   "step after it are left alone. With --dry-run it may lie ahead.")
@click.option("--dry-run", is_flag=True, help="Write nothing: list what would be escalated and reminded.")
@click.option("--workflow", help="Only proposals under this workflow id.", shell_complete=complete.workflow_ids)
@click.option("--checkpoint-dir", "checkpoint_dir", metavar="DIR",
              type=click.Path(file_okay=False, exists=True, path_type=Path),
              help="After the run, write a signed checkpoint of every chain into DIR (named after its time), "
                   "so cron keeps a series; needs --checkpoint-key.")
@key_option("--checkpoint-key")
@database_option
@json_option
def tick(as_of: datetime | None, dry_run: bool, workflow: str | None, checkpoint_dir: Path | None, key: Path | None,
         database: str | None, as_json: bool) -> None:
    """Apply due escalations and hand out due reminders, each exactly once.

    What is due is worked out from the stored history, never from timers, so tick is safe to run
    from cron as often as you like, even twice at once: a second run finds nothing new.
    Escalations are recorded as steps by the actor 'system', dated when they fell due.
    Reminders are listed (--json for a mail script) and recorded, so none is handed out twice.

    \b
    With --checkpoint-dir, each run that writes also leaves a signed checkpoint in that folder
    (see `flowengine audit checkpoint`); a dry run writes none.

    \b
    Example:
      flowengine tick --json > reminders.json
      flowengine tick --checkpoint-dir /srv/checkpoints --checkpoint-key /etc/flowengine/checkpoint.key
    """
    sign_with = signer(key) if checkpoint_dir is not None and not dry_run else None
    written: Path | None = None
    with open_engine(database, read_only=dry_run) as engine:
        report = engine.tick(as_of=as_of, dry_run=dry_run, workflow=workflow)
        if sign_with is not None and checkpoint_dir is not None:
            from flowengine.proof.checkpoint import write_in

            written = write_in(engine.checkpoint(sign_with), checkpoint_dir)
    if as_json:
        click.echo(to_json({**report.as_dict(), "workflow": workflow,
                            **({"checkpoint": str(written)} if written else {})}))
    else:
        click.echo(report_text(report, workflow))
        if written:
            from flowengine.i18n import t

            click.echo(t("checkpoint written: {file}", file=written))


def report_text(report: TickReport, workflow: str | None) -> str:
    from flowengine.clock import local_text
    from flowengine.i18n import t, tn

    from .terminal import table

    would = report.dry_run
    moment = local_text(report.as_of)
    if workflow:
        head = tn("as of {moment}: {n} open proposal under {workflow} checked",
                  "as of {moment}: {n} open proposals under {workflow} checked", report.checked,
                  moment=moment, workflow=workflow)
    else:
        head = tn("as of {moment}: {n} open proposal checked", "as of {moment}: {n} open proposals checked",
                  report.checked, moment=moment)
    lines = [head + (t(" (dry run: nothing written)") if would else "")]
    if report.escalations:
        count = len(report.escalations)
        heading = (tn("{n} escalation due:", "{n} escalations due:", count) if would
                   else tn("{n} escalation applied:", "{n} escalations applied:", count))
        lines += ["", heading, table(
            [t("proposal"), t("from"), t("to"), t("trigger"), t("after"), t("due")],
            [(e.proposal, e.from_state, e.to_state, e.trigger, e.after, local_text(e.due))
             for e in report.escalations])]
    if report.reminders:
        count = len(report.reminders)
        heading = (tn("{n} reminder due:", "{n} reminders due:", count) if would
                   else tn("{n} reminder handed out:", "{n} reminders handed out:", count))
        after, due = t("after"), t("due")
        lines += ["", heading, table(
            [t("proposal"), t("state"), t("owner"), t("waiting"), after, due, t("title")],
            [(r.proposal, r.state, r.owner, tn("{n} day", "{n} days", int(r.waiting_days)), r.after,
              local_text(r.due), r.title) for r in report.reminders], optional=(after, due))]
    if not report.changed:
        lines.append(t("nothing due: no escalation or reminder") if would
                     else t("nothing due: no escalation or reminder was written"))
    for blocked in report.blocked:
        lines.append(t("{proposal}: the escalation '{trigger}' out of {state} cannot fire: {reasons}",
                       proposal=blocked.proposal, trigger=blocked.trigger, state=blocked.state,
                       reasons="; ".join(blocked.reasons)))
    if report.left_alone:
        lines.append(t("left alone (changed after the as-of moment): {proposals}",
                       proposals=", ".join(report.left_alone)))
    if report.unfinished:
        lines.append(t("more escalations due than one run applies: {proposals}; run tick again",
                       proposals=", ".join(report.unfinished)))
    return "\n".join(lines)
