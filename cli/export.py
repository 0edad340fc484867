"""``flowengine export``: the whole history as an event log for process-mining tools."""

from __future__ import annotations

import io
import sys

import click

from flowengine.eventlog.formats import export_format_names

from .helptext import Command
from .meter import terminal_meter
from .options import database_option, quiet_option, read_database_option, workflow_filter_option
from .session import open_engine


@click.command(cls=Command)
@click.option("--format", "fmt", type=click.Choice(export_format_names()), default=None,
              help="The log's format: {export_formats} (default: from -o's suffix, else csv).")
@workflow_filter_option
@click.option("--pseudonymise", is_flag=True,
              help="Actors become person-1, person-2… and free text is left out (titles, descriptions, "
                   "origins, comments, progress notes and milestones, text and URL field values, "
                   "idempotency keys), and so are the hashes; states, roles, times, numbers, dates and "
                   "choices stay.")
@click.option("--steps-only", is_flag=True,
              help="Only creations and steps (kinds created and advanced): events that leave the state "
                   "unchanged would show as self-loops in a directly-follows graph and cut sojourn times.")
@click.option("--raw-cells", is_flag=True,
              help="CSV: write cells that begin with =, +, -, @, a tab or a carriage return as they are. "
                   "By default such a cell starts with an apostrophe, so a spreadsheet shows it as text "
                   "instead of running it as a formula; flowengine import takes the apostrophe off again.")
@click.option("-o", "--output", metavar="FILE",
              help="Write to FILE (replaced only once the log is complete; gzip-compressed when it ends in .gz); "
                   "- or none: standard output.")
@quiet_option
@database_option
@read_database_option
def export(fmt: str | None, workflows: tuple[str, ...], pseudonymise: bool, steps_only: bool, raw_cells: bool,
           output: str | None, quiet: bool, database: str | None) -> None:
    """Write every event of every proposal as an event log (CSV, XES or OCEL 2.0 JSON).

    One case per proposal, its events in order; an event's activity is the state the proposal
    is in after it, so field changes, progress and reminders repeat their state's activity
    (use --steps-only for a directly-follows or sojourn-time analysis). The flowengine:*
    attributes carry the rest of each event, so the log can be read back exactly.

    \b
    Example:
      flowengine export --format xes --steps-only -o interreg.xes
      flowengine export --steps-only -o interreg.xes.gz
      flowengine export --format csv --pseudonymise --workflow innovation-chain > events.csv
    """
    from flowengine.eventlog.export import ExportOptions, export_log, export_to_file, format_of, planned_units
    from flowengine.i18n import t

    options = ExportOptions(workflows=workflows, pseudonymise=pseudonymise, steps_only=steps_only,
                            raw_cells=raw_cells)
    output = None if output == "-" else output
    fmt = fmt or (format_of(output) if output else None) or "csv"
    with open_engine(database, read_only=True) as engine:
        total = planned_units(engine.database, fmt, options)
        with terminal_meter(t("Exporting"), total, quiet=quiet) as meter:
            if output:
                written = export_to_file(engine.database, output, fmt, options, meter=meter)
            else:
                stdout = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
                try:
                    written = export_log(engine.database, stdout, fmt, options, meter=meter)
                finally:
                    stdout.flush()
                    stdout.detach()
    if output and not quiet:
        from flowengine.i18n import tn

        click.echo(tn("{n} event written to {file}", "{n} events written to {file}", written, file=output), err=True)
