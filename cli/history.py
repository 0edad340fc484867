"""``flowengine history`` and ``flowengine audit``: what happened, and proof that it was not rewritten."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from . import checkpoints
from . import completion as complete
from .checkpoints import checkpoint_files_option, conversion_files_option, public_key_option
from .converting import convert_personal
from .helptext import Command, Group
from .options import as_of_option, database_option, json_option
from .session import open_engine, read_quickly
from .terminal import fit, output_options
from .views import audit_text, history_table, to_json

EXIT_DAMAGED = 1


@click.command(cls=Command)
@click.argument("proposal_id", metavar="ID", shell_complete=complete.proposal_ids)
@as_of_option
@database_option
@json_option
@output_options
def history(proposal_id: str, as_of: datetime | None, database: str | None, as_json: bool) -> None:
    """Every step of proposal ID, oldest first: who did what, when, and why.

    \b
    Example:
      flowengine history INN-7 --as-of 2019-06-30
    """
    from flowengine.history.records import FROM_KEY
    from flowengine.service import quick_reads

    found = read_quickly(lambda replica: quick_reads.history(database, proposal_id, as_of=as_of, replica=replica))
    if found is None:
        with open_engine(database, read_only=True) as engine:
            proposal, events = engine.history(proposal_id, as_of=as_of)
            led_to = engine.led_to(proposal.id, as_of=as_of)
    else:
        proposal, events, led_to = found
    came_from = events[0].details.get(FROM_KEY) if events else None
    if as_json:
        click.echo(to_json({"proposal": proposal.id, "title": proposal.title, "from": came_from,
                            "led_to": [p.id for p in led_to], "events": [event.as_dict() for event in events]}))
        return
    from flowengine.i18n import t

    click.echo(fit(f"{proposal.id}  {proposal.title}"))
    labels = {"came": t("came from"), "led": t("led to")}
    width = max(len(label) for label in labels.values()) + 1
    if came_from:
        click.echo(fit(f"{labels['came']:<{width}} {came_from} (flowengine history {came_from})"))
    if led_to:
        click.echo(fit(f"{labels['led']:<{width}} " + ", ".join(f"{p.id} ({p.workflow}, {p.state})" for p in led_to)))
    click.echo(history_table(events))


@click.group(cls=Group)
def audit() -> None:
    """Check that the history has not been rewritten.

    \b
    Example:
      flowengine audit verify
    """


@audit.command()
@checkpoint_files_option
@conversion_files_option
@public_key_option
@database_option
@json_option
def verify(checkpoint_files: tuple[Path, ...], conversion_files: tuple[Path, ...], public_key: Path | None,
           database: str | None, as_json: bool) -> None:
    """Walk every proposal's hash chain; report the first broken link of each damaged one.

    With --checkpoint, also prove against checkpoints taken before that nothing they recorded was
    changed, removed or reordered since, by anyone, the database's owner included. A history
    converted into the erasable form since is held to them through its conversion record
    (--conversion, or found in a checkpoint folder).

    Exit code 0 when every chain holds, 1 when any is broken.

    \b
    Example:
      flowengine audit verify --db /srv/flowengine/flowengine.db --checkpoint checkpoints/
    """
    from flowengine.i18n import t

    if (conversion_files or public_key) and not checkpoint_files:
        given = "--conversion" if conversion_files else "--public-key"
        raise click.UsageError(t("{option} is read against checkpoints; give --checkpoint FILE|DIR too",
                                 option=given))
    with open_engine(database, read_only=True) as engine:
        report = engine.verify()
        held = (checkpoints.check(engine, checkpoint_files, public_key, conversion_files) if checkpoint_files
                else None)
    if as_json:
        click.echo(to_json({**report.as_dict(), **({"checkpoints": held.as_dict()} if held else {})}))
    else:
        findings, verdict = audit_text(report)
        if held:
            more, held_verdict = checkpoints.report_text(held)
            findings, verdict = findings + more, f"{verdict}\n{held_verdict}"
        for line in findings:
            click.echo(line)
        click.echo(verdict, err=True)
    if not report.ok or (held and not held.ok):
        raise SystemExit(EXIT_DAMAGED)


audit.add_command(checkpoints.keygen)
audit.add_command(checkpoints.checkpoint)
audit.add_command(checkpoints.prove)
audit.add_command(convert_personal)
