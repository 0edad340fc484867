"""``flowengine audit convert-personal``: old histories' personal data into the erasable form,
with a checkpoint before, a signed conversion record and a checkpoint after."""

from __future__ import annotations

from pathlib import Path

import click

from flowengine.i18n import t, tn

from .checkpoints import key_option, signer
from .helptext import Command
from .options import database_option, json_option
from .session import open_engine
from .views import to_json


@click.command("convert-personal", cls=Command)
@key_option()
@click.option("--out", "out", metavar="DIR", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="The folder that receives the checkpoint before, the conversion record and the checkpoint "
                   "after (keep it with the other checkpoints, away from the database).")
@click.option("--proposal", "proposals", metavar="ID", multiple=True,
              help="Convert only this proposal's history (repeatable); default: every history that needs it.")
@click.option("--yes", "-y", is_flag=True, help="Convert without asking first.")
@json_option
@database_option
def convert_personal(key: Path | None, out: Path, proposals: tuple[str, ...], yes: bool, as_json: bool,
                     database: str | None) -> None:
    """Seal old histories again so their personal data can be erased (admin only).

    Steps recorded before the database kept personal data apart (flowengine db erasable) hold
    names, comments and personal fields sealed in. This re-seals each such history as event
    format 3 — the same steps, times, actors and logins, each personal value replaced by a
    salted commitment and kept apart — in one transaction, and writes into DIR a checkpoint of
    the state before, a signed conversion record (each step's old and new hash) and a
    checkpoint after, so `flowengine audit verify --checkpoint DIR` shows that only the
    encoding changed. Running it again converts nothing.

    \b
    Example:
      flowengine audit convert-personal --key auditor.key --out checkpoints/
    """
    from flowengine.service import converting

    sign_with = signer(key)
    if not out.is_dir():
        from flowengine.errors import InvalidInput

        raise InvalidInput(t("folder {folder} does not exist; create it first", folder=out))
    with open_engine(database) as engine:
        if not yes:  # asked with what it would do; with --yes, convert reads the histories once
            planned = converting.plan(engine, proposals)
            if not planned.chains:
                _nothing(as_json)
                return
            click.confirm(tn("Re-seal {n} history ({steps} steps, {holding} holding personal data sealed in) and "
                             "write its conversion record into {folder}?",
                             "Re-seal {n} histories ({steps} steps, {holding} holding personal data sealed in) and "
                             "write their conversion record into {folder}?", len(planned.chains),
                             steps=planned.events, holding=planned.holding, folder=out), abort=True, err=True)
        done = converting.convert(engine, sign_with, out, proposals)
    if as_json:
        click.echo(to_json(done.as_dict()))
        return
    if done.record is None:
        _nothing(as_json)
        return
    click.echo(tn("{n} history re-sealed in the erasable form ({steps} steps)",
                  "{n} histories re-sealed in the erasable form ({steps} steps)", len(done.chains), steps=done.events))
    click.echo(t("checkpoint before: {file}", file=done.before))
    click.echo(t("conversion record: {file} (root {root})", file=done.record, root=done.root))
    click.echo(t("checkpoint after: {file}", file=done.after))


def _nothing(as_json: bool) -> None:
    if as_json:
        from flowengine.service.converting import Conversion

        click.echo(to_json(Conversion({}, 0).as_dict()))
        return
    click.echo(t("no history holds personal data sealed in: nothing to convert, nothing written"))
