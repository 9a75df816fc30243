"""`heise-rag eval retrieval`: score retrieval modes on a question set and write the report.

Heavy modules are imported inside the command so that the CLI starts fast.
"""

from __future__ import annotations

from collections.abc import Callable
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


def eval_retrieval(
    collection: Annotated[str, typer.Option(help="Zu durchsuchende Sammlung.")],
    output: Annotated[Path, typer.Option(help="Ordner für report.md, metrics.json, ranks.csv, Grafiken.")],
    questions: QuestionsOption = None,
    squad: SquadOption = None,
    modes: Annotated[
        str,
        typer.Option(
            help="Durch Kommas getrennt: dense, sparse, hybrid, hybrid+rerank; `all`: jeder eingerichtete"
        ),
    ] = "all",
    k: Annotated[int, typer.Option(help="Schnittstelle der Ranking-Metriken (die ersten k).")] = 10,
    limit: LimitOption = None,
    seed: SeedOption = 0,
    fail_under: FailUnderOption = None,
    baseline: BaselineOption = None,
) -> None:
    """Recall@1/5/10, MRR@10, nDCG@10 mit Bootstrap-Intervallen und Latenz je Modus."""
    from tqdm import tqdm

    from eval.retrieval_run import EvalSetupError, RetrievalEvalRequest, run_retrieval_eval
    from rag.models.resolve import ModelNotProvisionedError
    from rag.store.layout import StoreUnavailableError

    floors = parse_floors(fail_under)
    request = RetrievalEvalRequest(
        questions=load_or_exit(questions, squad),
        collection=collection,
        output=output,
        modes=[m.strip() for m in modes.split(",") if m.strip()],
        k=k,
        limit=limit,
        seed=seed,
    )
    bars: list[tqdm] = []

    def progress(mode: str, total: int) -> Callable[[], None]:
        bars.append(tqdm(total=total, desc=mode, unit=" Fragen"))
        return bars[-1].update

    try:
        run = run_retrieval_eval(request, get_settings(), progress)
    except (EvalSetupError, ValueError, ModelNotProvisionedError, StoreUnavailableError) as exc:
        raise fail(str(exc)) from exc
    finally:
        for bar in bars:
            bar.close()
    report_skipped(run.problems)
    for r in run.results:
        typer.echo(
            f"{r.mode:15s} MRR@10 {r.metrics['mrr@10']:.3f} "
            f"[{r.intervals['mrr@10'][0]:.3f}, {r.intervals['mrr@10'][1]:.3f}]  "
            f"R@5 {r.metrics['recall@5']:.3f}  p50 {r.latency_ms['p50']:.0f} ms"
        )
    typer.echo(f"Bericht: {run.report}")
    apply_gates(output, run.flat, floors, baseline)
