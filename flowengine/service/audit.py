"""``audit verify``: walk every chain and report the first broken link of each damaged proposal,
and check the access log's chain and that the grants standing are exactly what it leaves."""

from __future__ import annotations

from flowengine.access import log
from flowengine.history import chain
from flowengine.service.context import Engine
from flowengine.service.results import AuditReport
from flowengine.store import queries


def verify(engine: Engine) -> AuditReport:
    breaks: list[chain.ChainBreak] = []
    count_proposals = count_events = 0
    with engine.database.read() as conn:
        altered = tuple(queries.altered_definitions(conn))
        entries, access_problems = log.verify(conn)
        for proposal, events in queries.histories(conn):
            count_proposals += 1
            count_events += len(events)
            broken = chain.first_break(proposal, events)
            if broken:
                breaks.append(broken)
    return AuditReport(count_proposals, count_events, tuple(breaks), altered, entries, tuple(access_problems))
