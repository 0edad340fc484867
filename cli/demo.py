"""``flowengine demo``: the Interreg project's proposals in a fresh database, their diagrams
and stall diagrams, and the published report (a static site) built from it.

The work is done by :func:`flowengine.demo.build_demo`; this command only prints what it made,
in the reader's language.
"""

from __future__ import annotations

from pathlib import Path

import click

from .helptext import Command
from .options import json_option, language_option, workflows_option
from .views import to_json

DEFAULT_OUT = Path("out") / "demo"
_SHOWN_STALLS = 8


@click.command(cls=Command)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=DEFAULT_OUT,
              show_default=True, help="Folder to write into; created if missing. Its flowengine.db is replaced.")
@click.option("--data", "data", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Another demo data file in the bundled demo's format (default: the bundled one).")
@language_option
@workflows_option
@json_option
def demo(out_dir: Path, data: Path | None, language: str, workflow_dirs: tuple[str, ...], as_json: bool) -> None:
    """Build the demo of the Interreg project 2016-2019 from its final report.

    Loads every proposal the report tells of (Östersund, Timrå, Trondheim, Stjørdal, Melhus)
    into a fresh SQLite database OUT/flowengine.db, each step on its date and saying whether the
    report states it, it is inferred from the report, or it is illustrative (invented so the
    chain can run); draws each municipality's workflow and stall diagram and the comparison into
    OUT, writes OUT/stall-report.md and builds the published report, the site OUT/site (open
    OUT/site/index.html), as `flowengine report` builds one from any database.
    Only OUT/flowengine.db (and its -wal/-shm files) and OUT/site are replaced; nothing else in
    OUT is removed. Records are dated by the data file, so the database is the same on every
    run; the demo stands at the file's as_of day.

    \b
    Example:
      flowengine demo --out out/demo
      flowengine proposal list --db out/demo/flowengine.db --as-of 2019-08-09
    """
    from flowengine.clock import clock_from_environment
    from flowengine.demo import build_demo
    from flowengine.history.provenance import kind_word
    from flowengine.i18n import t

    result = build_demo(out_dir, data=data, workflow_dirs=workflow_dirs, clock=clock_from_environment(),
                        language=language)
    if as_json:
        click.echo(to_json(result.as_dict()))
        return
    loaded = result.loaded
    as_of = loaded.as_of_day.isoformat()
    counts = loaded.provenance

    def rests(kind: str | None) -> str:
        return t("rests on {kind} steps", kind=kind_word(kind) if kind else "-")

    click.echo(f"{loaded.title or t('demo')}")
    click.echo(t("{proposals} proposal(s), {events} event(s), {workflows} workflow(s), as of {date}",
                 proposals=len(loaded.proposals), events=loaded.events, workflows=len(loaded.by_workflow), date=as_of))
    click.echo(t("where the steps come from: {stated} stated by the report, {inferred} inferred from it, "
                 "{illustrative} illustrative ({share} % invented so the chains can run)",
                 stated=counts.get("stated", 0), inferred=counts.get("inferred", 0),
                 illustrative=counts.get("illustrative", 0), share=f"{100 * loaded.illustrative_share:.0f}"))
    diagrams = dict(result.diagrams)
    stall_diagrams = dict(result.stall_diagrams)
    width = max(len(wid) for wid in loaded.by_workflow)
    for wid, proposals in loaded.by_workflow.items():
        ids = ", ".join(p.id + (f" ({t('from {proposal}', proposal=p.came_from)})" if p.came_from else "")
                        for p in proposals)
        click.echo(f"  {wid:<{width}}  {ids}")
        click.echo(f"  {'':<{width}}  " + t("workflow {diagram}, stalls {stalls}", diagram=diagrams[wid],
                                             stalls=stall_diagrams.get(wid, "-")))
    stalls = result.stalls
    click.echo(t("stalled on {date} (over the limit, the owner known to be waiting): {n}", date=as_of, n=len(stalls))
               + (t(", worst first:") if stalls else ""))
    for stall in stalls[:_SHOWN_STALLS]:
        click.echo(f"  {stall.proposal:<7} {stall.title[:40]:<40}  " + t(
            "{state} ({owner} must act), {days} d against {limit}; {rests}", state=stall.state,
            owner=stall.owner or "-", days=f"{stall.days:.0f}", limit=f"{stall.limit_days:.0f}",
            rests=rests(result.rests_on(stall))))
    if len(stalls) > _SHOWN_STALLS:
        click.echo("  " + t("… and {n} more in the report", n=len(stalls) - _SHOWN_STALLS))
    quiet = result.quiet
    click.echo(t("gone quiet (over the limit, no record since: a gap, not a stall): {n}", n=len(quiet)))
    for gap in quiet[:_SHOWN_STALLS]:
        click.echo(f"  {gap.proposal:<7} {gap.title[:40]:<40}  " + t(
            "{state} ({owner}), last heard of {days} d ago; {rests}", state=gap.state, owner=gap.owner or "-",
            days=f"{gap.heard_days:.0f}", rests=rests(result.rests_on(gap))))
    if len(quiet) > _SHOWN_STALLS:
        click.echo("  " + t("… and {n} more in the report", n=len(quiet) - _SHOWN_STALLS))
    verdict = t("every chain holds") if result.audit.ok else t("BROKEN CHAINS: run flowengine audit verify")
    click.echo(t("database    {path} ({verdict})", path=result.database, verdict=verdict))
    click.echo(t("comparison  {path}", path=result.comparison))
    click.echo(t("report      {path}  (the published site: open it in a browser; {markdown} as text)",
                 path=result.report, markdown=result.markdown))
    click.echo(t("next: {command}", command=f"flowengine history --db {result.database} MEL-1"))
    click.echo(f"      flowengine report --db {result.database} --out {result.out_dir / 'site-nb'} --lang nb")
    click.echo(f"      flowengine stalls report --db {result.database} --as-of {as_of}")
    if not result.audit.ok:
        raise SystemExit(1)
