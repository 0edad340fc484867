"""One small workflow's stall analysis read through the database driver alone, for a command
whose whole run must stay close to the tool it feeds (``stalls diagram``: Graphviz's ``dot``).

:meth:`FlowEngine.analyse <flowengine.service.facade.FlowEngine.analyse>` imports SQLAlchemy
for the store and numpy for the columnar analysis: about a quarter of a second before anything is
read, which pays off on a large log and dominates on a small one. Here, for a workflow with up to
:data:`SMALL_EVENTS` events, the histories are read with the driver's own connection
(:mod:`flowengine.store.direct`) and analysed by the pure-Python reference analysis
(:func:`flowengine.analysis.reference.analyse`, which tests hold equal to the columnar one); the
definition is the one the façade would find (:func:`flowengine.service.lookup.declared_workflows`),
built from the stored text it matches — no YAML parser when it was built before.

Everything the façade checks is checked the same way: the schema revision, a fixed clock
refused by a database made for real use, the login's right to read the workflow (on PostgreSQL
the rows are the login's own under row-level security), the as-of moment within the window and
never past the clock. Anything off the straight path — another schema, a workflow file not
stored yet (it is validated first), several files that could declare the id, a large workflow,
a driver error — answers None, and the caller takes the façade, which does or refuses it with
its own message.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from flowengine.clock import as_utc

if TYPE_CHECKING:
    from collections.abc import Sequence

    from flowengine.analysis.figures import Analysis
    from flowengine.definition.model import Workflow
    from flowengine.definition.versions import StoredDefinition

# Up to this many events (an upper bound read from the proposals alone) the driver's rows and the
# reference analysis (about 8 µs an event) cost less than the façade's imports and set-up (about
# 0.4 s): the whole command cost the same both ways at 41,000 events on a 2-core x86_64 machine,
# and 0.3 s against 0.7 s at 3,900; above it the columnar analysis wins.
SMALL_EVENTS = 40_000


def small_analysis(database: str | None, workflow: str, *, workflow_dirs: Sequence[str | Path] = (),
                   as_of: datetime | None = None, replica: str | None = None
                   ) -> tuple[Analysis, datetime | None] | None:
    """``workflow``'s analysis as of ``as_of`` (default: now) as ``FlowEngine.analyse`` gives it,
    and when the workflow's newest step happened (None: no proposal); None when the façade must
    do it (see the module's docstring). ``database`` as ``FlowEngine.open`` takes it; ``replica``:
    read there instead, as ``FlowEngine.open_read_only`` does. The snapshot, the clock and the
    login's rights are :func:`flowengine.service.quick_reads.read`'s, as for the other quick reads."""
    from flowengine.service.quick_reads import Reader, read

    def work(reader: Reader) -> tuple[Analysis, datetime | None] | None:
        reader.permissions.check_read(workflow)
        _, events, newest = reader.link.size(workflow)
        if events > SMALL_EVENTS:
            return None
        declared = declared_workflow(workflow, reader.link.definitions(workflow), workflow_dirs)
        if declared is None:
            return None
        from flowengine.analysis.reference import analyse

        now = reader.now()
        moment = min(as_utc(as_of), now) if as_of else now
        analysis = analyse(declared, reader.link.trails(workflow, moment), moment)
        # The same instant in the reader's zone, as the façade gives it: titles name the day asked about.
        return replace(analysis, as_of=analysis.as_of.astimezone()), newest

    return read(database, replica, as_of, work)


def declared_workflow(workflow: str, stored: Sequence[StoredDefinition],
                      workflow_dirs: Sequence[str | Path]) -> Workflow | None:
    """The workflow as :func:`flowengine.service.lookup.declared_workflows` finds it (its file
    now, spanning the stored versions; the newest stored one when no file declares it), when that
    is certain without parsing a file: the one file that could declare it, in the first folder
    with any, is the text of a stored definition of it; or no file could and one is stored.
    None otherwise."""
    from flowengine import engine as engines
    from flowengine.definition.files import file_text
    from flowengine.definition.model import content_hash
    from flowengine.definition.registry import first_that_could_declare, search_dirs

    files = first_that_could_declare(workflow, search_dirs(workflow_dirs))
    if files is None or not stored:
        return None
    if not files:
        return engines.spanning_definitions(stored)
    text = file_text(files[0]) if len(files) == 1 else None
    if text is None:
        return None
    wanted = content_hash(text)
    match = next((d for d in stored if d.content_hash == wanted), None)
    if match is None:
        return None  # a file not stored yet is validated in full first: the façade's work
    current = engines.compiled(match.content_hash, match.text, match.source).workflow
    return engines.spanning_definitions(stored, current)
