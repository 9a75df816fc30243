"""`heise-rag ask`: stream a grounded German answer, then list its sources.

Heavy modules (models, Qdrant, LangChain) are imported inside the command, so the CLI starts fast
for the set-up commands that `make` runs every time.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from cli.errors import fail
from rag.core.modes import MODES
from rag.core.settings import get_settings

if TYPE_CHECKING:
    from rag.core.answer import Answer


def _print_sources(answer: Answer) -> None:
    cited = {c.number for c in answer.citations}
    typer.echo("\nQuellen:")
    for src in answer.sources:
        day = f"{src.published_at:%d.%m.%Y}" if src.published_at else "ohne Datum"
        mark = "*" if src.number in cited else " "
        typer.echo(f" {mark}[{src.number}] {src.title} ({src.source}, {day}) {src.url or ''}".rstrip())


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
) -> None:
    """Answer a German question from the index, streaming the answer, then listing its sources."""
    from rag.core.answer import Answer
    from rag.core.timefilter import DateFilter
    from rag.generation import GeneratorError
    from rag.models.resolve import ModelNotProvisionedError
    from rag.pipelines.ask import AskError, AskOptions
    from rag.pipelines.components import open_pipeline
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
    try:
        with open_pipeline(settings, backend) as pipeline:
            for event in pipeline.stream(question, options):
                if isinstance(event, Answer):
                    answer = event
                elif not as_json:
                    typer.echo(event, nl=False)
    except (AskError, StoreUnavailableError, GeneratorError, ModelNotProvisionedError) as exc:
        raise fail(str(exc)) from exc
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
    for notice in answer.notices:
        typer.echo(f"Hinweis: {notice}")
    _print_sources(answer)
