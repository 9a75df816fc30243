"""What both eval commands share: their options, question loading with reported problems, the gates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated

import typer

from cli.errors import fail
from eval.gates import GateError, compare_with_baseline, failed_floors, format_differences, parse_floor
from eval.questions import QuestionSet, QuestionSetError, load_question_set

QuestionsOption = Annotated[Path | None, typer.Option(help="Fragensatz im JSONL-Format des Projekts.")]
SquadOption = Annotated[Path | None, typer.Option(help="Datei im SQuAD-Format (Gold = Absatz).")]
LimitOption = Annotated[
    int | None, typer.Option(help="Eine Zufallsstichprobe (mit Seed) von so vielen Fragen auswerten.")
]
SeedOption = Annotated[int, typer.Option(help="Seed der Stichprobe (gleicher Seed, gleiche Fragen).")]
FailUnderOption = Annotated[
    list[str] | None,
    typer.Option(
        "--fail-under", help="METRIK=WERT; Exit-Code 1, wenn die Metrik darunter liegt (wiederholbar)."
    ),
]
BaselineOption = Annotated[
    Path | None, typer.Option(help="Früherer Berichtsordner zum Vergleich (gepaarte Bootstrap-Intervalle).")
]


def load_or_exit(questions: Path | None, squad: Path | None) -> QuestionSet:
    """The question set, with every skipped line printed; unusable files end the command."""
    try:
        loaded = load_question_set(questions, squad)
    except (QuestionSetError, OSError, UnicodeDecodeError) as exc:
        raise fail(str(exc), 2 if questions is None and squad is None else 1) from exc
    report_skipped(loaded.problems)
    return loaded


def report_skipped(problems: Sequence[str]) -> None:
    for problem in problems:
        typer.secho(f"übersprungen: {problem}", err=True, fg=typer.colors.YELLOW)


def parse_floors(texts: Sequence[str] | None) -> list[tuple[str, float]]:
    """Parsed before the (long) run, so a typo fails at once."""
    try:
        return [parse_floor(t) for t in texts or ()]
    except GateError as exc:
        raise fail(str(exc), 2) from exc


def apply_gates(
    output: Path, flat: Mapping[str, float], floors: Sequence[tuple[str, float]], baseline: Path | None
) -> None:
    """Print the comparison with the baseline, then exit 1 if any metric is below its floor."""
    try:
        if baseline is not None:
            typer.echo(f"Vergleich mit {baseline} (Δ mit 95-%-Intervall, * = Intervall ohne 0):")
            for line in format_differences(compare_with_baseline(output, baseline)):
                typer.echo("  " + line)
        failures = failed_floors(flat, floors)
    except GateError as exc:
        raise fail(str(exc), 2) from exc
    if failures:
        for line in failures:
            typer.secho(f"unter der Schwelle: {line}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1)
