"""`heise-rag eval answers`: the full ask pipeline on a question set, scored with and without a judge.

Heavy modules are imported inside the command so that the CLI starts fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.errors import fail
from cli.eval_common import (
    BaselineOption,
    FailUnderOption,
    LimitOption,
    QuestionsOption,
    SeedOption,
    SquadOption,
    apply_gates,
    load_or_exit,
    parse_floors,
    report_skipped,
)
from rag.core.settings import get_settings


def eval_answers(
    collection: Annotated[str, typer.Option(help="Sammlung, aus der geantwortet wird.")],
    output: Annotated[
        Path, typer.Option(help="Ordner für report.md, metrics.json, answers.jsonl, Grafiken.")
    ],
    questions: QuestionsOption = None,
    squad: SquadOption = None,
    judge: Annotated[
        str | None,
        typer.Option(help="OpenAI-kompatibler Richter-Endpunkt (Basis-URL) für die LLM-Metriken von ragas."),
    ] = None,
    judge_model: Annotated[str, typer.Option(help="`model`, das an den Richter-Endpunkt geht.")] = "tgi",
    backend: Annotated[
        str | None, typer.Option(help="Generator-Backend: local, tgi oder openai (Standard: Einstellung).")
    ] = None,
    rerank: Annotated[
        bool, typer.Option(help="Neu sortieren (Reranking), wenn ein Reranker eingerichtet ist.")
    ] = True,
    xquad_heldout: Annotated[
        bool,
        typer.Option(help="Nur die Fragen der zurückgehaltenen XQuAD-Artikel (nie trainiert; für --squad)."),
    ] = False,
    no_answer_twins: Annotated[
        bool,
        typer.Option(
            help="Jede Frage zusätzlich ohne ihre Gold-Artikel stellen: richtig ist dann die Ablehnung "
            "(Metrik no_answer_refused, Schwellen-Tabellen)."
        ),
    ] = False,
    limit: LimitOption = None,
    seed: SeedOption = 0,
    fail_under: FailUnderOption = None,
    baseline: BaselineOption = None,
) -> None:
    """EM, F1, Enthaltensein, Quellen-Präzision/-Recall, Ablehnungen, ragas-Metriken; Bericht mit Grafiken."""
    from tqdm import tqdm

    from eval.answer_run import AnswerEvalRequest, run_answer_eval
    from eval.questions import heldout_only
    from eval.ragas_scores import JUDGE_METRICS
    from eval.retrieval_run import EvalSetupError
    from rag.generation import GeneratorError
    from rag.models.resolve import ModelNotProvisionedError
    from rag.pipelines.ask import AskError
    from rag.store.layout import StoreUnavailableError

    floors = parse_floors(fail_under)
    loaded = load_or_exit(questions, squad)
    request = AnswerEvalRequest(
        questions=heldout_only(loaded) if xquad_heldout else loaded,
        collection=collection,
        output=output,
        backend=backend,
        rerank=rerank,
        judge=judge,
        judge_model=judge_model,
        limit=limit,
        seed=seed,
        no_answer_twins=no_answer_twins,
    )
    if judge:
        typer.echo(f"LLM-Richter: {judge} ({len(JUDGE_METRICS)} Metriken)")
    try:
        with tqdm(desc="Antworten", unit=" Fragen") as bar:
            run = run_answer_eval(request, get_settings(), on_question=bar.update)
    except (EvalSetupError, AskError, StoreUnavailableError, GeneratorError, ModelNotProvisionedError) as exc:
        raise fail(str(exc)) from exc
    report_skipped(run.problems)
    for name, agg in run.summary.items():
        typer.echo(f"{name:42s} {agg.mean:.3f} [{agg.ci95[0]:.3f}, {agg.ci95[1]:.3f}] n={agg.n}")
    for name, failed in (run.judge_failures or {}).items():
        if failed:
            typer.secho(f"Richter-Fehler {name}: {len(failed)}", err=True, fg=typer.colors.YELLOW)
    typer.echo(f"Bericht: {run.report}")
    apply_gates(output, {m: a.mean for m, a in run.summary.items()}, floors, baseline)
