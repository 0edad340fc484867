"""What building the published site costs: the demo and 100,000 synthetic proposals.

    python bench/site.py [--proposals 100000] [--seed 1] [--runs 3] [--cache out/bench] [--no-internal]

What is measured, precisely, in this (warm) process, each run on a freshly opened database:

- the subjects: the demo's database (``flowengine demo``: 14 proposals in six workflows, the
  municipalities publishing their proposals one by one) and a SQLite database of ``--proposals``
  synthetic proposals, about ten events each (``bench/synthetic.py``, cached in ``--cache`` as
  ``bench/stalls.py`` caches it; made once, before any timing);
- **analyse** (the baseline): ``FlowEngine.analyse()`` of every workflow, which every site build
  does first;
- **analyse + decide which counts to hide**: the baseline, then the choice a published build makes
  of the counts to hide (:func:`flowengine.analysis.disclosure.decide`); less the baseline, what
  deciding costs;
- **site, published**: :func:`flowengine.views.site.build.build_site` as ``flowengine report
  --out DIR`` runs it: the analysis, which counts to hide (complementary suppression, solved
  with HiGHS), the diagrams drawn by Graphviz, the index, a page per workflow and, for workflows
  that publish them, a page per proposal and the feeds; the synthetic workflow publishes figures
  only, so its site is a few pages;
- **site, internal**: the same with ``internal=True`` (``--internal``): every count shown, and a
  page for every proposal (100,000 of them, plus listings of 500), every history read once;
- the three in turn, ``--runs`` times after one published build as a warm-up (not counted), so the
  machine's drift weighs on all alike; the table gives the medians, pages per second, and the
  ratio to the baseline.

Prints a Markdown table (machine, date, medians, pages per second, ratios, how to reproduce).
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _demo(cache: Path) -> tuple[Path, list[str], datetime | None]:
    from flowengine.demo import build_demo

    out = cache / "demo"
    result = build_demo(out)
    return result.database, [], result.loaded.as_of


def _synthetic(cache: Path, proposals: int, seed: int) -> tuple[Path, list[str], datetime | None]:
    import stalls  # bench/stalls.py: the same cached database

    database, _, _ = stalls.prepare(cache, proposals, seed)
    return database, [str(HERE)], None


def _timed(database: Path, workflow_dirs: list[str], as_of: datetime | None,
           work: Callable[[object, Path], int]) -> tuple[float, int]:
    """(seconds, pages) of one run of ``work(engine, out)`` on a freshly opened database."""
    import synthetic

    from flowengine.service.facade import FlowEngine

    with tempfile.TemporaryDirectory(prefix="site-bench-") as folder, \
            FlowEngine.open(str(database), workflow_dirs=workflow_dirs, clock=lambda: synthetic.END) as engine:
        begin = time.perf_counter()
        pages = work(engine, Path(folder) / "site")
        return time.perf_counter() - begin, pages


def _analyse(as_of: datetime | None) -> Callable[[object, Path], int]:
    def work(engine: object, out: Path) -> int:
        engine.analyse(as_of=as_of)  # type: ignore[attr-defined]
        return 0
    return work


def _deciding(as_of: datetime | None) -> Callable[[object, Path], int]:
    """The analysis and the choice of counts to hide as a published build makes it (complementary
    suppression, HiGHS): less the baseline, what deciding costs."""
    from flowengine.analysis.disclosure import decide
    from flowengine.analysis.figures import Privacy

    def work(engine: object, out: Path) -> int:
        found = engine.analyse(as_of=as_of)  # type: ignore[attr-defined]
        opened = [a.workflow.id for a in found if a.workflow.publication.proposals]
        decide(found, Privacy.publication(3), open_workflows=opened)
        return 0
    return work


def _site(as_of: datetime | None, internal: bool) -> Callable[[object, Path], int]:
    from flowengine.views.site.build import build_site

    def work(engine: object, out: Path) -> int:
        return build_site(engine, out, as_of=as_of, internal=internal).pages  # type: ignore[arg-type]
    return work


def _machine() -> str:
    import graphviz
    import highspy  # noqa: F401

    from flowengine import __version__

    cpus = os.cpu_count()
    return (f"{platform.machine()}, {cpus} cores, Python {platform.python_version()}, "
            f"Graphviz {'.'.join(map(str, graphviz.version()))}, flowengine {__version__}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proposals", type=int, default=100_000, help="synthetic proposals (0: the demo alone)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=Path("out/bench"))
    parser.add_argument("--no-internal", dest="internal", action="store_false",
                        help="leave out the internal sites (no counts are hidden there; 100,000 pages take minutes)")
    args = parser.parse_args(argv)
    args.cache.mkdir(parents=True, exist_ok=True)
    subjects = {"demo": _demo(args.cache)}
    if args.proposals:  # 0: the demo alone
        subjects[f"synthetic {args.proposals:,}"] = _synthetic(args.cache, args.proposals, args.seed)
    rows = []
    for name, (database, dirs, as_of) in subjects.items():
        kinds = {"analyse (baseline)": _analyse(as_of), "analyse + decide which counts to hide": _deciding(as_of),
                 "site, published": _site(as_of, False), **({"site, internal": _site(as_of, True)} if args.internal
                                                            else {})}
        _timed(database, dirs, as_of, kinds["site, published"])  # warm-up: file cache, bytecode, Graphviz
        seconds: dict[str, list[float]] = {kind: [] for kind in kinds}
        pages: dict[str, int] = {}
        for run in range(args.runs):
            for kind, work in kinds.items():
                took, count = _timed(database, dirs, as_of, work)
                seconds[kind].append(took)
                pages[kind] = count
                print(f"{name}, run {run + 1}: {kind} {took:.2f} s, {count} pages", file=sys.stderr)
        base = statistics.median(seconds["analyse (baseline)"])
        for kind in kinds:
            median = statistics.median(seconds[kind])
            rate = f"{pages[kind] / median:,.0f}" if pages[kind] else ""
            rows.append(f"| {name} | {kind} | {median:.2f} s | {pages[kind]:,} | {rate} | {median / base:.1f}x |")
    shutil.rmtree(args.cache / "demo", ignore_errors=True)
    print(f"{datetime.now(UTC):%Y-%m-%d}, {_machine()}; medians of {args.runs} interleaved runs\n")
    print("| database | what | median | pages | pages per second | ratio to analyse |")
    print("| --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))
    print(f"\nReproduce: python bench/site.py --proposals {args.proposals} --seed {args.seed} --runs {args.runs}"
          + ("" if args.internal else " --no-internal"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
