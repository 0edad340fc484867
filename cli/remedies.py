"""The library's remedies (:class:`flowengine.errors.Remedy`) as this command line's options:
the library says what would fix a refusal in its own terms, the command line says how to type it."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from flowengine.i18n import t

if TYPE_CHECKING:
    from flowengine.errors import Remedy

# kind → how to write it (from the remedy's name and value)
OPTIONS: dict[str, Callable[[str, str], str]] = {
    "field": lambda name, value: f"--set {name}='{value}'" if value else f"--set {name}=…",
    "comment": lambda name, value: '--comment "…"',
    "actor": lambda name, value: "--as NAME --role ROLE",
    "later_moment": lambda name, value: t("a later {option}", option="--as-of"),
    "title": lambda name, value: '--title "…"',
    "description": lambda name, value: t("longer text in {option}", option="--description"),
    "note": lambda name, value: t("the details in {option}", option="--note"),
    "milestone": lambda name, value: "--milestone NAME",
    "map": lambda name, value: f"--map {name}={value}",
    "column": lambda name, value: f'--map "{name}={value}"',
    "assume_utc": lambda name, value: "--assume-utc",
    "log_format": lambda name, value: f"--format {'|'.join(_log_formats())}",
    "workflow": lambda name, value: f"--workflow {name}",
    "default_actor": lambda name, value: "--actor NAME",
    "default_role": lambda name, value: "--role ROLE",
    "keep_going": lambda name, value: "--keep-going",
    "min_share": lambda name, value: "--min-share",
    "as_of": lambda name, value: f"--as-of {value}",
    "out": lambda name, value: t("another {option}", option="--out"),
    "database": lambda name, value: "--db PATH",
    "create_database": lambda name, value: f"flowengine init --db {shlex.quote(name)}",
    "list_proposals": lambda name, value: "flowengine proposal list",
    "show_proposal": lambda name, value: f"flowengine proposal show {name}",
    "list_workflows": lambda name, value: "flowengine workflow list",
    "show_workflow": lambda name, value: f"flowengine workflow show {name}",
    "grant": lambda name, value: grant_command(name, value),
    "unset_now": lambda name, value: t("unset {variable}", variable="FLOWENGINE_NOW"),
    "upgrade_schema": lambda name, value: t("{command} (after a backup)", command="flowengine db upgrade"),
    "checkpoint": lambda name, value: f"flowengine audit checkpoint --key KEYFILE -o {shlex.quote(name)}",
}


def _log_formats() -> tuple[str, ...]:
    """The event log formats an import reads (their table is imported when a remedy names them)."""
    from flowengine.eventlog.formats import import_format_names

    return import_format_names()


def grant_command(login: str, value: str) -> str:
    """``flowengine access grant kari --role politician --workflow trondheim`` from a grant remedy."""
    role, _, workflow = value.partition(":")
    where = "--all-workflows" if workflow == "*" else f"--workflow {workflow}"
    return f"flowengine access grant {login} --role {role} {where}"


def option(remedy: Remedy) -> str:
    """One remedy as its option (``--keep-going``)."""
    return OPTIONS[remedy.kind](remedy.name, remedy.value)


def hint(remedies: Iterable[Remedy]) -> str:
    """`` (fix: --set expected_benefit=… --comment "…")``, or nothing when there is no remedy."""
    written = list(dict.fromkeys(OPTIONS[r.kind](r.name, r.value) for r in remedies if r.kind in OPTIONS))
    return " (" + t("fix: {options}", options="; ".join(written)) + ")" if written else ""


def with_hint(message: str, remedies: Iterable[Remedy]) -> str:
    """The message with the hint at the end of its first line."""
    first, newline, rest = message.partition("\n")
    return first + hint(remedies) + newline + rest
