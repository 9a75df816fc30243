"""Fine-tune the E5 encoder as an extractive reader: LoRA in the top layers plus a new span head.

The loop is the engagement classifier's (``finetune/classifier/training.py``): AdamW, linear
warm-up then decay, gradient clipping, fixed seeds, one development pass per epoch with the best
epoch's weights kept. What differs is the target: a start and an end token per window, SQuAD 2.0
style, with the [CLS] token as the target of windows that do not hold the answer (the no-answer
head). Only the top ``top_layers`` layers carry adapters, so backpropagation stops there; the
saved artifact holds adapters and head: a few MB.

After training, the margin (best span score minus no-answer score) is calibrated on the
development split by Platt scaling against "the predicted span is right" (token F1 >= 0.5), so the
served confidence is a probability.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from tqdm import tqdm
from transformers import AutoTokenizer, BertModel, PreTrainedTokenizerBase, get_linear_schedule_with_warmup

from eval.answer_metrics import exact_match, token_f1
from finetune.classifier.encoder_cache import layer_range
from finetune.reader.data import ReaderExample
from rag.models.resolve import resolve_model
from rag.reader.model import Calibration, ReaderInfo, base_reader, encode_windows
from rag.reader.reader import readings

LORA_TARGETS = (
    r"attention\.self\.(query|key|value)|attention\.output\.dense|intermediate\.dense|output\.dense"
)
RIGHT_F1 = 0.5  # a predicted span this close to the reference counts as right for calibration


@dataclass(frozen=True)
class ReaderTrainConfig:
    """Hyper-parameters; the defaults are the recipe of the committed reader."""

    base_model: str = "multilingual-e5-small"
    max_length: int = 256
    stride: int = 96
    top_layers: int = 6
    lora_rank: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.1
    learning_rate: float = 5e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    batch_size: int = 16
    epochs: int = 2
    xquad_repeat: int = 2  # the only human-written questions: seen this many times an epoch
    max_dev: int = 600  # development examples read after each epoch (a fixed prefix of the shuffled split)
    max_grad_norm: float = 1.0
    seed: int = 42


@dataclass
class Window:
    """One encoder input with its start/end targets (0, 0: the answer is not in this window) and,
    once ``cache_lower`` ran, the hidden states entering the first adapted layer."""

    input_ids: list[int]
    start: int
    end: int
    hidden: torch.Tensor | None = None


@dataclass
class DevScores:
    """Development figures: span quality on answerable examples, no-answer separation, calibration."""

    exact_match: float
    token_f1: float
    answerable: int
    unanswerable: int
    no_answer_auc: float
    calibration: Calibration


@dataclass
class ReaderTrainResult:
    config: ReaderTrainConfig
    history: list[dict[str, float]]
    best_epoch: int
    dev: DevScores
    examples: dict[str, int]
    seconds: float = 0.0
    extra: dict[str, object] = field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        return {
            "config": asdict(self.config),
            "history": self.history,
            "best_epoch": self.best_epoch,
            "dev": asdict(self.dev),
            "examples": self.examples,
            "seconds": round(self.seconds, 1),
            **self.extra,
        }


def _token_targets(offsets: Sequence[tuple[int, int] | None], start: int, end: int) -> tuple[int, int]:
    """Token positions of the character span [start, end) in one window, or (0, 0) when not inside."""
    first = last = None
    for i, offset in enumerate(offsets):
        if offset is None:
            continue
        if first is None and offset[0] <= start < offset[1]:
            first = i
        if offset[0] < end <= offset[1]:
            last = i
    if first is None or last is None or last < first:
        return 0, 0
    return first, last


def windows_of(
    tokenizer: PreTrainedTokenizerBase, example: ReaderExample, config: ReaderTrainConfig
) -> list[Window]:
    enc = encode_windows(
        tokenizer, example.question, [example.context], max_length=config.max_length, stride=config.stride
    )
    result = []
    for w in range(len(enc["input_ids"])):
        ids = [
            t
            for t, m in zip(enc["input_ids"][w].tolist(), enc["attention_mask"][w].tolist(), strict=True)
            if m
        ]
        if example.answer_start is None:
            start = end = 0
        else:
            span = (example.answer_start, example.answer_start + len(example.answer))
            start, end = _token_targets(enc["offset_mapping"][w], *span)
        result.append(Window(ids, start, end))
    return result


def _batches(windows: Sequence[Window], size: int, rng: random.Random) -> list[list[Window]]:
    """Length-sorted batches (little padding) in shuffled order."""
    ordered = sorted(windows, key=lambda w: len(w.input_ids) + rng.random())
    batches = [ordered[i : i + size] for i in range(0, len(ordered), size)]
    rng.shuffle(batches)
    return batches


def _collate(batch: Sequence[Window]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Padded cached hidden states, attention mask and start/end targets."""
    assert all(w.hidden is not None for w in batch), "cache_lower runs before training"
    width = max(len(w.input_ids) for w in batch)
    states = torch.zeros(len(batch), width, batch[0].hidden.shape[1])  # type: ignore[union-attr]
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, w in enumerate(batch):
        states[i, : len(w.input_ids)] = w.hidden  # type: ignore[index]
        mask[i, : len(w.input_ids)] = 1
    return states, mask, torch.tensor([w.start for w in batch]), torch.tensor([w.end for w in batch])


@torch.inference_mode()
def cache_lower(
    bert: BertModel, windows: Sequence[Window], start: int, pad_id: int, batch_size: int, show_progress: bool
) -> None:
    """Run the frozen layers below ``start`` once per window (see ``finetune/classifier/encoder_cache``:
    they carry no adapter and run without dropout, so their output never changes)."""
    bert.eval()
    order = sorted(range(len(windows)), key=lambda i: len(windows[i].input_ids))
    for first in tqdm(
        range(0, len(order), batch_size), desc="E5 untere Schichten", disable=not show_progress
    ):
        rows = [windows[i] for i in order[first : first + batch_size]]
        width = max(len(w.input_ids) for w in rows)
        ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for j, w in enumerate(rows):
            ids[j, : len(w.input_ids)] = torch.tensor(w.input_ids)
            mask[j, : len(w.input_ids)] = 1
        with layer_range(bert, 0, start, from_hidden=False) as lower:
            low = lower(input_ids=ids, attention_mask=mask).last_hidden_state
        for j, w in enumerate(rows):
            w.hidden = low[j, : len(w.input_ids)].clone()


def _span_loss(model: PeftModel, start: int, batch: Sequence[Window]) -> torch.Tensor:
    """SQuAD's loss through the adapted top layers only: mean cross-entropy of start and end."""
    states, mask, first, last = _collate(batch)
    inner = model.base_model.model
    with layer_range(inner.bert, start, inner.config.num_hidden_layers, from_hidden=True) as upper:
        hidden = upper(inputs_embeds=states, attention_mask=mask).last_hidden_state
    logits = inner.qa_outputs(hidden)
    start_logits, end_logits = logits[..., 0], logits[..., 1]
    loss = torch.nn.functional.cross_entropy
    return (loss(start_logits, first) + loss(end_logits, last)) / 2


def adapted_model(base_folder: str, config: ReaderTrainConfig) -> PeftModel:
    """The base reader with LoRA in the top layers; the span head is trained in full."""
    base = base_reader(base_folder)
    n_layers = base.config.num_hidden_layers
    layers = "|".join(str(i) for i in range(n_layers - config.top_layers, n_layers))
    lora = LoraConfig(
        task_type="QUESTION_ANS",
        r=config.lora_rank,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=rf".*encoder\.layer\.({layers})\.({LORA_TARGETS})",
        modules_to_save=["qa_outputs"],
    )
    return get_peft_model(base, lora)


@torch.inference_mode()
def score_dev(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[ReaderExample],
    config: ReaderTrainConfig,
) -> tuple[DevScores, list[float], list[float]]:
    """Read every dev example as the server would; returns scores, margins and the right-labels."""
    model.eval()
    margins, right, em, f1 = [], [], [], []
    for example in examples:
        enc = encode_windows(
            tokenizer, example.question, [example.context], max_length=config.max_length, stride=config.stride
        )
        out = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"])
        found = readings(enc, out.start_logits, out.end_logits, [example.context], Calibration())
        text, margin = (found[0].text, found[0].margin) if found else ("", -1e3)
        margins.append(margin)
        if example.answer_start is None:
            right.append(0.0)
        else:
            em.append(exact_match(text, example.answer))
            f1.append(token_f1(text, example.answer))
            right.append(float(f1[-1] >= RIGHT_F1))
    calibration = fit_calibration(margins, right)
    answerable = [m for m, e in zip(margins, examples, strict=True) if e.answer_start is not None]
    unanswerable = [m for m, e in zip(margins, examples, strict=True) if e.answer_start is None]
    scores = DevScores(
        exact_match=float(np.mean(em)) if em else 0.0,
        token_f1=float(np.mean(f1)) if f1 else 0.0,
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        no_answer_auc=_auc(answerable, unanswerable),
        calibration=calibration,
    )
    return scores, margins, right


def fit_calibration(margins: Sequence[float], right: Sequence[float]) -> Calibration:
    """Platt scaling: a one-feature logistic regression of "right" on the margin."""
    from sklearn.linear_model import LogisticRegression

    if len(set(right)) < 2:
        return Calibration()
    fitted = LogisticRegression().fit(np.array(margins).reshape(-1, 1), np.array(right))
    return Calibration(slope=float(fitted.coef_[0, 0]), bias=float(fitted.intercept_[0]))


def _auc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """P(an answerable example's margin > an unanswerable one's): how well no-answer separates."""
    if not positives or not negatives:
        return float("nan")
    pos, neg = np.array(positives)[:, None], np.array(negatives)[None, :]
    return float(((pos > neg).sum() + 0.5 * (pos == neg).sum()) / (pos.size * neg.size))


def train_reader(
    examples: Sequence[ReaderExample],
    config: ReaderTrainConfig,
    model_cache_dir: Path,
    output: Path,
    show_progress: bool = True,
) -> ReaderTrainResult:
    """Train on the ``train`` split, keep the epoch with the best dev F1, save adapter and head."""
    started = time.perf_counter()
    random.seed(config.seed)
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    base_folder = resolve_model(config.base_model, model_cache_dir)
    tokenizer = AutoTokenizer.from_pretrained(base_folder)
    train = [e for e in examples if e.split == "train"]
    train += [e for e in train if e.origin == "xquad"] * (config.xquad_repeat - 1)
    dev = [e for e in examples if e.split == "dev"][: config.max_dev]
    windows = [w for e in train for w in windows_of(tokenizer, e, config)]
    model = adapted_model(base_folder, config)
    first_adapted = model.base_model.model.config.num_hidden_layers - config.top_layers
    cache_lower(
        model.base_model.model.bert, windows, first_adapted, tokenizer.pad_token_id, 32, show_progress
    )
    optimizer = torch.optim.AdamW(
        [p for p in model.parameters() if p.requires_grad],
        lr=config.learning_rate,
        weight_decay=config.weight_decay,
    )
    steps = config.epochs * -(-len(windows) // config.batch_size)
    schedule = get_linear_schedule_with_warmup(optimizer, int(config.warmup_ratio * steps), steps)
    history: list[dict[str, float]] = []
    best: tuple[float, int, dict[str, torch.Tensor], DevScores] | None = None
    for epoch in range(1, config.epochs + 1):
        model.train()
        losses = []
        epoch_started = time.perf_counter()
        batches = _batches(windows, config.batch_size, rng)
        for batch in tqdm(batches, desc=f"Leser Epoche {epoch}", disable=not show_progress):
            loss = _span_loss(model, first_adapted, batch)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
            schedule.step()
            optimizer.zero_grad()
            losses.append(float(loss.detach()))
        dev_scores, _, _ = score_dev(model, tokenizer, dev, config)
        history.append(
            {
                "epoch": epoch,
                "train_loss": float(np.mean(losses)),
                "dev_f1": dev_scores.token_f1,
                "dev_em": dev_scores.exact_match,
                "dev_no_answer_auc": dev_scores.no_answer_auc,
                "seconds": round(time.perf_counter() - epoch_started, 1),
            }
        )
        if best is None or dev_scores.token_f1 > best[0]:
            state = {
                k: v.detach().clone()
                for k, v in model.state_dict().items()
                if "lora_" in k or "qa_outputs" in k
            }
            best = (dev_scores.token_f1, epoch, state, dev_scores)
    assert best is not None
    model.load_state_dict(best[2], strict=False)
    output.mkdir(parents=True, exist_ok=True)
    model.peft_config[
        "default"
    ].base_model_name_or_path = config.base_model  # a name, not this machine's path
    model.save_pretrained(str(output))
    (output / "README.md").unlink(missing_ok=True)  # peft's template names this machine's paths
    result = ReaderTrainResult(
        config=config,
        history=history,
        best_epoch=best[1],
        dev=best[3],
        examples={
            f"{split}/{origin}/{'answer' if answerable else 'no-answer'}": sum(
                e.split == split and e.origin == origin and (e.answer_start is not None) == answerable
                for e in examples
            )
            for split in ("train", "dev")
            for origin in sorted({e.origin for e in examples})
            for answerable in (True, False)
        },
        seconds=time.perf_counter() - started,
    )
    ReaderInfo(
        base_model=config.base_model,
        max_length=config.max_length,
        stride=config.stride,
        calibration=best[3].calibration,
        training=result.summary(),
    ).save(output)
    return result
