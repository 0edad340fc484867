"""Draw a workflow definition as a Graphviz diagram (DOT, SVG, PNG or PDF).

The DOT text is written by hand rather than through ``graphviz.Digraph`` so that it depends
on nothing but the workflow: the same definition gives byte-identical DOT on every machine
and with every version of the ``graphviz`` package, which is what lets the DOT be golden-tested
and lets the bundled diagrams in ``diagrams/`` carry a freshness stamp (the SHA-256 of their
DOT) instead of being compared with whatever the local Graphviz would draw today.

Every piece of user text goes into an HTML-like label (``label=<...>``) after XML escaping,
because DOT's quoted strings cannot represent every text (a trailing backslash ends up
escaping the closing quote, and ``\\n``, ``\\l``, ``\\N`` are interpreted). Node names are
the state ids, which the schema limits to ``[a-z][a-z0-9_]*``; anything else falls back to a
synthetic name, and helper nodes start with ``__`` so they can never collide with a state.

This is the only module that imports ``graphviz``, and only when :func:`render_dot` draws
(``render``, and the stall diagrams of :mod:`flowengine.views.overlay`, go through it), so commands
that merely check a diagram's freshness never pay for it.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from flowengine.atomicfile import replacing
from flowengine.definition.model import STAGES, State, Transition, Workflow
from flowengine.definition.vocabulary import term
from flowengine.errors import FlowEngineError

__all__ = ["diagram_format", "dot_digest", "render", "render_dot", "svg_is_current", "workflow_to_dot"]

FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot"}
STAMP_PREFIX = "flowengine-dot-sha256:"
_STAMP_RE = re.compile(rb"<!--\s*flowengine-dot-sha256:\s*([0-9a-f]{64})\s*-->")

_FONT = "Helvetica,Arial,sans-serif"
_SAFE_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
# Characters XML 1.0 forbids (Graphviz's HTML-label parser is an XML parser) and lone
# surrogates (they cannot be encoded as UTF-8); tabs become spaces, newlines become <BR/>.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

# Pastels from Paul Tol's colour-blind-safe "pale"/"light" schemes, lightened where needed so
# black text stays readable on top. Neighbouring stages never share a hue.
STAGE_COLOURS = {
    "panel": "#CCEEFF",           # pale cyan
    "council": "#BBCCEE",         # pale blue
    "administration": "#EEEEBB",  # pale yellow
    "political": "#EEDDEE",       # pale purple
    "implementation": "#CCDDAA",  # pale green
    "evaluation": "#FFE4CC",      # pale orange
    "closed": "#E6E6E6",          # pale grey
}
# Outcome fills of final states. Colour is never the only carrier: the outcome is also
# written in the node, so red/green colour blindness loses nothing.
OUTCOME_COLOURS = {
    "implemented": "#66BB77",
    "partially_implemented": "#B5DD99",
    "rejected": "#EE8877",
    "withdrawn": "#BBBBBB",
    "parked": "#F5C060",
    "merged": "#77AADD",
    "transferred": "#AACCEE",
}
_NO_OUTCOME_COLOUR = "#FFFFFF"
_EDGE_COLOUR = "#444444"
_ANSWERS_COLOUR = "#0072B2"  # Okabe-Ito blue: distinct from every outcome fill
_ANY_COLOUR = "#777777"

_START = "__start__"
_ANY = "__any_open_state__"




def _html(text: str) -> str:
    """Escape user text for the inside of an HTML-like label; newlines become line breaks."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    text = _XML_INVALID.sub("", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return "<BR/>".join(text.split("\n"))


def _quoted(text: str) -> str:
    """Quote one of our own attribute values (colours, styles); never used for user text."""
    return '"' + text.replace('"', r"\"") + '"'


def _attrs(**attributes: str) -> str:
    """``[key=value, ...]`` in the order given; values starting with ``<`` are HTML labels."""
    parts = []
    for key, value in attributes.items():
        rendered = value if value.startswith("<") and value.endswith(">") else _quoted(value)
        parts.append(f"{key}={rendered}")
    return "[" + ", ".join(parts) + "]"


def _node_names(workflow: Workflow) -> dict[str, str]:
    names = {}
    for index, state_id in enumerate(workflow.states):
        names[state_id] = state_id if _SAFE_NAME.fullmatch(state_id) else f"__state_{index}"
    return names


def _stage_of(state: State) -> str | None:
    # The schema says final states default to closed; a hand-built model may leave it None.
    if state.stage in STAGES:
        return state.stage
    return "closed" if state.final and state.stage is None else None


def _state_node(state: State, workflow: Workflow, name: str, language: str) -> str:
    title = f"<B>{_html(state.label(language))}</B>"
    if state.final:
        detail = (f"{term('outcome', language)}: {term(state.outcome, language)}"
                  if state.outcome in OUTCOME_COLOURS else "")
        attrs = {
            "shape": "doubleoctagon",
            "style": "filled",
            "fillcolor": OUTCOME_COLOURS.get(state.outcome or "", _NO_OUTCOME_COLOUR),
        }
    else:
        owner = ""
        if state.owner:
            role = workflow.roles.get(state.owner)
            owner_label = role.label(language) if role else state.owner
            owner = f"{term('owner', language)}: {owner_label}"
        deadline = state.deadline.describe(language) if state.deadline else ""
        detail = " · ".join(part for part in (owner, deadline) if part)
        attrs = {}
    label = title + (f'<BR/><FONT POINT-SIZE="9">{_html(detail)}</FONT>' if detail else "")
    if state.initial:
        attrs["penwidth"] = "2.5"
    return f'    "{name}" {_attrs(label=f"<{label}>", **attrs)};'


def _edge_attrs(transition: Transition, workflow: Workflow, language: str) -> dict[str, str]:
    label = _html(transition.label(language))
    if transition.roles:
        roles = ", ".join(
            workflow.roles[r].label(language) if r in workflow.roles else r for r in transition.roles
        )
        label += f'<BR/><FONT POINT-SIZE="8" COLOR="#555555">{_html(roles)}</FONT>'
    attrs = {"label": f"<{label}>"}
    styles = []
    if transition.requires_comment:
        styles.append("dashed")
    if transition.answers_panel:
        attrs.update(color=_ANSWERS_COLOUR, fontcolor=_ANSWERS_COLOUR, penwidth="2")
    # from_any edges need no style of their own: their tail, the "any open state" node, says
    # it, and they stay free to show the comment and answer markings like any other edge.
    if styles:
        attrs["style"] = ",".join(styles)
    return attrs


def _legend(workflow: Workflow, language: str, anchor: str | None) -> list[str]:
    """A cluster holding one table: stage colours, outcome colours and the edge styles.

    Edge styles are drawn as cell borders of the same colour, width and dash as the real
    edges, so the sample is what the reader sees. One node (rather than sample edges between
    helper nodes) keeps the legend compact and its place predictable: an invisible edge from
    ``anchor`` (a node of the last stage) puts it right of the chain. Only the stages and
    outcomes the workflow uses are listed.
    """
    stages = [s for s in STAGES if any(_stage_of(st) == s for st in workflow.states.values())]
    outcomes = [o for o in OUTCOME_COLOURS if any(
        st.final and st.outcome == o for st in workflow.states.values())]

    def heading(key: str) -> str:
        return f'<TR><TD COLSPAN="2" ALIGN="LEFT"><B>{_html(term(key, language))}</B></TD></TR>'

    def swatch(colour: str, key: str) -> str:
        return (f'<TR><TD BORDER="1" COLOR="#888888" BGCOLOR="{colour}" WIDTH="36"> </TD>'
                f'<TD ALIGN="LEFT">{_html(term(key, language))}</TD></TR>')

    def line(key: str, width: int, colour: str, style: str = "") -> str:
        dash = f' STYLE="{style}"' if style else ""
        text = _html(term(key, language))
        if colour == _ANSWERS_COLOUR:
            text = f'<FONT COLOR="{colour}">{text}</FONT>'
        return (f'<TR><TD SIDES="B" BORDER="{width}" COLOR="{colour}"{dash} WIDTH="36"> </TD>'
                f'<TD ALIGN="LEFT">{text}</TD></TR>')

    rows = [heading("stages"), *(swatch(STAGE_COLOURS[s], s) for s in stages)]
    if outcomes:
        rows += [heading("outcomes"), *(swatch(OUTCOME_COLOURS[o], o) for o in outcomes)]
    rows += [
        heading("edges"),
        line("edge", 1, _EDGE_COLOUR),
        line("comment", 1, _EDGE_COLOUR, "dashed"),
        line("answers", 2, _ANSWERS_COLOUR),
        f'<TR><TD COLSPAN="2" ALIGN="LEFT">{_html(term("initial", language))}</TD></TR>',
    ]
    return legend_cluster(rows, language, anchor)


def legend_cluster(rows: list[str], language: str, anchor: str | None) -> list[str]:
    """The framed legend under a diagram: ``rows`` of an HTML-like table, kept below ``anchor``."""
    table = ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="3" CELLPADDING="2">'
             + "".join(rows) + "</TABLE>>")
    lines = [
        "  subgraph cluster_legend {",
        "    " + _attrs(label=f"<<B>{_html(term('legend', language))}</B>>", style="rounded,filled",
                        fillcolor="#FFFFFF", color="#999999", fontsize="12").join(["graph ", ";"]),
        f'    "__legend" {_attrs(shape="plaintext", style="", fontsize="10", label=table)};',
        "  }",
    ]
    if anchor is not None:
        lines.append(f'  "{anchor}" -> "__legend" [style=invis];')
    return lines


def workflow_to_dot(workflow: Workflow, language: str = "en") -> str:
    """Deterministic DOT for ``workflow``: same definition and language, same bytes.

    Layout is left to right (``rankdir=LR``): the chain is read like a timeline, panel first
    and closed last, and the states' stacked label lines stay short horizontally. Stage
    clusters come in the shared STAGES order, states and edges in declaration order.
    """
    names = _node_names(workflow)
    title = f"<B>{_html(workflow.label(language))}</B>"
    if workflow.version:
        version = f" · {term('version', language)} {workflow.version}"
        title += f'<FONT POINT-SIZE="11">{_html(version)}</FONT>'
    lines = [
        "// flowengine workflow diagram; generated by flowengine.render, do not edit",
        "digraph workflow {",
        "  " + _attrs(charset="UTF-8", rankdir="LR", newrank="true", fontname=_FONT, fontsize="16",
                      labelloc="t", labeljust="l", label=f"<{title}>", nodesep="0.3", ranksep="0.55",
                      pad="0.3").join(["graph ", ";"]),
        "  " + _attrs(fontname=_FONT, fontsize="11", shape="box", style="rounded,filled",
                      fillcolor="#FFFFFF", color="#555555", margin="0.14,0.06").join(["node ", ";"]),
        "  " + _attrs(fontname=_FONT, fontsize="9", color=_EDGE_COLOUR,
                      arrowsize="0.7").join(["edge ", ";"]),
    ]

    by_stage: dict[str | None, list[State]] = {}
    for state in workflow.states.values():
        by_stage.setdefault(_stage_of(state), []).append(state)
    anchor: str | None = None
    for stage in STAGES:
        if stage not in by_stage:
            continue
        lines.append(f"  subgraph cluster_{stage} {{")
        lines.append("    " + _attrs(label=f"<<B>{_html(term(stage, language))}</B>>",
                                     style="rounded,filled", fillcolor=STAGE_COLOURS[stage],
                                     color="#AAAAAA", fontsize="12").join(["graph ", ";"]))
        lines += [_state_node(s, workflow, names[s.id], language) for s in by_stage[stage]]
        if stage == "closed" and len(by_stage[stage]) > 1:
            # One column for every ending, right of the chain, rather than each final state
            # drifting to the rank after its source and smearing "closed" across the page.
            lines.append("    { rank=same; " + "; ".join(f'"{names[s.id]}"' for s in by_stage[stage])
                         + "; }")
        lines.append("  }")
        anchor = names[by_stage[stage][-1].id]
    lines += [_state_node(s, workflow, names[s.id], language).removeprefix("  ")
              for s in by_stage.get(None, [])]

    initial = workflow.initial_state
    if initial is not None:
        lines.append(f'  "{_START}" [shape=point, width=0.12, label="", tooltip="start"];')
        lines.append(f'  "{_START}" -> "{names[initial.id]}";')
    if any(t.from_any for t in workflow.transitions):
        any_label = f"<<I>{_html(term('any', language))}</I>>"
        any_attrs = _attrs(label=any_label, shape="box", style="rounded,filled", fillcolor="#F4F4F4",
                           fontsize="9", color=_ANY_COLOUR, height="0.3")
        lines.append(f'  "{_ANY}" {any_attrs};')

    for transition in workflow.transitions:
        if transition.target not in names:
            continue  # validation reports dangling targets; the diagram just leaves them out
        head = names[transition.target]
        tails = [_ANY] if transition.from_any else [names[s] for s in transition.sources if s in names]
        attributes = _attrs(**_edge_attrs(transition, workflow, language))
        lines += [f'  "{tail}" -> "{head}" {attributes};' for tail in tails]

    lines += _legend(workflow, language, anchor)
    lines.append("}")
    return "\n".join(lines) + "\n"


def dot_digest(dot_source: str) -> str:
    """SHA-256 (hex) of the DOT text: the freshness stamp of a rendered diagram."""
    return hashlib.sha256(dot_source.encode("utf-8")).hexdigest()


def _stamp_svg(svg: bytes, digest: str) -> bytes:
    """Put the digest comment right after the XML declaration (or first, if there is none)."""
    comment = f"<!-- {STAMP_PREFIX} {digest} -->\n".encode("ascii")
    if svg.startswith(b"<?xml"):
        end = svg.find(b"?>") + 2
        newline = 1 if svg[end:end + 1] == b"\n" else 0
        return svg[:end + newline] + (b"" if newline else b"\n") + comment + svg[end + newline:]
    return comment + svg


def svg_is_current(svg_path: Path, dot_source: str) -> bool:
    """Whether the SVG at ``svg_path`` was drawn from exactly ``dot_source``.

    Compares the stamp, not the drawing, so the answer does not depend on which Graphviz
    version produced the file. A missing file or a file without a stamp is not current.
    """
    try:
        with svg_path.open("rb") as handle:
            head = handle.read(4096)
    except FileNotFoundError:
        return False
    match = _STAMP_RE.search(head)
    return match is not None and match.group(1).decode("ascii") == dot_digest(dot_source)


def _run_dot(dot_source: str, fmt: str) -> bytes:
    """Run Graphviz's ``dot``; its failures become FlowEngineError, its stderr is kept quiet."""
    try:
        import graphviz
    except ImportError as exc:
        raise FlowEngineError(
            "the Python package 'graphviz' is not installed; install it (pip install graphviz)"
        ) from exc
    try:
        data: bytes = graphviz.pipe("dot", fmt, dot_source.encode("utf-8"), quiet=True)
    except graphviz.ExecutableNotFound as exc:
        raise FlowEngineError(
            "Graphviz's 'dot' program is not installed; install it (Debian: apt-get install graphviz)"
        ) from exc
    except graphviz.CalledProcessError as exc:
        stderr = exc.stderr.decode("utf-8", "replace") if isinstance(exc.stderr, bytes) else ""
        detail = stderr.strip().splitlines()[0] if stderr.strip() else f"exit status {exc.returncode}"
        raise FlowEngineError(f"Graphviz's 'dot' could not draw the diagram: {detail}") from exc
    return data


def diagram_format(output: Path) -> str:
    """The Graphviz output format for ``output``'s extension; refuses any other extension."""
    suffix = Path(output).suffix.lower()
    fmt = FORMATS.get(suffix)
    if fmt is None:
        if not suffix:
            raise FlowEngineError(f"diagram file '{Path(output).name}' has no extension; "
                                  "use .svg, .png, .pdf or .dot")
        raise FlowEngineError(f"unsupported diagram format '{suffix}'; use .svg, .png, .pdf or .dot")
    return fmt


def render_dot(dot_source: str, output: Path) -> Path:
    """Draw DOT text to ``output``, atomically; the file extension picks the format.

    ``.dot`` writes the source itself (no Graphviz needed); ``.svg``, ``.png`` and ``.pdf`` run
    Graphviz's ``dot``. SVGs get the freshness stamp that :func:`svg_is_current` checks.
    Returns ``output``.
    """
    output = Path(output)
    fmt = diagram_format(output)
    if fmt == "dot":
        data = dot_source.encode("utf-8")
    else:
        data = _run_dot(dot_source, fmt)
        if fmt == "svg":
            data = _stamp_svg(data, dot_digest(dot_source))
    with replacing(output, f"cannot write diagram '{output}'") as temp:
        temp.write_bytes(data)
    return output


def render(workflow: Workflow, output: Path, language: str = "en") -> Path:
    """Draw ``workflow`` to ``output``; the file extension picks the format (see :func:`render_dot`).

    Returns ``output``.
    """
    output = Path(output)
    diagram_format(output)  # refuse a bad extension before building anything
    return render_dot(workflow_to_dot(workflow, language), output)
