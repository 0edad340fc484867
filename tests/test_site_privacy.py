"""No count a published site hides can be worked out from what it shows — checked as a reader
would, independently of the library's own reasoning.

The published numbers are read out of the built HTML pages (the index, each workflow page and
the diagrams in them), never from the library's list of cells and sums. The ties between them are
written here afresh from what the figures mean (a state's proposals add up to the workflow's, a
stage's to its states', steps out of a state to its finished stays …). The truth comes from the
same database built as an internal site, read by the same parser. Each hidden count is then
solved for its least and greatest value over all whole-number solutions with OR-Tools' CP-SAT —
an exact integer solver, and not the HiGHS the library decides with.
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

from flowengine import FlowEngine
from flowengine.analysis.figures import SUPPRESSED
from flowengine.definition.model import Workflow
from flowengine.definition.vocabulary import term
from flowengine.demo import build_demo
from flowengine.views.figure_wording import DASH
from flowengine.views.site.build import build_site

from .conftest import REPO_ROOT

pytestmark = pytest.mark.sqlite_only("builds SQLite files by design")
sys.path.insert(0, str(REPO_ROOT / "bench"))
MIN_COUNT = 3
Value = int | None  # None: hidden


class _Page(HTMLParser):
    """A site page's tables (by the id of the heading before them), its lead, its list of
    workflows with the count beside each, and the text lines of the diagrams' nodes."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[list[str]]]] = {}
        self.listed: dict[str, str] = {}  # workflow page → the count beside its link
        self.nodes: dict[str, list[str]] = {}  # diagram node title → its text lines
        self.lead = ""
        self._anchor = ""
        self._table: list[list[str]] | None = None
        self._cell: list[str] | None = None
        self._node: str | None = None  # "" while its title is awaited
        self._title = False
        self._text: list[str] | None = None
        self._lead: list[str] | None = None
        self._href = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag in ("h2", "h3") and found.get("id"):
            self._anchor = found["id"] or ""
        elif tag == "table":
            self._table = []
            self.tables.setdefault(self._anchor, []).append(self._table)
        elif tag == "tr" and self._table is not None:
            self._table.append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []
        elif tag == "g" and found.get("class") == "node":
            self._node = ""
        elif tag == "title" and self._node == "":
            self._title = True
        elif tag == "text" and self._node:
            self._text = []
        elif tag == "a" and (found.get("href") or "").startswith("w/"):
            self._href = found.get("href") or ""
        elif tag == "p" and found.get("class") == "lead":
            self._lead = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table:
            self._table[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None
        elif tag == "text" and self._text is not None and self._node:
            self.nodes.setdefault(self._node, []).append("".join(self._text))
            self._text = None
        elif tag == "title":
            self._title = False
        elif tag == "p" and self._lead is not None:
            self.lead, self._lead = "".join(self._lead), None
        elif tag == "li":
            self._href = ""

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._title:
            self._node = data.strip()
        elif self._text is not None:
            self._text.append(data)
        if self._lead is not None:
            self._lead.append(data)
        match = re.match(r"\s*—\s*(\S+)", data) if self._href else None
        if match:
            self.listed[self._href] = match.group(1)


def _headline(html: str) -> dict[str, str]:
    """The index's headline figures: label → the value shown."""
    return {label.strip(): value for value, label in re.findall(r'<li class="[^"]*"><b>([^<]+)</b>([^<]+)', html)}


def _read(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def _value(text: str) -> Value:
    text = text.strip()
    if text == SUPPRESSED:
        return None
    return int(text.replace("\u00a0", "").replace(",", ""))


def _rows(table: list[list[str]]) -> Iterator[dict[str, str]]:
    head, *body = table
    for row in body:
        yield dict(zip(head, row, strict=True))


@dataclass
class Published:
    """Every count a site shows (None where hidden), named by what it counts, and how they tie."""

    values: dict[str, Value] = field(default_factory=dict)
    equal: list[tuple[list[str], list[str]]] = field(default_factory=list)  # sum(left) == sum(right)
    at_most: list[tuple[list[str], list[str]]] = field(default_factory=list)  # sum(left) <= sum(right)
    shares: list[tuple[str, str, str]] = field(default_factory=list)  # (share shown, part, whole)

    def put(self, key: str, text: str) -> str:
        value = _value(text)
        if key in self.values and self.values[key] != value:
            raise AssertionError(f"{key} is shown as {self.values[key]} and as {value}")
        self.values[key] = value
        return key


def read_site(site: Path, workflows: dict[str, Workflow]) -> Published:
    """The published numbers of a site as a reader finds them, and the ties a reader knows."""
    found = Published()
    index = (site / "index.html").read_text(encoding="utf-8")
    figures = _headline(index)
    page = _read(index)
    for wid, workflow in workflows.items():
        _workflow(found, wid, workflow, _read((site / "w" / f"{wid}.html").read_text(encoding="utf-8")))
        found.put(f"{wid}|proposals", page.listed[f"w/{wid}.html"])
    totals = {"proposals": "proposals", "stalled now": "stalled", "gone quiet (no record since)": "quiet",
              "got a reasoned answer": "answered", "implemented, in use or partly in place": "done",
              "carried on elsewhere": "carried_on"}
    for label, what in totals.items():
        found.put(f"*|{what}", figures[label])
    for what in ("proposals", "answered", "carried_on"):
        found.equal.append(([f"*|{what}"], [f"{wid}|{what}" for wid in workflows]))
    for what in ("stalled", "quiet"):
        found.equal.append(([f"*|{what}"], [f"{wid}|{what}|{s}" for wid, wf in workflows.items()
                                             for s, state in wf.states.items() if not state.final
                                             and f"{wid}|{what}|{s}" in found.values]))
    found.equal.append((["*|done"], [key for wid in workflows for key in (
        f"{wid}|implemented", f"{wid}|partially_implemented", f"{wid}|in_progress", f"{wid}|stage_now|evaluation")
        if key in found.values]))
    for table in page.tables.get("compare", []):
        _comparison(found, table)
    return found


def _stage_of(label: str) -> str:
    stages = ("panel", "council", "administration", "political", "implementation", "evaluation")
    return next(stage for stage in stages if term(stage, "en") == label)


def _workflow(found: Published, wid: str, workflow: Workflow, page: _Page) -> None:
    put = found.put
    lead = re.search(r"; (\S+) proposals\.", page.lead)
    assert lead, page.lead
    total = put(f"{wid}|proposals", lead.group(1))
    states = {row["state"]: row for row in _rows(page.tables["states"][0])}
    for sid, row in states.items():
        put(f"{wid}|now|{sid}", row["now"])
        declared = workflow.states.get(sid)
        if declared is not None and not declared.final:
            for column, what in (("stalled", "stalled"), ("over deadline", "over"), ("gone quiet", "quiet"),
                                 ("passed", "passed")):
                put(f"{wid}|{what}|{sid}", row[column])
            found.at_most.append(([f"{wid}|stalled|{sid}", f"{wid}|quiet|{sid}"], [f"{wid}|now|{sid}"]))
            found.at_most.append(([f"{wid}|over|{sid}"], [f"{wid}|stalled|{sid}"]))
    # A state the table leaves out holds nobody and has had nobody pass.
    found.equal.append(([total], [f"{wid}|now|{sid}" for sid in states]))
    open_states = {sid: s for sid, s in workflow.states.items() if not s.final and sid in states}
    for row in _rows(page.tables["stages"][0]):
        stage = _stage_of(row["stage"])
        members = [sid for sid, s in open_states.items() if s.stage == stage]
        for column, what in (("now", "now"), ("stalled", "stalled"), ("over deadline", "over"),
                             ("gone quiet", "quiet")):
            key = put(f"{wid}|stage_{what}|{stage}", row[column])
            found.equal.append(([key], [f"{wid}|{what}|{sid}" for sid in members]))
        passed = put(f"{wid}|stage_passed|{stage}", row["passed"])
        found.at_most.append(([passed], [f"{wid}|passed|{sid}" for sid in members]))  # stays of a stage merge
    taken: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row in _rows(page.tables["transitions"][0]):
        key = put(f"{wid}|taken|{row['from']}|{row['trigger']}|{row['to']}", row["taken"])
        taken[(row["from"], row["to"])].append(key)
    for sid in states:
        out = [k for (source, _), keys in taken.items() if source == sid for k in keys]
        into = [k for (_, target), keys in taken.items() if target == sid for k in keys]
        start = [total] if workflow.initial_state is not None and workflow.initial_state.id == sid else []
        if sid in open_states:
            found.equal.append(([f"{wid}|passed|{sid}"], out))
            found.equal.append(([*into, *start], [f"{wid}|passed|{sid}", f"{wid}|now|{sid}"]))
        elif sid in workflow.states:
            found.equal.append(([*into, *start], [f"{wid}|now|{sid}"]))
    for row in _rows(page.tables.get("loops", [[["from", "to", "times", "proposals"]]])[0]):
        times = put(f"{wid}|loop_times|{row['from']}|{row['to']}", row["times"])
        found.equal.append(([times], taken[(row["from"], row["to"])]))
        found.at_most.append(([put(f"{wid}|loop_proposals|{row['from']}|{row['to']}", row["proposals"])], [times]))
    _funnel(found, wid, workflow, page, total, open_states)
    [feedback] = list(_rows(page.tables["feedback"][0]))
    put(total, feedback["proposals"])
    found.equal.append(([total], [put(f"{wid}|answered", feedback["answered"]),
                                  put(f"{wid}|unanswered", feedback["without answer"])]))
    if feedback["share without"] not in (DASH, ""):
        found.shares.append((feedback["share without"], f"{wid}|unanswered", total))
    _diagram(found, wid, workflow, page)


def _funnel(found: Published, wid: str, workflow: Workflow, page: _Page, total: str,
            open_states: dict[str, object]) -> None:
    put = found.put
    rows = list(_rows(page.tables["funnel"][0]))
    outcomes = {term("implemented", "en"): "implemented",
                term("partially_implemented", "en"): "partially_implemented",
                "being implemented, progress recorded": "in_progress",
                "reached evaluation (taken into use)": "evaluated",
                "carried on elsewhere (transferred)": "carried_on"}
    stages = [row for row in rows if row["stage"] not in outcomes]
    for row in rows:
        if row["stage"] in outcomes:
            put(f"{wid}|{outcomes[row['stage']]}", row["reached"])
    keys = []
    for row in stages:
        stage = _stage_of(row["stage"])
        keys.append((put(f"{wid}|reached|{stage}", row["reached"]), put(f"{wid}|lost|{stage}", row["lost here"]),
                     put(f"{wid}|carried|{stage}", row["carried on"])))
        if row["share lost"] not in (DASH, ""):
            found.shares.append((row["share lost"], keys[-1][1], keys[-1][0]))
    if keys:
        found.equal.append(([total], [keys[0][0]]))
    for index, (reached, lost, carried) in enumerate(keys):
        later = [keys[index + 1][0]] if index + 1 < len(keys) else []
        found.at_most.append(([*later, lost, carried], [reached]))
    for outcome, named in (("implemented", ("implemented",)), ("partially_implemented", ("partially_implemented",)),
                           ("carried_on", ("transferred",))):
        found.equal.append(([f"{wid}|{outcome}"], [f"{wid}|now|{sid}" for sid, s in workflow.states.items()
                                                   if s.final and s.outcome in named
                                                   and f"{wid}|now|{sid}" in found.values]))
    found.at_most.append(([lost for _, lost, _ in keys] + [f"{wid}|implemented", f"{wid}|partially_implemented",
                                                           f"{wid}|carried_on"], [total]))
    found.at_most.append(([f"{wid}|carried|{_stage_of(r['stage'])}" for r in stages], [f"{wid}|carried_on"]))
    if f"{wid}|stage_now|implementation" in found.values:
        found.at_most.append(([f"{wid}|in_progress"], [f"{wid}|stage_now|implementation"]))
    found.at_most.append(([f"{wid}|evaluated"], [total]))


def _diagram(found: Published, wid: str, workflow: Workflow, page: _Page) -> None:
    """A state node of the stall diagram says its counts as the tables do, hidden where they hide."""
    for name, lines in page.nodes.items():
        if name not in workflow.states:
            continue
        text = " ".join(lines)
        for pattern, what in ((r"now (\S+) ·", "now"), (r"over deadline (\S+)", "over"), (r"stalled (\S+)", "stalled"),
                              (r"ended here: (\S+)", "now")):
            match = re.search(pattern, text)
            key = f"{wid}|{what}|{name}"
            if match and key in found.values:
                assert _value(match.group(1)) == found.values[key], f"{key}: the diagram says {match.group(1)}"


def _comparison(found: Published, table: list[list[str]]) -> None:
    """The municipalities side by side show the funnel's and the stages' counts once more."""
    head, *body = table
    for row in body:
        label = row[0]
        for wid, text in zip(head[1:], row[1:], strict=True):
            if text in (DASH, ""):
                continue
            reached = re.fullmatch(r"(\S+) reached, (\S+) lost", text)
            share = re.fullmatch(r"(\S+) of (\S+)(?: \((.+)\))?", text)
            days = re.fullmatch(r"\S+ / \S+ \((\S+)\)", text)
            if reached:
                stage = _stage_of(label)
                found.put(f"{wid}|reached|{stage}", reached.group(1))
                found.put(f"{wid}|lost|{stage}", reached.group(2))
            elif share:
                outcome = "implemented" if label == term("implemented", "en") else "partially_implemented"
                found.put(f"{wid}|{outcome}", share.group(1))
                found.put(f"{wid}|proposals", share.group(2))
                if share.group(3):
                    found.shares.append((share.group(3), f"{wid}|{outcome}", f"{wid}|proposals"))
            elif days:
                found.put(f"{wid}|stage_passed|{_stage_of(label)}", days.group(1))
            else:
                raise AssertionError(f"a comparison cell read as nothing: {text!r}")


def _solver_bounds(found: Published) -> dict[str, tuple[int, int]]:
    """For each hidden count, the least and greatest value the shown ones allow (CP-SAT)."""
    from ortools.sat.python import cp_model

    ceiling = 10 * max((v for v in found.values.values() if v is not None), default=1) + 100
    bounds = {}
    for key in sorted(k for k, v in found.values.items() if v is None):
        result = []
        for sense in ("min", "max"):
            model = cp_model.CpModel()
            variables = {k: (model.NewConstant(v) if v is not None else model.NewIntVar(0, ceiling, k))
                         for k, v in found.values.items()}

            def total(keys: list[str], variables: dict[str, cp_model.IntVar] = variables) -> cp_model.LinearExpr:
                return cp_model.LinearExpr.Sum([variables[k] for k in keys if k in variables])

            for left, right in found.equal:
                model.Add(total(left) == total(right))
            for left, right in found.at_most:
                model.Add(total(left) <= total(right))
            (model.Minimize if sense == "min" else model.Maximize)(variables[key])
            solver = cp_model.CpSolver()
            solver.parameters.num_workers = 1
            solver.parameters.max_time_in_seconds = 30
            assert solver.Solve(model) == cp_model.OPTIMAL, f"{key}: {sense} not proven"
            result.append(int(solver.Value(variables[key])))
        bounds[key] = (result[0], result[1])
    return bounds


def _check(published: Published, truth: Published) -> int:
    for shown, part, whole in published.shares:
        assert published.values[part] is not None and published.values[whole] is not None, (
            f"a share ({shown}) of {part} in {whole} is shown while a count of it is hidden")
    hidden = 0
    for key, (least, most) in _solver_bounds(published).items():
        true = truth.values[key]
        assert true is not None and least <= true <= most, (key, true, least, most)
        assert least < most, f"{key} is pinned at {least}"
        if 0 < true < MIN_COUNT:
            assert most >= MIN_COUNT, f"{key} ({true}) is known to be below {MIN_COUNT}: at most {most}"
        hidden += 1
    return hidden


def _sites(database: Path, out: Path) -> tuple[Path, Path, dict[str, Workflow]]:
    with FlowEngine.open(str(database)) as engine:
        published = build_site(engine, out / "published", min_count=MIN_COUNT)
        build_site(engine, out / "internal", internal=True, analyses=published.analyses)
    return out / "published", out / "internal", {a.workflow.id: a.workflow for a in published.analyses}


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import synthetic as generator  # bench/synthetic.py

    path = tmp_path_factory.mktemp("synthetic") / "flowengine.db"
    generator.write_database(str(path), generator.generate(40, 7))
    return path


def test_no_hidden_count_of_a_synthetic_database_can_be_worked_out(synthetic: Path, tmp_path: Path) -> None:
    published, internal, workflows = _sites(synthetic, tmp_path)
    found, truth = read_site(published, workflows), read_site(internal, workflows)
    assert all(v is not None for v in truth.values.values())
    assert _check(found, truth) >= 10  # some counts are hidden, and every one of them holds


def test_no_hidden_count_of_the_demo_published_as_it_is_can_be_worked_out(tmp_path: Path) -> None:
    """The demo's database published by its workflows' own settings: the municipalities publish
    their proposals (so their counts are public by those pages), the audit only its figures."""
    database = build_demo(tmp_path / "demo").database
    published, internal, workflows = _sites(database, tmp_path)
    found, truth = read_site(published, workflows), read_site(internal, workflows)
    assert _check(found, truth) >= 1


def test_the_reader_model_catches_a_count_hidden_alone(synthetic: Path, tmp_path: Path) -> None:
    """The check can fail: hide one small state count and nothing else, and it is pinned by the total."""
    _, internal, workflows = _sites(synthetic, tmp_path)
    truth = read_site(internal, workflows)
    alone = Published(dict(truth.values), truth.equal, truth.at_most)
    small = next(k for k, v in truth.values.items() if k.split("|")[1] == "now" and v is not None and 0 < v < 3)
    alone.values[small] = None
    with pytest.raises(AssertionError, match="pinned"):
        _check(alone, truth)


def test_a_database_with_one_small_count_hides_a_handful_not_the_page(tmp_path: Path) -> None:
    """Protecting one small count takes a few partners on a cycle of steps, not every count of the
    workflow: hidden cells beyond the small ones are only those some table a reader cannot tell
    from the true one needs moved."""
    import synthetic as generator  # bench/synthetic.py

    database = tmp_path / "flowengine.db"
    generator.write_database(str(database), generator.generate(200, 7))
    published, internal, workflows = _sites(database, tmp_path)
    found, truth = read_site(published, workflows), read_site(internal, workflows)
    small = [key for key, value in truth.values.items() if value is not None and 0 < value < MIN_COUNT]
    hidden = _check(found, truth)
    assert 1 <= len(small) <= hidden <= len(small) + 8, (len(small), hidden)
