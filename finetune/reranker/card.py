"""The reranker's model card: recipe, data sizes, settings, held-out curve, reproducing command.

Why generated: the card must describe the run that produced the weights next to it, so training
writes it; the evaluation against hybrid retrieval lives in the retrieval report it links to.
"""

from __future__ import annotations

from pathlib import Path

from finetune.reranker.training import TrainResult

CARD = "MODEL_CARD.md"
KINDS = {
    "ict": (
        "one sentence of a 10kGNAD chunk",
        "the rest of the chunk with its title (sentence kept in 10 %)",
    ),
    "sentence_to_headline": ("a body sentence", "its article's lead shown as a headline"),
    "lead_to_chunk": ("an article's lead", "the rest of its first chunk (no titles in these groups)"),
    "teaser_to_headline": ("a heise teaser synopsis", "its headline"),
    "question_to_chunk": (
        "a template question (year, quantity, speaker) made from a body sentence",
        "the chunk holding that sentence, with its title",
    ),
}


def _command(result: TrainResult, data_config: dict[str, object]) -> str:
    c = result.config
    return (
        "HEISE_RAG_QDRANT_PATH=var/qdrant-reranker heise-rag train reranker "
        f"--max-groups {data_config.get('max_groups')} --layers {c.layers} --max-length {c.max_length} "
        f"--focus-chars {c.focus_chars or 0} "
        f"--epochs {c.epochs} --batch-size {c.batch_size} --learning-rate {c.learning_rate:g}"
        + (f" --max-minutes {result.max_minutes:g}" if result.max_minutes else "")
    )


def _focus(chars: int | None) -> str:
    if not chars:
        return "the passage from its start"
    return (
        f"the passage cut to its most question-like sentences within {chars} characters "
        "(`rag.retrieval.passages.focus_passage`, in training and at query time)"
    )


def render_card(
    result: TrainResult, sizes: dict[str, object], data_meta: dict[str, object], size_bytes: int
) -> str:
    c = result.config
    data_config = dict(data_meta.get("config", {}))  # type: ignore[call-overload]
    kinds = dict(sizes.get("by_kind", {}))  # type: ignore[call-overload]
    train_n, held_n = sizes["train_groups"], sizes["held_out_groups"]
    negatives = int(data_config.get("hard_negatives", 0)) + int(data_config.get("random_negatives", 0))
    kind_rows = "\n".join(f"| `{k}` | {kinds.get(k, 0)} | {q} | {p} |" for k, (q, p) in KINDS.items())
    held_share = float(data_config.get("held_out_share", 0))  # type: ignore[arg-type]
    rows = "\n".join(
        f"| {r['epoch']:.2f} | {r['mrr@10']:.3f} | {r['ndcg@10']:.3f} | {r['map']:.3f} |"
        for r in result.held_out
    )
    mined = data_meta.get("seconds")
    mined_text = f" Mining took {float(mined) / 60:.0f} min." if isinstance(mined, int | float) else ""
    if data_meta.get("note"):
        mined_text += f" ({data_meta['note']})"
    stopped = (
        f" The time budget (`--max-minutes {result.max_minutes:g}`) ended training after {result.steps} of "
        f"{result.planned_steps} planned steps."
        if result.planned_steps and result.steps < result.planned_steps
        else ""
    )
    return f"""# heise-reranker-de: German cross-encoder reranker

A cross-encoder that scores (question, title + passage) pairs for the ask path's last stage. It is
the first {c.layers} layers of the provisioned `multilingual-e5-small` (embeddings included), mean-pooled,
with a new one-logit head, trained here on CPU from the project's own corpus. Input: at most
{c.max_length} tokens of question, title and passage, {_focus(c.focus_chars)}.

## Artifact

`model.safetensors` holds the trained layers, position embeddings and head, matrices in int8
with a float16 scale per row (`rag.models.int8.quantize_int8`, at most 0.4 % of a row's largest
weight off), the rest in float16
({size_bytes / 1e6:.1f} MB with the config files). The word embeddings (250k x 384) were frozen in
training and are left out: `rag/retrieval/rerank.py` assembles the complete model once into the model cache
from this folder plus `multilingual-e5-small`'s embeddings and tokenizer (`reranker.json` names the
base and the expected shape). Setting: `HEISE_RAG_RERANKER_MODEL=heise-reranker-de` (or this folder).

## Training data (no evaluation questions)

Built by `finetune/reranker/data.py` from the indexed corpus (heise headlines + 10kGNAD articles)
and the 2019 heise teasers; XQuAD and the heise question set are not read.

| group kind | groups | query | positive |
|---|---|---|---|
{kind_rows}

Every group has {negatives} negatives: {data_config.get("hard_negatives")} hard negatives sampled from the
top {data_config.get("hard_pool")} articles the project's hybrid retriever (`rag/retrieval/search.py`,
dense E5 + BM25, weighted RRF) returns for the query, the positive's article excluded, passage groups
searching only articles with a body; plus {data_config.get("random_negatives")} random negative from the
corpus, rendered like the positive. A passage negative shorter than three quarters of its positive is
lengthened with its article's following chunks (the retriever favours short chunks; without this the
first model learnt that the longer passage wins). Training also adds {c.in_batch_negatives} in-batch
negative per query.
Articles are split {1 - held_share:.0%} / {held_share:.0%}
(stable hash of the article id): {train_n} training groups, {held_n} held-out groups
(seed {data_config.get("seed")}, at most {data_config.get("max_groups")} groups).{mined_text}

## Training

sentence-transformers `CrossEncoderTrainer`, `MultipleNegativesRankingLoss` (softmax over positive
and negatives, scale 10), AdamW lr {c.learning_rate:g}, weight decay {c.weight_decay}, linear warm-up over
{c.warmup_ratio:.0%} of the steps then linear decay, batch {c.batch_size} groups, {c.epochs} epoch(s),
seed {c.seed}, bf16 autocast {"on" if result.bf16 else "off"}, device `{result.device}`: {result.steps} steps
in {result.seconds / 60:.1f} min.{stopped}
Held-out reranking of the group's {negatives + 1} candidates (epoch 0 = the untrained head):

| epoch | MRR@10 | NDCG@10 | MAP |
|---|---|---|---|
{rows}

## Reproduce

```bash
cp -r var/qdrant-edge var/qdrant-reranker   # the embedded store allows one process per folder
{_command(result, data_config)}
```

The mined groups are cached in `var/reranker/groups-<max-groups>.jsonl` (delete it to mine again).
The same command trains on a GPU unchanged (bf16 there).

## Use and evaluation

At query time the reranker's order is fused with the hybrid search's order (reciprocal rank fusion,
`HEISE_RAG_RERANKER_FIRST_STAGE_WEIGHT`, default 1; 0 = the reranker's order alone). See
`EVALUATION.md` beside this card: hybrid vs hybrid + rerank on the XQuAD dev set and the heise
question set, with bootstrap confidence intervals, and rerank latency.
"""


def write_model_card(
    folder: Path, result: TrainResult, sizes: dict[str, object], data_meta: dict[str, object], size_bytes: int
) -> Path:
    path = folder / CARD
    path.write_text(render_card(result, sizes, data_meta, size_bytes), encoding="utf-8")
    return path
