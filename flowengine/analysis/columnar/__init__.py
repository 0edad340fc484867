"""The stall analysis of large logs, column-wise with numpy (this package is its only importer):
exactly the figures of :func:`flowengine.analysis.reference.analyse`, from a few index scans
(:mod:`~flowengine.analysis.columnar.figures`) over arrays of the events
(:mod:`~flowengine.analysis.columnar.arrays`), many workflows in batches
(:mod:`~flowengine.analysis.columnar.batches`)."""

from flowengine.analysis.columnar.batches import analyse_all

__all__ = ["analyse_all"]
