"""``audit verify``: walk every chain and report the first broken link of each damaged proposal,
then hold every step of each unbroken chain to the definition it was pinned to
(:mod:`flowengine.history.rules`), built from the text stored in the database — never from the
build cache, which is what such a check must not trust."""

from __future__ import annotations

from flowengine.definition.model import Workflow, content_hash
from flowengine.history import chain, rules
from flowengine.service.context import Engine
from flowengine.service.results import AuditReport
from flowengine.store import Connection, queries


def verify(engine: Engine) -> AuditReport:
    breaks: list[chain.ChainBreak] = []
    count_proposals = count_events = 0
    with engine.database.read() as conn:
        altered = tuple(queries.altered_definitions(conn))
        definitions = _Definitions(conn)
        for proposal, events in queries.histories(conn):
            count_proposals += 1
            count_events += len(events)
            broken = chain.first_break(proposal, events) or rules.first_rule_break(proposal, events, definitions)
            if broken:
                breaks.append(broken)
    return AuditReport(count_proposals, count_events, tuple(breaks), altered)


class _Definitions:
    """Each stored definition built once from its text; None when it is missing, altered (its text
    no longer has its hash: reported on its own) or does not build."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.built: dict[str, Workflow | None] = {}
        self.altered: set[str] = set()

    def __call__(self, definition_hash: str) -> Workflow | None:
        if definition_hash not in self.built:
            try:
                self.built[definition_hash] = self._build(definition_hash)
            except rules.Unchecked:
                self.altered.add(definition_hash)
                self.built[definition_hash] = None
        if definition_hash in self.altered:
            raise rules.Unchecked(definition_hash)
        return self.built[definition_hash]

    def _build(self, definition_hash: str) -> Workflow | None:
        from flowengine.definition.loader import build_workflow
        from flowengine.definition.yamlsafe import read_text
        from flowengine.errors import DefinitionError

        stored = queries.definition_text(self.conn, definition_hash)
        if stored is None:
            return None
        if content_hash(stored[0]) != definition_hash:
            raise rules.Unchecked(definition_hash)
        try:
            workflow, issues = build_workflow(read_text(*stored))
        except DefinitionError:
            return None
        return workflow if workflow.complete and not issues else None
