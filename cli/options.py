"""Option sets shared by several commands, so every command spells them the same way."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

LANGUAGE_CHOICES = ("en", "nb", "sv")


class Moment(click.ParamType[datetime, Any]):
    """A day (the end of it, local time) or a date-time; a malformed one is a usage error (exit 2)."""

    name = "date"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        from flowengine.clock import parse_moment
        from flowengine.errors import InvalidInput
        from flowengine.i18n import t

        try:
            return parse_moment(str(value), what=t("the value"))
        except InvalidInput as exc:
            self.fail(str(exc), param, ctx)


class Day(click.ParamType[str, Any]):
    """A calendar day, YYYY-MM-DD, kept as text; a malformed one is a usage error (exit 2)."""

    name = "day"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from datetime import date

        from flowengine.i18n import t
        from flowengine.timewindow import EARLIEST_TEXT, LATEST_TEXT

        try:
            day = date.fromisoformat(str(value).strip()).isoformat()
        except ValueError:
            self.fail(t("'{value}' is not a day; write it as YYYY-MM-DD, e.g. 2019-06-30", value=value), param, ctx)
        if not EARLIEST_TEXT <= day < LATEST_TEXT:
            self.fail(t("the day {day} lies outside the range flowengine accepts ({earliest} to {latest})",
                        day=day, earliest=EARLIEST_TEXT, latest=LATEST_TEXT), param, ctx)
        return day


MOMENT = Moment()
DAY = Day()


def checked_by(parse: Callable[[tuple[str, ...]], object]) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """An option callback that reads repeated values with the library's own ``parse`` as soon as
    they are given, so a malformed one is a usage error (exit 2) before any work starts; the
    command gets the values as given."""

    def check(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value:
            from flowengine.errors import FlowEngineError

            from .remedies import with_hint

            try:
                parse(tuple(value))
            except FlowEngineError as exc:
                raise click.BadParameter(with_hint(str(exc), exc.remedies), ctx, param) from None
        return value

    return check


def _assignments(values: tuple[str, ...]) -> object:
    from flowengine.definition.fields import parse_assignments

    return parse_assignments(values)


def _log_columns(values: tuple[str, ...]) -> object:
    from flowengine.eventlog.importer import parse_mapping

    return parse_mapping(values)


def _state_map(values: tuple[str, ...]) -> object:
    from flowengine.service.migration_plan import parse_map

    return parse_map(values)


CHECK_ASSIGNMENTS = checked_by(_assignments)  # FIELD=VALUE, as --set or as arguments
CHECK_LOG_COLUMNS = checked_by(_log_columns)  # import --map COLUMN=MEANING
CHECK_STATE_MAP = checked_by(_state_map)  # workflow migrate --map OLD=NEW


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")(func)


def _speak(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """The command's messages, headings and column names in the chosen language too."""
    from flowengine.i18n import use

    use(value)
    return value


def language_option(func: F) -> F:
    return click.option(
        "--lang", "language", type=click.Choice(LANGUAGE_CHOICES), default="en", show_default=True,
        envvar="FLOWENGINE_LANG", callback=_speak, is_eager=True,
        help="Language of what the command shows: labels (falling back to en, then to ids), headings, "
             "column names and messages.",
    )(func)


def workflows_option(func: F) -> F:
    return click.option(
        "--workflows", "workflow_dirs", multiple=True, type=click.Path(file_okay=False, exists=True),
        help="Extra folder of workflow YAML files (repeatable; also $FLOWENGINE_WORKFLOWS). "
             "Searched before the bundled workflows.",
    )(func)


def workflow_filter_option(func: F) -> F:
    """--workflow WF, repeatable, as ``workflows``: the commands that read every workflow's proposals."""
    from .completion import workflow_ids

    return click.option("--workflow", "workflows", multiple=True, metavar="WF", shell_complete=workflow_ids,
                        help="Only proposals of this workflow (repeatable). Default: every workflow with "
                             "proposals.")(func)


def database_option(func: F) -> F:
    return click.option(
        "--db", "database", metavar="PATH|URL", envvar="FLOWENGINE_DB",
        help="SQLite file or database URL (also $FLOWENGINE_DB). "
             "Default: ~/.local/share/flowengine/flowengine.db.",
    )(func)


READ_DATABASE = "flowengine.read_database"  # in click's context meta: --read-db, for open_engine(read_only=True)


def _read_database(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value:
        ctx.meta[READ_DATABASE] = value.strip()


def read_database_option(func: F) -> F:
    """--read-db for a command that only reads: kept in the context, where ``open_engine`` finds it."""
    return click.option(
        "--read-db", metavar="URL", envvar="FLOWENGINE_READ_DB", expose_value=False, callback=_read_database,
        help="Read from this database instead: a streaming replica of the one written to (also "
             "$FLOWENGINE_READ_DB), so the work leaves the primary to the writers. It must be at the "
             "same schema; what it shows is the replica's moment.",
    )(func)


def identity_options(func: F) -> F:
    func = click.option("--role", "role", metavar="ROLE", envvar="FLOWENGINE_ROLE",
                        help="The role you act in, as the workflow names it (also $FLOWENGINE_ROLE).")(func)
    return click.option("--as", "actor_name", metavar="NAME", envvar="FLOWENGINE_USER",
                        help="Who you are; a pseudonym is enough (also $FLOWENGINE_USER).")(func)


def as_of_option(func: F) -> F:
    return click.option("--as-of", "as_of", metavar="DATE", type=MOMENT,
                        help="Show the state at the end of a past day (YYYY-MM-DD) instead of now.")(func)


def set_option(func: F) -> F:
    return click.option("--set", "assignments", multiple=True, metavar="FIELD=VALUE", callback=CHECK_ASSIGNMENTS,
                        help="Fill in a field (repeatable); an empty value clears it.")(func)


def idempotency_option(func: F) -> F:
    return click.option("--idempotency-key", "idempotency_key", metavar="KEY",
                        help="A unique key for this request: repeating the command with the same key "
                             "applies it once (for scripts that retry).")(func)


def expect_version_option(func: F) -> F:
    return click.option("--expect-version", type=click.IntRange(min=1),
                        help="Refuse if someone changed the proposal since this version "
                             "(see `proposal show --json`).")(func)


def quiet_option(func: F) -> F:
    return click.option("--quiet", "-q", is_flag=True,
                        help="No progress bar (there is none anyway when standard error is not a terminal).")(func)
