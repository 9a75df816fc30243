"""`heise-rag eval answers`: the full ask pipeline on a question set, scored with and without a judge.

Heavy modules are imported inside the command so that the CLI starts fast.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from eval.cli_common import (
    BaselineOption,
    FailUnderOption,
    LimitOption,
    QuestionsOption,
    SeedOption,
    SquadOption,
    apply_gates,
    fail,
    known_gold_or_exit,
    load_or_exit,
    parse_floors,
    sample,
)
from rag.settings import get_settings


def eval_answers(
    collection: Annotated[str, typer.Option(help="Collection to answer from.")],
    output: Annotated[Path, typer.Option(help="Folder for report.md, metrics.json, answers.jsonl, plots.")],
    questions: QuestionsOption = None,
    squad: SquadOption = None,
    judge: Annotated[
        str | None, typer.Option(help="OpenAI-compatible judge endpoint (base URL) for ragas' LLM metrics.")
    ] = None,
    judge_model: Annotated[str, typer.Option(help="`model` sent to the judge endpoint.")] = "tgi",
    backend: Annotated[
        str | None, typer.Option(help="Generator backend: local, tgi or openai (default: settings).")
    ] = None,
    rerank: Annotated[bool, typer.Option(help="Rerank when a reranker is configured.")] = True,
    limit: LimitOption = None,
    seed: SeedOption = 0,
    fail_under: FailUnderOption = None,
    baseline: BaselineOption = None,
) -> None:
    """EM, F1, containment, citation precision/recall, refusals, ragas metrics; report with plots."""
    from tqdm import tqdm

    from eval.answer_eval import ANSWER_METRICS, aggregate, latency_summary, run_answers, score_answer
    from eval.answer_report import write_answer_report
    from eval.gold import gold_passages
    from eval.ragas_scores import JUDGE_METRICS, NON_LLM_METRICS, RagasSample, judge_scores, non_llm_scores
    from rag.ask_service import open_pipeline
    from rag.chain import AskError, AskOptions
    from rag.generation import GeneratorError
    from rag.models.resolve import ModelNotProvisionedError
    from rag.store import StoreUnavailableError

    floors = parse_floors(fail_under)
    loaded = load_or_exit(questions, squad)
    settings = get_settings()
    try:
        with open_pipeline(settings, backend, collection) as pipeline:
            passages = gold_passages(pipeline.retriever.store, loaded.questions)
            items, problems = known_gold_or_exit(sample(loaded.questions, limit, seed), passages)
            options = AskOptions(k=settings.answer_sources, mode=settings.retrieval_mode, rerank=rerank)
            with tqdm(total=len(items), desc="Antworten", unit=" Fragen") as bar:
                records = run_answers(items, pipeline, options, on_question=bar.update)
    except (AskError, StoreUnavailableError, GeneratorError, ModelNotProvisionedError) as exc:
        raise fail(str(exc)) from exc

    scores = {r.question.qid: score_answer(r.question, r.answer) for r in records if r.answer}
    samples = [
        RagasSample(
            qid=r.question.qid,
            question=r.question.question,
            response=r.answer.text,
            retrieved_contexts=[s.passage for s in r.answer.sources],
            reference_contexts=[p for g in r.question.gold_ids for p in passages.get(g, [])],
            reference=r.question.answer,
        )
        for r in records
        if r.answer
    ]
    metric_names = [*ANSWER_METRICS, *NON_LLM_METRICS]
    for qid, ragas_row in non_llm_scores(samples).items():
        scores[qid].update(ragas_row)
    failures = None
    if judge:
        from rag.embeddings import Embedder

        typer.echo(f"LLM-Richter: {judge} ({len(samples)} Antworten, {len(JUDGE_METRICS)} Metriken)")
        judged = judge_scores(
            samples,
            judge,
            judge_model,
            Embedder.from_settings(settings),
            api_key=settings.generator_api_key.get_secret_value() if settings.generator_api_key else None,
            timeout=settings.generator_timeout,
        )
        for qid, judged_row in judged.scores.items():
            scores[qid].update(judged_row)
        failures = judged.failures
        metric_names += JUDGE_METRICS
    summary = aggregate(list(scores.values()), metric_names)
    meta = {
        "questions": str(loaded.path),
        "n_questions": len(items),
        "sample": f"{limit} (seed {seed})" if limit else "all",
        "collection": collection,
        "generator": f"{backend or settings.generator_backend}: {settings.generator_model}",
        "retrieval": settings.retrieval_mode,
        "reranker": (settings.reranker_model or "none") if rerank else "off",
        "sources per answer": settings.answer_sources,
        "judge": f"{judge} ({judge_model})" if judge else "none",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    latency = latency_summary(records)
    write_answer_report(
        output, records, scores, summary, latency, meta, [*loaded.problems, *problems], failures
    )
    for name, agg in summary.items():
        typer.echo(f"{name:42s} {agg.mean:.3f} [{agg.ci95[0]:.3f}, {agg.ci95[1]:.3f}] n={agg.n}")
    for name, failed in (failures or {}).items():
        if failed:
            typer.secho(f"Richter-Fehler {name}: {len(failed)}", err=True, fg=typer.colors.YELLOW)
    typer.echo(f"Bericht: {output / 'report.md'}")
    apply_gates(output, {m: a.mean for m, a in summary.items()}, floors, baseline)
