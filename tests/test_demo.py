"""The Interreg demo: the final report's proposals rebuilt from the bundled data file, each ending
where the report (its text is kept in tests/fixtures/sources/) says it stood when it was signed,
every step saying whether the report states it, it is inferred, or it is illustrative — and the
story read back from the demo's own outputs: the command's summary, the Markdown report, the
published site, and the histories.

One database is built once for the module; the tests read it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner
from flowengine_cli.main import cli
from flowengine_cli.remedies import hint

from flowengine.definition.registry import bundled_dir, discover, read_candidate
from flowengine.definition.yamlsafe import read_file
from flowengine.demo import DATABASE_NAME, DemoLoad, DemoResult, build_demo, demo_file, load_demo, read_demo
from flowengine.errors import DefinitionError, FlowEngineError, InvalidInput, Refused
from flowengine.history.provenance import ILLUSTRATIVE, INFERRED, KINDS, STATED, Provenance
from flowengine.history.records import FROM_KEY, NOTED, PROGRESS
from flowengine.service.facade import FlowEngine, Standing

from .databases import DatabaseTargets

BUILDS_SQLITE = pytest.mark.sqlite_only("`flowengine demo` builds a SQLite file by design")

WORKFLOWS = ("melhus", "ostersund", "stjordal", "timra", "trondheim", "user-asks-user")
REPORT = Path(__file__).parent / "fixtures" / "sources" / "final-report-2020-01-28.txt"

# Every proposal, found by keywords in its title (all of them, case-insensitive), the state the
# final report leaves it in, and the passage that says so.
ENDINGS = [
    ("ostersund", ("meeting place",), "implementation",
     'Sammanfattning Östersund: "Förslaget har mottagits väl och Östersunds Kommun planerar nu att starta upp '
     'en sådan verksamhet" — planned; no committee decision is reported'),
    ("ostersund", ("information portal",), "ombud_preparation",
     'Sammanfattning Östersund: "Vi har haft samtal med kommunikatörer inom kommunen och region" — talks, '
     "no decision, no presentation to the leadership"),
    ("ostersund", ("peer",), "transferred",
     'Sammanfattning Östersund: "detta har lett till att vi kommer söka om ett nytt Interregprojekt inom '
     'området sysselsättning" — carried on elsewhere'),
    ("user-asks-user", ("audit",), "handed_on",
     'Sammanfattning Timrå: "Panelen började sitt arbete med att diskutera de åtgärdsförslag som revisionen '
     'kom fram till"'),
    ("timra", ("open activity",), "panel_work",
     'Sammanfattning Timrå: "brukarpanelen fick vid detta möte uppdraget att arbeta vidare med förslaget"'),
    ("timra", ("web",), "service_review",
     'Sammanfattning Timrå: "Panelen har också lyft förbättringsförslag till befintliga verksamheter" — no '
     "outcome given"),
    ("timra", ("brochure",), "service_review", 'Sammanfattning Timrå: "informationsbroschyror m.m." — no outcome'),
    ("trondheim", ("byåsen",), "management_review",
     'Oppsummering Trondheim: "Det har vært en rekke møter med ledelse for å få gjennomslag for dette"'),
    ("trondheim", ("personal ombudsman",), "management_review",
     'Oppsummering Trondheim: "HUB på byåsen samt personlig ombud. Det har vært en rekke møter med ledelse"'),
    ("trondheim", ("recovery college",), "provider_selection",
     'Oppsummering Trondheim: "Mot slutten av prosjektet … anbuddet om recovery college"'),
    ("trondheim", ("glimt",), "evaluation",
     'Oppsummering Trondheim: "Formell oppstart er 01. september 2019"; Effekter: "har man startat upp nya '
     'tjänster, såsom GLIMT recoverysenter"'),
    ("stjordal", ("nedfor",), "development",
     'Oppsummering Stjørdal: "Vi står foran en systematisk utprøving og evaluering av systemet" — decided, '
     "not begun"),
    ("melhus", ("potten",), "implementation",
     'Oppsummering Melhus: "Kommunene har delvis gjennomført dette, men aktiviteten og engasjementet har gått noe '
     'ned i sluttfasen"'),
    ("melhus", ("information system",), "implementation",
     'Oppsummering Melhus: "et bedre informasjonssystem for brukere. Kommunene har delvis gjennomført dette"'),
]

# The proposals whose outcome the report does not give: at the demo's day they have gone quiet.
GAPS = [("timra", ("web",)), ("timra", ("brochure",)), ("ostersund", ("information portal",)),
        ("trondheim", ("byåsen",)), ("trondheim", ("personal ombudsman",)), ("timra", ("open activity",))]

# The people named in the seeds (the final report, its references, the report from the Frosta
# gathering), collected by hand. None of them may appear in the demo data.
PEOPLE = [
    "Karl Johan Johansen", "Elisabeth Rajala", "Erik Hoås", "Michelle Eilertsen", "Elisabeth Hansen",
    "Helene Hallberg Toivonen", "Anette Hammarberg", "Rolf Mollan", "Magnus Byström", "Sissel Smistad",
    "Andreas Evenhus", "Arve Stoum", "Nils Baar", "Venkat Pulla", "Lesley Chenoweth", "Andrew Francis",
    "Stefan Bakaj", "Jürgen Habermas", "Axel Honneth", "Hans Joas", "Brenda Happell", "Herbjørn Nysveen",
    "C. K. Prahalad", "Venkat Ramaswamy", "Jaakko Seikkula", "Stephen Vargo", "Robert Lusch",
]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> DemoResult:
    return build_demo(tmp_path_factory.mktemp("demo") / "out")


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory,
           database_targets: DatabaseTargets) -> Iterator[tuple[FlowEngine, DemoLoad]]:
    """The demo's proposals loaded into a fresh database of the run's kind (the `demo` command
    itself always builds a SQLite file: those tests are marked sqlite_only)."""
    target = database_targets.new(tmp_path_factory.mktemp("demo-db"))
    as_of = read_demo().as_of  # recorded as of the file's day, as the demo command records it
    with FlowEngine.open(target, clock=lambda: as_of) as opened:
        yield opened, load_demo(opened)
    database_targets.drop(target)


@pytest.fixture(scope="module")
def engine(loaded: tuple[FlowEngine, DemoLoad]) -> FlowEngine:
    return loaded[0]


@pytest.fixture(scope="module")
def standings(loaded: tuple[FlowEngine, DemoLoad]) -> list[Standing]:
    engine, load = loaded
    return engine.proposals(as_of=load.as_of)


@pytest.fixture(scope="module")
def markdown(built: DemoResult) -> str:
    assert built.markdown is not None
    return built.markdown.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def page(built: DemoResult) -> str:
    """The published site's index page."""
    assert built.report is not None
    return built.report.read_text(encoding="utf-8")


def site_page(built: DemoResult, relative: str) -> str:
    assert built.report is not None
    return (built.report.parent / relative).read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def printed(built: DemoResult, tmp_path_factory: pytest.TempPathFactory) -> str:
    result = CliRunner().invoke(cli, ["demo", "--out", str(tmp_path_factory.mktemp("cli") / "demo")],
                                env={"FLOWENGINE_NOW": None}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def find(standings: list[Standing], workflow: str, keywords: tuple[str, ...]) -> Standing:
    found = [s for s in standings if s.proposal.workflow == workflow
             and all(word in s.proposal.title.lower() for word in keywords)]
    assert len(found) == 1, (workflow, keywords, [s.proposal.title for s in found])
    return found[0]


def md_table(markdown: str, title: str) -> list[dict[str, str]]:
    """The rows of the Markdown table under the heading that starts with ``title``, by column."""
    block = next(part for part in ("\n" + markdown).split("\n## ") if part.startswith(title))
    lines = [line for line in block.splitlines() if line.startswith("| ") and not line.startswith("| --- ")]
    if not lines:
        return []
    head = [cell.strip() for cell in lines[0].strip("|").split(" | ")]
    return [dict(zip(head, (cell.strip() for cell in line.strip("|").split(" | ")), strict=True))
            for line in lines[1:]]


def report_text() -> str:
    return re.sub(r"\s+", " ", REPORT.read_text(encoding="utf-8"))


# -- the data file --------------------------------------------------------------------------


def test_the_demo_file_is_bundled_and_is_not_a_workflow() -> None:
    assert demo_file().is_file()
    assert demo_file().is_relative_to(bundled_dir())
    assert read_candidate(demo_file()).id is None
    assert demo_file() not in [entry.path for entry in discover([bundled_dir()])]
    result = CliRunner().invoke(cli, ["workflow", "list"], env={"FLOWENGINE_WORKFLOWS": None})
    assert result.exit_code == 0 and "workflows/demo" not in result.stdout and "interreg" not in result.stdout


def test_the_demo_ships_as_package_data() -> None:
    import tomllib

    pyproject = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text("utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["flowengine_workflows"]
    relative = demo_file().relative_to(bundled_dir())
    assert any(relative.match(pattern) or (pattern.startswith("**/") and relative.match(pattern[3:]))
               for pattern in patterns), patterns


def test_no_person_named_in_the_sources_appears_in_the_demo() -> None:
    text = demo_file().read_text(encoding="utf-8").lower()
    data = read_demo()
    actors = {p.actor.name.lower() for p in data.proposals} | {
        s.actor.name.lower() for p in data.proposals for s in p.steps}
    name_parts = {part.lower().strip(".") for person in PEOPLE for part in person.split() if len(part) > 2}
    for person in PEOPLE:
        surname = person.split()[-1].lower()
        assert person.lower() not in text and not re.search(rf"\b{re.escape(surname)}\b", text), person
    for actor in actors:
        assert actor not in {person.lower() for person in PEOPLE}
        assert not set(re.split(r"[^a-zåäöæø]+", actor)) & name_parts, actor


def test_every_step_is_dated_within_the_project_and_the_day_the_report_was_signed() -> None:
    data = read_demo()
    assert data.as_of_day.isoformat() == "2019-10-07"  # "Signaturer": 07.10.2019
    moments = [p.at for p in data.proposals] + [s.at for p in data.proposals for s in p.steps]
    assert min(moments).date().isoformat() >= "2016-06-15"
    assert max(moments) <= data.as_of


def _provenances() -> list[tuple[str, Provenance]]:
    data = read_demo()
    found = [(str(data.where(p.path)), p.provenance) for p in data.proposals]
    found += [(str(data.where(s.path)), s.provenance) for p in data.proposals for s in p.steps]
    return found + [(str(data.where(c.path)), c.provenance) for c in data.context]


def test_every_passage_the_demo_quotes_is_in_the_final_report_word_for_word() -> None:
    """A stated step's passage, and every passage quoted in what a step is inferred from or why it
    was invented: each piece between the ellipses (…) of an omission is in the report."""
    report = report_text()
    checked = 0
    for where, source in _provenances():
        quoted = [source.text] if source.kind == STATED else []
        quoted += re.findall(r'[“"]([^”"]+)[”"]', source.text) if source.kind != STATED else []
        for passage in quoted:
            for piece in passage.split("…"):
                piece = re.sub(r"\s+", " ", piece).strip(" .")
                if len(piece) >= 3:
                    assert piece in report, (where, piece)
                    checked += 1
    assert checked > 60


def test_every_stated_step_names_its_section_and_every_section_is_a_heading_of_the_report() -> None:
    report = report_text()
    for where, source in _provenances():
        if source.kind == STATED:
            assert source.section, where
        for section in filter(None, (part.strip() for part in source.section.split(";"))):
            assert section in report, (where, section)


def test_the_invented_steps_are_the_ones_the_chains_cannot_run_without() -> None:
    """Illustrative steps stand where the report names no body: the user council above all, a
    decision whose body the report leaves out, a dialogue meeting it does not name."""
    data = read_demo()
    for proposal in data.proposals:
        assert proposal.provenance.kind != ILLUSTRATIVE, proposal.title  # every proposal is in the report
        for step in proposal.steps:
            if step.provenance.kind == ILLUSTRATIVE:
                assert step.action == "trigger", (proposal.title, step.comment)  # never a note or progress
                assert re.search(r"council|no body|names none|needs a decision|Posts were created",
                                 step.provenance.text), step.provenance.text


def test_a_step_that_does_not_say_where_it_comes_from_is_refused_at_its_line(tmp_path: Path) -> None:
    data = tmp_path / "demo.yaml"
    data.write_text(GOOD.replace("        illustrative: No council is named.\n", ""), encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"demo.yaml:14:9: this step does not say where it comes from \(say "):
        read_demo(data)
    data.write_text(GOOD.replace("    stated: Tjeneste-HUB ved Potten\n", "    stated: Tjeneste-HUB ved Potten\n"
                                 "    inferred: twice\n"), encoding="utf-8")
    with pytest.raises(InvalidInput, match="says it is stated and inferred: it can be only one"):
        read_demo(data)
    data.write_text(GOOD.replace("    section: Oppsummering Melhus\n", ""), encoding="utf-8")
    with pytest.raises(InvalidInput, match="a stated step names where the source says it"):
        read_demo(data)
    data.write_text(GOOD.replace("placeholders: [panel_report]", "placeholders: [decision]"), encoding="utf-8")
    with pytest.raises(InvalidInput, match="placeholder 'decision' is not a field this step sets"):
        read_demo(data)


# -- what the database holds ----------------------------------------------------------------


@BUILDS_SQLITE
def test_the_demo_loads_every_proposal_into_a_fresh_database(built: DemoResult) -> None:
    loaded = built.loaded
    assert len(loaded.proposals) == len(ENDINGS) == 14
    assert tuple(loaded.by_workflow) == WORKFLOWS
    assert loaded.events == sum(1 + p.steps for p in loaded.proposals)
    assert sum(loaded.provenance.values()) == loaded.events  # every event says where it comes from
    assert built.database == built.out_dir / DATABASE_NAME and built.database.is_file()


@pytest.mark.parametrize(("workflow", "keywords", "state", "report"), ENDINGS,
                         ids=[" ".join(e[1]) for e in ENDINGS])
def test_each_proposal_ends_where_the_final_report_says(standings: list[Standing], workflow: str,
                                                        keywords: tuple[str, ...], state: str, report: str) -> None:
    standing = find(standings, workflow, keywords)
    assert standing.proposal.state == state, report


def test_every_event_records_where_it_comes_from(engine: FlowEngine, standings: list[Standing]) -> None:
    for standing in standings:
        _, events = engine.history(standing.proposal.id)
        assert all(Provenance.of(event.details) for event in events), standing.proposal.id


def test_melhus_records_what_is_partly_in_place_as_progress(engine: FlowEngine, standings: list[Standing]) -> None:
    for keywords in (("potten",), ("information system",)):
        standing = find(standings, "melhus", keywords)
        assert standing.progress is not None and standing.progress.share == "in part"
        _, events = engine.history(standing.proposal.id)
        assert "implemented_part" not in standing.proposal.fields
        [progress] = [e for e in events if e.kind == PROGRESS]
        assert Provenance.of(progress.details) == Provenance(
            STATED, "Kommunene har delvis gjennomført dette", "Oppsummering Melhus",
            'activity "Implementera nya lösningar och tjänster" 170624\N{EN DASH}181130')
        assert events[-1].kind == NOTED and "dropped somewhat in the final phase" in events[-1].comment


# -- the story, read from the demo's outputs --------------------------------------------------


@BUILDS_SQLITE
def test_the_stall_list_is_led_by_melhus_implementation(built: DemoResult, markdown: str, printed: str) -> None:
    """The one stall the report describes: "aktiviteten og engasjementet har gått noe ned i sluttfasen"."""
    assert [(s.proposal, s.workflow, s.stage, s.owner) for s in built.stalls] == [
        ("MEL-1", "melhus", "implementation", "tjenesten"), ("MEL-2", "melhus", "implementation", "tjenesten")]
    assert [row["proposal"] for row in md_table(markdown, "Stalled proposals")] == ["MEL-1", "MEL-2"]
    stalled = printed.split("stalled on 2019-10-07", 1)[1].splitlines()
    assert stalled[0].endswith(": 2, worst first:") and stalled[1].lstrip().startswith("MEL-1")


@BUILDS_SQLITE
def test_proposals_whose_outcome_the_report_does_not_give_are_gaps_not_stalls(
        built: DemoResult, markdown: str, standings: list[Standing]) -> None:
    expected = {find(standings, wf, kw).proposal.id for wf, kw in GAPS}
    assert {s.proposal for s in built.quiet} == expected
    assert not expected & {s.proposal for s in built.stalls}
    rows = md_table(markdown, "Gone quiet")
    assert {row["proposal"] for row in rows} == expected
    assert all(float(row["days since"]) > float(row["limit days"]) for row in rows)
    assert "not proof that anyone failed to act" in markdown


def test_trondheims_2018_decision_is_recorded_as_what_it_was(engine: FlowEngine, standings: list[Standing]) -> None:
    """"vedtok Trondheim kommune våren 2018 at de ville sette ut 20-25% av tjenestene til frivillige og
    ideelle organisasjoner": a decision on how services are organised, not the adoption of proposals."""
    noted = []
    for standing in (s for s in standings if s.proposal.workflow == "trondheim"):
        _, events = engine.history(standing.proposal.id)
        assert not [e for e in events if e.role in ("bystyret", "helse_og_omsorgskomiteen")]
        assert not [e for e in events if e.trigger in ("adopt", "recommend_to_city_council", "send_to_committee")]
        noted += [(standing.proposal.id, e) for e in events if e.kind == NOTED and "20\N{EN DASH}25 %" in e.comment]
    assert [pid for pid, _ in noted] == ["TRD-1", "TRD-2"]  # the proposals of the panel report's process
    for _, note in noted:
        assert "not on this proposal" in note.comment
        assert Provenance.of(note.details) == Provenance(
            STATED, "I denne prosessen vedtok Trondheim kommune våren 2018 at de ville sette ut 20-25% av tjenestene "
            "til frivillige og ideelle organisasjoner.", "Oppsummering Trondheim", "våren 2018")
    context = [c for c in read_demo().context if c.workflow == "trondheim" and "20\N{EN DASH}25 %" in c.text]
    assert len(context) == 1 and "not a decision on any one proposal" in context[0].text


@BUILDS_SQLITE
def test_the_2018_decision_is_reported_as_context_and_no_political_decision_is_counted(
        built: DemoResult, markdown: str) -> None:
    [trondheim] = [a for a in built.analyses if a.workflow.id == "trondheim"]
    for state in ("committee_review", "city_council_review"):  # no proposal was ever before the politicians
        figures = trondheim.state(state)
        assert figures is not None and (figures.now, figures.passed.count) == (0, 0)
    assert not [t for t in trondheim.transitions if t.taken and t.trigger in ("adopt", "send_to_committee")]
    context = md_table(markdown, "What the report tells besides the proposals")
    assert any(row["about"] == "trondheim" and "våren 2018" in row["when"] for row in context)


def test_glimt_and_the_meeting_place_at_heimdal_are_one_proposal(standings: list[Standing]) -> None:
    mentions = [s for s in standings if re.search(r"glimt|heimdal", f"{s.proposal.title} {s.proposal.description}",
                                                   re.IGNORECASE)]
    assert len(mentions) == 1
    [glimt] = mentions
    assert "GLIMT" in glimt.proposal.title and "Heimdal" in glimt.proposal.title
    assert glimt.proposal.fields["posts"] == 4 and glimt.proposal.fields["places"] == 35
    assert glimt.proposal.fields["started_on"] == "2019-09-01" and glimt.stage == "evaluation"


@BUILDS_SQLITE
def test_timra_was_answered_and_the_answer_counts_in_the_feedback_loop(
        built: DemoResult, markdown: str, engine: FlowEngine, standings: list[Standing]) -> None:
    """"brukarpanelen fick vid detta möte uppdraget att arbeta vidare med förslaget": an answer."""
    [timra] = [a for a in built.analyses if a.workflow.id == "timra"]
    assert (timra.feedback.answered.count, timra.feedback.unanswered) == (1, 2)  # the open activity; not web, brochures
    [row] = md_table(markdown, "Timrå \N{EN DASH} from the user panel to decision (timra): feedback loop")
    assert (row["answered"], row["without answer"]) == ("1", "2")
    _, events = engine.history(find(standings, "timra", ("open activity",)).proposal.id)
    [answer] = [e for e in events if e.trigger == "send_back"]
    assert answer.role == "ordforande" and "task of working further on it" in answer.comment


def test_timra_begins_with_one_audit_that_its_findings_link_back_to(engine: FlowEngine,
                                                                  standings: list[Standing]) -> None:
    audit = find(standings, "user-asks-user", ("audit",)).proposal
    assert audit.id == "BSB-1"
    assert [p.id for p in engine.led_to(audit.id)] == [find(standings, "timra", (k,)).proposal.id
                                                       for k in ("web", "brochure")]
    _, events = engine.history(find(standings, "timra", ("open activity",)).proposal.id)
    assert FROM_KEY not in events[0].details  # out of the panel's own inventory, not the audit
    assert [s for s in standings if s.proposal.workflow == "user-asks-user"] == [
        find(standings, "user-asks-user", ("audit",))]  # one audit, not one per proposal


@BUILDS_SQLITE
def test_the_report_counts_proposals_per_audit_and_where_they_went(markdown: str, page: str) -> None:
    [row] = md_table(markdown, "From audits to proposals")
    assert (row["proposal"], row["workflow"], row["proposals it led to"]) == ("BSB-1", "user-asks-user", "2")
    assert "TIM-1 Clearer information on the web sites: With the existing service" in row["where they are"]
    assert 'id="lineage"' in page and "From audits to proposals" in page
    assert '<a href="p/BSB-1.html">BSB-1</a>' in page  # the audit has its page, as the demo publishes all


@BUILDS_SQLITE
def test_the_headline_counts_services_started_partial_implementation_and_ideas_carried_on(page: str) -> None:
    """GLIMT started; Melhus' two partly carried out; Nedfor's demo online; peer support carried on in
    a new application, and the audit's findings handed on to the panel. Nothing is called
    implemented that is not."""
    figures = {label.strip(): value for value, label in re.findall(r'<li class="[^"]*"><b>([^<]+)</b>([^<]+)', page)}
    assert figures == {"proposals": "14", "stalled now": "2", "gone quiet (no record since)": "6",
                       "got a reasoned answer": "9", "implemented, in use or partly in place": "4",
                       "carried on elsewhere": "2"}


class _Rows(HTMLParser):
    """Every table row of an HTML page: its cells' text and their classes."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[tuple[str, str]]] = []
        self.cell: list[str] | None = None
        self.css = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.cell, self.css = [], dict(attrs).get("class") or ""

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(("".join(self.cell), self.css))
            self.cell = None


class _Steps(HTMLParser):
    """The steps of a proposal page: each step's id and the provenance marks in it (class, text)."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: dict[int, list[tuple[str, str]]] = {}
        self.step: int | None = None
        self.mark: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "li" and (found.get("id") or "").startswith("step-"):
            self.step = int((found["id"] or "").removeprefix("step-"))
            self.steps[self.step] = []
        elif tag == "span" and self.step is not None and "src " in f"{found.get('class')} ":
            self.mark = (found.get("class") or "").split()[-1]

    def handle_endtag(self, tag: str) -> None:
        if tag == "ol":
            self.step = None

    def handle_data(self, data: str) -> None:
        if self.mark is not None and self.step is not None:
            self.steps[self.step].append((self.mark, data))
            self.mark = None


@BUILDS_SQLITE
def test_every_illustrative_step_is_marked_on_the_site_and_in_the_markdown_report(
        built: DemoResult, engine: FlowEngine, markdown: str, page: str) -> None:
    marked = 0
    for loaded in built.loaded.proposals:
        _, events = engine.history(loaded.id)
        kinds = [Provenance.of(event.details) for event in events]
        history = md_table(markdown, f"{loaded.id} {loaded.title}")
        assert [(row["#"], row["source"]) for row in history] == [
            (str(e.seq), k.kind if k else "-") for e, k in zip(events, kinds, strict=True)], loaded.id
        steps = _Steps()
        steps.feed(site_page(built, f"p/{loaded.id}.html"))
        assert steps.steps == {e.seq: [(f"src-{k.kind}", k.kind)] if k else [] for e, k in zip(events, kinds,
                                                                                              strict=True)}, loaded.id
        marked += sum(1 for k in kinds if k and k.kind == ILLUSTRATIVE)
    assert marked == built.loaded.provenance[ILLUSTRATIVE] > 0
    proposal = site_page(built, f"p/{built.loaded.proposals[0].id}.html")
    for kind in KINDS:
        assert f"{kind}: " in markdown  # the legend
        assert f'<span class="src src-{kind}">{kind}</span></dt>' in page and f"src-{kind}\">{kind}</span></dt>" \
            in proposal


@BUILDS_SQLITE
def test_every_figure_that_rests_on_an_illustrative_step_is_marked(built: DemoResult, markdown: str) -> None:
    [melhus] = [a for a in built.analyses if a.workflow.id == "melhus"]
    table = md_table(markdown, "Melhus innovation decision chain (melhus): states")
    states = {row["state"]: row["source"] for row in table}
    assert states["council_review"] == ILLUSTRATIVE  # its stays begin and end with invented steps
    assert states["implementation"] == INFERRED  # entered by the inferred decision, then stated progress
    stalled = {row["proposal"]: row["source"] for row in md_table(markdown, "Stalled proposals")}
    assert stalled == {"MEL-1": INFERRED, "MEL-2": INFERRED}
    quiet = {row["proposal"]: row["source"] for row in md_table(markdown, "Gone quiet")}
    assert quiet["OSD-2"] == ILLUSTRATIVE  # it waits where an invented step put it
    assert melhus.state("council_review") is not None


@BUILDS_SQLITE
def test_the_share_of_illustrative_steps_is_printed(built: DemoResult, printed: str, markdown: str) -> None:
    counts = read_demo().counts()
    total = sum(counts.values())
    share = round(100 * counts[ILLUSTRATIVE] / total)
    line = (f"where the steps come from: {counts[STATED]} stated by the report, {counts[INFERRED]} inferred from it, "
            f"{counts[ILLUSTRATIVE]} illustrative ({share} % invented so the chains can run)")
    assert line in printed
    assert f"{counts[ILLUSTRATIVE]} are illustrative ({share} %)" in markdown
    assert built.loaded.provenance == counts and 0.2 < built.loaded.illustrative_share < 0.5


@BUILDS_SQLITE
def test_history_shows_each_steps_source_with_a_legend(built: DemoResult) -> None:
    result = CliRunner().invoke(cli, ["history", "--db", str(built.database), "MEL-1"], catch_exceptions=False)
    assert result.exit_code == 0
    assert "#5 stated (Oppsummering Melhus): “Kommunene har delvis gjennomført dette”" in result.stdout
    assert "#2 illustrative: No brukerråd is named in Melhus" in result.stdout
    assert "illustrative: invented so that the chain can run" in result.stdout
    audit = CliRunner().invoke(cli, ["history", "--db", str(built.database), "BSB-1"], catch_exceptions=False)
    assert "led to     TIM-1 (timra, service_review), TIM-2 (timra, service_review)" in audit.stdout


@BUILDS_SQLITE
def test_the_stall_report_of_the_demo_database_shows_the_same_marks(built: DemoResult, markdown: str) -> None:
    result = CliRunner().invoke(cli, ["stalls", "report", "--db", str(built.database), "--as-of", "2019-10-07",
                                      "--format", "markdown", "--quiet"], env={"TZ": "UTC"}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert md_table(result.stdout, "Stalled proposals") == md_table(markdown, "Stalled proposals")
    assert "| source |" in result.stdout


@BUILDS_SQLITE
def test_the_demo_writes_stall_diagrams_the_comparison_and_the_published_site(built: DemoResult, page: str) -> None:
    assert {wid for wid, _ in built.stall_diagrams} == set(WORKFLOWS)
    for _, path in built.stall_diagrams:
        assert b"as of 2019&#45;10&#45;07" in path.read_bytes()  # Graphviz writes "-" as &#45;
    assert built.comparison is not None and built.comparison.stat().st_size > 1000
    assert built.report is not None and built.report.name == "index.html"
    assert page.count("<svg ") == 1  # the comparison
    for heading in ("Where this demo comes from", "Stalled proposals, worst first", "Gone quiet",
                    "What the report tells besides the proposals", "From audits to proposals"):
        assert heading in page
    for workflow in WORKFLOWS:  # its stall diagram and the workflow as declared
        assert site_page(built, f"w/{workflow}.html").count("<svg ") == 2
    for loaded in built.loaded.proposals:  # every proposal, step by step
        assert "Step by step" in site_page(built, f"p/{loaded.id}.html")
    for gap in built.quiet:  # a gap says it is one, a stall that it is stalled
        assert "gone quiet: no record for" in site_page(built, f"p/{gap.proposal}.html")
    for stall in built.stalls:
        assert 'class="stalled">stalled: ' in site_page(built, f"p/{stall.proposal}.html")


def test_the_history_verifies(engine: FlowEngine) -> None:
    assert engine.verify().ok


@BUILDS_SQLITE
def test_the_built_demo_database_verifies(built: DemoResult) -> None:
    assert built.audit.ok
    result = CliRunner().invoke(cli, ["audit", "verify", "--db", str(built.database)])
    assert result.exit_code == 0, result.output


def test_loading_into_a_database_that_holds_proposals_is_refused(engine: FlowEngine) -> None:
    with pytest.raises(Refused, match="fresh database"):
        load_demo(engine)


# -- the command ----------------------------------------------------------------------------


@BUILDS_SQLITE
def test_the_demo_command_builds_the_same_database_and_draws_each_workflow(
        tmp_path: Path, built: DemoResult, engine: FlowEngine) -> None:
    out = tmp_path / "demo"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")
    (out / DATABASE_NAME).write_text("an old database", encoding="utf-8")
    result = CliRunner().invoke(cli, ["demo", "--out", str(out)], env={"FLOWENGINE_NOW": None},
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert str(out / DATABASE_NAME) in result.stdout and "as of 2019-10-07" in result.stdout
    for workflow in WORKFLOWS:
        diagram = out / f"{workflow}.svg"
        assert diagram.read_bytes().lstrip().startswith((b"<?xml", b"<svg")), workflow
        assert str(diagram) in result.stdout
    assert str(out / "site" / "index.html") in result.stdout
    assert "gone quiet (over the limit, no record since: a gap, not a stall): 6" in result.stdout
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"
    with FlowEngine.open(str(out / DATABASE_NAME)) as again:  # records dated by the file: same chains
        heads = {s.proposal.id: s.proposal.head_hash for s in again.proposals()}
    assert heads == {s.proposal.id: s.proposal.head_hash for s in engine.proposals()}


# -- mistakes in a demo file ----------------------------------------------------------------

GOOD = """\
as_of: 2019-08-09
utc_offset: "+01:00"
proposals:
  - workflow: melhus
    title: Service hub at Potten
    date: 2017-01-10
    actor: mel-leader
    role: prosjektleder
    fields:
      summary: A service hub.
    stated: Tjeneste-HUB ved Potten
    section: Oppsummering Melhus
    steps:
      - date: 2017-04-26
        trigger: send_to_council
        actor: mel-leader
        role: prosjektleder
        fields:
          panel_report: https://example.org/report
        illustrative: No council is named.
        placeholders: [panel_report]
"""

MISTAKES = [
    # (name, replace this, with this, line, words the message must hold)
    ("unknown trigger", "trigger: send_to_council", "trigger: send_to_counsil", 15,
     ["has no trigger 'send_to_counsil'", "did you mean 'send_to_council'"]),
    ("trigger from elsewhere", "trigger: send_to_council", "trigger: decide", 15,
     ["cannot decide", "allowed now in panel_work"]),
    ("unknown workflow", "workflow: melhus", "workflow: melhuss", 4, ["unknown workflow 'melhuss'", "melhus"]),
    ("bad date", "date: 2017-04-26", "date: 2017-04-31", 14, ["not a date", "YYYY-MM-DD"]),
    ("date in another format", "date: 2017-04-26", "date: 26.04.2017", 14, ["not a date", "YYYY-MM-DD"]),
    ("date after as_of", "date: 2017-04-26", "date: 2019-09-01", 14, ["after as_of"]),
    ("steps out of order", "date: 2017-04-26", "date: 2016-12-24", 14, ["comes before"]),
    ("missing field the trigger needs",
     "        fields:\n          panel_report: https://example.org/report\n        illustrative: No council is named.\n"
     "        placeholders: [panel_report]\n", "        illustrative: No council is named.\n", 15,
     ["field still missing: panel_report"]),
    ("missing required field", "      summary: A service hub.\n", "      category: service hub\n", 9,
     ["required field 'summary' is missing"]),
    ("missing title", "    title: Service hub at Potten\n", "", 4, ["has no 'title'"]),
    ("unknown key", "    title: Service", "    titel: Service", 5,
     ["5:5: unknown key 'titel'", "did you mean 'title'"]),
    ("unknown role", "role: prosjektleder\n        fields", "role: prosjektleader\n        fields", 17,
     ["unknown role 'prosjektleader'", "did you mean 'prosjektleder'"]),
    ("bad field value", "https://example.org/report", "not a link", 19, ["panel_report", "https://"]),
    ("link to no proposal", "  - workflow: melhus", "  - from: audit\n    workflow: melhus", 4,
     ["'from: audit' names no earlier proposal of the file"]),
    ("two things in a step", "        trigger: send_to_council", "        trigger: send_to_council\n        note: x",
     16, ["a step does one thing: trigger and note given"]),
    ("no provenance on a registration", "    stated: Tjeneste-HUB ved Potten\n    section: Oppsummering Melhus\n", "",
     4, ["the proposal's registration does not say where it comes from"]),
]


@BUILDS_SQLITE
@pytest.mark.parametrize(("old", "new", "line", "words"), [m[1:] for m in MISTAKES], ids=[m[0] for m in MISTAKES])
def test_a_mistake_in_a_demo_file_is_one_line_at_its_place(tmp_path: Path, old: str, new: str, line: int,
                                                          words: list[str]) -> None:
    assert old in GOOD
    data = tmp_path / "demo.yaml"
    data.write_text(GOOD.replace(old, new, 1), encoding="utf-8")
    out = tmp_path / "out"
    with pytest.raises(InvalidInput) as raised:
        build_demo(out, data=data)
    message = str(raised.value)
    assert "\n" not in message and message.startswith(f"{data}:{line}:"), message
    for word in words:
        assert word in message, message
    result = CliRunner().invoke(cli, ["demo", "--out", str(out), "--data", str(data)])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [f"error: {message}{hint(raised.value.remedies)}"]  # the remedy, typed


@BUILDS_SQLITE
def test_the_good_example_loads(tmp_path: Path) -> None:
    data = tmp_path / "demo.yaml"
    data.write_text(GOOD, encoding="utf-8")
    result = build_demo(tmp_path / "out", data=data)
    assert [(p.id, p.state) for p in result.loaded.proposals] == [("MEL-1", "council_review")]


def test_a_demo_file_that_is_not_yaml_is_reported_at_its_line(tmp_path: Path) -> None:
    data = tmp_path / "demo.yaml"
    data.write_text(GOOD.replace("    title: Service", "    title: [Service"), encoding="utf-8")
    with pytest.raises(DefinitionError) as raised:
        read_demo(data)
    [issue] = raised.value.issues
    assert issue.location.file == str(data) and issue.location.line in (5, 6)  # where YAML notices it
    assert read_file(demo_file()).issues == []


@BUILDS_SQLITE
def test_a_demo_file_the_engine_refuses_leaves_the_old_database_as_it_was(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    build_demo(out)
    text = demo_file().read_text(encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("trigger: send_to_council", "trigger: send_to_counsil", 1), encoding="utf-8")
    with pytest.raises(FlowEngineError):
        build_demo(out, data=bad)
    with FlowEngine.open(str(out / DATABASE_NAME)) as engine:
        assert len(engine.proposals()) == 14
    assert not (out / (DATABASE_NAME + ".building")).exists()


def test_the_readme_tells_the_truth_about_what_is_stated_inferred_and_illustrative() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    counts = read_demo().counts()
    total = sum(counts.values())
    assert f"| {counts[STATED]} of {total} |" in readme
    assert f"| {counts[INFERRED]} |" in readme
    assert f"| {counts[ILLUSTRATIVE]} ({round(100 * counts[ILLUSTRATIVE] / total)} %) |" in readme
    assert "where the report says it stood on 2019-10-07, the day the report was signed" in readme
