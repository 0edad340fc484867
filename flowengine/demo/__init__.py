"""The Interreg demo: the project's proposals rebuilt from its final report, each step saying
whether the report states it, it is inferred from the report, or it is illustrative.

- :mod:`~flowengine.demo.data`: what a data file says (plain frozen data);
- :mod:`~flowengine.demo.reading`: the YAML file read and checked, every mistake at its file:line;
- :mod:`~flowengine.demo.loading`: the file written through the public API, with each step's provenance;
- :mod:`~flowengine.demo.building`: the demo's database, diagrams and reports.

A library package: it never prints and never exits.
"""

from flowengine.demo.building import DATABASE_NAME, DemoResult, build_demo, fresh_database
from flowengine.demo.data import DEMO_NAME, FORMAT_HINT, ContextItem, DemoData, DemoProposal, DemoStep, demo_file
from flowengine.demo.loading import DemoLoad, LoadedProposal, load_demo
from flowengine.demo.reading import read_demo

__all__ = [
    "DATABASE_NAME", "DEMO_NAME", "FORMAT_HINT", "ContextItem", "DemoData", "DemoLoad", "DemoProposal", "DemoResult",
    "DemoStep", "LoadedProposal", "build_demo", "demo_file", "fresh_database", "load_demo", "read_demo",
]
