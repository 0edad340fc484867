"""A report's tables as data: titled :class:`Section` tables of :data:`Cell` values, which every
format writes alike (:mod:`flowengine.views.report_writers`, the site). The stall report
(:mod:`flowengine.views.report`) and one proposal's history (:mod:`flowengine.views.histories`)
are both made of them; this module is their own, so that showing a proposal does not load the
stall report and its analysis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Cell", "Section"]

Cell = str | int | float | None


@dataclass(frozen=True)
class Section:
    """One titled table. ``key`` is stable for machines; ``title`` is for people. ``sources``:
    where the rows rest on rebuilt histories, the kind of step each rests on (stated, inferred,
    illustrative or None), written in words in the last column."""

    key: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    workflow: str | None = None
    note: str = ""
    sources: tuple[str | None, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "workflow": self.workflow, "columns": list(self.columns),
                "rows": [list(row) for row in self.rows], "note": self.note}
