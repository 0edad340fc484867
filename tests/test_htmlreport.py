"""The auditors' HTML report: self-contained, complete, and safe with any text in it."""

from __future__ import annotations

import re
from dataclasses import replace

from flowengine.analysis.figures import Privacy
from flowengine.analysis.reference import analyse
from flowengine.views.htmlreport import html_report, inline_svg

from .stall_histories import AS_OF, tiny_workflow, trails

SVG = ('<?xml version="1.0" encoding="UTF-8" standalone="no"?>\n'
       '<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n'
       '<!-- flowengine-dot-sha256: 00 -->\n'
       '<svg width="800pt" height="200pt" viewBox="0 0 800 200" xmlns="http://www.w3.org/2000/svg">'
       '<g id="graph0"><text>council_review</text></g></svg>\n')


def _report(**kwargs: object) -> str:
    analysis = analyse(tiny_workflow(), trails(), AS_OF)
    return html_report([analysis, analysis], stall_svgs={"tiny": SVG}, workflow_svgs={"tiny": SVG},
                       comparison_svg=SVG, **kwargs)  # type: ignore[arg-type]


def test_inlined_svg_keeps_its_view_box_and_drops_prolog_and_fixed_size() -> None:
    inlined = inline_svg(SVG)
    assert inlined.startswith("<svg ") and 'viewBox="0 0 800 200"' in inlined
    assert "<?xml" not in inlined and "DOCTYPE" not in inlined and 'width="800pt"' not in inlined


def test_inlined_drawings_do_not_share_ids() -> None:
    assert 'id="stalls-tiny-graph0"' in inline_svg(SVG, "stalls-tiny")


def test_the_report_is_self_contained() -> None:
    page = _report()
    assert not re.search(r"""(?:src|href)=["'](?!#)""", page), "no external file or link may be needed"
    assert "<script" not in page
    assert page.count("<svg ") == 5  # the comparison, then a stall diagram and a workflow per section
    assert '<meta name="viewport"' in page  # readable on a phone


def test_the_report_has_the_stall_table_the_funnel_and_the_feedback_loop() -> None:
    page = _report()
    assert "Stalled proposals, worst first" in page and "TINY-3" in page
    assert "funnel" in page and "feedback loop" in page
    assert page.index("TINY-3") < page.index("TINY-5")  # worst first


def test_text_in_the_report_is_escaped() -> None:
    workflow = tiny_workflow()
    hostile = replace(workflow, title="<script>alert(1)</script>", labels=replace(workflow.labels, texts=()))
    analysis = analyse(hostile, trails(), AS_OF)
    page = html_report([analysis])
    assert "<script>" not in page and "&lt;script&gt;" in page


def test_the_published_report_says_what_it_hides() -> None:
    page = _report(privacy=Privacy.publication())
    assert "Counts below 3 are hidden" in page and "by role only" in page
    assert "ola (" not in page


def test_the_published_headline_figures_hide_small_counts_too() -> None:
    analysis = analyse(tiny_workflow(), trails(), AS_OF)
    page = html_report([analysis], privacy=Privacy.publication())
    assert "<b>&lt;3</b>stalled now" in page and "<b>2</b>" not in page
