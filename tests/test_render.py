"""Diagrams: deterministic DOT (golden files), escaping that Graphviz accepts, real renders.

Golden files live in tests/golden/. After an intended change to the drawing, rewrite them with
``FLOWENGINE_UPDATE_GOLDEN=1 python -m pytest tests/test_render.py`` and review the diff.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
from pathlib import Path

import pytest

from flowengine.atomicfile import replacing
from flowengine.definition.durations import parse_duration
from flowengine.definition.model import STAGES, Labels, Located, Role, State, Transition, Workflow
from flowengine.errors import FlowEngineError, InvalidInput
from flowengine.issues import Location
from flowengine.views.drawing import dot_digest, svg_is_current
from flowengine.views.formats import diagram_suffixes
from flowengine.views.workflow_diagram import render, workflow_to_dot

GOLDEN = Path(__file__).parent / "golden"
HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot is not installed")
HERE = Location("test.yaml")


def labels(**texts: str) -> Labels:
    return Labels(tuple(texts.items()))


def role(role_id: str, kind: str, **texts: str) -> Role:
    return Role(id=role_id, kind=kind, labels=labels(**texts), description="", at=Located(HERE))


def state(state_id: str, stage: str | None, *, initial: bool = False, final: bool = False,
          outcome: str | None = None, owner: str | None = None, deadline: str | None = None,
          texts: Labels | None = None) -> State:
    return State(id=state_id, initial=initial, final=final, outcome=outcome, stage=stage, owner=owner,
                 deadline=parse_duration(deadline) if deadline else None, deadline_text=deadline,
                 answers_panel=False, labels=texts if texts is not None else Labels(),
                 description="", at=Located(HERE))


def transition(trigger: str, sources: tuple[str, ...], target: str, *,
               from_any: bool = False, roles: tuple[str, ...] = (), requires_comment: bool = False,
               answers_panel: bool = False, texts: Labels | None = None) -> Transition:
    return Transition(trigger=trigger, sources=sources, from_any=from_any, target=target, roles=roles,
                      requires=(), requires_comment=requires_comment, answers_panel=answers_panel,
                      labels=texts if texts is not None else Labels(), description="", at=Located(HERE))


def make_workflow(*, panel_label: Labels | None = None, version: str = "1",
                  extra_states: tuple[State, ...] = ()) -> Workflow:
    """Panel → council → administration → implemented / rejected, plus withdraw from anywhere."""
    roles = {
        "panel": role("panel", "panel", en="User panel", nb="Brukerpanel", sv="Brukarpanel"),
        "council": role("council", "council", en="User council", nb="Brukerråd", sv="Brukarråd"),
        "admin": role("admin", "administration", en="Administration", nb="Kommunedirektør"),
    }
    states_list = [
        state("proposal", "panel", initial=True, owner="panel", deadline="4w",
              texts=panel_label if panel_label is not None
              else labels(en="Panel proposal", nb="Panelforslag", sv="Panelförslag")),
        state("at_council", "council", owner="council", deadline="8w",
              texts=labels(en="At the user council", nb="Hos brukerrådet")),
        state("in_administration", "administration", owner="admin", deadline="P3M",
              texts=labels(en="In administration", nb="Til behandling i administrasjonen")),
        state("implemented", "closed", final=True, outcome="implemented",
              texts=labels(en="Implemented", nb="Gjennomført")),
        state("rejected", "closed", final=True, outcome="rejected",
              texts=labels(en="Rejected", nb="Avslått")),
        state("withdrawn", "closed", final=True, outcome="withdrawn"),
        *extra_states,
    ]
    states = {s.id: s for s in states_list}
    open_states = tuple(s.id for s in states_list if not s.final)
    transitions = (
        transition("send_to_council", ("proposal",), "at_council", roles=("panel",),
                   texts=labels(en="Send to council", nb="Send til brukerrådet")),
        transition("anchor", ("at_council",), "in_administration", roles=("council",),
                   texts=labels(en="Anchor and pass on", nb="Forankre og sende videre")),
        transition("ask_panel_again", ("at_council",), "proposal", roles=("council",),
                   requires_comment=True, answers_panel=True,
                   texts=labels(en="Ask panel to work further", nb="Be panelet arbeide videre")),
        transition("implement", ("in_administration",), "implemented", roles=("admin",),
                   answers_panel=True, texts=labels(en="Decide and implement", nb="Vedta og gjennomføre")),
        transition("reject", ("in_administration",), "rejected", roles=("admin",),
                   requires_comment=True, answers_panel=True, texts=labels(en="Reject", nb="Avslå")),
        transition("withdraw", open_states, "withdrawn", from_any=True,
                   texts=labels(en="Withdraw", nb="Trekke tilbake", sv="Dra tillbaka")),
    )
    return Workflow(
        id="test_chain", version=version, prefix="TST", title="Test chain", description="",
        labels=labels(en="Test decision chain", nb="Test-beslutningskjede"),
        roles=roles, fields={}, states=states, transitions=transitions, source="test.yaml",
        at=Located(HERE),
    )


def node_line(dot: str, name: str) -> str:
    matches = [line for line in dot.splitlines() if line.strip().startswith(f'"{name}" [')]
    assert len(matches) == 1, f"expected one node line for {name}, got {matches}"
    return matches[0]


# --- DOT text -------------------------------------------------------------------------------


def test_dot_is_deterministic() -> None:
    assert workflow_to_dot(make_workflow()) == workflow_to_dot(make_workflow())
    assert workflow_to_dot(make_workflow(), "nb") == workflow_to_dot(make_workflow(), "nb")


@pytest.mark.parametrize("language", ["en", "nb"])
def test_dot_matches_golden(language: str) -> None:
    golden = GOLDEN / f"five_state_{language}.dot"
    dot = workflow_to_dot(make_workflow(), language)
    if os.environ.get("FLOWENGINE_UPDATE_GOLDEN") == "1":
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(dot, encoding="utf-8", newline="\n")
    assert golden.exists(), f"{golden} is missing; create it with FLOWENGINE_UPDATE_GOLDEN=1"
    assert dot == golden.read_text(encoding="utf-8"), (
        f"DOT differs from {golden.name}; if the change is intended, rerun with "
        "FLOWENGINE_UPDATE_GOLDEN=1 and review the diff"
    )


def test_every_state_appears_once_as_a_node() -> None:
    workflow = make_workflow()
    dot = workflow_to_dot(workflow)
    for state_id in workflow.states:
        node_line(dot, state_id)


def test_stage_clusters_follow_stage_order_not_declaration_order() -> None:
    # Declared after the closed states, but evaluation comes before closed in STAGES.
    workflow = make_workflow(extra_states=(state("evaluating", "evaluation"),))
    dot = workflow_to_dot(workflow)
    clusters = re.findall(r"subgraph cluster_(\w+) \{", dot)
    stages = [c for c in clusters if c != "legend"]
    assert stages == [s for s in STAGES if s in stages]
    assert stages == ["panel", "council", "administration", "evaluation", "closed"]
    assert clusters[-1] == "legend"
    # Each state sits inside its own stage's cluster.
    closed = dot.split("subgraph cluster_closed {")[1].split("\n  }")[0]
    assert '"implemented" [' in closed and '"proposal" [' not in closed


def test_final_states_are_drawn_differently_and_show_their_outcome() -> None:
    dot = workflow_to_dot(make_workflow())
    for final_id, colour, outcome in [("implemented", "#66BB77", "implemented"),
                                      ("rejected", "#EE8877", "rejected"),
                                      ("withdrawn", "#BBBBBB", "withdrawn")]:
        line = node_line(dot, final_id)
        assert 'shape="doubleoctagon"' in line
        assert f'fillcolor="{colour}"' in line
        assert f"outcome: {outcome}" in line
    for open_id in ["proposal", "at_council", "in_administration"]:
        assert "doubleoctagon" not in node_line(dot, open_id)


def test_open_states_show_owner_and_deadline_and_initial_is_marked() -> None:
    dot = workflow_to_dot(make_workflow(), "nb")
    council = node_line(dot, "at_council")
    assert "Hos brukerrådet" in council
    assert "ansvarlig: Brukerråd · 8 uker" in council  # the deadline in words of the language
    assert 'penwidth="2.5"' in node_line(dot, "proposal")
    assert "penwidth" not in council
    assert '"__start__" -> "proposal";' in dot


def test_from_any_transition_is_drawn_once_from_the_any_node() -> None:
    for language, text in [("en", "any open state"), ("nb", "enhver åpen tilstand"),
                           ("sv", "varje öppet tillstånd")]:
        dot = workflow_to_dot(make_workflow(), language)
        edges_into_withdrawn = [line for line in dot.splitlines() if '-> "withdrawn"' in line]
        assert len(edges_into_withdrawn) == 1
        assert edges_into_withdrawn[0].strip().startswith('"__any_open_state__" ->')
        assert text in node_line(dot, "__any_open_state__")


def test_from_any_transition_keeps_its_comment_marking() -> None:
    workflow = make_workflow()
    transitions = tuple(dataclasses.replace(t, requires_comment=True) if t.from_any else t
                        for t in workflow.transitions)
    dot = workflow_to_dot(dataclasses.replace(workflow, transitions=transitions))
    edge = next(line for line in dot.splitlines() if '-> "withdrawn"' in line)
    assert 'style="dashed"' in edge


def test_marked_transitions_use_the_styles_the_legend_explains() -> None:
    dot = workflow_to_dot(make_workflow())
    reject = next(line for line in dot.splitlines() if '"in_administration" -> "rejected"' in line)
    assert 'style="dashed"' in reject and 'color="#0072B2"' in reject
    assert "Administration" in reject  # the role, in small text
    send = next(line for line in dot.splitlines() if '"proposal" -> "at_council"' in line)
    assert "style=" not in send and "#0072B2" not in send
    legend = dot.split("subgraph cluster_legend {")[1]
    assert "comment required" in legend and "answers the panel" in legend
    assert 'STYLE="dashed"' in legend and 'COLOR="#0072B2"' in legend


def test_title_has_label_and_version() -> None:
    assert "Test-beslutningskjede</B><FONT POINT-SIZE=\"11\"> · versjon 7" in workflow_to_dot(
        make_workflow(version="7"), "nb")


def test_title_without_version_has_no_version_text() -> None:
    title_line = workflow_to_dot(make_workflow(version="")).splitlines()[2]
    assert "label=<<B>Test decision chain</B>>" in title_line
    assert "version" not in title_line


def test_labels_fall_back_from_language_to_english_to_id() -> None:
    dot = workflow_to_dot(make_workflow(), "sv")
    assert "Panelförslag" in node_line(dot, "proposal")          # sv given
    assert "At the user council" in node_line(dot, "at_council")  # sv missing → en
    assert "<B>withdrawn</B>" in node_line(dot, "withdrawn")      # no labels → id
    assert "Dra tillbaka" in dot
    assert "Reject" in dot                                        # transition: sv missing → en
    nb_dot = workflow_to_dot(make_workflow(), "nb")
    assert "ansvarlig: Kommunedirektør" in node_line(nb_dot, "in_administration")
    # Unknown language: the workflow's and the diagram's own texts fall back to English.
    assert "owner: User council" in node_line(workflow_to_dot(make_workflow(), "de"), "at_council")


HOSTILE = 'He said "hi" \\ <b>bold</b> & more\nsecond line: æøå ÆØÅ äö\\'


def test_hostile_text_is_escaped() -> None:
    dot = workflow_to_dot(make_workflow(panel_label=labels(en=HOSTILE)))
    line = node_line(dot, "proposal")
    assert "&quot;hi&quot;" in line
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; more<BR/>second line: æøå ÆØÅ äö\\" in line
    assert "<b>" not in line


@needs_dot
def test_hostile_text_renders_with_graphviz(tmp_path: Path) -> None:
    workflow = make_workflow(panel_label=labels(en=HOSTILE + "\x00\x1b\r\n\tend\ud800"))
    svg = render(workflow, tmp_path / "hostile.svg").read_text(encoding="utf-8")
    assert "<svg" in svg
    assert "æøå ÆØÅ äö" in svg
    assert "&lt;b&gt;bold&lt;/b&gt;" in svg  # shown as text, not interpreted as markup


# --- rendering to files ----------------------------------------------------------------------


MAGIC = {".svg": b"<svg", ".png": b"\x89PNG", ".pdf": b"%PDF", ".dot": b"digraph workflow {"}


def test_every_diagram_format_of_the_registry_is_tested_here() -> None:
    assert set(MAGIC) == set(diagram_suffixes())


@needs_dot
@pytest.mark.parametrize(("suffix", "magic"), MAGIC.items())
def test_render_writes_each_format(tmp_path: Path, suffix: str, magic: bytes) -> None:
    output = tmp_path / f"chain{suffix}"
    assert render(make_workflow(), output, "nb") == output
    data = output.read_bytes()
    if suffix in (".svg", ".dot"):
        assert magic in data[:2048]
    else:
        assert data.startswith(magic)
    assert [p.name for p in tmp_path.iterdir()] == [output.name]  # no temporary file left over


def test_render_dot_needs_no_graphviz(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    output = render(make_workflow(), tmp_path / "chain.DOT")
    assert output.read_text(encoding="utf-8") == workflow_to_dot(make_workflow())


@pytest.mark.parametrize("name", ["chain.jpg", "chain.svgz", "chain"])
def test_unsupported_extension_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(FlowEngineError, match=r"\.svg, \.png, \.pdf or \.dot") as caught:
        render(make_workflow(), tmp_path / name)
    if "." in name:
        assert f"'{name[name.index('.'):]}'" in str(caught.value)
    assert not (tmp_path / name).exists()


def test_missing_dot_program_is_a_flowengine_error(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(FlowEngineError, match="apt-get install graphviz") as caught:
        render(make_workflow(), tmp_path / "chain.svg")
    assert caught.value.__cause__ is not None
    assert list(tmp_path.iterdir()) == []


def test_missing_directory_is_a_flowengine_error(tmp_path: Path) -> None:
    with pytest.raises(FlowEngineError, match="cannot write diagram"):
        render(make_workflow(), tmp_path / "nowhere" / "chain.dot")


def test_a_replaced_file_appears_whole_with_a_readable_mode_or_not_at_all(tmp_path: Path) -> None:
    new = tmp_path / "new.svg"
    with replacing(new, "cannot write it") as temp:
        assert temp.parent == tmp_path and temp != new
        temp.write_bytes(b"drawn")
        assert not new.exists()
    assert new.read_bytes() == b"drawn" and new.stat().st_mode & 0o777 == 0o644
    kept = tmp_path / "kept.svg"
    kept.write_bytes(b"old")
    kept.chmod(0o640)
    with pytest.raises(RuntimeError, match="half way"), replacing(kept, "cannot write it") as temp:
        temp.write_bytes(b"half")
        raise RuntimeError("half way")
    assert kept.read_bytes() == b"old"
    with replacing(kept, "cannot write it") as temp:
        temp.write_bytes(b"new")
    assert kept.read_bytes() == b"new" and kept.stat().st_mode & 0o777 == 0o640
    with pytest.raises(InvalidInput, match=r"^cannot write the log: ") as caught, \
            replacing(kept, "cannot write the log", InvalidInput):
        raise OSError(28, "No space left on device")
    assert "No space left" in str(caught.value)
    assert kept.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.svg", "new.svg"]  # no temporary file left


# --- freshness stamp -------------------------------------------------------------------------


@needs_dot
def test_svg_stamp_round_trip(tmp_path: Path) -> None:
    workflow = make_workflow()
    source = workflow_to_dot(workflow)
    svg_path = render(workflow, tmp_path / "chain.svg")
    text = svg_path.read_text(encoding="utf-8")
    stamp = f"<!-- flowengine-dot-sha256: {dot_digest(source)} -->"
    assert text.startswith("<?xml")
    assert text.index("?>") < text.index(stamp) < text.index("<svg")
    assert svg_is_current(svg_path, source)
    changed = workflow_to_dot(make_workflow(version="2"))
    assert not svg_is_current(svg_path, changed)
    assert not svg_is_current(svg_path, workflow_to_dot(workflow, "nb"))


def test_svg_without_stamp_or_file_is_not_current(tmp_path: Path) -> None:
    source = workflow_to_dot(make_workflow())
    plain = tmp_path / "plain.svg"
    plain.write_text('<?xml version="1.0"?>\n<svg></svg>\n', encoding="utf-8")
    assert not svg_is_current(plain, source)
    assert not svg_is_current(tmp_path / "missing.svg", source)


def test_dot_digest_is_sha256_hex() -> None:
    digest = dot_digest("digraph {}\n")
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert digest == dot_digest("digraph {}\n") != dot_digest("digraph { }\n")
