"""Run the frozen lower layers of the encoder once and keep their output.

Why: on the two shared CPU cores here one pass of all twelve E5 layers over the 11k headlines takes
many minutes, and the LoRA adapters sit only in the top layers. Everything below the first adapted
layer is frozen and runs without dropout, so its output for a headline never changes: computing it
once and training only the top layers on it gives the same model as running the full network every
step, at a fraction of the cost. The same pass yields the frozen sentence embeddings (mean-pooled
last layer, as E5 was trained) for the frozen-embedding baseline.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm
from transformers import BertForSequenceClassification, BertModel, PreTrainedTokenizerBase

from rag.engagement.neighbours import mean_pool
from rag.engagement.predictor import QUERY_PREFIX, tokenize


class _Passthrough(nn.Module):
    """Stands in for the embedding layer when the input already is a hidden state."""

    def forward(self, inputs_embeds: torch.Tensor, **_: object) -> torch.Tensor:
        return inputs_embeds


@contextmanager
def layer_range(bert: BertModel, start: int, stop: int, *, from_hidden: bool) -> Iterator[BertModel]:
    """Temporarily make ``bert`` run only layers ``start:stop``, optionally fed hidden states.

    The layers are the model's own modules (adapters included), so training through this view trains
    the real model; the original embedding layer and layer list come back on exit.
    """
    layers, embeddings = bert.encoder.layer, bert.embeddings
    bert.encoder.layer = nn.ModuleList(list(layers)[start:stop])
    if from_hidden:
        bert.embeddings = _Passthrough()
    try:
        yield bert
    finally:
        bert.encoder.layer, bert.embeddings = layers, embeddings


@dataclass
class EncodedHeadlines:
    """Per headline: the hidden states entering layer ``start`` and the frozen sentence embedding."""

    start: int
    hidden: list[torch.Tensor]  # one (tokens, hidden) tensor per headline, no padding
    embeddings: torch.Tensor  # (headlines, hidden), mean-pooled last layer, L2-normalized
    seconds: float  # what the pass took when it was computed (a cached pass reports that run's time)

    def batch(self, rows: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Padded hidden states and the attention mask for the given rows."""
        width = max(self.hidden[i].shape[0] for i in rows)
        states = torch.zeros(len(rows), width, self.hidden[rows[0]].shape[1])
        mask = torch.zeros(len(rows), width, dtype=torch.long)
        for j, i in enumerate(rows):
            n = self.hidden[i].shape[0]
            states[j, :n] = self.hidden[i]
            mask[j, :n] = 1
        return states, mask


@torch.inference_mode()
def encode_headlines(
    model: BertForSequenceClassification,
    tokenizer: PreTrainedTokenizerBase,
    headlines: Sequence[str],
    *,
    start: int,
    max_length: int,
    batch_size: int = 64,
    show_progress: bool = True,
) -> EncodedHeadlines:
    """One frozen pass over ``headlines`` (the base model, before any adapter is added)."""
    started = time.perf_counter()
    model.eval()
    device = next(model.parameters()).device
    bert, n_layers = model.bert, model.config.num_hidden_layers
    order = sorted(range(len(headlines)), key=lambda i: len(headlines[i]))  # less padding
    hidden: list[torch.Tensor | None] = [None] * len(headlines)
    pooled = torch.zeros(len(headlines), model.config.hidden_size)
    for first in tqdm(range(0, len(order), batch_size), desc="E5 frozen pass", disable=not show_progress):
        rows = order[first : first + batch_size]
        enc = tokenize(tokenizer, [headlines[i] for i in rows], max_length).to(device)
        with layer_range(bert, 0, start, from_hidden=False) as lower:
            low = lower(**enc).last_hidden_state
        with layer_range(bert, start, n_layers, from_hidden=True) as upper:
            top = upper(inputs_embeds=low, attention_mask=enc["attention_mask"]).last_hidden_state
        pooled[rows] = mean_pool(top, enc["attention_mask"]).cpu()
        lengths = enc["attention_mask"].sum(1).tolist()
        for j, i in enumerate(rows):
            hidden[i] = low[j, : lengths[j]].float().cpu().clone()
    return EncodedHeadlines(
        start, [h for h in hidden if h is not None], pooled, time.perf_counter() - started
    )


def cache_key(model_folder: str, headlines: Sequence[str], start: int, max_length: int) -> str:
    """Content hash of everything that determines the frozen pass."""
    digest = hashlib.sha256()
    manifest = Path(model_folder) / "manifest.json"
    identity = manifest.read_text(encoding="utf-8") if manifest.exists() else model_folder
    digest.update(json.dumps([identity, start, max_length, QUERY_PREFIX]).encode())
    for text in headlines:
        digest.update(text.encode("utf-8") + b"\0")
    return digest.hexdigest()[:16]


def cached_encode(
    cache_dir: Path,
    model_folder: str,
    model: BertForSequenceClassification,
    tokenizer: PreTrainedTokenizerBase,
    headlines: Sequence[str],
    *,
    start: int,
    max_length: int,
    show_progress: bool = True,
) -> EncodedHeadlines:
    """``encode_headlines`` with a file cache, so the report and both splits share one pass."""
    path = cache_dir / f"frozen-{cache_key(model_folder, headlines, start, max_length)}.pt"
    if path.exists():
        stored = torch.load(path, weights_only=True)
        return EncodedHeadlines(start, list(stored["hidden"]), stored["embeddings"], float(stored["seconds"]))
    encoded = encode_headlines(
        model, tokenizer, headlines, start=start, max_length=max_length, show_progress=show_progress
    )
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".tmp")
    torch.save(
        {"hidden": encoded.hidden, "embeddings": encoded.embeddings, "seconds": encoded.seconds}, partial
    )
    partial.replace(path)
    return encoded
