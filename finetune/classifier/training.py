"""Fine-tune the E5 encoder as a sequence classifier with LoRA: the workshop's loop, done well.

The loop: tokenized headlines with attention masks, AdamW, linear warm-up then linear decay, gradient
clipping, one evaluation pass on the development set per epoch, early stopping on development loss
(the best epoch's weights are kept), fixed seeds, a tqdm bar and a per-epoch history for the curve.

What is trained: LoRA adapters in the attention and feed-forward projections of the top
``top_layers`` encoder layers, plus the pooler and the classification head (both new). Everything
else is frozen, so the layers below run once (``encoder_cache``) and only the top layers run per
step. The saved artifact holds only adapters, pooler and head: a few MB.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from peft import LoraConfig, PeftModel, get_peft_model
from tqdm import tqdm
from transformers import AutoTokenizer, get_linear_schedule_with_warmup

from eval.classifier_metrics import ClassifierMetrics, evaluate, fit_temperature, log_loss
from finetune.classifier.config import TrainConfig
from finetune.classifier.data import HeadlineSplit, SplitName, make_split
from finetune.classifier.encoder_cache import EncodedHeadlines, cached_encode, layer_range
from rag.engagement.blend import Blend, EncoderScores, member_log_odds
from rag.engagement.lexical import LEXICAL_FILE, LexicalModel
from rag.engagement.neighbours import NEIGHBOURS_FILE, NeighbourVote, mean_pool
from rag.engagement.predictor import ClassifierInfo, base_classifier, load_classifier
from rag.models.resolve import resolve_model

# Adapter, pooler and head are saved in bfloat16: half the size of float32 (a soup's adapter has the
# members' summed rank), and the predictor serves bfloat16 weights on CPUs that support them anyway.
STORED_DTYPE = torch.bfloat16
LORA_TARGETS = (
    r"attention\.self\.(query|key|value)|attention\.output\.dense|intermediate\.dense|output\.dense"
)


@dataclass
class EpochRecord:
    epoch: int
    train_loss: float
    train_accuracy: float
    dev_loss: float
    dev_accuracy: float
    seconds: float
    member: int = 0  # which member of a soup (``TrainConfig.soup``)


@dataclass
class TrainResult:
    """Everything the model card and the report need about one training run."""

    split: SplitName
    config: TrainConfig
    history: list[EpochRecord]
    best_epochs: list[int]  # per member: the epoch with the lowest dev loss, whose weights are kept
    temperature: float
    test: ClassifierMetrics
    scores: dict[str, EncoderScores]  # the kept epoch's, for the split's "train", "dev" and "test" rows
    seconds: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, object]:
        return {
            "split": self.split,
            "config": asdict(self.config),
            "history": [asdict(r) for r in self.history],
            "best_epochs": self.best_epochs,
            "temperature": self.temperature,
            "test": self.test.as_dict(),
            "seconds": self.seconds,
        }


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def length_grouped_batches(
    lengths: Sequence[int], batch_size: int, rng: np.random.Generator, group: int = 50
) -> Iterator[list[int]]:
    """Shuffled batches of similar length: random order, but little padding (as HF's sampler)."""
    order = rng.permutation(len(lengths))
    batches = []
    for first in range(0, len(order), batch_size * group):
        chunk = sorted(order[first : first + batch_size * group], key=lambda i: lengths[i])
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    for b in rng.permutation(len(batches)):
        yield [int(i) for i in batches[b]]


def build_model(base_folder: str, config: TrainConfig) -> PeftModel:
    """The base encoder as a 2-class sequence classifier with LoRA in its top layers."""
    base = base_classifier(base_folder)
    n_layers = base.config.num_hidden_layers
    if not 1 <= config.top_layers <= n_layers:
        raise ValueError(f"top_layers must be within 1..{n_layers}, got {config.top_layers}")
    layers = "|".join(str(i) for i in range(n_layers - config.top_layers, n_layers))
    lora = LoraConfig(
        task_type="SEQ_CLS",
        r=config.lora_rank,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=rf".*encoder\.layer\.({layers})\.({LORA_TARGETS})",
        modules_to_save=["classifier", "pooler"],
    )
    return get_peft_model(base, lora)


def _top_output(
    model: torch.nn.Module,
    encoded: EncodedHeadlines,
    rows: Sequence[int],
    device: str,
    *,
    hidden: bool = False,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Logits of the top layers fed the cached hidden states (inside ``layer_range``), and with
    ``hidden`` the mean-pooled last layer."""
    states, mask = encoded.batch(rows)
    output = model(
        inputs_embeds=states.to(device), attention_mask=mask.to(device), output_hidden_states=hidden
    )
    pooled = mean_pool(output.hidden_states[-1], mask.to(device)).cpu() if hidden else None
    return output.logits, pooled


@torch.inference_mode()
def top_scores(
    model: torch.nn.Module, encoded: EncodedHeadlines, rows: Sequence[int], device: str, batch_size: int = 128
) -> EncoderScores:
    """Log-odds of "good" and sentence embeddings for ``rows``, in eval mode (inside ``layer_range``)."""
    model.eval()
    logits, pooled = [], []
    for first in range(0, len(rows), batch_size):
        batch_logits, batch_pooled = _top_output(
            model, encoded, rows[first : first + batch_size], device, hidden=True
        )
        logits.append(batch_logits.float().cpu())
        pooled.append(batch_pooled)
    all_logits = torch.cat(logits) if logits else torch.zeros(0, 2)
    width = model.config.hidden_size
    embeddings = torch.cat(pooled).numpy() if pooled else np.zeros((0, width), dtype=np.float32)
    return EncoderScores((all_logits[:, 1] - all_logits[:, 0]).numpy(), embeddings)


def _trainable_state(model: PeftModel) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.named_parameters() if v.requires_grad}


def _epoch(
    model: PeftModel,
    encoded: EncodedHeadlines,
    labels: torch.Tensor,
    rows: list[int],
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    config: TrainConfig,
    rng: np.random.Generator,
    bar: tqdm,
) -> tuple[float, float]:
    """One pass over the training rows; returns mean loss and accuracy (with dropout on)."""
    model.train()
    lengths = [encoded.hidden[i].shape[0] for i in rows]
    loss_sum, correct = 0.0, 0
    loss_fn = torch.nn.CrossEntropyLoss()
    for batch in length_grouped_batches(lengths, config.batch_size, rng):
        picked = [rows[i] for i in batch]
        targets = labels[picked].to(config.device)
        logits, _ = _top_output(model, encoded, picked, config.device)
        loss = loss_fn(logits, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(
            [p for p in model.parameters() if p.requires_grad], config.max_grad_norm
        )
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        loss_sum += loss.item() * len(picked)
        correct += int((logits.argmax(-1) == targets).sum())
        bar.update(len(picked))
        bar.set_postfix(loss=f"{loss.item():.3f}", lr=f"{scheduler.get_last_lr()[0]:.1e}")
    return loss_sum / len(rows), correct / len(rows)


def _train_member(
    split: HeadlineSplit,
    encoded: EncodedHeadlines,
    model: PeftModel,
    config: TrainConfig,
    labels: np.ndarray,
    member: int,
    show_progress: bool,
) -> tuple[list[EpochRecord], int, dict[str, torch.Tensor]]:
    """One run of the loop from the model's current weights, its data order and dropout drawn from
    ``config.seed + member``; returns the epochs' records, the kept epoch and its trainable state."""
    seed = config.seed + member
    seed_everything(seed)
    rng = np.random.default_rng(seed)
    train_rows, dev_rows = split.train.index.tolist(), split.dev.index.tolist()
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.learning_rate, weight_decay=config.weight_decay)
    total_steps = config.epochs * -(-len(train_rows) // config.batch_size)
    scheduler = get_linear_schedule_with_warmup(
        optimizer, round(config.warmup_ratio * total_steps), total_steps
    )
    name = f"member {member + 1}/{config.soup}, " if config.soup > 1 else ""
    history: list[EpochRecord] = []
    best_loss, best_state, best_epoch, waited = float("inf"), _trainable_state(model), 0, 0
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        with tqdm(
            total=len(train_rows), desc=f"{name}epoch {epoch}/{config.epochs}", disable=not show_progress
        ) as bar:
            train_loss, train_acc = _epoch(
                model,
                encoded,
                torch.as_tensor(labels),
                train_rows,
                optimizer,
                scheduler,
                config,
                rng,
                bar,
            )
        dev_odds = top_scores(model, encoded, dev_rows, config.device).log_odds
        dev_labels = labels[dev_rows]
        record = EpochRecord(
            epoch,
            train_loss,
            train_acc,
            dev_loss=log_loss(dev_labels, dev_odds),
            dev_accuracy=float(((dev_odds >= 0) == dev_labels).mean()),
            seconds=time.perf_counter() - started,
            member=member,
        )
        history.append(record)
        if show_progress:
            tqdm.write(
                f"{name}epoch {epoch}: train loss {train_loss:.4f} acc {train_acc:.3f} | "
                f"dev loss {record.dev_loss:.4f} acc {record.dev_accuracy:.3f} ({record.seconds:.0f} s)"
            )
        if record.dev_loss < best_loss:
            best_loss, best_state, best_epoch, waited = record.dev_loss, _trainable_state(model), epoch, 0
        else:
            waited += 1
            if waited >= config.patience:  # no better dev loss for `patience` epochs
                break
    return history, best_epoch, best_state


def _load_trainable(model: PeftModel, state: dict[str, torch.Tensor]) -> None:
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name in state:
                param.copy_(state[name])


def as_stored(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The trained weights as the artifact stores them: rounded to ``STORED_DTYPE``. Scoring the
    rounded weights makes the recorded figures those of the saved files."""
    return {name: value.to(STORED_DTYPE).to(value.dtype) for name, value in state.items()}


def soup_config(config: TrainConfig) -> TrainConfig:
    """The adapter shape that holds a soup of ``config.soup`` members: rank and alpha times the
    member count (the LoRA scale alpha/rank stays the members')."""
    members = config.soup
    return replace(config, lora_rank=config.lora_rank * members, lora_alpha=config.lora_alpha * members)


def soup_state(states: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The uniform soup of members trained from one initialization, as one LoRA adapter of their
    summed rank: A matrices stacked, B matrices side by side and divided by the member count, so
    ``B @ A`` is the mean of the members' ``B_i @ A_i``, i.e. the merged weights are the mean of the
    members' merged weights (a model soup: one model's cost at prediction). Pooler and head, full
    tensors, are averaged. peft's ``add_weighted_adapter(combination_type="cat")`` builds the same
    LoRA matrices but leaves the fully trained modules out."""
    k = len(states)
    soup = {}
    for name in states[0]:
        tensors = [state[name] for state in states]
        if ".lora_A." in name:
            soup[name] = torch.cat(tensors, dim=0)
        elif ".lora_B." in name:
            soup[name] = torch.cat(tensors, dim=1) / k
        else:
            soup[name] = torch.stack(tensors).mean(dim=0)
    return soup


def train_on_split(
    split: HeadlineSplit,
    encoded: EncodedHeadlines,
    model: PeftModel,
    config: TrainConfig,
    *,
    base_folder: str,
    show_progress: bool = True,
) -> tuple[PeftModel, TrainResult]:
    """The training loop proper, on rows of ``encoded`` indexed by the split frames' index:
    ``config.soup`` members from the model's initial weights, then scored and calibrated. Returns
    the trained model (the members' soup when there are several) and the result."""
    labels = np.zeros(len(encoded.hidden), dtype=int)
    for part in (split.train, split.dev, split.test):
        labels[part.index.to_numpy()] = part.label.to_numpy()
    model.to(config.device)
    initial = _trainable_state(model)
    history: list[EpochRecord] = []
    best_epochs, states = [], []
    n_layers = model.config.num_hidden_layers
    with layer_range(model.base_model.model.bert, encoded.start, n_layers, from_hidden=True):
        for member in range(config.soup):
            _load_trainable(model, initial)
            records, best_epoch, state = _train_member(
                split, encoded, model, config, labels, member, show_progress
            )
            history += records
            best_epochs.append(best_epoch)
            states.append(state)
    if config.soup > 1:
        model = build_model(base_folder, soup_config(config)).to(config.device)
    _load_trainable(model, as_stored(soup_state(states) if config.soup > 1 else states[0]))
    with layer_range(model.base_model.model.bert, encoded.start, n_layers, from_hidden=True):
        scores = {
            part: top_scores(model, encoded, rows, config.device) for part, rows in split.rows().items()
        }
    temperature = fit_temperature(labels[split.dev.index.to_numpy()], scores["dev"].log_odds)
    return model, TrainResult(
        split=split.name,
        config=config,
        history=history,
        best_epochs=best_epochs,
        temperature=temperature,
        test=evaluate(split.test.label.to_numpy(), scores["test"].log_odds, temperature),
        scores=scores,
    )


def fine_tune(
    frame: pd.DataFrame,
    split_name: SplitName,
    config: TrainConfig,
    *,
    output: Path,
    model_cache_dir: Path,
    encoder_cache_dir: Path,
    show_progress: bool = True,
    blend: bool = True,
) -> TrainResult:
    """Split, encode (cached), train, calibrate and save adapter + head + ``classifier.json``; with
    ``blend``, add the TF-IDF model and the neighbour vote (``fit_blend``)."""
    frame = frame.reset_index(drop=True)
    split = make_split(frame, split_name)
    base_folder = resolve_model(config.base_model, model_cache_dir)
    seed_everything(config.seed)
    model = build_model(base_folder, config)
    tokenizer = AutoTokenizer.from_pretrained(base_folder)
    start = model.config.num_hidden_layers - config.top_layers
    with model.disable_adapter():
        encoded = cached_encode(
            encoder_cache_dir,
            base_folder,
            model.base_model.model.to(config.device),
            tokenizer,
            frame.headline.tolist(),
            start=start,
            max_length=config.max_length,
            show_progress=show_progress,
        )
    encoded_at = time.perf_counter()
    model, result = train_on_split(
        split, encoded, model, config, base_folder=base_folder, show_progress=show_progress
    )
    training = time.perf_counter() - encoded_at
    result.seconds = {  # a cached frozen pass counts with the time it took when it was computed
        "frozen_pass": encoded.seconds,
        "training": training,
        "total": encoded.seconds + training,
    }
    output.mkdir(parents=True, exist_ok=True)
    model.peft_config["default"].base_model_name_or_path = config.base_model  # not this machine's path
    model.to(STORED_DTYPE)  # values already rounded by `as_stored`; the model is not used after saving
    model.save_pretrained(str(output), save_embedding_layers=False)  # embeddings are frozen: no hub lookup
    (output / "README.md").unlink(missing_ok=True)  # peft's empty template; the card is MODEL_CARD.md
    for stale in (LEXICAL_FILE, NEIGHBOURS_FILE):  # an earlier run's members; fit_blend writes new ones
        (output / stale).unlink(missing_ok=True)
    ClassifierInfo(
        base_model=config.base_model,
        max_length=config.max_length,
        temperature=result.temperature,
        split=split_name,
        training=result.summary(),
    ).save(output)
    if blend:
        fit_blend(output, split, result.scores)
    return result


def fit_blend(folder: Path, split: HeadlineSplit, encoder: dict[str, EncoderScores]) -> ClassifierMetrics:
    """Add the blend members to a saved classifier and fit the blend: TF-IDF + LR fitted on the
    split's training part, the neighbour vote's memory = the training part's embeddings, blend
    weights and a new temperature on the dev part (no member was fitted on it). Writes
    ``lexical.json`` and ``neighbours.safetensors``, updates ``classifier.json`` and returns the
    blend's test metrics.

    Idempotent: the encoder's own temperature stays in ``training``; a rerun fits the same blend."""
    info = ClassifierInfo.load(folder)
    headlines = {part: frame.headline.tolist() for part, frame in split.parts().items()}
    labels = {part: frame.label.to_numpy() for part, frame in split.parts().items()}
    lexical = LexicalModel.fit(headlines["train"], labels["train"], headlines["dev"], labels["dev"])
    neighbours = NeighbourVote.from_embeddings(encoder["train"].embeddings, labels["train"])
    dev, test = (
        member_log_odds(encoder[part], headlines[part], lexical, neighbours) for part in ("dev", "test")
    )
    blend = Blend.fit(dev, labels["dev"])
    temperature = fit_temperature(labels["dev"], blend.combine(dev))
    metrics = evaluate(labels["test"], blend.combine(test), temperature)
    members = {
        name: evaluate(labels["test"], odds, fit_temperature(labels["dev"], dev[name]))
        for name, odds in test.items()
    }
    lexical.save(folder)
    neighbours.save(folder)
    record = {
        "lexical_c": lexical.c,
        "test": metrics.as_dict(),
        "members_test": {m: v.as_dict() for m, v in members.items()},
    }
    training = info.training | {"blend": record}
    replace(info, temperature=temperature, blend=asdict(blend), training=training).save(folder)
    return metrics


def cached_frozen_pass(
    config: TrainConfig,
    headlines: list[str],
    model_cache_dir: Path,
    encoder_cache_dir: Path,
    device: str = "cpu",
    show_progress: bool = False,
) -> EncodedHeadlines:
    """The frozen lower layers' outputs for ``config``'s adapted top layers (computed once, cached)."""
    base_folder = resolve_model(config.base_model, model_cache_dir)
    base = base_classifier(base_folder).to(device)
    return cached_encode(
        encoder_cache_dir,
        base_folder,
        base,
        AutoTokenizer.from_pretrained(base_folder),
        headlines,
        start=base.config.num_hidden_layers - config.top_layers,
        max_length=config.max_length,
        show_progress=show_progress,
    )


def blend_saved(
    folder: Path,
    frame: pd.DataFrame,
    split_name: SplitName,
    *,
    model_cache_dir: Path,
    encoder_cache_dir: Path,
    device: str = "cpu",
) -> tuple[ClassifierMetrics, float]:
    """``fit_blend`` for a classifier trained earlier (its encoder is scored, not retrained); returns
    the blend's test metrics and what the cached frozen pass took when it was computed."""
    frame = frame.reset_index(drop=True)
    info = ClassifierInfo.load(folder)
    split = make_split(frame, split_name)
    config = TrainConfig(**info.training["config"])
    encoded = cached_frozen_pass(config, frame.headline.tolist(), model_cache_dir, encoder_cache_dir, device)
    scores = score_artifact(folder, split, encoded, model_cache_dir, device)
    return fit_blend(folder, split, scores), encoded.seconds


def score_artifact(
    folder: Path,
    split: HeadlineSplit,
    encoded: EncodedHeadlines,
    model_cache_dir: Path,
    device: str = "cpu",
    parts: Sequence[str] = ("train", "dev", "test"),
) -> dict[str, EncoderScores]:
    """A saved classifier's encoder scores for the split's ``parts``, loaded as the predictor loads
    it (adapter merged), its top layers run on the cached frozen layers."""
    model, _, info = load_classifier(folder, model_cache_dir, device)
    n_layers = model.config.num_hidden_layers
    top_layers = int(info.training["config"]["top_layers"])
    if encoded.start != n_layers - top_layers:
        raise ValueError(f"{folder} adapts the top {top_layers} layers; the cache starts at {encoded.start}")
    rows = split.rows()
    with layer_range(model.bert, encoded.start, n_layers, from_hidden=True):
        return {part: top_scores(model, encoded, rows[part], device) for part in parts}
