"""What a command does differently when a person reads it on a terminal: tables no wider than
the terminal, and long output through a pager (as git does).

Tables are cut to ``$COLUMNS`` when it is set, else to the terminal's width when standard output
is one; piped output keeps whole rows. ``--wide`` keeps whole rows anywhere. The pager runs only
when standard output is a terminal: ``$FLOWENGINE_PAGER``, else ``$PAGER``, else ``less`` (with
``LESS=FRX`` unless set: it quits when the text fits one screen and leaves it there); an empty
value or ``cat`` means none, and so does ``--no-pager``.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
from collections.abc import Callable, Sequence
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from flowengine.views import texttable

from .shown import visible

F = TypeVar("F", bound=Callable[..., Any])

PAGER_ENV = "FLOWENGINE_PAGER"
_WIDTH = "flowengine.width"  # in click's context meta: the width tables get, None for whole rows
_STREAMED = "flowengine.streamed"  # in click's context meta: the output streams; never collected for a pager
_LABEL = re.compile(r"\s*\S+(?: \S+)*? {2,}")  # "waiting    3 d in this state": where the value starts


def terminal_width() -> int | None:
    """How wide a table may be here, or None when nothing limits it."""
    columns = os.environ.get("COLUMNS", "").strip()
    if columns.isdigit() and int(columns) > 0:
        return int(columns)
    if sys.stdout.isatty():
        import shutil  # with its archive modules: for a terminal only

        return shutil.get_terminal_size().columns
    return None


def table_width() -> int | None:
    """The width the running command's tables get: as its --wide says, else the terminal's."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None and _WIDTH in ctx.meta:
        return cast(int | None, ctx.meta[_WIDTH])
    return terminal_width()


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], *, optional: Sequence[str] = ()) -> str:
    """A text table no wider than :func:`table_width`; ``optional`` columns are left out first."""
    return texttable.table(headers, rows, width=table_width(), optional=optional)


def fit(text: str) -> str:
    """``text`` with every line longer than :func:`table_width` wrapped: a "label  value" line
    continues under its value, any other under its own indentation. Tables are fitted already."""
    width = table_width()
    if width is None:
        return text
    lines: list[str] = []
    for line in text.split("\n"):
        if len(line) <= width:
            lines.append(line)
            continue
        label = _LABEL.match(line)
        indent = len(label.group(0)) if label and len(label.group(0)) <= width // 2 else \
            len(line) - len(line.lstrip(" "))
        parts = texttable.wrap(line[indent:], max(1, width - indent))
        lines += [line[:indent] + parts[0], *(" " * indent + part for part in parts[1:])]
    return "\n".join(lines)


STDIN_NAME = "<stdin>"  # how problems in what came through standard input are placed


def standard_input_bytes(limit: int) -> bytes:
    """At most ``limit`` bytes of standard input (``-`` given as a file); a usage error when it is a
    terminal, where nobody meant to type a file."""
    if sys.stdin.isatty():
        raise click.UsageError("'-' reads standard input, which is a terminal here; pipe the file in: … < FILE")
    return sys.stdin.buffer.read(limit)


KEEP_FREE = 1 << 30  # bytes a spooled standard input leaves free on its disk
_SPOOL_CHUNK = 1 << 20

def spooled_standard_input(folder: Path) -> Path:
    """Standard input copied into ``folder`` as a file named :data:`STDIN_NAME`, for readers that
    need a file (they read it more than once); bounded by the disk, not by memory — and never
    the whole disk: a pipe that does not end (``< /dev/zero``) is refused while :data:`KEEP_FREE`
    bytes are still free there, as is a disk that runs full, with one line and nothing written."""
    from flowengine.errors import InvalidInput
    from flowengine.i18n import t

    if sys.stdin.isatty():
        raise click.UsageError("'-' reads standard input, which is a terminal here; pipe the file in: … < FILE")
    import shutil

    path = folder / STDIN_NAME
    fix = t("pass the log as a file, or set TMPDIR to a folder with more room")
    try:
        with path.open("wb") as spool:
            while chunk := sys.stdin.buffer.read(_SPOOL_CHUNK):
                if shutil.disk_usage(folder).free - len(chunk) < KEEP_FREE:
                    raise InvalidInput(t("standard input is larger than {folder} has room for (it keeps {size} "
                                         "free); {fix}", folder=folder.parent, size=f"{KEEP_FREE >> 20:,} MiB",
                                         fix=fix))
                spool.write(chunk)
    except OSError as exc:
        raise InvalidInput(t("could not keep standard input in {folder}: {reason}; {fix}", folder=folder.parent,
                             reason=exc.strerror or exc, fix=fix)) from exc
    return path


def pager_command() -> list[str] | None:
    """The pager to run, or None: standard output is not a terminal, or no pager is wanted."""
    if not sys.stdout.isatty():
        return None
    import shlex
    import shutil

    chosen = os.environ.get(PAGER_ENV)
    if chosen is None:
        chosen = os.environ.get("PAGER")
    if chosen is None:
        chosen = "less" if shutil.which("less") else ""
    words = shlex.split(chosen)
    if not words or words == ["cat"]:
        return None
    return words


def page(text: str, command: list[str]) -> None:
    """Show ``text`` through the pager; straight out if it cannot start."""
    import subprocess

    if not text:
        return
    environment = dict(os.environ)
    environment.setdefault("LESS", "FRX")
    environment.setdefault("LV", "-c")
    try:
        pager = subprocess.Popen(command, stdin=subprocess.PIPE, env=environment)
    except OSError:
        click.echo(text, nl=False)
        return
    assert pager.stdin is not None
    try:
        pager.stdin.write(visible(text).encode(sys.stdout.encoding or "utf-8", "replace"))
        pager.stdin.close()
    except BrokenPipeError:  # quit before reading everything
        pass
    while True:
        try:
            pager.wait()
            return
        except KeyboardInterrupt:  # Ctrl-C is the pager's to handle (less stops a search with it)
            continue


def streamed(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    """An option's callback: when set, the command's output streams as it is made (memory holds
    one batch, not the whole output), so it never goes through the pager, which would collect it."""
    if value:
        ctx.meta[_STREAMED] = True
    return value


def output_options(func: F) -> F:
    """--wide and --no-pager for a command that prints tables or long text; the command itself
    takes neither: its output is collected and paged once it is done."""

    @wraps(func)
    def with_output(*args: Any, wide: bool, no_pager: bool, **kwargs: Any) -> Any:
        ctx = click.get_current_context()
        ctx.meta[_WIDTH] = None if wide else terminal_width()
        pager = None if no_pager or ctx.meta.get(_STREAMED) else pager_command()
        if pager is None:
            return func(*args, **kwargs)
        collected = io.StringIO()
        try:
            with contextlib.redirect_stdout(collected):
                result = func(*args, **kwargs)
        except BaseException:  # what was printed before a refusal still belongs in front of it
            click.echo(collected.getvalue(), nl=False)
            raise
        page(collected.getvalue(), pager)
        return result

    decorated: Any = click.option("--no-pager", is_flag=True,
                                  help="Print straight out, never through a pager (also ${pager_variable}=cat).")(
        with_output)
    decorated = click.option("--wide", is_flag=True,
                             help="Whole table rows, however wide (default: as wide as the terminal).")(decorated)
    return cast(F, decorated)
