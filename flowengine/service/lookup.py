"""Finding what an operation works on: a proposal by id, the definition it runs under, and a
workflow's definition as its file reads now (or as the database last stored it)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from flowengine import engine as engines
from flowengine.definition.model import Workflow, content_hash
from flowengine.definition.versions import StoredDefinition
from flowengine.engine import CompiledWorkflow
from flowengine.errors import DefinitionError, FlowEngineError, NotFound, Remedy
from flowengine.history.records import Proposal
from flowengine.service.context import Engine
from flowengine.store import Connection, queries

if TYPE_CHECKING:
    from flowengine.definition.registry import Candidate


def load(conn: Connection, proposal_id: str, *, kind: str = "proposal") -> tuple[int, Proposal]:
    """The proposal (and its row's key); ids are capitals, so "inn-7" means INN-7. ``kind`` names
    what the id stands for in the message when there is none ("proposal it came from")."""
    wanted = proposal_id.strip().upper()
    found = queries.load_proposal(conn, wanted)
    if found is None:
        raise NotFound(kind, wanted, queries.ids_near(conn, wanted)).fixed_by(Remedy("list_proposals"))
    return found


def compiled_of(conn: Connection, proposal: Proposal) -> CompiledWorkflow:
    """The definition a proposal runs under (not the file as it reads today)."""
    from flowengine.service.standings import definition_of

    return definition_of(proposal, lambda digest: queries.definition_text(conn, digest))


def current_definition(engine: Engine, workflow: str, *, suggest: bool = True) -> tuple[CompiledWorkflow, str, str]:
    """A workflow as its file reads now, compiled, with its text and source; the file is read
    once, and checked in full only the first time its exact text is stored. Without ``suggest``,
    a workflow no file declares is not found without reading every file for suggestions."""
    from flowengine.definition.registry import locate_workflow, search_dirs

    return _current(engine, locate_workflow(workflow, search_dirs(engine.workflow_dirs), suggest=suggest))


def _current(engine: Engine, candidate: Candidate) -> tuple[CompiledWorkflow, str, str]:
    """:func:`current_definition` of the file found."""
    document = candidate.document
    if document is None:  # unreadable: let the loader say exactly why
        from flowengine.definition.loader import check_file

        raise DefinitionError(check_file(candidate.path).issues)
    if engines.cached(content_hash(document.text)) is None:
        with engine.database.read() as conn:
            known = queries.has_definition(conn, content_hash(document.text))
        if not known:
            from flowengine.definition.loader import check_document

            result = check_document(document, file_stem=candidate.path.stem)
            if not result.ok:
                raise DefinitionError(result.errors)
    return engines.compiled_document(document), document.text, str(candidate.path)


def declared_workflow(engine: Engine, workflow: str, *, spanning: bool = True) -> Workflow:
    """A workflow as its file declares it now; the newest stored definition when no file has it
    (a workflow whose file was removed still has a history worth reading). ``spanning``: plus
    the states only older stored definitions declare, as the newest of them declares them, so
    figures over proposals on every version match states by name (see :func:`versions.spanning`)."""
    try:
        current = current_definition(engine, workflow, suggest=False)[0].workflow
    except NotFound:
        with engine.database.read() as conn:
            stored = queries.definitions_of(conn, workflow)
        if not stored:
            current_definition(engine, workflow)  # not found: again, to say what the files declare
            raise
        return _spanning(stored, None, spanning)
    if not spanning:
        return current
    with engine.database.read() as conn:
        return _spanning(queries.definitions_of(conn, workflow), current, spanning)


def declared_workflows(engine: Engine, workflows: Sequence[str]) -> list[Workflow]:
    """:func:`declared_workflow` of each (spanning their versions), the workflow files' text
    read once for all and the stored definitions of the workflows no file has in one statement:
    a national database stores hundreds that only it holds."""
    from flowengine.definition.registry import locate_workflows, search_dirs

    located = locate_workflows(workflows, search_dirs(engine.workflow_dirs))
    stored_only = [name for name, found in located.items() if found is None]
    with engine.database.read() as conn:
        stored = queries.definitions_of_many(conn, stored_only)
    found = []
    for name in workflows:
        candidate = located[name]
        if candidate is None and name not in stored:
            declared_workflow(engine, name)  # not found: says what the files declare
        if candidate is None:
            found.append(_spanning(stored[name], None, True))
            continue
        current = _current(engine, candidate)[0].workflow
        with engine.database.read() as conn:
            found.append(_spanning(queries.definitions_of(conn, name), current, True))
    return found


def _spanning(stored: Sequence[StoredDefinition], current: Workflow | None, spanning: bool) -> Workflow:
    """``current`` (else the newest of ``stored``, newest first), with the states only the
    other stored definitions declare when ``spanning``."""
    if spanning:
        return engines.spanning_definitions(stored, current)
    return current or engines.compiled(stored[0].content_hash, stored[0].text, stored[0].source).workflow


def file_hash(engine: Engine, workflow: str) -> str | None:
    """The content hash of the workflow's file as it reads now; None when no file has it."""
    from flowengine.definition.registry import locate_workflow, search_dirs

    try:
        document = locate_workflow(workflow, search_dirs(engine.workflow_dirs)).document
    except FlowEngineError:
        return None
    return content_hash(document.text) if document is not None else None
