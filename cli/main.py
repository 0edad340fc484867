"""The ``flowengine`` command: the one place where library errors become messages and exit codes.

Exit codes: 0 done, 1 refused or invalid, 2 usage error (click's: an unknown option, a missing
argument, a malformed option value), 3 internal error; 130 interrupted (Ctrl-C), 143 terminated
(SIGTERM), each once what the command had begun is rolled back and its temporary files removed.
Subcommand modules are imported only when their command runs, so ``flowengine --help`` stays fast.
"""

from __future__ import annotations

import errno
import importlib
import os
from typing import Any

from .startup import Terminated, loading, own_process

# click and flowengine's first modules are loaded with collection paused, as every later import
# of a command is: what they make lives as long as the process.
with loading():
    import click

    from flowengine import __version__
    from flowengine.i18n import N_

    from .helptext import Group

EXIT_INVALID = 1
EXIT_INTERNAL = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it
EXIT_TERMINATED = 143  # 128 + SIGTERM
DEBUG_ENV = "FLOWENGINE_DEBUG"
_WRITE_FAILURES = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO}  # the machine's to fix, not a bug
LANGUAGE_ENV = "FLOWENGINE_LANG"

# name → (module relative to this package, attribute, short help); help is here so listing commands
# imports nothing.
_COMMANDS: dict[str, tuple[str, str, str]] = {
    "workflow": (".workflow", "workflow", N_("Check, list, show and draw workflow definitions.")),
    "init": (".database", "init", N_("Create the database and say where it is.")),
    "db": (".database", "db", N_("The database: status, upgrade, backup and restore.")),
    "proposal": (".proposal", "proposal", N_("Register proposals, list them, show where one stands.")),
    "advance": (".proposal", "advance", N_("Move a proposal along its workflow by firing a trigger.")),
    "history": (".history", "history", N_("Every step of a proposal: who, what, when and why.")),
    "audit": (".history", "audit", N_("Check that no step of any history was rewritten.")),
    "stalls": (".stalls", "stalls", N_("Where ideas stall: report, stall diagram, comparison.")),
    "progress": (".progress", "progress", N_("Record an implementation's progress and milestones.")),
    "note": (".proposal", "note", N_("Record something heard of a proposal that moves nothing.")),
    "tick": (".tick", "tick", N_("Apply due escalations and hand out due reminders (for cron).")),
    "demo": (".demo", "demo", N_("Build the Interreg demo: database, diagrams and HTML report.")),
    "import": (".importing", "import_log", N_("Import an event log (CSV, XES) as proposals with histories.")),
    "export": (".export", "export", N_("Write the history as an event log: CSV, XES or OCEL 2.0.")),
    "report": (".site", "report",
               N_("Build the published report: a static site for panels, councils and politicians.")),
    "completion": (".completion", "completion", N_("Print the shell completion script: bash, zsh or fish.")),
    "access": (".access", "access", N_("Who may act in which role of which workflow: grant, revoke, list, log.")),
    "whoami": (".access", "whoami", N_("Who the database says you are, and your roles per workflow.")),
    "erase": (".erasure", "erase", N_("Erase personal data on request; the histories still verify.")),
}


class FlowEngineGroup(Group):
    """Loads subcommands lazily, speaks the reader's language and turns library errors into one
    clear line."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *_COMMANDS})

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """The console script's call: this process ends with the command (see startup.py)."""
        own_process()
        return super().__call__(*args, **kwargs)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _COMMANDS:
            module_name, attribute, _ = _COMMANDS[cmd_name]
            with loading():
                command: click.Command = getattr(importlib.import_module(module_name, __package__), attribute)
            return command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from flowengine.i18n import marked, t

        rows = [(name, marked(_COMMANDS[name][2])) for name in sorted(_COMMANDS)]
        if rows:
            with formatter.section(t("Commands")):
                formatter.write_dl(rows)

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """The whole run, parsing and ``--help`` included, in the language of ``$FLOWENGINE_LANG``;
        click's own words (its parser's errors) from the same catalogues."""
        from flowengine.i18n import speaking

        from .clickwords import install

        install()
        with speaking(os.environ.get(LANGUAGE_ENV)):
            return super().main(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        from flowengine.i18n import active, speaking, use

        from .shown import guard_terminal

        guard_terminal()
        spoken = None
        try:
            with speaking(os.environ.get(LANGUAGE_ENV)):  # a command's --lang may change it (options.language_option)
                try:
                    return self._invoke(ctx)
                except click.ClickException:
                    spoken = active()
                    raise
        finally:
            if spoken is not None:  # click shows a usage error after this block: in the command's --lang too
                use(spoken)

    def _invoke(self, ctx: click.Context) -> Any:
        from flowengine.errors import AccessDenied, DefinitionError, FlowEngineError
        from flowengine.i18n import t

        try:
            return super().invoke(ctx)
        except DefinitionError as exc:
            if os.environ.get(DEBUG_ENV):
                raise
            from .shown import MAX_FINDINGS

            for issue in exc.issues[:MAX_FINDINGS]:  # each line already says "file:line:col: error CODE: …"
                click.echo(issue.format(), err=True)
            if len(exc.issues) > MAX_FINDINGS:
                click.echo(t("… and {n} more finding(s), not listed (flowengine workflow validate --all lists "
                             "every one)", n=len(exc.issues) - MAX_FINDINGS), err=True)
            ctx.exit(EXIT_INVALID)
        except AccessDenied as exc:  # "… an administrator can grant it: flowengine access grant …"
            if os.environ.get(DEBUG_ENV):
                raise
            from .remedies import option

            fix = [option(remedy) for remedy in exc.remedies[:1]]
            click.echo(t("error: {message}", message=": ".join([str(exc), *fix])), err=True)
            ctx.exit(EXIT_INVALID)
        except FlowEngineError as exc:
            if os.environ.get(DEBUG_ENV):
                raise
            from .remedies import with_hint

            click.echo(t("error: {message}", message=with_hint(str(exc), exc.remedies)), err=True)
            ctx.exit(EXIT_INVALID)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except BrokenPipeError:  # `flowengine … | head` closed the pipe: nothing more to say
            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
            ctx.exit(0)
        except OSError as exc:
            if exc.errno not in _WRITE_FAILURES or os.environ.get(DEBUG_ENV):
                raise
            # what escapes the library as such is a write to standard output (`> /dev/full`, a full disk)
            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # nor again at exit, where Python flushes what is left
            click.echo(t("error: could not write {where}: {reason}", where=exc.filename or t("standard output"),
                         reason=exc.strerror or exc), err=True)
            ctx.exit(EXIT_INVALID)
        except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM (startup.Terminated): cleaned up on the way here
            stopped = isinstance(exc, Terminated)
            click.echo(t("terminated") if stopped else t("interrupted"), err=True)
            ctx.exit(EXIT_TERMINATED if stopped else EXIT_INTERRUPTED)
        except Exception as exc:  # last line of defence: never a traceback for users
            if os.environ.get(DEBUG_ENV):
                raise
            click.echo(t("error: internal error: {kind}: {detail} (run with {variable}=1 for details and report it)",
                         kind=type(exc).__name__, detail=exc, variable=DEBUG_ENV), err=True)
            ctx.exit(EXIT_INTERNAL)


@click.group(cls=FlowEngineGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="flowengine")
def cli() -> None:
    """flowengine: the innovation decision chain of municipal services, made explicit.

    \b
    Example:
      flowengine workflow validate workflows/
    """


def main() -> None:  # pragma: no cover - console entry for `python -m flowengine_cli`
    cli(prog_name="flowengine")


if __name__ == "__main__":  # pragma: no cover
    main()
