"""Several processes running ``tick`` on one database at the same moment, as two cron jobs
(or a cron job and an impatient administrator) would. The worker lives here, not in a test
module, so that processes started with ``spawn`` import only flowengine and this file.
"""

from __future__ import annotations

import traceback
from datetime import datetime
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from flowengine.service.facade import FlowEngine

from .stress_advances import START_TIMEOUT, collect_reports, spawn


def tick_worker(db: str, workflow_dir: str, now: datetime, start: Barrier, reports: Queue[dict[str, Any]]) -> None:
    """Open an engine, wait for the others, tick once; report what this process applied."""
    try:
        with FlowEngine.open(db, workflow_dirs=[workflow_dir], clock=lambda: now) as engine:
            start.wait(START_TIMEOUT)
            reports.put(engine.tick().as_dict())
    except Exception:
        start.abort()
        reports.put({"failure": traceback.format_exc()})


def run_ticks(db: str | Path, workflow_dir: str | Path, *, processes: int, now: datetime) -> list[dict[str, Any]]:
    """Every process's tick report (as JSON-ready dicts); fails if any process failed."""
    context = spawn()
    start = context.Barrier(processes)
    reports: Queue[dict[str, Any]] = context.Queue()
    workers = [context.Process(target=tick_worker, name=f"ticker-{n}",
                               args=(str(db), str(workflow_dir), now, start, reports)) for n in range(processes)]
    collected = collect_reports(workers, reports)
    failures = [report["failure"] for report in collected if "failure" in report]
    assert not failures, "\n".join(failures)
    return collected
