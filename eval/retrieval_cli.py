"""`heise-rag eval retrieval`: score retrieval modes on a question set and write the report.

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


def eval_retrieval(
    collection: Annotated[str, typer.Option(help="Collection to search.")],
    output: Annotated[Path, typer.Option(help="Folder for report.md, metrics.json, ranks.csv, plots.")],
    questions: QuestionsOption = None,
    squad: SquadOption = None,
    modes: Annotated[
        str,
        typer.Option(
            help="Comma-separated: dense, sparse, hybrid, hybrid+rerank; `all`: each one configured"
        ),
    ] = "all",
    k: Annotated[int, typer.Option(help="Cut-off for the ranking metrics.")] = 10,
    limit: LimitOption = None,
    seed: SeedOption = 0,
    fail_under: FailUnderOption = None,
    baseline: BaselineOption = None,
) -> None:
    """Recall@1/5/10, MRR@10, nDCG@10 with bootstrap CIs and latency per mode."""
    from tqdm import tqdm

    from eval.gold import gold_passages
    from eval.retrieval_eval import EVAL_MODES, evaluate_mode
    from eval.retrieval_report import flat_metrics, write_retrieval_report
    from rag.ask_service import make_reranker
    from rag.embeddings import Embedder
    from rag.models.resolve import ModelNotProvisionedError
    from rag.retrieval import make_retriever
    from rag.store import StoreUnavailableError, VectorStore, open_client

    floors = parse_floors(fail_under)
    loaded = load_or_exit(questions, squad)
    settings = get_settings()
    try:
        client = open_client(settings)
    except StoreUnavailableError as exc:
        raise fail(str(exc)) from exc
    try:
        store = VectorStore(client, collection)
        if not store.exists():
            raise fail(f"Sammlung {collection!r} gibt es nicht.")
        items, problems = known_gold_or_exit(sample(loaded.questions, limit, seed), gold_passages(store, []))
        retriever = make_retriever(
            store,
            Embedder.from_settings(settings),
            k=max(k, settings.retrieval_candidates),
            dense_limit=settings.prefetch_limit,
            sparse_limit=settings.prefetch_limit,
            dense_weight=settings.dense_weight,
            sparse_weight=settings.sparse_weight,
            fusion=settings.fusion,
            rrf_k=settings.rrf_k,
        )
        reranker = make_reranker(settings, top_n=k)
        chosen = [m.strip() for m in modes.split(",") if m.strip()]
        if chosen == ["all"]:
            chosen = [m for m in EVAL_MODES if reranker is not None or not m.endswith("+rerank")]
        results = []
        for mode in chosen:
            with tqdm(total=len(items), desc=mode, unit=" Fragen") as bar:
                results.append(evaluate_mode(mode, items, retriever, reranker, k, on_question=bar.update))
    except (ValueError, ModelNotProvisionedError, StoreUnavailableError) as exc:
        raise fail(str(exc)) from exc
    finally:
        client.close()
    meta = {
        "questions": str(loaded.path),
        "n_questions": len(items),
        "sample": f"{limit} (seed {seed})" if limit else "all",
        "collection": collection,
        "embedding_model": settings.embedding_model,
        "reranker_model": settings.reranker_model or "none",
        "reranker_order": (
            f"RRF with the search order, weight {settings.reranker_first_stage_weight:g}"
            if settings.reranker_first_stage_weight
            else "the reranker's scores alone"
        ),
        "fusion": (
            "DBSF"
            if settings.fusion == "dbsf"
            else f"weighted RRF k {settings.rrf_k}, "
            f"dense {settings.dense_weight} / sparse {settings.sparse_weight}"
        )
        + f", prefetch {settings.prefetch_limit}",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    write_retrieval_report(results, output, "Retrieval evaluation", meta, [*loaded.problems, *problems])
    for r in results:
        typer.echo(
            f"{r.mode:15s} MRR@10 {r.metrics['mrr@10']:.3f} "
            f"[{r.intervals['mrr@10'][0]:.3f}, {r.intervals['mrr@10'][1]:.3f}]  "
            f"R@5 {r.metrics['recall@5']:.3f}  p50 {r.latency_ms['p50']:.0f} ms"
        )
    typer.echo(f"Bericht: {output / 'report.md'}")
    apply_gates(output, flat_metrics(results), floors, baseline)
