"""``flowengine demo``: the Interreg project's proposals in a fresh database, their diagrams
and stall diagrams, and the auditors' HTML report.

The work is done by :func:`flowengine.demo.build_demo`; this command only prints what it made.
"""

from __future__ import annotations

from pathlib import Path

import click

from .options import json_option, language_option, workflows_option
from .views import to_json

DEFAULT_OUT = Path("out") / "demo"
_SHOWN_STALLS = 8


@click.command()
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
    OUT, and writes the auditors' report OUT/report.html (self-contained: diagrams inline) and
    OUT/stall-report.md.
    Only OUT/flowengine.db (and its -wal/-shm files) is replaced; nothing else in OUT is removed.
    Records are dated by the data file, so the database is the same on every run; the demo
    stands at the file's as_of day.

    \b
    Example:
      flowengine demo --out out/demo
      flowengine proposal list --db out/demo/flowengine.db --as-of 2019-08-09
    """
    from flowengine.clock import clock_from_environment
    from flowengine.demo import build_demo

    result = build_demo(out_dir, data=data, workflow_dirs=workflow_dirs, clock=clock_from_environment(),
                        language=language)
    if as_json:
        click.echo(to_json(result.as_dict()))
        return
    loaded = result.loaded
    as_of = loaded.as_of_day.isoformat()
    counts = loaded.provenance
    click.echo(f"{loaded.title or 'demo'}")
    click.echo(f"{len(loaded.proposals)} proposal(s), {loaded.events} event(s), "
               f"{len(loaded.by_workflow)} workflow(s), as of {as_of}")
    click.echo(f"where the steps come from: {counts.get('stated', 0)} stated by the report, "
               f"{counts.get('inferred', 0)} inferred from it, {counts.get('illustrative', 0)} illustrative "
               f"({100 * loaded.illustrative_share:.0f} % invented so the chains can run)")
    diagrams = dict(result.diagrams)
    stall_diagrams = dict(result.stall_diagrams)
    width = max(len(wid) for wid in loaded.by_workflow)
    for wid, proposals in loaded.by_workflow.items():
        ids = ", ".join(p.id + (f" (from {p.came_from})" if p.came_from else "") for p in proposals)
        click.echo(f"  {wid:<{width}}  {ids}")
        click.echo(f"  {'':<{width}}  workflow {diagrams[wid]}, stalls {stall_diagrams.get(wid, '-')}")
    stalls = result.stalls
    click.echo(f"stalled on {as_of} (over the limit, the owner known to be waiting): {len(stalls)}"
               + (", worst first:" if stalls else ""))
    for stall in stalls[:_SHOWN_STALLS]:
        click.echo(f"  {stall.proposal:<7} {stall.title[:40]:<40}  {stall.state} ({stall.owner or '-'} must act), "
                   f"{stall.days:.0f} d against {stall.limit_days:.0f}; rests on {result.rests_on(stall) or '-'} steps")
    if len(stalls) > _SHOWN_STALLS:
        click.echo(f"  … and {len(stalls) - _SHOWN_STALLS} more in the report")
    quiet = result.quiet
    click.echo(f"gone quiet (over the limit, no record since: a gap, not a stall): {len(quiet)}")
    for gap in quiet[:_SHOWN_STALLS]:
        click.echo(f"  {gap.proposal:<7} {gap.title[:40]:<40}  {gap.state} ({gap.owner or '-'}), last heard of "
                   f"{gap.heard_days:.0f} d ago; rests on {result.rests_on(gap) or '-'} steps")
    if len(quiet) > _SHOWN_STALLS:
        click.echo(f"  … and {len(quiet) - _SHOWN_STALLS} more in the report")
    verdict = "every chain holds" if result.audit.ok else "BROKEN CHAINS: run flowengine audit verify"
    click.echo(f"database    {result.database} ({verdict})")
    click.echo(f"comparison  {result.comparison}")
    click.echo(f"report      {result.report}  (open it in a browser; {result.markdown} as text)")
    click.echo(f"next: flowengine history --db {result.database} MEL-1")
    click.echo(f"      flowengine stalls report --db {result.database} --as-of {as_of}")
    if not result.audit.ok:
        raise SystemExit(1)
