"""``flowengine erase``: personal data erased on request, the history still verifying."""

from __future__ import annotations

import click

from flowengine.i18n import t, tn

from .helptext import Command
from .options import database_option, json_option
from .session import open_engine
from .views import to_json


@click.command(cls=Command)
@click.option("--actor", "name", metavar="NAME", help="Erase this display name from every step that records it.")
@click.option("--proposal", "proposal", metavar="ID",
              help="Erase this proposal's personal data: names, comments and personal fields (or only what "
                   "--field and --comments say).")
@click.option("--field", metavar="FIELD", help="Only this personal field's values (with --proposal).")
@click.option("--comments", is_flag=True, help="Only the comments (with --proposal).")
@click.option("--request", metavar="REF",
              help="On whose request: a case number or a letter's reference, recorded in the erasure step.")
@click.option("--as", "shown_as", metavar="NAME", help="The name the erasure step records (default: your login).")
@click.option("--yes", "-y", is_flag=True, help="Erase without asking first.")
@json_option
@database_option
def erase(name: str | None, proposal: str | None, field: str | None, comments: bool, request: str | None,
          shown_as: str | None, yes: bool, as_json: bool, database: str | None) -> None:
    """Erase personal data on request; every history still verifies (admin only).

    The values are deleted with the salts of their commitments, so nothing in the database can
    bring them back; the seal keeps the commitment, and each proposal concerned gets an erasure
    step saying who erased what kind of data, when and on whose request (never the value).
    Only data recorded since the database keeps personal data apart (flowengine db erasable)
    can be erased; steps recorded before are named.

    \b
    Example:
      flowengine erase --actor "Ola Nordmann" --request "letter 2025-17"
      flowengine erase --proposal MEL-4 --field summary --yes
    """
    from flowengine.history.records import Actor
    from flowengine.service.erasing import ErasureRequest

    if (name is None) == (proposal is None):
        raise click.UsageError(t("give --actor NAME or --proposal ID"))
    if name is not None and (field or comments):
        raise click.UsageError(t("--field and --comments go with --proposal"))
    wanted = ErasureRequest(actor=name, proposal=proposal, field=field, comments=comments, request=request)
    if not yes:
        what = (t("the display name '{name}' everywhere", name=name) if name is not None
                else t("personal data of {proposal}", proposal=proposal))
        click.confirm(t("Erase {what}? This cannot be undone.", what=what), abort=True)
    with open_engine(database) as engine:
        result = engine.erase(wanted, by=Actor(shown_as, "admin") if shown_as else None)
    if as_json:
        click.echo(to_json(result.as_dict()))
        return
    if not result.erased:
        click.echo(t("nothing to erase"))
    for pid, count in sorted(result.erased.items()):
        click.echo(tn("{proposal}: {n} value erased", "{proposal}: {n} values erased", count, proposal=pid))
    for pid, count in sorted(result.sealed_in.items()):
        click.echo(tn("{proposal}: {n} step recorded before personal data was kept apart still holds it sealed in",
                      "{proposal}: {n} steps recorded before personal data was kept apart still hold it sealed in",
                      count, proposal=pid), err=True)
    if result.sealed_in:
        click.echo(t("convert them into the erasable form first: {command}",
                     command="flowengine audit convert-personal --key KEYFILE --out DIR"), err=True)
