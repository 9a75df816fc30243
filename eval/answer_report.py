"""Write an answer evaluation to disk: metrics.json, per_question.csv, answers.jsonl, report.md, plots.

answers.jsonl keeps each question's full answer, sources and citations, so a reader can check any
score by hand (no_answer.jsonl the same for the no-answer twins, ``eval/no_answer.py``);
per_question.csv is what `--baseline` compares.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from eval.answer_eval import Aggregate, AnswerRecord
from eval.gates import PER_QUESTION, write_per_question
from eval.no_answer import no_answer_scores
from eval.plots import latency_boxes, metric_bars

NO_ANSWER_LINES = "no_answer.jsonl"


def answer_line(record: AnswerRecord, scores: Mapping[str, float | None]) -> dict[str, object]:
    q, a = record.question, record.answer
    return {
        "qid": q.qid,
        "question": q.question,
        "reference": q.answer,
        "gold_ids": list(q.gold_ids),
        "answer": a.text if a else None,
        "error": record.error,
        "cited_ids": [c.article_id for c in a.citations] if a else [],
        "source_ids": [s.article_id for s in a.sources] if a else [],
        "seconds": round(record.seconds, 3),
        "timings": a.timings if a else {},
        "evidence": [e.model_dump() for e in a.evidence] if a else [],
        "confidence": a.confidence if a else None,
        "scores": dict(scores),
    }


def _first_token(latency: Mapping[str, float]) -> str:
    if math.isnan(latency["first_token_p50"]):  # nothing streamed: the reader's answer comes whole
        return " (answers come whole from the reader: no first token)."
    return f"; first token p50 {latency['first_token_p50']:.1f} s / p95 {latency['first_token_p95']:.1f} s."


def write_answer_report(
    output: Path,
    records: Sequence[AnswerRecord],
    scores: Mapping[str, Mapping[str, float | None]],
    summary: Mapping[str, Aggregate],
    latency: Mapping[str, float],
    meta: Mapping[str, object],
    problems: Sequence[str] = (),
    judge_failures: Mapping[str, Sequence[str]] | None = None,
    sections: Sequence[str] = (),
    twins: Sequence[AnswerRecord] = (),
) -> None:
    output.mkdir(parents=True, exist_ok=True)
    errors = [f"{r.question.qid}: {r.error}" for r in records if r.error]
    payload = {
        "meta": dict(meta),
        "metrics": {m: {"mean": a.mean, "ci95": a.ci95, "n": a.n} for m, a in summary.items()},
        "latency_s": dict(latency),
        "flat": {m: a.mean for m, a in summary.items()},
        "errors": errors,
        "problems": list(problems),
        "judge_failures": {m: list(f) for m, f in (judge_failures or {}).items()},
    }
    (output / "metrics.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    write_per_question(output / PER_QUESTION, scores)
    with (output / "answers.jsonl").open("w", encoding="utf-8") as handle:
        for record in records:
            line = answer_line(record, scores.get(record.question.qid, {}))
            handle.write(json.dumps(line, ensure_ascii=False) + "\n")
    if twins:
        twin_scores = no_answer_scores(twins)
        with (output / NO_ANSWER_LINES).open("w", encoding="utf-8") as handle:
            for record in twins:
                line = answer_line(record, twin_scores[record.question.qid])
                handle.write(json.dumps(line, ensure_ascii=False) + "\n")
    names = list(summary)
    metric_bars(
        {"answers": {m: (a.mean, *a.ci95) for m, a in summary.items()}},
        names,
        output / "answer_metrics.png",
        "mean (95 % bootstrap CI)",
    )
    answered = [r for r in records if r.answer]
    latency_boxes(
        {
            "first token": [t for r in answered if (t := r.answer.timings.get("first_token"))],  # type: ignore[union-attr]
            "whole answer": [r.seconds for r in answered],
        },
        output / "answer_latency.png",
        "s",
    )
    lines = [
        "# Answer evaluation",
        "",
        *(f"- {k}: {v}" for k, v in meta.items()),
        "",
        "| metric | mean | 95 % CI | n |",
        "|---|---|---|---|",
        *(f"| {m} | {a.mean:.3f} | [{a.ci95[0]:.3f}, {a.ci95[1]:.3f}] | {a.n} |" for m, a in summary.items()),
        "",
        f"Latency: whole answer p50 {latency['total_p50']:.1f} s / p95 {latency['total_p95']:.1f} s"
        + _first_token(latency),
        "",
        "n counts the questions where a metric is defined: EM/F1/containment need a reference answer, "
        "citation precision needs at least one citation. Intervals: 95 % bootstrap over questions "
        "(2,000 resamples, seed 0).",
        "",
        "![answer metrics](answer_metrics.png)",
        "",
        "![latency](answer_latency.png)",
        "",
        *sections,
    ]
    if judge_failures:
        lines += ["## Judge failures", ""]
        for metric, failed in judge_failures.items():
            lines.append(f"- {metric}: {len(failed)} failed" + (f" (first: {failed[0]})" if failed else ""))
        lines.append("")
    for heading, items in (("Pipeline errors", errors), ("Skipped", problems)):
        if items:
            lines += [f"## {heading} ({len(items)})", "", *(f"- {p}" for p in items), ""]
    (output / "report.md").write_text("\n".join(lines), encoding="utf-8")
