"""``flowengine workflow …``: check, list, show and draw workflow definitions; list the versions
stored for a workflow and move running proposals to a new one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from flowengine.eventlog.formats import import_format_names
from flowengine.i18n import t, tn
from flowengine.suggest import either

from . import completion as complete
from .helptext import Group
from .options import (
    CHECK_LOG_COLUMNS,
    CHECK_STATE_MAP,
    database_option,
    identity_options,
    json_option,
    language_option,
    quiet_option,
    workflows_option,
)
from .shown import MAX_FINDINGS
from .terminal import fit, output_options, table
from .views import to_json

EXIT_INVALID = 1


@click.group(cls=Group)
def workflow() -> None:
    """Check, list, show and draw workflow definitions; list and migrate their versions.

    \b
    Example:
      flowengine workflow validate workflows/default/innovation-chain.yaml
    """


@workflow.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, allow_dash=True))
@click.option("--strict", is_flag=True, help="Treat governance warnings (FE3xx) as errors.")
@click.option("--all", "show_all", is_flag=True,
              help="List every finding; by default the first 100 are listed, then how many more there are.")
@json_option
def validate(paths: tuple[str, ...], strict: bool, show_all: bool, as_json: bool) -> None:
    """Check workflow files and list every problem, each at file:line:column.

    PATHS are YAML files or folders (searched for *.yaml), or - for standard input. Exit code 0
    when all are valid, 1 when any has an error. Files that are not workflows (no 'states' or
    'transitions' key, such as demo data) are skipped when found in a folder.

    \b
    Example:
      flowengine workflow validate workflows/ --strict
    """
    from flowengine.definition.loader import check_file
    from flowengine.definition.registry import read_candidate, yaml_files
    from flowengine.errors import FlowEngineError
    from flowengine.i18n import t

    candidates = []
    for raw in map(Path, paths):
        if str(raw) == "-":
            continue
        if raw.is_dir():  # in a folder, files that are not workflows (demo data …) are skipped
            candidates += [c for c in map(read_candidate, yaml_files(raw)) if c.id is not None]
        else:
            candidates.append(read_candidate(raw))
    results = [check_file(c.path, strict=strict, document=c.document) for c in candidates]
    if "-" in paths:
        from flowengine.definition.loader import check_bytes
        from flowengine.definition.yamlsafe import MAX_FILE_BYTES

        from .terminal import STDIN_NAME, standard_input_bytes

        results.append(check_bytes(standard_input_bytes(MAX_FILE_BYTES + 1), STDIN_NAME, strict=strict))
    if not results:
        raise FlowEngineError(t("no workflow files found in {paths}; a workflow is a .yaml file with 'states:' and "
                                "'transitions:'", paths=", ".join(paths)))
    valid = all(result.ok for result in results)
    if as_json:
        click.echo(to_json({
            "valid": valid,
            "files": [{"file": r.source, "valid": r.ok, "workflow": r.workflow.id if r.workflow else None,
                       "issues": [i.as_dict() for i in r.issues]} for r in results],
        }))
    else:
        findings = [issue for result in results for issue in result.issues]
        for issue in findings if show_all else findings[:MAX_FINDINGS]:
            click.echo(issue.format())
        if len(findings) > MAX_FINDINGS and not show_all:
            click.echo(t("… and {n} more finding(s), not listed (--all lists every one)",
                         n=len(findings) - MAX_FINDINGS))
        errors = sum(len(r.errors) for r in results)
        warnings = sum(len(r.warnings) for r in results)
        bad = sum(1 for r in results if not r.ok)
        verdict = t("valid") if valid else tn("{n} invalid", "{n} invalid", bad)
        click.echo(tn("{n} file checked: {verdict}; {errors}, {warnings}",
                      "{n} files checked: {verdict}; {errors}, {warnings}", len(results), verdict=verdict,
                      errors=tn("{n} error", "{n} errors", errors),
                      warnings=tn("{n} warning", "{n} warnings", warnings)), err=True)
    if not valid:
        raise SystemExit(EXIT_INVALID)


@workflow.command()
@click.argument("log", metavar="LOG", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("-o", "--output", metavar="FILE", help="Write the draft to FILE (- or none: standard output).")
@click.option("--min-share", type=click.FloatRange(0, 1), default=0.0, show_default=True, metavar="P",
              help="Leave out, as noise, a pair of activities that makes up less than this share (0-1) of the "
                   "pairs leaving its first activity; the cases that take one will then not fit.")
@click.option("--format", "fmt", type=click.Choice(import_format_names()),
              help="The log's format (default: from the file name's suffix).")
@click.option("--map", "mappings", multiple=True, metavar="COLUMN=MEANING", callback=CHECK_LOG_COLUMNS,
              help="What a column means, as for import (case, activity, timestamp, role, lifecycle …).")
@click.option("--id", "workflow_id", metavar="WF", help="The workflow's id (default: from the log's name).")
@click.option("--prefix", metavar="ABC", help="Its proposal prefix, 2-6 capital letters (default: from the id).")
@json_option
def discover(log: str, output: str | None, min_share: float, fmt: str | None, mappings: tuple[str, ...],
             workflow_id: str | None, prefix: str | None, as_json: bool) -> None:
    """Draft a workflow from an event log: the first step for a log flowengine has not seen.

    States from the log's activities (labelled with their names), transitions from the pairs of
    activities that directly follow each other, the initial state from the activity most cases
    start with and final states from the end activities nothing follows; stages and outcomes
    guessed from the names where they say it, with a comment where not. The draft validates as
    it is and imports the same log (LOG - reads standard input; then give --format).

    \b
    Example:
      flowengine workflow discover helpdesk.csv.gz -o helpdesk.yaml --min-share 0.05
      flowengine import helpdesk.csv.gz --workflow helpdesk.yaml --keep-going
    """
    import contextlib
    import tempfile

    from flowengine.atomicfile import replacing
    from flowengine.definition.loader import check_text
    from flowengine.errors import InvalidInput
    from flowengine.eventlog.draft import discover_workflow
    from flowengine.eventlog.reading import parse_mapping

    from .remedies import option
    from .terminal import spooled_standard_input

    with contextlib.ExitStack() as stack:
        source = log
        if log == "-":
            if fmt is None:
                raise click.UsageError(t("reading the log from standard input, say its format: --format {formats}",
                                         formats=either(import_format_names())))
            spool = stack.enter_context(tempfile.TemporaryDirectory(prefix="flowengine-discover-"))
            source = str(spooled_standard_input(Path(spool)))
        draft, text = discover_workflow(source, fmt=fmt, mapping=parse_mapping(mappings), min_share=min_share,
                                        workflow_id=workflow_id, prefix=prefix, hint=option)
    name = output if output not in (None, "-") else f"{draft.id}.yaml"
    checked = check_text(text, name)
    if not checked.ok:  # a draft that does not validate is flowengine's fault, not the log's
        raise RuntimeError(t("the drafted workflow does not validate: {issues}",
                             issues="; ".join(i.format() for i in checked.errors)))
    if output in (None, "-"):
        click.echo(text, nl=False)
    else:
        target = Path(name)
        with replacing(target, t("cannot write the draft {file}", file=target), InvalidInput) as temp:
            temp.write_text(text, encoding="utf-8")
    finals = sum(1 for s in draft.states if s.final)
    summary = {"workflow": draft.id, "output": None if output in (None, "-") else name, "cases": draft.cases,
               "events": draft.events, "states": len(draft.states), "final_states": finals,
               "transitions": len(draft.transitions), "pairs": draft.pairs, "dropped_pairs": len(draft.dropped),
               "dropped_cases": draft.dropped_cases, "kept_below_share": len(draft.restored),
               "left_out_rows": draft.left_out, "naive_times": draft.naive_times,
               "warnings": len(checked.warnings)}
    if as_json:
        click.echo(to_json(summary), err=output in (None, "-"))
        return
    from flowengine.i18n import active
    from flowengine.i18n.formats import number

    language = active()
    lines = [t("drafted {file}: {states} ({finals} final), {pairs} as {transitions}, from {cases} and {events} "
               "of {log}", file=name, finals=finals, log=draft.log,
               states=tn("{n} state", "{n} states", len(draft.states)),
               pairs=tn("{n} directly-follows pair", "{n} directly-follows pairs", draft.pairs),
               transitions=tn("{n} transition", "{n} transitions", len(draft.transitions)),
               cases=tn("{count} case", "{count} cases", draft.cases, count=number(draft.cases, language)),
               events=tn("{count} event", "{count} events", draft.events, count=number(draft.events, language)))]
    if draft.dropped:
        lines.append(tn("left out {n} pair below {share} of their activity's pairs, taken by {cases}, which will "
                        "not fit: import the rest with --keep-going, or lower --min-share",
                        "left out {n} pairs below {share} of their activity's pairs, taken by {cases}, which "
                        "will not fit: import the rest with --keep-going, or lower --min-share", len(draft.dropped),
                        share=f"{min_share:g}", cases=tn("{count} case", "{count} cases", draft.dropped_cases,
                                                         count=number(draft.dropped_cases, language))))
    if draft.left_out:
        lines.append(tn("left out {count} row with no case, activity or readable time (the first: {first})",
                        "left out {count} rows with no case, activity or readable time (the first: {first})",
                        draft.left_out, count=number(draft.left_out, language), first=draft.first_left_out))
    if draft.naive_times:
        lines.append(tn("{count} time has no UTC offset: import with --assume-utc",
                        "{count} times have no UTC offset: import with --assume-utc", draft.naive_times,
                        count=number(draft.naive_times, language)))
    lines.append(t("it validates ({warnings}: deadlines and governance, which a log cannot tell); check the stages "
                   "the comments name, then: flowengine import {log} --workflow {file}", log=draft.log, file=name,
                   warnings=tn("{n} warning", "{n} warnings", len(checked.warnings))))
    for line in lines:
        click.echo(line, err=output in (None, "-"))


@workflow.command("list")
@workflows_option
@json_option
@output_options
def list_workflows(workflow_dirs: tuple[str, ...], as_json: bool) -> None:
    """List the workflows flowengine can find: your folders first, then the bundled ones.

    \b
    Example:
      flowengine workflow list --workflows ./my-municipality
    """
    from flowengine.definition.loader import check_file
    from flowengine.definition.registry import discover, search_dirs

    rows: list[dict[str, Any]] = []
    for entry in discover(search_dirs(workflow_dirs)):
        result = check_file(entry.path, document=entry.document)
        wf = result.workflow
        rows.append({
            "id": entry.id, "version": wf.version if wf else "", "title": wf.label("en") if wf else "",
            "states": len(wf.states) if wf else 0, "valid": result.ok, "errors": len(result.errors),
            "warnings": len(result.warnings), "bundled": entry.bundled, "shadowed": entry.shadowed,
            "duplicate": entry.duplicate,
            "path": str(entry.path),
        })
    if as_json:
        click.echo(to_json(rows))
        return
    if not rows:
        click.echo(t("no workflows found"))
        return
    click.echo(table(
        [t("id"), t("version"), t("title"), t("states"), t("status"), t("path")],
        [[r["id"], r["version"], r["title"], r["states"],
          (t("valid") if r["valid"] else tn("{n} error", "{n} errors", r["errors"]))
          + (t(" (overridden by an earlier folder)") if r["shadowed"] else "")
          + (t(" (id declared by another file too)") if r["duplicate"] else ""),
          r["path"]] for r in rows],
    ))


@workflow.command()
@click.argument("workflow_ref", metavar="WF", shell_complete=complete.workflow_ids)
@workflows_option
@language_option
@json_option
@output_options
def show(workflow_ref: str, workflow_dirs: tuple[str, ...], language: str, as_json: bool) -> None:
    """Show a workflow's states, stages, owners, deadlines, transitions and roles.

    WF is a workflow id (see 'flowengine workflow list') or a path to a YAML file.

    \b
    Example:
      flowengine workflow show innovation-chain --lang nb
    """
    from flowengine.definition.model import workflow_to_dict

    wf = _load(workflow_ref, workflow_dirs)
    data = workflow_to_dict(wf, language)
    if as_json:
        click.echo(to_json(data))
        return
    roles = {r.id: r.label(language) for r in wf.roles.values()}
    click.echo(fit(t("{label}  ({workflow}, version {version}, prefix {prefix})", label=wf.label(language),
                     workflow=wf.id, version=wf.version or "-", prefix=wf.prefix or "-")))
    if wf.description:
        click.echo(fit(wf.description.strip()))
    click.echo("\n" + t("States"))
    click.echo(table(
        [t("state"), t("label"), t("stage"), t("owner"), t("deadline"), t("kind")],
        [[s.id, s.label(language), s.stage, roles.get(s.owner or "", s.owner), s.deadline_text,
          (t("initial") if s.initial else "") or (t("final: {outcome}", outcome=s.outcome) if s.final else t("open"))]
         for s in wf.states.values()],
    ))
    click.echo("\n" + t("Transitions"))
    click.echo(table(
        [t("trigger"), t("label"), t("from"), t("to"), t("roles"), t("requires"), t("marks")],
        [[step.trigger, step.label(language), t("* (any open state)") if step.from_any else list(step.sources),
          step.target, [roles.get(r, r) for r in step.roles] or t("anyone"), list(step.requires),
          ", ".join(mark for mark, on in ((t("comment required"), step.requires_comment),
                                          (t("answers the panel"), step.answers_panel)) if on)]
         for step in wf.transitions],
    ))
    click.echo("\n" + t("Roles"))
    click.echo(table([t("role"), t("kind"), t("label")],
                     [[r.id, r.kind, r.label(language)] for r in wf.roles.values()]))
    if wf.fields:
        click.echo("\n" + t("Fields"))
        click.echo(table(
            [t("field"), t("type"), t("required at creation"), t("options"), t("label")],
            [[f.id, f.type, f.required, list(f.options), f.label(language)] for f in wf.fields.values()],
        ))


@workflow.command()
@click.argument("workflow_ref", metavar="WF", shell_complete=complete.workflow_ids)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, writable=True),
              help="File to write; its extension picks the format: {diagram_suffixes}.")
@workflows_option
@language_option
def diagram(workflow_ref: str, output: str, workflow_dirs: tuple[str, ...], language: str) -> None:
    """Draw a workflow: states grouped by stage, final outcomes distinct, with a legend.

    \b
    Example:
      flowengine workflow diagram innovation-chain -o chain.svg --lang nb
    """
    from flowengine.views.workflow_diagram import render

    wf = _load(workflow_ref, workflow_dirs)
    written = render(wf, Path(output), language)
    click.echo(t("wrote {file}", file=written))


@workflow.command()
@click.option("--out", "out_dir", default="diagrams", show_default=True, type=click.Path(file_okay=False),
              help="Folder of the rendered diagrams.")
@click.option("--check", is_flag=True, help="Only check: exit 1 if any diagram is out of date.")
def diagrams(out_dir: str, check: bool) -> None:
    """Redraw the bundled workflows' diagrams (diagrams/*.svg) where their YAML changed.

    \b
    Example:
      flowengine workflow diagrams            # run from the project's root
      flowengine workflow diagrams --check
    """
    from flowengine.views.bundled import bundled_diagram_status, write_bundled_diagrams

    folder = Path(out_dir)
    if check:
        statuses = bundled_diagram_status(folder)
        stale = [s for s in statuses if not s.current]
        for status in statuses:
            click.echo(f"{t('current') if status.current else t('OUT OF DATE')}  {status.diagram}")
        if stale:
            click.echo(t("run 'flowengine workflow diagrams' to redraw them"), err=True)
            raise SystemExit(EXIT_INVALID)
        return
    for status in write_bundled_diagrams(folder):
        click.echo(f"{t('unchanged') if status.current else t('redrawn')}  {status.diagram}")


@workflow.command()
def schema() -> None:
    """Print the JSON Schema of the workflow language (for editors and other tools).

    \b
    Example:
      flowengine workflow schema > workflow.schema.json
    """
    from flowengine.definition.structure import schema_text

    click.echo(schema_text(), nl=False)


@workflow.command()
@click.argument("workflow_id", metavar="WF", shell_complete=complete.workflow_ids)
@database_option
@workflows_option
@json_option
@output_options
def versions(workflow_id: str, database: str | None, workflow_dirs: tuple[str, ...], as_json: bool) -> None:
    """List the stored definitions of workflow WF, newest first, and the proposals on each.

    A definition is stored the first time a proposal is created under (or migrated to) its
    exact text, so editing the YAML file makes a new version for new proposals while running
    ones keep theirs. Two definitions with one 'version:' (the file was edited without raising
    it) are told apart by their hash: "1 (a1b2c3d)".

    \b
    Example:
      flowengine workflow versions innovation-chain
    """
    from flowengine.clock import local_text
    from flowengine.definition.versions import short_hash

    from .session import open_engine

    with open_engine(database, workflow_dirs, read_only=True) as engine:
        found = engine.workflow_versions(workflow_id)
    if as_json:
        click.echo(to_json([v.as_dict() for v in found]))
        return
    click.echo(table(
        [t("version"), t("hash"), t("first stored"), t("source"), t("proposals"), t("open"), t("file")],
        [[v.label, short_hash(v.content_hash), local_text(v.stored_at), v.source, str(v.proposals), str(v.open),
          t("current") if v.current else ""] for v in found]))
    shared = sorted({v.version for v in found if v.label != (v.version or "-")})
    if shared:
        click.echo(t("note: definitions share version {versions}: the file was edited without raising 'version:'; "
                     "raise it with every edit so people can tell the versions apart", versions=", ".join(shared)),
                   err=True)


@workflow.command()
@click.argument("workflow_id", metavar="WF", shell_complete=complete.workflow_ids)
@click.option("--to", "to", required=True, metavar="FILE",
              help="The new definition: a workflow file whose id is WF (or WF itself: its file as it reads now).")
@click.option("--map", "maps", multiple=True, metavar="OLD=NEW", callback=CHECK_STATE_MAP,
              help="Move proposals in state OLD to state NEW of the new definition (repeatable).")
@click.option("--dry-run", is_flag=True, help="Write nothing; show what would move where, and the warnings.")
@click.option("--comment", default="", help="Why the proposals move, kept in each history.")
@identity_options
@database_option
@workflows_option
@quiet_option
@json_option
def migrate(workflow_id: str, to: str, maps: tuple[str, ...], dry_run: bool, comment: str, actor_name: str | None,
            role: str | None, database: str | None, workflow_dirs: tuple[str, ...], quiet: bool,
            as_json: bool) -> None:
    """Move every running proposal of WF to the definition in FILE, keeping where each stands.

    A proposal keeps its state (same name, or the one --map names) and its time in it; the
    move is an event in its history. All proposals move in one transaction or none do.
    Refused, naming the proposals, when a state has no open state to go to in FILE: give
    --map OLD=NEW for it. Proposals that ended stay on their definitions; running it again
    moves nothing.

    \b
    Example:
      flowengine workflow migrate innovation-chain --to workflows/innovation-chain.yaml \\
          --map council_review=council_hearing --dry-run
      flowengine workflow migrate innovation-chain --to workflows/innovation-chain.yaml \\
          --map council_review=council_hearing --as eva --role administration
    """
    from flowengine.service.migration_plan import parse_map

    from .meter import terminal_meter
    from .session import actor, open_engine

    mapping = parse_map(maps)
    who = actor(actor_name, role) if not dry_run or actor_name or role else None
    with open_engine(database, workflow_dirs) as engine, \
            terminal_meter(t("migrating"), None, quiet=quiet or dry_run or as_json) as meter:
        done = engine.migrate(workflow_id, to, actor=who, mapping=mapping, dry_run=dry_run, comment=comment,
                              meter=meter)
    if as_json:
        click.echo(to_json(done.as_dict()))
        return
    from flowengine.definition.versions import version_label

    plan = done.plan
    if plan.moves:
        click.echo(table([t("proposal"), t("state"), t("from version")], [
            [m.proposal.id, m.proposal.state if m.to_state == m.proposal.state
             else f"{m.proposal.state} → {m.to_state}",
             version_label(m.proposal.workflow_version, m.proposal.definition_hash)]
            for m in plan.moves]))
    for move in plan.moves:
        for warning in move.warnings:
            click.echo(t("warning: {proposal}: {warning}", proposal=move.proposal.id, warning=warning))
    moved = len(plan.moves)
    if dry_run:
        summary = tn("{n} proposal would move to {workflow} {version}", "{n} proposals would move to {workflow} "
                     "{version}", moved, workflow=workflow_id, version=plan.target)
    else:
        summary = tn("{n} proposal moved to {workflow} {version}", "{n} proposals moved to {workflow} {version}",
                     moved, workflow=workflow_id, version=plan.target)
    if plan.already:
        summary += t("; {n} already on it", n=len(plan.already))
    if plan.final:
        summary += t("; {n} ended, left on their definitions", n=len(plan.final))
    click.echo(summary + (t("; dry run: nothing was written") if dry_run else ""))


def _load(workflow_ref: str, workflow_dirs: tuple[str, ...]) -> Any:
    from flowengine.definition.loader import load_workflow
    from flowengine.definition.registry import locate_workflow, search_dirs

    found = locate_workflow(workflow_ref, search_dirs(workflow_dirs))
    return load_workflow(found.path, document=found.document)
