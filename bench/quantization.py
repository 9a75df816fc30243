"""Quantization comparison of the answer model: fp32, bf16, LLM.int8 and NF4 in one table.

Run with `make bench` (or `python -m bench.quantization [--questions N] [--output FILE]`). Per
variant, in this process and one after the other:

- weight memory: ``model.get_memory_footprint()`` of the loaded model (parameters and buffers);
- speed: time to first token and decode tokens/s for a short German question and for a RAG-sized
  prompt (``bench.generation.measure``, greedy, p50 over ``--runs``);
- answer quality: the whole ask pipeline on the same seeded sample of XQuAD dev questions against
  the ``heise-xquad`` collection (``make eval`` builds it; point ``HEISE_RAG_QDRANT_PATH`` at a copy
  when another process holds the store), scored with the answer evaluation's exact match, token F1,
  containment and citation precision. ``--questions 0`` skips quality.

bitsandbytes NF4 is double-quantized with the compute dtype the engine picks (bfloat16 on CPUs with
AVX512-BF16, as for the bf16 variant); int8 is LLM.int8 with bitsandbytes' default threshold. Optional
``--adapter DIR`` adds the NF4 base with that LoRA adapter as a fifth row. On a CPU shared with other
jobs absolute times are noise; compare the rows of one run.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from bench.generation import measure
from eval.answer_eval import aggregate, run_answers, score_answer
from eval.gold import gold_passages, keep_known_gold
from eval.questions import load_squad_questions, sample
from rag.core.datafiles import XQUAD_FILE
from rag.core.settings import Settings, get_settings
from rag.generation import make_chat_model
from rag.generation.engine import unload_engines
from rag.pipelines.ask import AskOptions
from rag.pipelines.components import open_pipeline

# name -> (quantization, dtype) settings of the `local` backend
VARIANTS: dict[str, tuple[str, str]] = {
    "fp32": ("none", "float32"),
    "bf16": ("none", "bfloat16"),
    "int8": ("int8", "auto"),
    "nf4": ("nf4", "auto"),
}
QUALITY = ("exact_match", "token_f1", "contains_answer", "citation_precision")


def quality(settings: Settings, collection: str, squad: Path, n: int, seed: int) -> dict[str, Any]:
    """The answer metrics of the configured generator on a seeded sample of ``n`` XQuAD questions."""
    questions = load_squad_questions(squad).questions
    with open_pipeline(settings, "local", collection) as pipeline:
        passages = gold_passages(pipeline.retriever.store, questions)
        items, _ = keep_known_gold(sample(questions, n, seed), passages)
        started = time.perf_counter()
        records = run_answers(items, pipeline, AskOptions(k=settings.answer_sources))
        seconds = time.perf_counter() - started
    rows = [score_answer(r.question, r.answer) for r in records if r.answer]
    summary = aggregate(rows, QUALITY)
    return {
        "n": len(rows),
        "qids": [r.question.qid for r in records],
        "seconds_per_answer": round(seconds / max(len(records), 1), 1),
        **{
            m: {"mean": round(a.mean, 3), "ci95": [round(v, 3) for v in a.ci95], "n": a.n}
            for m, a in summary.items()
        },
    }


def run_variant(
    name: str, settings: Settings, args: argparse.Namespace, adapter: str | None = None
) -> dict[str, Any]:
    quantization, dtype = VARIANTS[name]
    configured = settings.model_copy(
        update={
            "generator_quantization": quantization,
            "generator_dtype": dtype,
            "generator_adapter": adapter,
            "generator_temperature": 0.0,
        }
    )
    label = f"{name}+adapter" if adapter else name
    chat_model = make_chat_model(
        configured.model_copy(update={"generator_max_new_tokens": args.speed_tokens})
    )
    started = time.perf_counter()
    engine = chat_model.warm_up()  # type: ignore[attr-defined]
    row: dict[str, Any] = {
        "variant": label,
        "quantization": quantization,
        "load_s": round(time.perf_counter() - started, 1),
        "unquantized_dtype": str(next(engine.model.parameters()).dtype).removeprefix("torch."),
        "memory_bytes": int(engine.model.get_memory_footprint()),
        "speed": measure(label, chat_model, args.runs),
    }
    if args.long_prompt:
        row["speed_long"] = measure(f"{label}-long", chat_model, args.runs, long=True)
    if args.questions:
        row["quality"] = quality(configured, args.collection, args.squad, args.questions, args.seed)
    unload_engines()
    print(json.dumps({k: v for k, v in row.items() if k not in ("speed", "speed_long")}), flush=True)
    return row


def markdown(rows: list[dict[str, Any]]) -> str:
    """The comparison table; memory relative to the fp32 row."""
    fp32 = next((r["memory_bytes"] for r in rows if r["variant"] == "fp32"), None)
    lines = [
        "| variant | weight memory | vs fp32 | TTFT short / RAG prompt | decode tok/s "
        "| EM | F1 | contains | cit. precision | n |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        q = r.get("quality", {})

        def metric(name: str, q: dict[str, Any] = q) -> str:
            return f"{q[name]['mean']:.2f}" if name in q else "-"

        ratio = f"{r['memory_bytes'] / fp32:.0%}" if fp32 else "-"
        ttft_long = f"{r['speed_long']['ttft_s_p50']:.2f} s" if "speed_long" in r else "-"
        lines.append(
            f"| {r['variant']} | {r['memory_bytes'] / 2**20:.0f} MiB | {ratio} | "
            f"{r['speed']['ttft_s_p50']:.2f} s / {ttft_long} | "
            f"{r['speed']['decode_tokens_per_s_p50']:.1f} | {metric('exact_match')} | {metric('token_f1')} | "
            f"{metric('contains_answer')} | {metric('citation_precision')} | {q.get('n', 0)} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"subset of {list(VARIANTS)}")
    parser.add_argument("--adapter", default=None, help="also the NF4 base with this LoRA adapter")
    parser.add_argument("--runs", type=int, default=2, help="timed runs per prompt")
    parser.add_argument("--speed-tokens", type=int, default=24, help="new tokens per timed run")
    parser.add_argument(
        "--long-prompt",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also time a RAG-sized prompt",
    )
    parser.add_argument("--questions", type=int, default=10, help="XQuAD questions for quality (0: none)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--collection", default="heise-xquad")
    parser.add_argument("--squad", type=Path, default=None, help="default: the provisioned XQuAD dev file")
    parser.add_argument("--output", type=Path, default=None, help="JSON results (plus a .md table)")
    args = parser.parse_args()
    settings = get_settings()
    args.squad = args.squad or settings.resolved_data_dir / XQUAD_FILE
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants: {unknown}")
    print(f"model {settings.generator_model}; quality on {args.questions} XQuAD questions", flush=True)
    rows = [run_variant(name, settings, args) for name in names]
    if args.adapter:
        rows.append(run_variant("nf4", settings, args, adapter=args.adapter))
    table = markdown(rows)
    print(table)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        report = {
            "model": settings.generator_model,
            "questions": args.questions,
            "seed": args.seed,
            "rows": rows,
        }
        args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        args.output.with_suffix(".md").write_text(table + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
