"""``--help`` in the reader's language: click's help texts translated when the help is written.

A command's help (its docstring) and each option's ``help=`` stay English in the code, where
``scripts/catalogues`` collects them like any wrapped message. Click writes help through a few
methods of its command classes; :class:`Command` and :class:`Group` override exactly those, so
each text is looked up in the catalogue of the language active when the help is *formatted*
(``$FLOWENGINE_LANG``, or the command's ``--lang`` wherever it stands on the line), not when
the module was imported. The words click adds itself (the usage line, the section headings,
the help option, the ``[default: …]`` notes) are translated here too.

Every command module declares its top-level command with ``cls=Command`` or ``cls=Group``;
a group's subcommands and subgroups inherit the class (click's ``command_class`` and
``group_class``). A test walks the whole command tree and fails on a command of another class
or a help text without a translation.
"""

from __future__ import annotations

import inspect

import click
from click.formatting import HelpFormatter

from flowengine.i18n import LANGUAGES, N_, marked, t, use

__all__ = ["Command", "Group", "translated"]

# Help texts click writes itself, for the catalogues (translated through `translated` like ours).
CLICK_HELP = (N_("Show this message and exit."), N_("Show the version and exit."))
_LANGUAGE_OPTION = "--lang"


def _values() -> dict[str, str]:
    """What a help text's ``{placeholders}`` stand for: lists kept once elsewhere (the formats'
    registries), so that help never copies them and the translation needs no change when one grows."""
    from flowengine.eventlog.formats import export_formats
    from flowengine.suggest import either
    from flowengine.views.formats import REPORT_FORMATS, diagram_suffix_choices

    from .terminal import PAGER_ENV

    return {"diagram_suffixes": diagram_suffix_choices(),
            "export_formats": either(f"{f.name} ({marked(f.description)})" for f in export_formats()),
            "report_formats": either(f"{f.name} ({marked(f.description)})" for f in REPORT_FORMATS),
            "pager_variable": PAGER_ENV}


def translated(text: str | None) -> str:
    """``text`` (a help text as the code wrote it) in the active language, its placeholders filled."""
    if not text:
        return ""
    shown = marked(inspect.cleandoc(text))
    return shown.format_map(_values()) if "{" in shown else shown


def _record(param: click.Parameter, ctx: click.Context) -> tuple[str, str] | None:
    """An option's line of the help, its help and click's notes in the active language."""
    if not isinstance(param, click.Option) or param.hidden:
        return None
    text = translated(param.help)
    extra = param.get_help_extra(ctx)
    notes = []
    if "envvars" in extra:
        notes.append(t("env var: {var}", var=", ".join(extra["envvars"])))
    if "default" in extra:
        notes.append(t("default: {default}", default=extra["default"]))
    if "range" in extra:
        notes.append(extra["range"])
    if "required" in extra:
        notes.append(t("required"))
    if notes:
        joined = "; ".join(notes)
        text = f"{text}  [{joined}]" if text else f"[{joined}]"
    return param.get_help_spec(ctx), text


def _short(text: str, limit: int) -> str:
    """The first sentence of ``text``'s first paragraph, cut at a word with "..." past ``limit``
    characters (as click shortens help for a list of commands)."""
    shown: list[str] = []
    for word in text.split("\n\n")[0].split():
        if len(" ".join([*shown, word])) > limit:
            while shown and len(" ".join(shown)) + 3 > limit:
                shown.pop()
            return " ".join(shown).rstrip(",;:") + "..."
        shown.append(word)
        if word.endswith("."):
            break
    return " ".join(shown)


def _language_on_the_line(args: list[str]) -> str | None:
    """The value of ``--lang`` among a command's arguments, so that ``--help --lang nb`` is
    written in Norwegian though ``--help`` is acted on first."""
    for index, arg in enumerate(args):
        if arg == "--":
            break
        if arg == _LANGUAGE_OPTION and index + 1 < len(args):
            return args[index + 1]
        if arg.startswith(_LANGUAGE_OPTION + "="):
            return arg.partition("=")[2]
    return None


class Command(click.Command):
    """A command whose help is written in the active language."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if any(_LANGUAGE_OPTION in p.opts for p in self.params if isinstance(p, click.Option)):
            language = _language_on_the_line(args)
            if language in LANGUAGES:
                use(language)
        return super().parse_args(ctx, args)

    def format_usage(self, ctx: click.Context, formatter: HelpFormatter) -> None:
        pieces = self.collect_usage_pieces(ctx)
        formatter.write_usage(ctx.command_path, " ".join(pieces), prefix=t("Usage:") + " ")

    def get_short_help_str(self, limit: int = 45) -> str:
        if self.short_help:
            return translated(self.short_help).strip()
        return _short(translated(self.help), limit) if self.help else ""

    def format_help_text(self, ctx: click.Context, formatter: HelpFormatter) -> None:
        text = translated(self.help).partition("\f")[0]
        if text:
            formatter.write_paragraph()
            with formatter.indentation():
                formatter.write_text(text)

    def format_arguments(self, ctx: click.Context, formatter: HelpFormatter) -> None:
        arguments = [param for param in self.get_params(ctx) if isinstance(param, click.Argument)]
        if any(argument.help is not None for argument in arguments):
            with formatter.section(t("Positional arguments")):
                formatter.write_dl([(argument.get_help_record(ctx)[0], translated(argument.help))
                                    for argument in arguments])

    def format_options(self, ctx: click.Context, formatter: HelpFormatter) -> None:
        rows = [row for row in (_record(param, ctx) for param in self.get_params(ctx)) if row is not None]
        if rows:
            with formatter.section(t("Options")):
                formatter.write_dl(rows)


class Group(Command, click.Group):
    """A group whose help, and whose subcommands' help, is written in the active language."""

    command_class = Command
    group_class = type  # subgroups are of this class too

    def format_options(self, ctx: click.Context, formatter: HelpFormatter) -> None:
        Command.format_options(self, ctx, formatter)
        self.format_commands(ctx, formatter)

    def format_commands(self, ctx: click.Context, formatter: HelpFormatter) -> None:
        commands: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                commands.append((name, command))
        if commands:
            limit = formatter.width - 6 - max(len(name) for name, _ in commands)
            with formatter.section(t("Commands")):
                formatter.write_dl([(name, command.get_short_help_str(limit)) for name, command in commands])
