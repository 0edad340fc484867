"""``flowengine completion``: the shell's completion script, and what it completes beyond
commands and options: proposal ids, workflow ids and the triggers a proposal allows now.

A completer never prints and never fails: whatever goes wrong (no database yet, a server out of
reach) completes nothing.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import click

from .helptext import Command

if TYPE_CHECKING:  # click's completion module is imported when a word is completed
    from click.shell_completion import CompletionItem

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_FLOWENGINE_COMPLETE"


def _database(ctx: click.Context) -> Any:
    from flowengine.store import Database, resolve_url

    chosen = ctx.params.get("database") or os.environ.get("FLOWENGINE_DB")
    return Database(resolve_url(chosen, create=False))  # completing a word never creates a database


def proposal_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    from click.shell_completion import CompletionItem

    try:
        from flowengine.store.lookup import proposal_ids as stored_ids

        with _database(ctx) as database:
            return [CompletionItem(found) for found in stored_ids(database, incomplete)]
    except Exception:  # completing must never break the shell's line
        return []


def workflow_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    from click.shell_completion import CompletionItem

    try:
        from flowengine.definition.registry import discover, search_dirs

        folders = ctx.params.get("workflow_dirs") or ()
        seen = {entry.id for entry in discover(search_dirs(folders)) if entry.id.startswith(incomplete)}
        return [CompletionItem(found) for found in sorted(seen)]
    except Exception:
        return []


def triggers(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    """The triggers that lead out of the proposal's state now, those of your role first (all of
    them when no role is known), each with where it leads."""
    from click.shell_completion import CompletionItem

    proposal = ctx.params.get("proposal_id")
    if not proposal:
        return []
    try:
        from flowengine.service.facade import FlowEngine

        with _database(ctx) as database:
            if not database.exists():
                return []
            standing = FlowEngine(database).standing(proposal)
    except Exception:
        return []
    role = ctx.params.get("role") or os.environ.get("FLOWENGINE_ROLE")
    steps = [step for step in standing.next_steps if step.trigger.startswith(incomplete)]
    mine = [step for step in steps if not role or not step.roles or role in step.roles]
    from flowengine.i18n import t

    return [CompletionItem(step.trigger, help=f"→ {step.target} ({', '.join(step.roles) or t('any role')})")
            for step in (mine or steps)]


@click.command(cls=Command)
@click.argument("shell", type=click.Choice(SHELLS))
def completion(shell: str) -> None:
    """Print the script that makes SHELL complete flowengine's commands, options, proposal ids,
    workflow ids and the triggers a proposal allows now.

    \b
    bash: add to ~/.bashrc     eval "$(flowengine completion bash)"
    zsh:  add to ~/.zshrc      eval "$(flowengine completion zsh)"
    fish: run once             flowengine completion fish > ~/.config/fish/completions/flowengine.fish

    \b
    Example:
      flowengine completion bash > ~/.local/share/bash-completion/completions/flowengine
    """
    from click.shell_completion import get_completion_class

    from .main import cli

    script = get_completion_class(shell)
    assert script is not None  # click ships all three
    click.echo(script(cli, {}, "flowengine", COMPLETE_VAR).source())
