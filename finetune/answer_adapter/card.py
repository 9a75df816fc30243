"""The model card written next to a trained answer adapter, from the run's own record.

Why generated: the card must state the data sizes, split, hyper-parameters, timings and command of
the run that produced the files beside it; written by hand it would drift from them.
"""

from __future__ import annotations

import json
from pathlib import Path

from finetune.answer_adapter.training import LOSS_PLOT, TrainingResult

CARD_FILE = "MODEL_CARD.md"


def _loss(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def write_adapter_card(folder: Path, result: TrainingResult, data: Path, command: str) -> Path:
    """``MODEL_CARD.md`` in ``folder``; ``data`` is the SFT folder (its ``stats.json`` gives the sizes)."""
    c = result.config
    stats_path = data / "stats.json"
    stats = json.loads(stats_path.read_text(encoding="utf-8")) if stats_path.exists() else {}
    data_command = stats.pop("command", None)
    size = sum(p.stat().st_size for p in folder.glob("adapter_model.*"))
    layers = f"the last {c['top_layers']} decoder layers" if c["top_layers"] else "every decoder layer"
    lines = [
        "# heise-rag answer adapter (LoRA)",
        "",
        "Teaches the answer model the product's answer style: a short German answer that is a span of",
        "the numbered sources, followed by the `[n]` of its source, and exactly the refusal sentence",
        "(`Dazu finde ich in den Quellen keine Antwort.`) when the sources do not hold the answer.",
        "",
        "## Model",
        "",
        f"- Base: `{result.base_model}`, loaded as "
        + ("4-bit NF4 (bitsandbytes, double quantization)" if c["quantize"] == "nf4" else "full precision")
        + f", compute dtype {result.compute_dtype}.",
        f"- LoRA rank {c['rank']}, alpha {c['alpha']}, dropout {c['dropout']} on "
        f"{', '.join(c['targets'])} of {layers}; {result.trainable_parameters:,} trainable parameters, "
        f"{size / 1e6:.1f} MB on disk.",
        "- Use: `HEISE_RAG_GENERATOR_ADAPTER=finetune/artifacts/answer-adapter`"
        + (
            " with `HEISE_RAG_GENERATOR_QUANTIZATION=nf4` (the base it was trained on),"
            if c["quantize"] == "nf4"
            else ","
        ),
        "  or",
        "  `heise-rag serve tgi --quantize bitsandbytes-nf4 --lora-adapters "
        "answer=finetune/artifacts/answer-adapter`",
        "  and `adapter_id: answer`; real TGI: `infra/TGI-ADAPTER.md`.",
        "",
        "## Data",
        "",
        "Built by `heise-rag train sft-data` (`finetune/answer_adapter/sft_data.py`, `sft_xquad.py`) in the",
        "exact product prompt (`rag/core/prompting.py`: system rules, numbered fenced `<quelle>` sources,",
        "`Frage: ...`). Sources of the questions: sentences of the 10kGNAD test articles (derStandard)",
        "turned into extractive questions by templates (year, quantity, speaker), heise headlines among",
        "distractor headlines (`Welche Meldung erschien am ...?`, `Welche Meldung berichtet über ...?`),",
        "the questions of the XQuAD dev articles outside the held-out half (kind `xquad`: the gold",
        "paragraph among other paragraphs of its article, each shortened like the product's sources),",
        "and refusals (questions over sources without the answer). The held-out half of XQuAD's",
        "articles (`xquad-heldout.jsonl`) and the heise QA dev set are never trained on: they are the",
        "evaluation. Split by article (10 % of articles in dev).",
        "",
        "| split | examples | kinds |",
        "|---|---|---|",
        *(
            f"| {split} | {row['examples']} | "
            + ", ".join(f"{k} {v}" for k, v in row["kinds"].items())
            + " |"
            for split, row in stats.items()
        ),
        *(["", "```bash", data_command, "```"] if data_command else []),
        "",
        "## Training",
        "",
        f"- Examples trained on: {result.examples_seen} of {result.train_examples} that fit "
        f"{c['max_length']} tokens ({result.skipped_too_long} longer ones skipped; mean "
        f"{result.tokens_per_example_mean:.0f} tokens)"
        + (f", stopped at the {c['max_minutes']:.0f}-minute budget" if result.stopped_early else "")
        + ".",
        f"- Loss on the answer tokens only; {result.optimizer}, learning rate {c['learning_rate']} "
        f"(linear warm-up and decay), {c['grad_accumulation']} examples per update, "
        f"gradient checkpointing {'on' if c['gradient_checkpointing'] else 'off'}, seed {c['seed']}.",
        f"- Device {c['device']}"
        + (f" ({c['threads']} torch threads, a CPU shared with other jobs)" if c["device"] == "cpu" else "")
        + f": {result.seconds / 60:.1f} min.",
        f"- Held-out answer loss ({c['dev_examples']} dev examples): {_loss(result.dev_loss_before)} before, "
        f"{_loss(result.dev_loss_after)} after. Curve: `{LOSS_PLOT}`.",
        "",
        "Command:",
        "",
        "```bash",
        command,
        "```",
        "",
        "Evaluation against the untuned base on XQuAD: `reports/qlora/README.md`.",
        "",
    ]
    path = folder / CARD_FILE
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
