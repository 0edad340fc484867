"""The Interreg demo: the final report's proposals, loaded from the bundled data file, each ending
where the report (shared/seeds, final report 28.01.2020) says it stood when the project ended.

One database is built once for the module; the tests read it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from flowengine_cli.main import cli

from flowengine.definition.registry import bundled_dir, discover, read_candidate
from flowengine.definition.yamlsafe import read_file
from flowengine.demo import DATABASE_NAME, DemoLoad, DemoResult, build_demo, demo_file, load_demo, read_demo
from flowengine.errors import DefinitionError, FlowEngineError, InvalidInput, Refused
from flowengine.history.records import ADVANCED
from flowengine.service.facade import FlowEngine, Standing

from .databases import DatabaseTargets

BUILDS_SQLITE = pytest.mark.sqlite_only("`flowengine demo` builds a SQLite file by design")

WORKFLOWS = ("melhus", "ostersund", "stjordal", "timra", "trondheim")

# Every proposal the issue names, found by keywords in its title (all of them, case-insensitive),
# the state the final report leaves it in, and the passage that says so.
ENDINGS = [
    ("ostersund", ("meeting place",), "implementation",
     'Sammanfattning Östersund: "Förslaget har mottagits väl och Östersunds Kommun planerar nu att starta '
     'upp en sådan verksamhet" (the implementation state is "Being planned and started")'),
    ("ostersund", ("information portal",), "leadership_dialogue",
     'Sammanfattning Östersund: "Vi har haft samtal med kommunikatörer inom kommunen och region" - talks, '
     "no decision"),
    ("ostersund", ("peer",), "transferred",
     'Sammanfattning Östersund: "detta har lett till att vi kommer söka om ett nytt Interregprojekt inom '
     'området sysselsättning"'),
    ("timra", ("söråker",), "panel_work",
     'Sammanfattning Timrå: "brukarpanelen fick vid detta möte uppdraget att arbeta vidare med förslaget"'),
    ("timra", ("web",), "service_review",
     'Sammanfattning Timrå: "Panelen har också lyft förbättringsförslag till befintliga verksamheter såsom '
     'bättre och tydligare information på hemsidor" - raised, no answer recorded'),
    ("timra", ("brochure",), "service_review",
     'Sammanfattning Timrå: "... informationsbroschyror m.m." - raised, no answer recorded'),
    ("trondheim", ("byåsen",), "provider_selection",
     'Oppsummering Trondheim: "Det har vært en rekke møter med ledelse for å få gjennomslag for dette"'),
    ("trondheim", ("personal ombudsman",), "provider_selection",
     'Oppsummering Trondheim: "HUB på byåsen samt personlig ombud. Det har vært en rekke møter med ledelse"'),
    ("trondheim", ("recovery college",), "provider_selection",
     'Oppsummering Trondheim: "arbeidet med ... anbuddet om recovery college" - the tender is under way'),
    ("trondheim", ("glimt",), "evaluation",
     'Effekter: "I några av kommunerna har man startat upp nya tjänster, såsom GLIMT recoverysenter"'),
    ("trondheim", ("heimdal",), "implementation",
     'Oppsummering Trondheim: "planlegging av oppstart av recovery orientert treffsted på Heimdal ... '
     'Formell oppstart er 01. september 2019" - after the project period'),
    ("stjordal", ("nedfor", "self-help"), "panel_evaluation",
     'Oppsummering Stjørdal: "Vi står foran en systematisk utprøving og evaluering av systemet. Det er '
     'besluttet at evalueringen vil skje gjennom to brukerpanel"'),
    ("stjordal", ("distribution company",), "development",
     'Oppsummering Stjørdal: "planlagt å opprette et eget distribusjonsselskap i Norge og Sverige. Planen '
     'er å etablere dette selskapet fra årsskiftet 2019/2020"'),
    ("melhus", ("potten",), "implementation",
     'Oppsummering Melhus: "Kommunene har delvis gjennomført dette, men aktiviteten og engasjementet har '
     'gått noe ned i sluttfasen"'),
    ("melhus", ("information system",), "implementation",
     'Oppsummering Melhus: "et bedre informasjonssystem for brukere. Kommunene har delvis gjennomført dette"'),
]

# At the demo's as-of day these wait beyond their state's deadline: the stalls the report tells
# of (workflow, title keywords, stage, the role that must act).
STALLS = [
    ("ostersund", ("information portal",), "administration", "kommunledning"),
    ("timra", ("web",), "administration", "verksamheten"),
    ("timra", ("brochure",), "administration", "verksamheten"),
    ("trondheim", ("byåsen",), "implementation", "kommunedirektor"),
    ("trondheim", ("personal ombudsman",), "implementation", "kommunedirektor"),
    ("trondheim", ("recovery college",), "implementation", "kommunedirektor"),
    ("melhus", ("potten",), "implementation", "tjenesten"),
    ("melhus", ("information system",), "implementation", "tjenesten"),
]

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
    with FlowEngine.open(target) as opened:
        yield opened, load_demo(opened)
    database_targets.drop(target)


@pytest.fixture(scope="module")
def engine(loaded: tuple[FlowEngine, DemoLoad]) -> FlowEngine:
    return loaded[0]


@pytest.fixture(scope="module")
def standings(loaded: tuple[FlowEngine, DemoLoad]) -> list[Standing]:
    engine, load = loaded
    return engine.proposals(as_of=load.as_of)


def find(standings: list[Standing], workflow: str, keywords: tuple[str, ...]) -> Standing:
    found = [s for s in standings if s.proposal.workflow == workflow
             and all(word in s.proposal.title.lower() for word in keywords)]
    assert len(found) == 1, (workflow, keywords, [s.proposal.title for s in found])
    return found[0]


# -- the data file --------------------------------------------------------------------------


def test_the_demo_file_is_bundled_and_is_not_a_workflow() -> None:
    assert demo_file().is_file()
    assert demo_file().is_relative_to(bundled_dir())
    assert read_candidate(demo_file()).id is None
    assert demo_file() not in [entry.path for entry in discover([bundled_dir()])]
    result = CliRunner().invoke(cli, ["workflow", "list"], env={"FLOWENGINE_WORKFLOWS": None})
    assert result.exit_code == 0 and "demo" not in result.stdout and "interreg" not in result.stdout


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


def test_every_step_is_dated_within_the_project_and_the_as_of_day() -> None:
    data = read_demo()
    assert data.as_of_day.isoformat() == "2019-08-09"
    moments = [p.at for p in data.proposals] + [s.at for p in data.proposals for s in p.steps]
    assert min(moments).date().isoformat() >= "2016-06-15"
    assert max(moments) <= data.as_of


# -- what the database holds ----------------------------------------------------------------


@BUILDS_SQLITE
def test_the_demo_loads_every_proposal_into_a_fresh_database(built: DemoResult) -> None:
    loaded = built.loaded
    assert len(loaded.proposals) == len(ENDINGS) == 15
    assert tuple(loaded.by_workflow) == WORKFLOWS
    assert loaded.events == sum(1 + p.steps for p in loaded.proposals)
    assert built.database == built.out_dir / DATABASE_NAME and built.database.is_file()


@pytest.mark.parametrize(("workflow", "keywords", "state", "report"), ENDINGS,
                         ids=[" ".join(e[1]) for e in ENDINGS])
def test_each_proposal_ends_where_the_final_report_says(standings: list[Standing], workflow: str,
                                                        keywords: tuple[str, ...], state: str, report: str) -> None:
    standing = find(standings, workflow, keywords)
    assert standing.proposal.state == state, report


def test_melhus_records_what_is_partly_in_place(standings: list[Standing]) -> None:
    for keywords in (("potten",), ("information system",)):
        assert find(standings, "melhus", keywords).proposal.fields.get("implemented_part")


def test_the_stalls_at_the_as_of_day_are_the_ones_the_report_tells_of(standings: list[Standing]) -> None:
    expected = {find(standings, wf, kw).proposal.id: (stage, owner) for wf, kw, stage, owner in STALLS}
    overdue = {s.proposal.id: (s.stage, s.owner) for s in standings if s.overdue}
    assert overdue == expected


@BUILDS_SQLITE
def test_the_stall_report_names_the_stalls_the_final_report_tells_of(built: DemoResult,
                                                                    standings: list[Standing]) -> None:
    expected = {find(standings, wf, kw).proposal.id: (stage, owner) for wf, kw, stage, owner in STALLS}
    assert {s.proposal: (s.stage, s.owner) for s in built.stalls} == expected
    report = (built.markdown or Path()).read_text(encoding="utf-8")
    stalled_table = report.split("\n## ")[0]
    assert all(pid in stalled_table for pid in expected)
    # The three the issue names: Melhus in implementation, Östersund's portal at the administration …
    potten = find(standings, "melhus", ("potten",)).proposal.id
    portal = find(standings, "ostersund", ("information portal",)).proposal.id
    stage = {s.proposal: s.stage for s in built.stalls}
    assert stage[potten] == "implementation" and stage[portal] == "administration"


@BUILDS_SQLITE
def test_the_stall_figures_show_trondheims_long_political_phase(built: DemoResult) -> None:
    political = {a.workflow.id: s.passed.median for a in built.analyses for s in a.stages
                 if s.stage == "political" and s.passed.count}
    assert max(political, key=political.__getitem__) == "trondheim"
    assert political["trondheim"] > 150


@BUILDS_SQLITE
def test_the_demo_writes_stall_diagrams_the_comparison_and_the_published_site(built: DemoResult) -> None:
    assert {wid for wid, _ in built.stall_diagrams} == set(WORKFLOWS)
    for _, path in built.stall_diagrams:
        assert b"as of 2019&#45;08&#45;09" in path.read_bytes()  # Graphviz writes "-" as &#45;
    assert built.comparison is not None and built.comparison.stat().st_size > 1000
    assert built.report is not None
    assert built.report.name == "index.html"
    page = built.report.read_text(encoding="utf-8")
    assert page.count("<svg ") == 1  # the comparison
    assert "Stalled proposals, worst first" in page
    for workflow in WORKFLOWS:  # its stall diagram and the workflow as declared
        assert (built.report.parent / "w" / f"{workflow}.html").read_text(encoding="utf-8").count("<svg ") == 2


def test_trondheim_has_the_longest_political_phase(engine: FlowEngine, standings: list[Standing]) -> None:
    political: dict[str, list[float]] = {}
    for standing in standings:
        proposal, events = engine.history(standing.proposal.id)
        states = engine.workflow_of(proposal).workflow.states
        days = sum((e.at - e.entered_at).total_seconds() / 86400 for e in events
                   if e.kind == ADVANCED and e.from_state and states[e.from_state].stage == "political")
        if days:
            political.setdefault(proposal.workflow, []).append(days)
    trondheim = sorted(political.pop("trondheim"))
    assert len(trondheim) == 5 and trondheim[2] > 150  # autumn 2017 to spring 2018
    assert all(days < trondheim[0] for stays in political.values() for days in stays)


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
    assert str(out / DATABASE_NAME) in result.stdout and "as of 2019-08-09" in result.stdout
    for workflow in WORKFLOWS:
        diagram = out / f"{workflow}.svg"
        assert diagram.read_bytes().lstrip().startswith((b"<?xml", b"<svg")), workflow
        assert str(diagram) in result.stdout
    assert str(out / "site" / "index.html") in result.stdout
    assert "stalled on 2019-08-09: 8, worst first" in result.stdout
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
    steps:
      - date: 2017-04-26
        trigger: send_to_council
        actor: mel-leader
        role: prosjektleder
        fields:
          panel_report: https://example.org/report
"""

MISTAKES = [
    # (name, replace this, with this, line, words the message must hold)
    ("unknown trigger", "trigger: send_to_council", "trigger: send_to_counsil", 13,
     ["has no trigger 'send_to_counsil'", "did you mean 'send_to_council'"]),
    ("trigger from elsewhere", "trigger: send_to_council", "trigger: decide", 13,
     ["cannot decide", "allowed now in panel_work"]),
    ("unknown workflow", "workflow: melhus", "workflow: melhuss", 4, ["unknown workflow 'melhuss'", "melhus"]),
    ("bad date", "date: 2017-04-26", "date: 2017-04-31", 12, ["not a date", "YYYY-MM-DD"]),
    ("date in another format", "date: 2017-04-26", "date: 26.04.2017", 12, ["not a date", "YYYY-MM-DD"]),
    ("date after as_of", "date: 2017-04-26", "date: 2019-09-01", 12, ["after as_of"]),
    ("steps out of order", "date: 2017-04-26", "date: 2016-12-24", 12, ["comes before"]),
    ("missing field the trigger needs", "        fields:\n          panel_report: https://example.org/report\n",
     "", 13, ["field still missing: panel_report"]),
    ("missing required field", "      summary: A service hub.\n", "      category: service hub\n", 9,
     ["required field 'summary' is missing"]),
    ("missing title", "    title: Service hub at Potten\n", "", 4, ["has no 'title'"]),
    ("unknown key", "    title: Service", "    titel: Service", 5,
     ["5:5: unknown key 'titel'", "did you mean 'title'"]),
    ("unknown role", "role: prosjektleder\n        fields", "role: prosjektleader\n        fields", 15,
     ["unknown role 'prosjektleader'", "did you mean 'prosjektleder'"]),
    ("bad field value", "https://example.org/report", "not a link", 17, ["panel_report", "https://"]),
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
    assert result.stderr.splitlines() == [f"error: {message}"]


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
        assert len(engine.proposals()) == 15
    assert not (out / (DATABASE_NAME + ".building")).exists()
