"""The command-line parser's own errors in German: usage line, help hint and the error itself.

Why a group class: typer (0.29+, with its own copy of click) words its parser errors in English
f-strings ("Invalid value for '--k'", "Missing option", "No such option", "Usage:", "Try ... for
help") and validates option values with pydantic, whose messages are English too; there is no
catalog to translate them through. Every such error of any subcommand passes through the root
group's ``make_context`` (the root's own options) or ``invoke`` (everything below it), so
``GermanGroup`` catches it there and reports it the way every command reports its errors
(``cli.errors.fail``), worded from the exception's fields: its class, parameter and pydantic
cause. Messages raised as plain text (a missing option value, an extra argument, an unknown
command) are matched against ``_USAGE_MESSAGES``; a message not listed there is shown as typer
wrote it, and ``tests/cli/test_german_messages.py`` walks every command's error paths to notice.

The help pages: typer renders them with rich from module constants of ``typer.rich_utils`` (panel
titles, ``[default: ...]``, ``[required]``), which are set to German here once; the words that
typer stores on each command (the usage line's prefix and placeholders, the help option's and the
completion options' help) are set by ``GermanGroup.main`` on the whole command tree before it runs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import typer
from pydantic import ValidationError
from typer import rich_utils
from typer._click.core import Command, Context
from typer._click.exceptions import (
    BadParameter,
    ClickException,
    FileError,
    MissingParameter,
    NoArgsIsHelpError,
    NoSuchOption,
    UsageError,
)
from typer._click.formatting import HelpFormatter
from typer.core import TyperGroup

from cli.errors import fail
from rag.core.german import validation_reason

# typer's plain-text usage messages (regex on the whole message) -> German template.
_USAGE_MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.DOTALL), template)
    for pattern, template in (
        (r"(?P<rest>.+\.?) Did you mean (?P<names>.+)\?", "{rest} Meinten Sie {names}?"),
        (r"No such command (?P<name>.+)\.", "Den Befehl {name} gibt es nicht."),
        (r"Missing command\.", "Es fehlt ein Befehl."),
        (r"Option (?P<name>.+) requires an argument\.", "Die Option {name} braucht einen Wert."),
        (r"Option (?P<name>.+) requires (?P<n>\d+) arguments\.", "Die Option {name} braucht {n} Werte."),
        (r"Option (?P<name>.+) does not take a value\.", "Die Option {name} nimmt keinen Wert."),
        (r"Argument (?P<name>.+) takes (?P<n>\d+) values\.", "Das Argument {name} braucht {n} Werte."),
        (r"Got unexpected extra argument\(s\) \((?P<args>.*)\)", "Überzähliges Argument ({args})."),
        (r"Choose from:(?P<choices>.*)", "Zur Wahl:{choices}"),
        (r"Value must be an iterable\.", "Der Wert muss eine Folge sein."),
        (r"(?P<value>.+) is not in the range (?P<range>.+)\.", "{value} liegt nicht im Bereich {range}."),
        (r"(?P<value>.+) does not match the formats? (?P<formats>.+)\.", "{value} passt nicht zu {formats}."),
        (r"(?P<value>.+) is not (?:one of )?(?P<choices>.+)\.", "{value} ist keiner der Werte {choices}."),
    )
)
# typer's own words on the help pages (module constants of typer.rich_utils, read when rendering).
_RICH_HELP_WORDS = {
    "ARGUMENTS_PANEL_TITLE": "Argumente",
    "OPTIONS_PANEL_TITLE": "Optionen",
    "COMMANDS_PANEL_TITLE": "Befehle",
    "ERRORS_PANEL_TITLE": "Fehler",
    "ABORTED_TEXT": "Abgebrochen.",
    "RICH_HELP": "Hilfe: [blue]'{command_path} {help_option}'[/]",
    "DEFAULT_STRING": "[Standard: {}]",
    "ENVVAR_STRING": "[Umgebungsvariable: {}]",
    "REQUIRED_LONG_STRING": "[Pflicht]",
    "DEPRECATED_STRING": "(veraltet) ",
}
for _constant, _word in _RICH_HELP_WORDS.items():
    setattr(rich_utils, _constant, _word)
HELP_OPTION_HELP = "Diese Hilfe zeigen und beenden."
# The help of the options that typer adds to the root group, by parameter name.
_COMPLETION_HELP = {
    "install_completion": "Die Vervollständigung für die aktuelle Shell einrichten.",
    "show_completion": "Die Vervollständigung für die aktuelle Shell zeigen, zum Kopieren oder Anpassen.",
}


def german_usage_text(message: str) -> str:
    """A plain-text message of the parser in German; one it does not know is returned as it is."""
    for pattern, template in _USAGE_MESSAGES:
        if match := pattern.fullmatch(message):
            groups = match.groupdict()
            if "rest" in groups:  # a message typer extended with a suggestion
                groups["rest"] = german_usage_text(groups["rest"].rstrip(".") + ".")
            return template.format(**groups)
    return message


def _hint(exc: BadParameter) -> str:
    """The parameter as typer names it in errors ('--k', 'question'), without its English extras."""
    if exc.param_hint is not None:
        hint = exc.param_hint
        return hint if isinstance(hint, str) else " / ".join(repr(part) for part in hint)
    if exc.param is None:
        return ""
    opts: Sequence[str] = getattr(exc.param, "opts", None) or [exc.param.name or ""]
    return " / ".join(f"'{opt}'" for opt in opts)


def _bad_value(exc: BadParameter) -> str:
    """Why a value was refused: from the pydantic error that caused it, else typer's own words."""
    cause = exc.__cause__
    text = validation_reason(cause) if isinstance(cause, ValidationError) else exc.message
    return german_usage_text(text)


def german_message(exc: ClickException) -> str:
    """The German text of a parser error, chosen by its class and filled from its fields."""
    if isinstance(exc, MissingParameter):
        kind = exc.param_type or (exc.param.param_type_name if exc.param else "parameter")
        what = {"argument": "das Argument", "option": "die Option"}.get(kind, "der Parameter")
        extra = exc.param.get_missing_message(exc.ctx) if exc.param is not None else ""
        text = f"Es fehlt {what} {_hint(exc)}.".replace(" .", ".")
        return f"{text} {german_usage_text(extra)}" if extra else text
    if isinstance(exc, BadParameter):
        hint = _hint(exc)
        return (
            f"Ungültiger Wert für {hint}: {_bad_value(exc)}"
            if hint
            else f"Ungültiger Wert: {_bad_value(exc)}"
        )
    if isinstance(exc, NoSuchOption):
        text = f"Die Option {exc.option_name} gibt es nicht."
        if exc.possibilities:
            text += f" Mögliche Optionen: {', '.join(sorted(exc.possibilities))}."
        return text
    if isinstance(exc, FileError):
        return f"Die Datei {exc.ui_filename!r} lässt sich nicht öffnen: {german_usage_text(exc.message)}"
    return german_usage_text(exc.message)


def _report(exc: ClickException) -> typer.Exit:
    """Usage line and help hint of the failing command (for usage errors), then the German error."""
    ctx = exc.ctx if isinstance(exc, UsageError) else None
    if ctx is not None:
        pieces = ctx.command.collect_usage_pieces(ctx)
        typer.echo(f"{USAGE_PREFIX}{ctx.command_path} {' '.join(pieces)}".rstrip(), err=True)
        if ctx.command.get_help_option(ctx) is not None:
            typer.echo(f"Hilfe: {ctx.command_path} {ctx.help_option_names[0]}", err=True)
    return fail(german_message(exc), exc.exit_code)


USAGE_PREFIX = "Aufruf: "


class GermanHelpFormatter(HelpFormatter):
    """typer's help formatter with a German usage line."""

    def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
        super().write_usage(prog, args, USAGE_PREFIX if prefix is None else prefix)


class GermanContext(Context):
    """A context whose help pages are formatted by ``GermanHelpFormatter``."""

    formatter_class = GermanHelpFormatter


def _germanize(command: Command) -> None:
    """Set typer's words stored on ``command`` and every command below it to German."""
    command.context_class = GermanContext
    if command.options_metavar == "[OPTIONS]":
        command.options_metavar = "[OPTIONEN]"
    help_option = command.get_help_option(command.context_class(command))
    if help_option is not None:
        help_option.help = HELP_OPTION_HELP
    for param in command.params:
        if param.name in _COMPLETION_HELP and isinstance(param, typer.core.TyperOption):
            param.help = _COMPLETION_HELP[param.name]
    if isinstance(command, TyperGroup):
        if command.subcommand_metavar == "COMMAND [ARGS]...":
            command.subcommand_metavar = "BEFEHL [ARGUMENTE]..."
        for child in command.commands.values():
            _germanize(child)


class GermanGroup(TyperGroup):
    """The root command group: German help pages and parser errors for every command."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        _germanize(self)
        return super().main(*args, **kwargs)

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except NoArgsIsHelpError:  # the help text itself; typer prints it
            raise
        except ClickException as exc:
            raise _report(exc) from exc

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NoArgsIsHelpError:
            raise
        except ClickException as exc:
            raise _report(exc) from exc
        except typer.Abort as exc:
            raise fail("abgebrochen.") from exc
