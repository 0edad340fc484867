"""``flowengine import``: an event log (CSV or XES) of past proposals, as histories under a workflow.

(Not ``import.py``: ``import`` is a Python keyword, and the module must be importable.)
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import click

from flowengine.eventlog.formats import import_format_names

from . import completion as complete
from .meter import terminal_meter
from .options import CHECK_LOG_COLUMNS, database_option, json_option, quiet_option, workflows_option
from .session import open_engine
from .terminal import spooled_standard_input
from .views import to_json

EXIT_REJECTED = 1


@click.command("import")
@click.argument("path", metavar="FILE", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--workflow", "-w", "workflow", required=True, metavar="WF", shell_complete=complete.workflow_ids,
              help="The workflow the cases ran under (an id or a .yaml file).")
@click.option("--format", "fmt", type=click.Choice(import_format_names()),
              help="The log's format (default: from the file name's suffix).")
@click.option("--map", "mappings", multiple=True, metavar="COLUMN=MEANING", callback=CHECK_LOG_COLUMNS,
              help="What a column means (repeatable): case, activity, timestamp, actor, role, trigger, comment, "
                   "title or lifecycle. Standard XES names need none.")
@click.option("--actor", metavar="NAME", help="Who acted, for events whose log names nobody (org:resource empty).")
@click.option("--role", metavar="ROLE", help="The role they acted in, for events without org:role; one of the "
                                             "workflow's roles (default: its only role, when it has one).")
@click.option("--assume-utc", is_flag=True, help="Read timestamps without a UTC offset as UTC (else refused).")
@click.option("--dry-run", is_flag=True, help="Check every case and say what would be imported; write nothing.")
@quiet_option
@workflows_option
@database_option
@json_option
def import_log(path: str, workflow: str, fmt: str | None, mappings: tuple[str, ...], actor: str | None,
               role: str | None, assume_utc: bool, dry_run: bool, quiet: bool, workflow_dirs: tuple[str, ...],
               database: str | None, as_json: bool) -> None:
    """Import FILE, an event log, as proposals with their histories under workflow WF (FILE -
    reads standard input; then give --format).

    Each case becomes a proposal; each event's activity names the state it entered (a state's
    id or label), reached by the transition the workflow declares; events are taken in time
    order. flowengine's own export is rebuilt exactly, hashes and all. The whole file is one
    transaction: every row that does not fit is listed (file:line or trace and event, case,
    why) and nothing is written. Importing the same cases twice is refused.

    \b
    Example:
      flowengine import tests/fixtures/eventlogs/roadtraffic100traces.xes \\
          --workflow road-traffic-fines --workflows examples/eventlogs --actor police-office
      flowengine import cases.csv -w innovation-chain --map "Case ID=case" --map "Step=activity" \\
          --map "Date=timestamp" --actor archive --role project_leader --dry-run
    """
    from flowengine.eventlog.importer import LogRejected, import_log, parse_mapping

    mapping = parse_mapping(mappings)
    with contextlib.ExitStack() as stack:
        if path == "-":
            if fmt is None:
                raise click.UsageError("reading the log from standard input, say its format: --format csv or xes")
            spool = stack.enter_context(tempfile.TemporaryDirectory(prefix="flowengine-import-"))
            path = str(spooled_standard_input(Path(spool)))
        engine = stack.enter_context(open_engine(database, workflow_dirs))
        meter = stack.enter_context(terminal_meter("importing", None, quiet=quiet))
        try:
            report = import_log(engine, path, workflow, fmt=fmt, mapping=mapping, actor=actor, role=role,
                                assume_utc=assume_utc, dry_run=dry_run, meter=meter)
        except LogRejected as rejected:
            if as_json:
                click.echo(to_json({"ok": False, "count": rejected.count,
                                    "problems": [p.as_dict() for p in rejected.problems]}))
            else:
                for problem in rejected.problems:
                    click.echo(problem.format(), err=True)
                if rejected.count > len(rejected.problems):
                    click.echo(f"… and {rejected.count - len(rejected.problems)} more", err=True)
            from .remedies import with_hint

            click.echo(f"error: {with_hint(rejected.summary, rejected.remedies)}", err=True)
            raise SystemExit(EXIT_REJECTED) from None
    if as_json:
        click.echo(to_json({"ok": True, **report.as_dict()}))
        return
    span = (f" ({report.first_id} … {report.last_id})" if report.first_id and report.first_id != report.last_id
            else f" ({report.first_id})" if report.first_id else "")
    verb = "would import" if report.dry_run else "imported"
    click.echo(f"{verb} {report.cases:,} case(s), {report.events:,} event(s) from {report.log} under "
               f"{report.workflow}{span}")
    if report.skipped:
        click.echo(f"skipped {report.skipped:,} event(s) whose lifecycle is not 'complete'")
    if report.first_at and report.last_at:
        from flowengine.clock import local_text

        click.echo(f"events from {local_text(report.first_at)} to {local_text(report.last_at)}")
    if report.dry_run:
        click.echo("dry run: nothing was written")
