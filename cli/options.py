"""Option sets shared by several commands, so every command spells them the same way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

LANGUAGE_CHOICES = ("en", "nb", "sv")


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")(func)


def language_option(func: F) -> F:
    return click.option(
        "--lang", "language", type=click.Choice(LANGUAGE_CHOICES), default="en", show_default=True,
        envvar="FLOWENGINE_LANG", help="Language of labels (falls back to en, then to ids).",
    )(func)


def workflows_option(func: F) -> F:
    return click.option(
        "--workflows", "workflow_dirs", multiple=True, type=click.Path(file_okay=False, exists=True),
        help="Extra folder of workflow YAML files (repeatable; also $FLOWENGINE_WORKFLOWS). "
             "Searched before the bundled workflows.",
    )(func)
