"""``flowengine import``: an event log (CSV or XES) of past proposals, as histories under a workflow.

(Not ``import.py``: ``import`` is a Python keyword, and the module must be importable.)
"""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

import click

from flowengine.eventlog.formats import import_format_names
from flowengine.suggest import either

from . import completion as complete
from .helptext import Command
from .meter import terminal_meter
from .options import CHECK_LOG_COLUMNS, database_option, json_option, quiet_option, workflows_option
from .session import open_engine
from .terminal import spooled_standard_input
from .views import to_json

if TYPE_CHECKING:
    from flowengine.eventlog.importer import ImportReport

EXIT_REJECTED = 1


@click.command("import", cls=Command)
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
@click.option("--raw-cells", is_flag=True,
              help="CSV: read every cell as it is. By default an apostrophe that flowengine export put before a "
                   "cell beginning with =, +, -, @, a tab or a carriage return is taken off again; give this for "
                   "a log written with export --raw-cells.")
@click.option("--dry-run", is_flag=True, help="Check every case and say what would be imported; write nothing.")
@click.option("--keep-going", is_flag=True,
              help="Import the cases that fit and leave out the others, listing each of their problems in the "
                   "rejects file (without it, one case that does not fit stops the whole import).")
@click.option("--rejects", "rejects_path", metavar="FILE", type=click.Path(dir_okay=False),
              help="With --keep-going: where to list what did not fit (default: LOG.rejects.csv, or .json with "
                   "--json, in the current folder).")
@quiet_option
@workflows_option
@database_option
@json_option
def import_log(path: str, workflow: str, fmt: str | None, mappings: tuple[str, ...], actor: str | None,
               role: str | None, assume_utc: bool, raw_cells: bool, dry_run: bool, keep_going: bool,
               rejects_path: str | None, quiet: bool, workflow_dirs: tuple[str, ...], database: str | None,
               as_json: bool) -> None:
    """Import FILE, an event log (CSV, XES or OCEL 2.0 JSON, plain or .gz), as proposals with
    their histories under workflow WF (FILE - reads standard input; then give --format).

    Each case becomes a proposal; each event's activity names the state it entered (a state's
    id or label), reached by the transition the workflow declares; events are taken in time
    order. flowengine's own export is rebuilt exactly, hashes and all. The whole file is one
    transaction: every row that does not fit is listed (file:line or trace and event, case,
    why) and nothing is written — or, with --keep-going, the cases that fit are imported and the
    others listed in a rejects file. Either way the fitness is given: the share of cases and of
    events that fit. Importing the same cases twice is refused. No workflow yet? Draft one from
    the log with 'flowengine workflow discover'.

    \b
    Example:
      flowengine import tests/fixtures/eventlogs/roadtraffic100traces.xes \\
          --workflow road-traffic-fines --workflows examples/eventlogs --actor police-office
      flowengine import cases.csv -w innovation-chain --map "Case ID=case" --map "Step=activity" \\
          --map "Date=timestamp" --actor archive --role project_leader --dry-run
      flowengine import helpdesk.csv.gz -w draft.yaml --keep-going --rejects helpdesk-rejects.csv
    """
    from flowengine.eventlog.importer import LogRejected, import_log, parse_mapping
    from flowengine.i18n import t

    mapping = parse_mapping(mappings)
    if rejects_path is not None and not keep_going:
        raise click.UsageError(t("--rejects lists what --keep-going leaves out; give --keep-going too"))
    with contextlib.ExitStack() as stack:
        if path == "-":
            if fmt is None:
                raise click.UsageError(t("reading the log from standard input, say its format: --format {formats}",
                                         formats=either(import_format_names())))
            spool = stack.enter_context(tempfile.TemporaryDirectory(prefix="flowengine-import-"))
            path = str(spooled_standard_input(Path(spool)))
        engine = stack.enter_context(open_engine(database, workflow_dirs))
        rejects = None
        if keep_going:
            from flowengine.eventlog.rejects import rejects_file

            target = Path(rejects_path) if rejects_path else _default_rejects(path, as_json)
            rejects = stack.enter_context(rejects_file(target, "json" if as_json or target.suffix == ".json"
                                                       else "csv", Path(path).name))
        meter = stack.enter_context(terminal_meter(t("importing"), None, quiet=quiet))
        try:
            report = import_log(engine, path, workflow, fmt=fmt, mapping=mapping, actor=actor, role=role,
                                assume_utc=assume_utc, dry_run=dry_run, meter=meter, keep_going=keep_going,
                                rejects=rejects, raw_cells=raw_cells)
        except LogRejected as rejected:
            if as_json:
                click.echo(to_json({"ok": False, "count": rejected.count,
                                    "problems": [p.as_dict() for p in rejected.problems],
                                    "fitness": rejected.fitness.as_dict() if rejected.fitness else None}))
            else:
                for problem in rejected.problems:
                    click.echo(problem.format(), err=True)
                if rejected.count > len(rejected.problems):
                    click.echo(t("… and {n} more", n=rejected.count - len(rejected.problems)), err=True)
            from .remedies import with_hint

            click.echo(t("error: {message}", message=with_hint(rejected.summary, rejected.remedies)), err=True)
            raise SystemExit(EXIT_REJECTED) from None
        if rejects is not None:
            rejects.close({"fitness": report.fitness.as_dict() if report.fitness else None})
    written = str(target) if rejects is not None and report.problems else None
    if not written and rejects is not None:
        target.unlink(missing_ok=True)  # nothing was left out: no rejects file
    if as_json:
        click.echo(to_json({"ok": True, **report.as_dict(), "rejects": written}))
        return
    _say(report, written)


def _default_rejects(path: str, as_json: bool) -> Path:
    """``helpdesk.csv.gz`` → ``helpdesk.rejects.csv`` (or ``.json``) in the current folder."""
    from flowengine.eventlog.sources import strip_compression

    stem = Path(strip_compression(Path(path).name)).stem.lstrip("<").rstrip(">") or "log"
    return Path.cwd() / f"{stem}.rejects.{'json' if as_json else 'csv'}"


def _say(report: ImportReport, rejects: str | None) -> None:
    from flowengine.clock import local_text
    from flowengine.i18n import active, t, tn
    from flowengine.i18n.formats import number

    def count(n: int) -> str:
        return number(n, active())

    span = (f" ({report.first_id} … {report.last_id})" if report.first_id and report.first_id != report.last_id
            else f" ({report.first_id})" if report.first_id else "")
    cases = tn("{count} case", "{count} cases", report.cases, count=count(report.cases))
    events = tn("{count} event", "{count} events", report.events, count=count(report.events))
    done = (t("would import {cases}, {events} from {log} under {workflow}{span}") if report.dry_run
            else t("imported {cases}, {events} from {log} under {workflow}{span}"))
    click.echo(done.format(cases=cases, events=events, log=report.log, workflow=report.workflow, span=span))
    if report.fitness is not None:
        click.echo(t("fitness: {fitness}", fitness=report.fitness.text()))
        left_out = report.fitness.cases - report.fitness.cases_fit
        if left_out or rejects:
            click.echo(tn("left out {count} case that does not fit: {problems} listed in {file}",
                          "left out {count} cases that do not fit: {problems} listed in {file}", left_out,
                          count=count(left_out), file=rejects,
                          problems=tn("{count} problem", "{count} problems", report.problems,
                                      count=count(report.problems))))
    if report.skipped:
        click.echo(tn("skipped {count} event whose lifecycle is not 'complete'",
                      "skipped {count} events whose lifecycle is not 'complete'", report.skipped,
                      count=count(report.skipped)))
    if report.first_at and report.last_at:
        click.echo(t("events from {first} to {last}", first=local_text(report.first_at),
                     last=local_text(report.last_at)))
    if report.dry_run:
        click.echo(t("dry run: nothing was written"))
    if report.long_past and report.last_at is not None and report.imported_at is not None:
        newest = local_text(report.last_at)[:10]
        click.echo(t("note: the newest event is {newest}, long before today ({today}); reports default to today, "
                     "so every case still open would wait since then — pass --as-of {newest} to read the log as "
                     "it stood at its end", newest=newest, today=local_text(report.imported_at)[:10]))
