"""The site's one stylesheet: readable on a 390-px phone, on a desktop and on paper.

Diagrams are drawn at their natural size and a little more (their smallest text, 8 pt, comes out
at about 11 CSS pixels), in a frame that scrolls sideways with a visible scroll bar on narrow
screens. Printed, the frames let go, each diagram gets a page of its own, scaled to fit, and
table rows are not split.
"""

STYLE = """
:root { color-scheme: light; --ink: #1b1b1b; --muted: #545454; --line: #c8c8c8; --band: #f2f2ee; --warn: #a4221b;
        --link: #0b5394; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); }
a { color: var(--link); }
a:focus-visible, summary:focus-visible { outline: 3px solid #1a73e8; outline-offset: 2px; }
.skip { position: absolute; left: -999px; top: 0; background: #fff; padding: .5rem; }
.skip:focus { left: .5rem; z-index: 1; }
header, main, footer { max-width: 72rem; margin: 0 auto; padding: 0 1rem; }
header { padding-top: 1rem; }
nav.crumbs { font-size: .95rem; }
nav ul { list-style: none; padding: 0; margin: .4rem 0; display: flex; flex-wrap: wrap; gap: .3rem 1rem; }
h1 { font-size: 1.6rem; line-height: 1.25; margin: .4rem 0 .3rem; overflow-wrap: anywhere; }
h2 { font-size: 1.3rem; margin: 2rem 0 .5rem; border-bottom: 2px solid var(--line); padding-bottom: .2rem; }
h3 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
p.lead { color: var(--muted); margin: 0 0 1rem; }
.figures { display: flex; flex-wrap: wrap; gap: .5rem; margin: 1rem 0; padding: 0; list-style: none; }
.figures li { background: var(--band); border-radius: .4rem; padding: .5rem .8rem; flex: 1 1 8.5rem; }
.figures b { display: block; font-size: 1.4rem; }
.figures li.warn b { color: var(--warn); }
figure { margin: 1rem 0; }
.diagram { overflow-x: auto; overflow-y: hidden; border: 1px solid var(--line); border-radius: .4rem; padding: .5rem;
           background: #fff; scrollbar-width: auto; scrollbar-color: #777 #eee; }
.diagram::-webkit-scrollbar { height: 12px; }
.diagram::-webkit-scrollbar-thumb { background: #777; border-radius: 6px; }
.diagram::-webkit-scrollbar-track { background: #eee; }
.diagram svg { display: block; max-width: none; height: auto; }
figcaption { color: var(--muted); font-size: .9rem; margin-top: .3rem; }
.scroll { overflow-x: auto; scrollbar-width: auto; scrollbar-color: #777 #eee; }
.scroll::-webkit-scrollbar { height: 12px; }
.scroll::-webkit-scrollbar-thumb { background: #777; border-radius: 6px; }
table { border-collapse: collapse; font-size: .9rem; min-width: 100%; }
caption { text-align: left; font-weight: 600; padding: .2rem 0; }
th, td { text-align: left; padding: .3rem .6rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: var(--band); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
p.note { color: var(--muted); font-size: .875rem; margin: .3rem 0 0; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 1rem 0; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
ol.steps { padding-left: 1.2rem; }
ol.steps li { margin: .6rem 0; }
ol.steps .when { font-weight: 600; }
blockquote { margin: .3rem 0 .3rem .5rem; padding-left: .7rem; border-left: 3px solid var(--line); }
.stalled { color: var(--warn); font-weight: 600; }
td.src-illustrative, .src-illustrative { background: #fde2c8; color: #7a3300; font-weight: 600; }
td.src-inferred, .src-inferred { background: #e6ecf7; color: #1f3a68; }
td.src-stated, .src-stated { color: #2d5a2d; }
span.src { padding: 0 .3rem; border-radius: .2rem; white-space: nowrap; }
.figures small { display: block; font-size: .8rem; padding: 0 .25rem; border-radius: .2rem; margin-top: .2rem; }
dl.legend { display: grid; grid-template-columns: max-content 1fr; gap: .2rem .8rem; font-size: .9rem; }
dl.legend dd { margin: 0; }
.scale { list-style: none; padding: 0; }
.scale li { display: flex; align-items: center; gap: .5rem; margin: .2rem 0; }
.swatch { display: inline-block; width: 2.2rem; height: 1.1rem; border: 1px solid #777; flex: none; }
footer { color: var(--muted); font-size: .875rem; padding: 2rem 1rem; }
@media (max-width: 40rem) { body { font-size: 15px; } th, td { padding: .25rem .4rem; } h1 { font-size: 1.35rem; } }
@media print {
  body { font-size: 10.5pt; }
  .skip, nav.crumbs { display: none; }
  a { color: inherit; }
  header, main, footer { max-width: none; padding: 0; }
  .diagram, .scroll { overflow: visible; border: 0; padding: 0; }
  figure.drawing { break-before: page; break-after: page; }
  .diagram svg { width: 100% !important; height: auto !important; max-height: 24cm; }
  table { font-size: 8.5pt; min-width: 0; width: 100%; }
  th, td { padding: .1rem .25rem; overflow-wrap: anywhere; }
  tr, dl.facts, ol.steps li { break-inside: avoid; }
  thead { display: table-header-group; }
  h2, h3 { break-after: avoid; }
}
"""
