"""``flowengine report``: the published report, a static site built from the database."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .checkpoints import checkpoint_files_option, public_key_option
from .helptext import Command
from .options import (
    as_of_option,
    database_option,
    language_option,
    quiet_option,
    read_database_option,
    workflow_filter_option,
    workflows_option,
)
from .session import open_engine

if TYPE_CHECKING:
    from flowengine.proof.checkpoint import Checkpoint
    from flowengine.service.facade import FlowEngine


@click.command("report", cls=Command)
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path), metavar="DIR",
              help="The site's folder: created, or replaced whole if flowengine built it before.")
@as_of_option
@workflow_filter_option
@language_option
@click.option("--internal", is_flag=True,
              help="For the municipality's own eyes: names, comments, fields and every count. Without it the "
                   "site is fit to publish: roles only, free text only where the workflow publishes it, small "
                   "counts hidden.")
@click.option("--min-count", type=click.IntRange(2, 1000), default=3, show_default=True, metavar="N",
              help="Hide counts below N (and as many others as it takes that none can be worked out).")
@click.option("--title", help="The site's title (default: \"Where ideas stall\", in the chosen language).")
@checkpoint_files_option
@public_key_option
@database_option
@read_database_option
@workflows_option
@quiet_option
def report(out_dir: Path, as_of: datetime | None, workflows: tuple[str, ...], language: str, internal: bool,
           min_count: int, title: str | None, checkpoint_files: tuple[Path, ...], public_key: Path | None,
           database: str | None, workflow_dirs: tuple[str, ...], quiet: bool) -> None:
    """Build the report of where ideas stall as a static site: an index (headline figures,
    stalled proposals worst first, the municipalities side by side), a page per workflow (stall
    diagram, stages, funnel, feedback loop, flows) and a page per proposal, with Atom feeds per
    workflow and per panel. No scripts, nothing fetched, relative links: it works from a file
    share or any web server, and on a phone. With --checkpoint, every page names the latest
    signed checkpoint's Merkle root, once the database is found to hold every checkpoint given
    (else nothing is built).

    \b
    Example:
      flowengine report --out site --lang nb
      flowengine report --out internal-site --internal --as-of 2019-12-31 --workflow trondheim
    """
    from flowengine.i18n import t
    from flowengine.views.site.build import build_site

    from .meter import terminal_meter

    with open_engine(database, workflow_dirs, read_only=True) as engine, terminal_meter(t("writing pages"), None,
                                                                         quiet=quiet) as meter:
        latest = _held_checkpoint(engine, checkpoint_files, public_key) if checkpoint_files else None
        built = build_site(engine, out_dir, as_of=as_of, workflows=workflows, language=language,
                           internal=internal, min_count=min_count, title=title, meter=meter, checkpoint=latest)
    click.echo(t("wrote {pages} pages ({proposals} of proposals) and {feeds} feeds into {folder}; open {index}",
                 pages=built.pages, proposals=built.proposals, feeds=built.feeds, folder=built.out, index=built.index))
    if not internal:
        click.echo(t("published: roles only; {hidden} counts hidden to protect privacy", hidden=built.hidden))


def _held_checkpoint(engine: FlowEngine, files: tuple[Path, ...], public_key: Path | None) -> Checkpoint:
    """The latest of the checkpoints in ``files``, once the database holds every one of them; a
    published page never names a checkpoint the histories shown do not hold."""
    from flowengine.errors import InvalidInput
    from flowengine.i18n import t

    from .checkpoints import check, report_text

    held = check(engine, files, public_key)
    if not held.ok:
        findings, verdict = report_text(held)
        raise InvalidInput(t("the database does not hold the checkpoints: {verdict}; {findings}", verdict=verdict,
                             findings="; ".join(findings)))
    return max(held.checkpoints, key=lambda taken: taken.time)
