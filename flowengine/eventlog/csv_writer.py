"""An event log as CSV: one header row of ``CSV_COLUMNS``, then one row per event.

The column names are those PM4Py's ``read_csv``/``format_dataframe``, Disco and Celonis map
without being told; a value left out (no trigger on a creation, no hash when pseudonymised)
is an empty cell.
"""

from __future__ import annotations

import csv
from typing import TextIO

from flowengine.eventlog.attributes import CASE, CSV_COLUMNS
from flowengine.eventlog.logevent import LogSource, case_attributes, event_attributes
from flowengine.views.spreadsheet import neutralise


def write_csv(out: TextIO, source: LogSource) -> None:
    """A cell a spreadsheet would run as a formula starts with an apostrophe (the import takes
    it off again) unless ``source.raw_cells``."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    cell = (lambda text: text) if source.raw_cells else neutralise
    for event in source.events():
        values = {CASE: event.case}
        values.update((key, text) for key, _, text in case_attributes(event))
        values.update((key, text) for key, _, text in event_attributes(event))
        writer.writerow([cell(values.get(column, "")) for column in CSV_COLUMNS])
