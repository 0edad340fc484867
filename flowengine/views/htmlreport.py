"""The auditors' report as one self-contained HTML file: diagrams inline as SVG, the stall
report's tables, no scripts, no external files — it can be mailed, archived and opened on a
phone years later exactly as it was written.

The tables are the stall report's own :class:`~flowengine.views.report.Section` objects, so the HTML
says what ``flowengine stalls report`` says.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from html import escape

from flowengine import __version__
from flowengine.analysis.figures import CARRIED_ON, Analysis, Privacy
from flowengine.analysis.provenance import Marks
from flowengine.history.provenance import ILLUSTRATIVE, INFERRED, KINDS, weakest
from flowengine.views.report import SOURCE, Cell, Section, build_comparison, build_sections, for_reading, local_date

# Sections shown open in each workflow's part, in this order; the rest are folded away.
_OPEN = ("stages", "funnel", "feedback")
_FOLDED = ("states", "transitions", "loops", "flow")

_STYLE = """
:root { color-scheme: light; --ink: #1b1b1b; --muted: #5b5b5b; --line: #d6d6d6; --band: #f4f4f1; --warn: #b3261e; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); }
header, main, footer { max-width: 72rem; margin: 0 auto; padding: 0 1rem; }
header { padding-top: 1.5rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.3rem; margin: 2.5rem 0 .5rem; border-bottom: 2px solid var(--line); padding-bottom: .25rem; }
h3 { font-size: 1.05rem; margin: 1.5rem 0 .4rem; }
p.lead { color: var(--muted); margin: 0 0 1rem; }
nav ul { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: .4rem .8rem; }
nav a { color: inherit; }
.figures { display: flex; flex-wrap: wrap; gap: .5rem; margin: 1rem 0; padding: 0; list-style: none; }
.figures li { background: var(--band); border-radius: .4rem; padding: .5rem .8rem; min-width: 9rem; }
.figures b { display: block; font-size: 1.4rem; }
.figures li.warn b { color: var(--warn); }
figure { margin: 1rem 0; }
.diagram { overflow-x: auto; border: 1px solid var(--line); border-radius: .4rem; padding: .5rem; background: #fff; }
.diagram svg { display: block; height: auto; max-width: none; min-width: 40rem; width: 100%; }
figcaption { color: var(--muted); font-size: .9rem; margin-top: .3rem; }
.table { overflow-x: auto; }
table { border-collapse: collapse; font-size: .9rem; min-width: 100%; }
th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--band); font-weight: 600; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
p.note { color: var(--muted); font-size: .85rem; margin: .3rem 0 0; }
details { margin: .6rem 0; }
summary { cursor: pointer; font-weight: 600; }
footer { color: var(--muted); font-size: .85rem; padding: 2rem 1rem; }
td.src-illustrative, small.src-illustrative { background: #fde2c8; color: #7a3300; font-weight: 600; }
td.src-inferred, small.src-inferred { background: #e6ecf7; color: #1f3a68; }
td.src-stated { color: #2d5a2d; }
.figures small { display: block; font-size: .75rem; padding: 0 .25rem; border-radius: .2rem; margin-top: .2rem; }
@media (max-width: 40rem) { body { font-size: 15px; } th, td { padding: .25rem .4rem; } }
"""


def inline_svg(svg: str, prefix: str = "") -> str:
    """An SVG file's markup fit for inlining: no XML prolog or doctype, scaling with the page,
    and its ids prefixed, since every Graphviz drawing names its parts graph0, node1, …"""
    body = re.sub(r"^\s*<\?xml[^>]*\?>\s*", "", svg)
    body = re.sub(r"<!DOCTYPE[^>]*>\s*", "", body, count=1)
    body = re.sub(r"<!--.*?-->\s*", "", body, flags=re.S)
    opening = re.search(r"<svg\b[^>]*>", body)
    if opening is None:
        return body.strip()
    tag = re.sub(r"\s+", " ", re.sub(r"\s(?:width|height)=\"[^\"]*\"", "", opening.group(0)))
    body = body[:opening.start()] + tag + body[opening.end():]
    if prefix:
        body = re.sub(r'\sid="([^"]*)"', lambda m: f' id="{prefix}-{m.group(1)}"', body)
    return body.strip()


def _cell(value: Cell, source: bool = False) -> str:
    if value is None or value == "":
        return "<td>&ndash;</td>"
    if isinstance(value, int | float):
        return f'<td class="num">{escape(str(for_reading(value)))}</td>'
    if source and value in KINDS:  # a marker a reader sees at a glance, and its word
        return f'<td class="src-{value}">{escape(str(value))}</td>'
    return f"<td>{escape(str(value))}</td>"


def section_html(section: Section, heading: str = "h3") -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in section.columns)
    sources = [column == SOURCE for column in section.columns]
    if section.rows:
        body = "".join("<tr>" + "".join(_cell(v, s) for v, s in zip(row, sources, strict=True)) + "</tr>"
                       for row in section.rows)
        table = f'<div class="table"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
    else:
        table = "<p>None.</p>"
    note = f'<p class="note">{escape(section.note)}</p>' if section.note else ""
    return f"<{heading}>{escape(section.title)}</{heading}>{table}{note}"


def _figure(svg: str | None, caption: str, prefix: str) -> str:
    if not svg:
        return ""
    return (f'<figure><div class="diagram">{inline_svg(svg, prefix)}</div>'
            f"<figcaption>{escape(caption)}</figcaption></figure>")


@dataclass(frozen=True)
class Part:
    """A part of the report beyond the figures (what a rebuilt history's source says besides
    the steps, every history step by step…): its anchor, heading, lead text and tables."""

    anchor: str
    heading: str
    sections: tuple[Section, ...]
    lead: str = ""
    folded: bool = False  # each table behind its title, for long parts


def headline_done(analysis: Analysis) -> int:
    """Proposals implemented, in use or partly in place: ended implemented (fully or in part),
    in an evaluation stage now (taken into use), or being implemented with progress recorded."""
    funnel = analysis.funnel
    evaluating = sum(s.now for s in analysis.stages if s.stage == "evaluation")
    return funnel.implemented + funnel.partially_implemented + evaluating + funnel.in_progress


def _headline_marks(analyses: Sequence[Analysis], marks: Mapping[str, Marks]) -> dict[str, str | None]:
    """For each headline figure, the weakest step it rests on."""
    def of(pick: Callable[[Analysis, Marks], Sequence[str | None]]) -> str | None:
        return weakest([kind for a in analyses if a.workflow.id in marks for kind in pick(a, marks[a.workflow.id])])

    return {
        "stalled": of(lambda a, m: [m.stalls.get(s.proposal) for s in a.stalls]),
        "quiet": of(lambda a, m: [m.stalls.get(s.proposal) for s in a.quiet]),
        "answered": of(lambda a, m: [m.feedback]),
        "done": of(lambda a, m: [m.funnel.get("implemented"), m.funnel.get("partially_implemented"),
                                 m.funnel.get("evaluation"), m.stages.get("implementation")]),
        "carried": of(lambda a, m: [m.funnel.get(outcome) for outcome in CARRIED_ON]),
    }


def _figure_item(value: str, label: str, kind: str | None, warn: bool = False) -> str:
    note = f'<small class="src-{kind}">rests on {kind} steps</small>' if kind in (ILLUSTRATIVE, INFERRED) else ""
    return f'<li class="{"warn" if warn else ""}"><b>{escape(value)}</b>{escape(label)}{note}</li>'


def html_report(analyses: Sequence[Analysis], *, stall_svgs: Mapping[str, str] | None = None,
                workflow_svgs: Mapping[str, str] | None = None, comparison_svg: str | None = None,
                language: str = "en", privacy: Privacy | None = None, title: str = "Where ideas stall",
                marks: Mapping[str, Marks] | None = None, intro: Sequence[Part] = (),
                appendix: Sequence[Part] = ()) -> str:
    """The whole report; the SVG mappings are keyed by workflow id. ``marks``: where histories were
    rebuilt from a source, which kind of step each figure rests on; ``intro`` parts come before
    the figures, ``appendix`` parts after them."""
    privacy = privacy or Privacy()
    stall_svgs = stall_svgs or {}
    workflow_svgs = workflow_svgs or {}
    shown = {wid: found for wid, found in (marks or {}).items() if found.any}
    sections = build_sections(analyses, language=language, privacy=privacy, marks=shown)
    by_key = {s.key: s for s in sections if s.workflow is None}
    as_of = local_date(analyses[0].as_of, analyses[0].as_of) if analyses else ""
    proposals = sum(a.proposals for a in analyses)
    stalled = sum(len(a.stalls) for a in analyses)
    rests = _headline_marks(analyses, shown)
    count = privacy.count
    parts = [
        f'<!doctype html><html lang="{escape(language)}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)} — {escape(as_of)}</title><style>{_STYLE}</style></head><body>",
        f"<header><h1>{escape(title)}</h1>",
        f'<p class="lead">As of {escape(as_of)}: {escape(count(proposals))} proposals in {len(analyses)} '
        "workflows.</p>",
        '<ul class="figures">',
        _figure_item(count(proposals), "proposals", None),
        _figure_item(count(stalled), "stalled now", rests["stalled"], warn=bool(stalled)),
        _figure_item(count(sum(len(a.quiet) for a in analyses)), "gone quiet (no record since)", rests["quiet"]),
        _figure_item(count(sum(a.feedback.answered.count for a in analyses)), "got a reasoned answer",
                     rests["answered"]),
        _figure_item(count(sum(headline_done(a) for a in analyses)), "implemented, in use or partly in place",
                     rests["done"]),
        _figure_item(count(sum(a.funnel.carried_on for a in analyses)), "carried on elsewhere", rests["carried"]),
        "</ul>",
        "<nav><ul>" + "".join(f'<li><a href="#{escape(part.anchor)}">{escape(part.heading)}</a></li>'
                              for part in intro)
        + '<li><a href="#stalls">Stalls</a></li><li><a href="#quiet">Gone quiet</a></li>'
        + ('<li><a href="#compare">Comparison</a></li>' if len(analyses) > 1 else "")
        + "".join(f'<li><a href="#wf-{escape(a.workflow.id)}">{escape(a.workflow.label(language))}</a></li>'
                  for a in analyses)
        + "".join(f'<li><a href="#{escape(part.anchor)}">{escape(part.heading)}</a></li>' for part in appendix)
        + "</ul></nav></header><main>",
        *(_part_html(part) for part in intro),
        f'<section id="stalls">{section_html(by_key["stalls"], "h2")}</section>',
        f'<section id="quiet">{section_html(by_key["quiet"], "h2")}</section>',
    ]
    if len(analyses) > 1:
        compare = build_comparison(analyses, language=language, privacy=privacy)
        parts.append('<section id="compare"><h2>Municipalities side by side</h2>'
                     + _figure(comparison_svg, "Median days per stage; colour: slower is darker.", "compare")
                     + "".join(section_html(s) for s in compare) + "</section>")
    for analysis in analyses:
        wf = analysis.workflow
        own = {s.key: s for s in sections if s.workflow == wf.id}
        parts.append(f'<section id="wf-{escape(wf.id)}"><h2>{escape(wf.label(language))}</h2>')
        caption = "Where proposals wait: the declared workflow coloured by how long proposals stay in each state."
        if wf.id in shown and shown[wf.id].overall() in (ILLUSTRATIVE, INFERRED):
            caption += (f" Its figures rest on {shown[wf.id].overall()} steps too: the tables below say which, "
                        "row by row.")
        parts.append(_figure(stall_svgs.get(wf.id), caption, f"stalls-{wf.id}"))
        parts += [section_html(own[key]) for key in _OPEN if key in own]
        if workflow_svgs.get(wf.id):
            parts.append("<details><summary>The workflow as declared</summary>"
                         + _figure(workflow_svgs[wf.id], f"{wf.id} {wf.version}", f"workflow-{wf.id}") + "</details>")
        parts += [f"<details><summary>{escape(own[key].title)}</summary>{section_html(own[key])}</details>"
                  for key in _FOLDED if key in own]
        parts.append("</section>")
    parts += [_part_html(part) for part in appendix]
    hidden = (f" Counts below {privacy.min_count} are hidden." if privacy.min_count else "")
    who = " People are shown by role only." if privacy.roles_only else ""
    parts.append(f"</main><footer>Written by flowengine {escape(__version__)} from the stored, hash-chained "
                 f"history.{escape(hidden + who)}</footer></body></html>\n")
    return "".join(parts)


def _part_html(part: Part) -> str:
    lead = f'<p class="lead">{escape(part.lead)}</p>' if part.lead else ""
    if part.folded:
        body = "".join(f"<details><summary>{escape(s.title)}</summary>{section_html(s)}</details>"
                       for s in part.sections)
    else:
        body = "".join(section_html(s) for s in part.sections)
    return f'<section id="{escape(part.anchor)}"><h2>{escape(part.heading)}</h2>{lead}{body}</section>'
