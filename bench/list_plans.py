"""The plans of ``proposal list``'s queries on a national database, as a member login gets them.

    python bench/list_plans.py --db out/national.db
    python bench/list_plans.py --db postgresql+psycopg://…/national [--title 'recovery college']

For each list ``bench/interactive.py`` times — the first page in id order, ``--title TEXT``,
``--sort waiting --stage implementation``, ``--overdue --sort updated`` — the first page is asked
through the API (``proposal_page``, as the command asks it) and every statement it sends that
reads the proposals is caught as sent, then run again under ``EXPLAIN (ANALYZE, BUFFERS)`` on
PostgreSQL (``EXPLAIN QUERY PLAN`` and its time on SQLite). On PostgreSQL ``--db`` names the
administrator who made the data set; the statements are sent and explained as a member login
made for the run (``bench/members.py``: every role in every workflow, not ``admin``), so
row-level security applies as it does to people. Prints each plan with the page call's time.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from members import default_login, drop, member  # bench/ is on the path when a bench script runs

LISTS: dict[str, dict[str, Any]] = {
    "proposal list": {},
    "proposal list --title TEXT": {"title": None},
    "proposal list --sort waiting --stage implementation": {"sort": "waiting", "stage": "implementation"},
    "proposal list --overdue --sort updated": {"overdue": True, "sort": "updated"},
}


def _explain(conn: Any, statement: str, parameters: Any, server: bool) -> tuple[str, float]:
    if isinstance(parameters, list):  # as the driver's own connection takes them
        parameters = tuple(parameters)
    start = time.perf_counter()
    if server:
        rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).all()
        return "\n".join(row[0] for row in rows), time.perf_counter() - start
    plan = " | ".join(str(row[-1]) for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement,
                                                                      parameters).all())
    start = time.perf_counter()
    conn.exec_driver_sql(statement, parameters).all()
    return plan, time.perf_counter() - start


def main() -> None:
    from sqlalchemy import event

    from flowengine.service.facade import FlowEngine

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="a national database (bench/national.py): file or URL")
    parser.add_argument("--title", default="recovery college")
    parser.add_argument("--limit", type=int, default=50)
    args = parser.parse_args()
    server = "://" in args.db and not args.db.startswith("sqlite")
    login = default_login()
    target = member(args.db, login, ["*"], ["*"]) if server else args.db
    try:
        with FlowEngine.open(target) as engine:
            caught: list[tuple[str, Any]] = []

            def catch(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
                if "proposals" in statement or "flowengine_titled" in statement:
                    caught.append((statement, parameters))

            event.listen(engine.database.engine, "before_cursor_execute", catch)
            for name, wanted in LISTS.items():
                asked = {key: args.title if key == "title" else value for key, value in wanted.items()}
                caught.clear()
                start = time.perf_counter()
                page = engine.proposal_page(limit=args.limit, **asked)
                took = time.perf_counter() - start
                print(f"## {name.replace('TEXT', repr(args.title))}: {len(page.standings)} proposals, "
                      f"the page call {took * 1000:.0f} ms, {len(caught)} statements on the proposals")
                statements = list(caught)
                event.remove(engine.database.engine, "before_cursor_execute", catch)
                with engine.database.read() as conn:
                    for statement, parameters in statements:
                        plan, seconds = _explain(conn, statement, parameters, server)
                        print(f"\n    {' '.join(statement.split())[:300]}\n")
                        print("\n".join("    " + line for line in plan.splitlines()))
                        print(f"    ({seconds * 1000:.1f} ms)")
                event.listen(engine.database.engine, "before_cursor_execute", catch)
                print()
    finally:
        if server:
            drop(args.db, login, ["*"], ["*"])


if __name__ == "__main__":
    main()
