"""A progress bar on the terminal for long work, and none anywhere else.

A bar is drawn on standard error only when it is a terminal and ``--quiet`` was not given, so
scripts, pipes and CI logs get the result alone.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import click

from flowengine.meter import Meter, no_meter


def bar_wanted(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


@contextmanager
def terminal_meter(label: str, total: int | None, *, quiet: bool) -> Iterator[Meter]:
    """A meter drawing a bar of ``total`` units, or a running count when the total is not known
    beforehand (an import reads its file only once; an analysis of every workflow learns how many
    there are as it goes)."""
    if not bar_wanted(quiet):
        yield no_meter
        return
    # click wants a length or an iterable; the bar is only fed through update(), so an endless
    # count stands for "length not known" (click then shows the units done so far).
    bar: click._termui_impl.ProgressBar[int] = click.progressbar(
        itertools.count() if total is None else None, length=total, label=label, file=sys.stderr, show_pos=True,
        show_eta=total is not None)
    with bar:
        yield bar.update
