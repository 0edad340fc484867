"""``flowengine workflow …``: check, list, show and draw workflow definitions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from flowengine.texttable import table

from .options import json_option, language_option, workflows_option

EXIT_INVALID = 1


@click.group()
def workflow() -> None:
    """Check, list, show and draw workflow definitions.

    \b
    Example:
      flowengine workflow validate workflows/default/innovation-chain.yaml
    """


@workflow.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--strict", is_flag=True, help="Treat governance warnings (FE3xx) as errors.")
@json_option
def validate(paths: tuple[str, ...], strict: bool, as_json: bool) -> None:
    """Check workflow files and list every problem, each at file:line:column.

    PATHS are YAML files or folders (searched for *.yaml). Exit code 0 when all are
    valid, 1 when any has an error. Files that are not workflows (no 'states' or
    'transitions' key, such as demo data) are skipped when found in a folder.

    \b
    Example:
      flowengine workflow validate workflows/ --strict
    """
    from flowengine.errors import FlowEngineError
    from flowengine.loader import check_file
    from flowengine.registry import read_candidate, yaml_files

    candidates = []
    for raw in map(Path, paths):
        if raw.is_dir():  # in a folder, files that are not workflows (demo data …) are skipped
            candidates += [c for c in map(read_candidate, yaml_files(raw)) if c.id is not None]
        else:
            candidates.append(read_candidate(raw))
    results = [check_file(c.path, strict=strict, document=c.document) for c in candidates]
    if not results:
        raise FlowEngineError(f"no workflow files found in {', '.join(paths)}; "
                              "a workflow is a .yaml file with 'states:' and 'transitions:'")
    valid = all(result.ok for result in results)
    if as_json:
        click.echo(json.dumps({
            "valid": valid,
            "files": [{"file": r.source, "valid": r.ok, "workflow": r.workflow.id if r.workflow else None,
                       "issues": [i.as_dict() for i in r.issues]} for r in results],
        }, indent=2, ensure_ascii=False))
    else:
        for result in results:
            for issue in result.issues:
                click.echo(issue.format())
        errors = sum(len(r.errors) for r in results)
        warnings = sum(len(r.warnings) for r in results)
        bad = sum(1 for r in results if not r.ok)
        verdict = "valid" if valid else f"{bad} invalid"
        click.echo(f"{len(results)} file(s) checked: {verdict}; {errors} error(s), {warnings} warning(s)", err=True)
    if not valid:
        raise SystemExit(EXIT_INVALID)


@workflow.command("list")
@workflows_option
@json_option
def list_workflows(workflow_dirs: tuple[str, ...], as_json: bool) -> None:
    """List the workflows flowengine can find: your folders first, then the bundled ones.

    \b
    Example:
      flowengine workflow list --workflows ./my-municipality
    """
    from flowengine.loader import check_file
    from flowengine.registry import discover, search_dirs

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
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("no workflows found")
        return
    click.echo(table(
        ["id", "version", "title", "states", "status", "path"],
        [[r["id"], r["version"], r["title"], r["states"],
          ("valid" if r["valid"] else f"{r['errors']} error(s)")
          + (" (overridden by an earlier folder)" if r["shadowed"] else "")
          + (" (id declared by another file too)" if r["duplicate"] else ""),
          r["path"]] for r in rows],
    ))


@workflow.command()
@click.argument("workflow_ref", metavar="WF")
@workflows_option
@language_option
@json_option
def show(workflow_ref: str, workflow_dirs: tuple[str, ...], language: str, as_json: bool) -> None:
    """Show a workflow's states, stages, owners, deadlines, transitions and roles.

    WF is a workflow id (see 'flowengine workflow list') or a path to a YAML file.

    \b
    Example:
      flowengine workflow show innovation-chain --lang nb
    """
    from flowengine.model import workflow_to_dict

    wf = _load(workflow_ref, workflow_dirs)
    data = workflow_to_dict(wf, language)
    if as_json:
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    roles = {r.id: r.label(language) for r in wf.roles.values()}
    click.echo(f"{wf.label(language)}  ({wf.id}, version {wf.version or '-'}, prefix {wf.prefix or '-'})")
    if wf.description:
        click.echo(wf.description.strip())
    click.echo("\nStates")
    click.echo(table(
        ["state", "label", "stage", "owner", "deadline", "kind"],
        [[s.id, s.label(language), s.stage, roles.get(s.owner or "", s.owner), s.deadline_text,
          ("initial" if s.initial else "") or (f"final: {s.outcome}" if s.final else "open")]
         for s in wf.states.values()],
    ))
    click.echo("\nTransitions")
    click.echo(table(
        ["trigger", "label", "from", "to", "roles", "requires", "marks"],
        [[t.trigger, t.label(language), "* (any open state)" if t.from_any else list(t.sources), t.target,
          [roles.get(r, r) for r in t.roles] or "anyone", list(t.requires),
          ", ".join(mark for mark, on in (("comment required", t.requires_comment),
                                          ("answers the panel", t.answers_panel)) if on)]
         for t in wf.transitions],
    ))
    click.echo("\nRoles")
    click.echo(table(["role", "kind", "label"], [[r.id, r.kind, r.label(language)] for r in wf.roles.values()]))
    if wf.fields:
        click.echo("\nFields")
        click.echo(table(
            ["field", "type", "required at creation", "options", "label"],
            [[f.id, f.type, f.required, list(f.options), f.label(language)] for f in wf.fields.values()],
        ))


@workflow.command()
@click.argument("workflow_ref", metavar="WF")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, writable=True),
              help="File to write; its extension picks the format: .svg, .png, .pdf or .dot.")
@workflows_option
@language_option
def diagram(workflow_ref: str, output: str, workflow_dirs: tuple[str, ...], language: str) -> None:
    """Draw a workflow: states grouped by stage, final outcomes distinct, with a legend.

    \b
    Example:
      flowengine workflow diagram innovation-chain -o chain.svg --lang nb
    """
    from flowengine.render import render

    wf = _load(workflow_ref, workflow_dirs)
    written = render(wf, Path(output), language)
    click.echo(f"wrote {written}")


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
    from flowengine.diagrams import bundled_diagram_status, write_bundled_diagrams

    folder = Path(out_dir)
    if check:
        statuses = bundled_diagram_status(folder)
        stale = [s for s in statuses if not s.current]
        for status in statuses:
            click.echo(f"{'current' if status.current else 'OUT OF DATE'}  {status.diagram}")
        if stale:
            click.echo("run 'flowengine workflow diagrams' to redraw them", err=True)
            raise SystemExit(EXIT_INVALID)
        return
    for status in write_bundled_diagrams(folder):
        click.echo(f"{'unchanged' if status.current else 'redrawn'}  {status.diagram}")


@workflow.command()
def schema() -> None:
    """Print the JSON Schema of the workflow language (for editors and other tools).

    \b
    Example:
      flowengine workflow schema > workflow.schema.json
    """
    from flowengine.schema import schema_text

    click.echo(schema_text(), nl=False)


def _load(workflow_ref: str, workflow_dirs: tuple[str, ...]) -> Any:
    from flowengine.loader import load_workflow
    from flowengine.registry import locate_workflow, search_dirs

    found = locate_workflow(workflow_ref, search_dirs(workflow_dirs))
    return load_workflow(found.path, document=found.document)
