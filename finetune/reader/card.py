"""The reader's model card: recipe, data, development figures, calibration, cost, command.

Why generated: the card must describe the run that produced the adapter next to it, so training
writes it; figures on the evaluation sets (XQuAD held-out, heise dev) live in the answer reports.
"""

from __future__ import annotations

from pathlib import Path

from finetune.reader.data import ReaderDataConfig
from finetune.reader.training import ReaderTrainResult

CARD = "MODEL_CARD.md"


def render_card(result: ReaderTrainResult, data: ReaderDataConfig, size_bytes: int) -> str:
    c, dev = result.config, result.dev
    history = "\n".join(
        f"| {h['epoch']:.0f} | {h['train_loss']:.3f} | {h['dev_em']:.3f} | {h['dev_f1']:.3f} "
        f"| {h['dev_no_answer_auc']:.3f} | {h['seconds']:.0f} |"
        for h in result.history
    )
    examples = "\n".join(f"| {k} | {v} |" for k, v in result.examples.items() if v)
    passages = (
        f"\n- `gnad-passage`: cloze questions as for heise over one 10kGNAD sentence, asked over a window "
        f"of\n  {data.passage_sentences} sentences of its article with the asked one at a random place "
        f"(paragraph-long\n  passages with distractor spans, as in open retrieval); no-answer twins "
        f"as for heise."
        if data.passage_examples
        else ""
    )
    names = (
        "; one-word names too, told from common nouns by how rarely an article precedes them (`single_names`)"
        if data.single_names
        else ""
    )
    return f"""# heise-rag extractive reader (German)

A span head on `{c.base_model}` (the provisioned E5 encoder): for a question and one passage it
scores every token as the answer's start and end, and the [CLS] token as "no answer here". LoRA
(rank {c.lora_rank}, alpha {c.lora_alpha}) sits in the attention and feed-forward projections of
the top {c.top_layers} of 12 layers; the span head is new and trained in full. The artifact holds
only adapters and head ({size_bytes / 1e6:.1f} MB); `rag/reader/model.py` merges them into the base
at load time.

## Data (no human-labelled German QA besides XQuAD's training half)

| split/origin/kind | examples |
|---|---|
{examples}

- `xquad`: questions of XQuAD's `sft` articles (the half the answer adapter trains on) over their
  gold paragraph, and over another paragraph of the same article without the answer (no-answer).
  The `heldout` articles (`xquad-heldout.jsonl`) are never seen. Split by paragraph.
- `heise`: cloze questions over heise headlines (a name, product, number, year or quote replaced
  by a question word, {data.word_dropout:.0%} of the other words dropped{names}); no-answer twins ask the
  question over the TF-IDF-nearest headline without the answer. Headlines that answer a heise dev
  question are excluded.
- `gnad`: template questions (year, quantity, speaker) over 10kGNAD sentences, each over its
  sentence and the {data.gnad_window - 1} after it; no-answer twins as for heise.{passages}

## Training

max length {c.max_length} tokens, stride {c.stride}, batch {c.batch_size}, AdamW lr
{c.learning_rate:g}, weight decay {c.weight_decay}, warm-up {c.warmup_ratio:.0%}, {c.epochs}
epoch(s), XQuAD examples repeated {c.xquad_repeat}x, seed {c.seed}. The frozen layers below the
adapters run once per window (cached); each step runs only the top layers. The kept epoch is the
one with the best development F1 (epoch {result.best_epoch}).

| epoch | train loss | dev EM | dev F1 | no-answer AUC | seconds |
|---|---|---|---|---|---|
{history}

Development split (by article; {dev.answerable} answerable, {dev.unanswerable} unanswerable
examples): EM {dev.exact_match:.3f}, token F1 {dev.token_f1:.3f}. No-answer AUC: the probability
that an answerable example's margin exceeds an unanswerable one's.

Calibration (Platt scaling of the margin = best span score minus no-answer score, fitted on the
development split against "span token F1 >= 0.5"): P = sigmoid({dev.calibration.slope:.4f} *
margin + {dev.calibration.bias:.4f}). The refusal thresholds (`HEISE_RAG_READER_MIN_CONFIDENCE` for headlines,
`HEISE_RAG_READER_PASSAGE_MIN_CONFIDENCE` for passages) are chosen on the dev question sets, each
question also asked without its gold articles: see the answer reports' threshold tables.

## Cost

{result.seconds / 60:.1f} minutes on this project's 2-core CPU machine (shared with other jobs),
no GPU.

## Reproduce

```
heise-rag train reader --epochs {c.epochs} --top-layers {c.top_layers} --max-length {c.max_length} \\
  --xquad-repeat {c.xquad_repeat} --heise-examples {data.heise_examples} \\
  --passage-examples {data.passage_examples}{" --single-names" if data.single_names else ""}
```
"""


def write_model_card(folder: Path, result: ReaderTrainResult, data: ReaderDataConfig) -> Path:
    size = sum(p.stat().st_size for p in folder.glob("*.safetensors"))
    path = folder / CARD
    path.write_text(render_card(result, data, size), encoding="utf-8")
    return path
