"""``flowengine stalls``: where ideas stall — the report, the stall diagram, the comparison."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from flowengine.i18n import t
from flowengine.suggest import either
from flowengine.views.formats import diagram_suffixes, report_format_names

from . import completion as complete
from .helptext import Group
from .options import (
    as_of_option,
    database_option,
    language_option,
    quiet_option,
    read_database_option,
    workflows_option,
)
from .session import open_engine
from .terminal import output_options, table_width

if TYPE_CHECKING:
    from flowengine.analysis.figures import Analysis, Privacy
    from flowengine.analysis.provenance import Marks
    from flowengine.views.sections import Section

F = TypeVar("F", bound=Callable[..., Any])


def privacy_options(func: F) -> F:
    """--publish, --roles-only and --min-count, handed to the command as one ``privacy``."""
    from functools import wraps

    @wraps(func)
    def with_privacy(*args: Any, publish: bool, roles_only: bool, min_count: int | None, **kwargs: Any) -> Any:
        from dataclasses import replace

        from .startup import loading

        with loading():  # the definition model and the figures, the first of the analysis modules
            from flowengine.analysis.figures import Privacy

        chosen = Privacy.publication() if publish else Privacy(roles_only=roles_only)
        if min_count is not None:
            chosen = replace(chosen, min_count=min_count)
        return func(*args, privacy=chosen, **kwargs)

    decorated: Any = click.option("--min-count", "min_count", type=click.IntRange(0, 1000), default=None,
                                  metavar="N", help="Hide counts below N, and figures resting on fewer than N "
                                                    "stays (default 3 with --publish, else 0).")(with_privacy)
    decorated = click.option("--roles-only", is_flag=True, help="Show who acted by role only, never by name.")(
        decorated)
    decorated = click.option("--publish", is_flag=True,
                             help="For publication: roles only, and counts below 3 hidden.")(decorated)
    return cast(F, decorated)


def analysis_options(func: F) -> F:
    """What every ``stalls`` command reads and shows the analysis with, in this order: the privacy
    options, --lang, --db, --read-db, --workflows and --quiet."""
    for option in (quiet_option, workflows_option, read_database_option, database_option, language_option,
                   privacy_options):
        func = option(func)
    return func


def format_option(func: F) -> F:
    return click.option("--format", "fmt", type=click.Choice(report_format_names()), default="table",
                        show_default=True, help="How to write the tables: {report_formats}.")(func)


def _report_format(fmt: str, output: str | None) -> str:
    """The format to write: a file's suffix picks it (-o report.md: Markdown), and --format must
    agree with it; a web page is refused (the published report is a site: flowengine report)."""
    if output is None or output == "-":
        return fmt
    from flowengine.views.formats import SITE_SUFFIXES, report_format_of, report_suffixes

    chosen = click.get_current_context().get_parameter_source("fmt") is not click.core.ParameterSource.DEFAULT
    suffix = Path(output).suffix.lower()
    if suffix in SITE_SUFFIXES:
        raise click.BadParameter(t("'{file}': the stall report is not a web page; build the published report, a "
                                   "site readable in any browser, with: {command}", file=output,
                                   command="flowengine report --out DIR"), param_hint="-o")
    named = report_format_of(Path(output))
    if named is None and not chosen:
        raise click.BadParameter(t("'{file}' names no report format; end it in one of {suffixes}, or give {option}",
                                   file=output, suffixes=either(report_suffixes()), option="--format"),
                                 param_hint="-o")
    if named is not None and chosen and named != fmt:
        raise click.BadParameter(t("'{file}' is a {named} file but {option} is {chosen}; drop one or make them "
                                   "agree", file=output, named=named, option="--format", chosen=fmt), param_hint="-o")
    return named or fmt


def _publishable(analyses: list[Analysis], privacy: Privacy) -> tuple[Privacy, frozenset[str] | None]:
    """With --publish (or --min-count): which counts to hide, small ones and as many others as it
    takes that none can be worked out, and whose proposals may be listed one by one."""
    from flowengine.analysis.disclosure import for_publication

    return for_publication(analyses, privacy)


def _analyses(database: str | None, workflow_dirs: tuple[str, ...], workflows: tuple[str, ...],
              as_of: datetime | None, quiet: bool) -> tuple[list[Analysis], str | None]:
    """Every named workflow's analysis, and what a report must say when it defaulted to today
    but the history ended long ago; a progress bar on a terminal unless ``quiet``: a log of a
    million events takes a second or more."""
    analyses, _, _, note = _marked_analyses(database, workflow_dirs, workflows, as_of, quiet, marks=False)
    return analyses, note


def _marked_analyses(database: str | None, workflow_dirs: tuple[str, ...], workflows: tuple[str, ...],
                     as_of: datetime | None, quiet: bool, *, marks: bool = True, language: str = "en"
                     ) -> tuple[list[Analysis], dict[str, Marks], list[Section], str | None]:
    """The analyses; for histories rebuilt from a source, which kind of step each figure rests
    on; where proposals came from others (an audit's findings), that lineage as a section; and
    what a report must say when it defaulted to today but the history ended long ago."""
    from flowengine.store.aggregates import PHASES
    from flowengine.views.figure_wording import as_of_note

    from .meter import terminal_meter
    from .remedies import option

    total = PHASES + len(set(workflows)) if workflows else None
    with open_engine(database, workflow_dirs, read_only=True) as engine, \
            terminal_meter(t("analysing"), total, quiet=quiet) as meter:
        analyses = engine.analyse(workflows, as_of=as_of, meter=meter)
        newest = engine.newest_step(workflows) if as_of is None and analyses else None
        found = engine.provenance_marks(analyses) if marks and analyses else {}
        lineage = engine.lineage([a.workflow.id for a in analyses], as_of=as_of, language=language) if (
            marks and analyses) else []
    if not analyses:
        from flowengine.errors import InvalidInput

        raise InvalidInput(t("there are no proposals yet, so nothing can stall; register one with {command}",
                             command="'flowengine proposal new'"))
    extra: list[Section] = []
    if lineage:
        from flowengine.views.histories import lineage_section

        extra.append(lineage_section([(line.source.proposal, [s.proposal for s in line.led_to]) for line in lineage],
                                     {a.workflow.id: a.workflow for a in analyses}, language=language))
    return analyses, found, extra, as_of_note(analyses, newest, option)


def _small_analysis(database: str | None, workflow_dirs: tuple[str, ...], workflow: str, as_of: datetime | None
                    ) -> tuple[list[Analysis], str | None] | None:
    """One small workflow's analysis read through the database driver alone, without importing
    SQLAlchemy or numpy (:mod:`flowengine.service.quick`), and the note of :func:`_analyses`;
    None when the engine must do it."""
    from .options import READ_DATABASE
    from .remedies import option
    from .startup import loading

    ctx = click.get_current_context(silent=True)
    replica = ctx.meta.get(READ_DATABASE) if ctx is not None else None
    # Collection paused while the modules load and the histories are read and analysed: what is
    # made lives as long as the command, and it is bounded (quick.SMALL_EVENTS).
    with loading():
        from flowengine.service.quick import small_analysis
        from flowengine.views.figure_wording import as_of_note

        found = small_analysis(database, workflow, workflow_dirs=workflow_dirs, as_of=as_of, replica=replica)
    if found is None:
        return None
    analysis, newest = found
    return [analysis], as_of_note([analysis], newest, option) if as_of is None else None


def _diagram_path(output: str) -> Path:
    """Refuse a file name Graphviz cannot write before any work is done (a usage error, exit 2)."""
    path = Path(output)
    if path.suffix.lower() not in diagram_suffixes():
        raise click.BadParameter(t("'{file}' has no diagram suffix; end it in one of {suffixes}", file=output,
                                   suffixes=", ".join(diagram_suffixes())),
                                 param_hint="-o")
    return path


def _emit(chunks: Iterable[str], output: str | None) -> None:
    """Write the report as it is made, a piece at a time (a national report is hundreds of MB)."""
    if output is None or output == "-":
        for chunk in chunks:
            click.echo(chunk, nl=False)
        return
    from flowengine.atomicfile import write_chunks
    from flowengine.errors import InvalidInput

    try:  # a fresh file moved over the target: never written through a link planted there
        write_chunks(Path(output), chunks, t("cannot write {file}", file=output), InvalidInput)
    except InvalidInput as exc:
        raise InvalidInput(t("{problem}; choose another {option}", problem=str(exc), option="-o")) from None
    click.echo(t("wrote {file}", file=output))


@click.group("stalls", cls=Group)
def stalls() -> None:
    """Where ideas stall: the report, the stall diagram and the comparison of municipalities.

    \b
    Examples:
      flowengine stalls report --as-of 2019-06-30
      flowengine stalls diagram trondheim -o trondheim-stalls.svg --lang nb
      flowengine stalls compare ostersund timra trondheim stjordal melhus -o compare.svg
    """


@stalls.command("report")
@click.option("--workflow", "workflows", multiple=True, metavar="WF", shell_complete=complete.workflow_ids,
              help="Only this workflow (repeatable). Default: every workflow with proposals.")
@as_of_option
@format_option
@click.option("-o", "--output", metavar="FILE",
              help="Write the report to FILE instead of the terminal (- : standard output).")
@analysis_options
@output_options
def report(workflows: tuple[str, ...], as_of: datetime | None, fmt: str, output: str | None, privacy: Privacy,
           language: str, database: str | None, workflow_dirs: tuple[str, ...], quiet: bool) -> None:
    """Stalled proposals worst first, with who must act and for how long; those gone quiet (over
    their limit with no record since: gaps in the records); then per workflow the stages, states,
    transitions, loops, funnel, feedback loop and monthly flow; and, where proposals were
    registered as coming from another (an audit's findings), how many each led to and where
    they are. Where histories were rebuilt from a source, each row says which kind of step it
    rests on (stated, inferred, illustrative).

    \b
    Example:
      flowengine stalls report --workflow melhus --format markdown -o melhus.md
    """
    from flowengine.views import report as rep
    from flowengine.views import report_writers as writers
    fmt = _report_format(fmt, output)
    analyses, marks, lineage, note = _marked_analyses(database, workflow_dirs, workflows, as_of, quiet,
                                                      language=language)
    privacy, listed = _publishable(analyses, privacy)
    if listed is not None:  # where proposals came from is shown for the listed workflows alone
        lineage = []
    # Made as they are written: only the analyses are held whole.
    sections = chain(rep.iter_sections(analyses, language=language, privacy=privacy, marks=marks, listed=listed),
                     lineage)
    width = table_width() if output in (None, "-") else None  # a file gets whole rows
    data = writers.as_json_data(sections, analyses, privacy)
    if note is not None:
        data["note"] = note
    from flowengine import collector

    with collector.paused():  # rows made and written, none kept and no cycles: nothing for it to find
        _emit(writers.with_note_chunks(fmt, writers.format_chunks(fmt, sections, data, width=width), note), output)


@stalls.command("diagram")
@click.argument("workflow", shell_complete=complete.workflow_ids)
@click.option("-o", "--output", required=True, metavar="FILE",
              help="Where to write it: {diagram_suffixes}.")
@as_of_option
@analysis_options
def diagram(workflow: str, output: str, as_of: datetime | None, privacy: Privacy, language: str, database: str | None,
            workflow_dirs: tuple[str, ...], quiet: bool) -> None:
    """The declared workflow coloured by where its proposals wait.

    \b
    Example:
      flowengine stalls diagram trondheim -o trondheim-stalls.svg --lang nb
    """
    path = _diagram_path(output)
    (analysis,), note = _small_analysis(database, workflow_dirs, workflow, as_of) or _analyses(
        database, workflow_dirs, (workflow,), as_of, quiet)
    from .startup import loading

    with loading():
        from flowengine.analysis.cells import SITE, cell
        from flowengine.views.stall_diagram import render_stall_diagram

    if note is not None:
        click.echo(t("note: {note}", note=note), err=True)
    privacy, _ = _publishable([analysis], privacy)
    with loading():  # the drawing imports graphviz; the rest of its work is one bounded diagram
        render_stall_diagram(analysis, path, language, privacy)
    count = privacy.count
    click.echo(t("wrote {file} ({workflow}, {proposals} proposals, {stalled} stalled, {quiet} gone quiet)", file=path,
                 workflow=analysis.workflow.id, proposals=count(analysis.proposals, cell(analysis.workflow.id,
                                                                                        "proposals")),
                 stalled=count(len(analysis.stalls), cell(SITE, "stalled")),
                 quiet=count(len(analysis.quiet), cell(SITE, "quiet"))))


@stalls.command("compare")
@click.argument("workflows", nargs=-1, metavar="[WF]...", shell_complete=complete.workflow_ids)
@as_of_option
@format_option
@click.option("-o", "--output", metavar="FILE", help="Also draw the comparison: {diagram_suffixes}.")
@analysis_options
@output_options
def compare(workflows: tuple[str, ...], as_of: datetime | None, fmt: str, output: str | None, privacy: Privacy,
            language: str, database: str | None, workflow_dirs: tuple[str, ...], quiet: bool) -> None:
    """Municipalities side by side on the shared stages: median and p90 days per stage, and the
    funnel. Default: every workflow with proposals.

    \b
    Example:
      flowengine stalls compare ostersund timra trondheim stjordal melhus -o compare.svg
    """
    from flowengine.views import report as rep
    from flowengine.views import report_writers as writers
    path = _diagram_path(output) if output else None
    analyses, note = _analyses(database, workflow_dirs, workflows, as_of, quiet)
    privacy, _ = _publishable(analyses, privacy)
    sections = rep.build_comparison(analyses, language=language, privacy=privacy)
    text = writers.with_note(fmt, writers.as_format(fmt, sections, None if note is None else {
        "note": note, "sections": [s.as_dict() for s in sections]}, width=table_width()), note)
    if path is not None:
        from flowengine.views.comparison_diagram import render_comparison

        render_comparison(analyses, path, language, privacy)
    click.echo(text, nl=False)
    if path is not None:
        click.echo(t("wrote {file}", file=path))
