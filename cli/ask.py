"""`heise-rag ask`: stream a grounded German answer, then list its sources.

Heavy modules (models, Qdrant, LangChain) are imported inside the command, so the CLI starts fast
for the set-up commands that `make` runs every time. With `--history FILE` the command holds a
conversation like the app's chat: earlier turns are read from the file, a follow-up is condensed
with them (`rag.pipelines.condense`), and the new turn is appended.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.errors import fail
from rag.core.modes import MODES
from rag.core.settings import get_settings

if TYPE_CHECKING:
    from pydantic import TypeAdapter

    from rag.core.answer import Answer
    from rag.pipelines.condense import Turn


def _print_sources(answer: Answer) -> None:
    cited = {c.number for c in answer.citations}
    typer.echo("\nQuellen:")
    for src in answer.sources:
        day = f"{src.published_at:%d.%m.%Y}" if src.published_at else "ohne Datum"
        mark = "*" if src.number in cited else " "
        typer.echo(f" {mark}[{src.number}] {src.title} ({src.source}, {day}) {src.url or ''}".rstrip())


def _history_format() -> TypeAdapter[list[Turn]]:
    """How a ``--history`` file is read and written: a JSON list of {"question", "answer"}."""
    from pydantic import TypeAdapter

    from rag.pipelines.condense import Turn

    return TypeAdapter(list[Turn])


def _read_history(path: Path) -> list[Turn]:
    """The earlier turns stored in ``path``; none when the file does not exist yet."""
    from pydantic import ValidationError

    if not path.exists():
        return []
    try:
        return _history_format().validate_json(path.read_bytes())
    except ValidationError as exc:
        raise fail(
            f'{path} ist kein Gesprächsverlauf (erwartet: JSON-Liste aus {{"question", "answer"}}).'
        ) from exc


def ask(
    question: Annotated[str, typer.Argument(help="Die Frage, auf Deutsch.")],
    date_from: Annotated[
        datetime | None, typer.Option("--from", formats=["%Y-%m-%d"], help="Ab Datum.")
    ] = None,
    date_to: Annotated[datetime | None, typer.Option("--to", formats=["%Y-%m-%d"], help="Bis Datum.")] = None,
    source: Annotated[
        list[str] | None, typer.Option("--source", help="Nur diese Quellen (heise, ...).")
    ] = None,
    k: Annotated[int | None, typer.Option("--k", min=1, help="Anzahl Quellen für die Antwort.")] = None,
    mode: Annotated[
        str | None, typer.Option(help="dense, sparse oder hybrid (Standard: HEISE_RAG_RETRIEVAL_MODE).")
    ] = None,
    no_rerank: Annotated[bool, typer.Option("--no-rerank", help="Reranking abschalten.")] = False,
    no_date_detection: Annotated[
        bool, typer.Option("--no-date-detection", help="Zeitangaben in der Frage nicht als Filter nutzen.")
    ] = False,
    backend: Annotated[
        str | None, typer.Option(help="local, tgi oder openai (Standard: Einstellung).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Die Antwort als JSON ausgeben.")] = False,
    history: Annotated[
        Path | None,
        typer.Option(
            "--history",
            help="Gesprächsverlauf als JSON-Datei: Folgefragen („Und bei Apple?“) beziehen sich auf ihn, "
            "die neue Runde wird angehängt; fehlt die Datei, beginnt ein neues Gespräch.",
        ),
    ] = None,
) -> None:
    """Eine deutsche Frage aus dem Index beantworten: die Antwort laufend ausgeben, dann die Quellen."""
    from rag.core.answer import Answer
    from rag.core.timefilter import DateFilter
    from rag.generation import GeneratorError
    from rag.models.resolve import ModelNotProvisionedError
    from rag.pipelines.ask import AskError, AskOptions, check_question
    from rag.pipelines.components import open_pipeline
    from rag.pipelines.condense import Turn, condense_question
    from rag.store.layout import StoreUnavailableError

    settings = get_settings()
    mode = mode or settings.retrieval_mode
    if mode not in MODES:
        raise fail(f"unbekannter Modus {mode!r} ({', '.join(MODES)}).", code=2)
    options = AskOptions(
        date_from=date_from.date() if date_from else None,
        date_to=date_to.date() if date_to else None,
        sources=tuple(source or ()),
        k=k or settings.answer_sources,
        mode=mode,  # type: ignore[arg-type]
        rerank=not no_rerank,
        detect_dates=not no_date_detection,
    )
    turns = _read_history(history) if history else []
    try:
        check_question(question)  # before a rewrite, which would send a bad question to the model
        with open_pipeline(settings, backend) as pipeline:
            condensed = condense_question(pipeline.chat_model, turns, question)
            for event in pipeline.stream(condensed.question, options, condensed.notices):
                if isinstance(event, Answer):
                    answer = event
                elif not as_json:
                    typer.echo(event, nl=False)
    except (AskError, StoreUnavailableError, GeneratorError, ModelNotProvisionedError) as exc:
        raise fail(str(exc)) from exc
    if history:  # the question as searched, like the app's chat keeps it for the next rewrite
        history.write_bytes(
            _history_format().dump_json([*turns, Turn(answer.question, answer.text)], indent=2)
        )
    if as_json:
        typer.echo(answer.model_dump_json(indent=2))
        return
    typer.echo()
    if answer.citations_attributed:
        typer.echo(f"\nMit zugeordneten Quellenangaben: {answer.text}")
    if answer.filters.detected_text:
        typer.echo(
            f"\nZeitraum aus der Frage ({answer.filters.detected_text!r}): "
            f"{DateFilter(answer.filters.date_from, answer.filters.date_to).label}; "
            "mit --no-date-detection aufheben."
        )
    for evidence in answer.evidence:
        quoted = f"„{evidence.sentence.strip()}“"
        shown = "der zitierte Satz" if quoted in answer.text else quoted  # a yes/no answer quotes it
        typer.echo(f"\nBeleg [{evidence.source}]: {shown} (Sicherheit {evidence.confidence:.0%})")
    for notice in answer.notices:
        typer.echo(f"Hinweis: {notice}")
    _print_sources(answer)
