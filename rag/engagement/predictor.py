"""Headline engagement: the probability that a heise headline draws many comments (> 50).

Why this shape: the classifier is the provisioned E5 encoder plus a LoRA adapter and a small head
(a few MB, committed under ``finetune/artifacts``); the predictor loads base, adapter and head once,
merges the adapter into the base weights (no adapter overhead per call), blends the encoder's
log-odds with the artifact's other members (``rag.engagement.blend``: TF-IDF and the vote of the
nearest training headlines, both fed by the same forward pass or none) and applies the temperature
fitted on development data, so the probability it reports is calibrated.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.utils import logging as transformers_logging

from rag.core.settings import Settings
from rag.engagement.blend import LEXICAL, NEIGHBOURS, Blend, EncoderScores, member_log_odds
from rag.engagement.lexical import LexicalModel
from rag.engagement.neighbours import NeighbourVote, mean_pool
from rag.models.adapters import merged
from rag.models.dtypes import inference_dtype
from rag.models.resolve import resolve_model

INFO_FILE = "classifier.json"
ADAPTER_FILE = "adapter_model.safetensors"
QUERY_PREFIX = "query: "  # E5 expects a prefix on every input; "query: " is its choice for classifiers
MAX_HEADLINE_CHARS = 300  # real heise headlines have at most 80; longer input is not a headline
LABEL_GOOD, LABEL_BAD = "good", "bad"


class HeadlineError(ValueError):
    """A headline the classifier cannot judge; the message is German, for the editor."""


def validate_headline(text: object) -> str:
    """The stripped headline, or a HeadlineError saying what is wrong with it."""
    if not isinstance(text, str):
        raise HeadlineError(f"Schlagzeile muss Text sein, nicht {type(text).__name__}")
    headline = " ".join(text.split())
    if not headline:
        raise HeadlineError("Schlagzeile ist leer")
    if len(headline) > MAX_HEADLINE_CHARS:
        raise HeadlineError(
            f"Schlagzeile ist zu lang ({len(headline)} Zeichen, höchstens {MAX_HEADLINE_CHARS}); "
            "heise-Schlagzeilen haben bis zu 80 Zeichen"
        )
    if not any(ch.isalnum() for ch in headline):
        raise HeadlineError("Schlagzeile enthält keine Buchstaben oder Ziffern (nur Emoji/Satzzeichen?)")
    return headline


@dataclass(frozen=True)
class ClassifierInfo:
    """What the predictor needs beside the adapter, stored as ``classifier.json`` in the artifact."""

    base_model: str
    max_length: int
    temperature: float
    split: str
    training: dict[str, Any] = field(default_factory=dict)  # TrainResult.summary() of the run
    # Blend's fields (member weights by name, bias); ``temperature`` then applies to the blended
    # log-odds. None: the encoder alone.
    blend: dict[str, Any] | None = None

    def save(self, folder: Path) -> None:
        (folder / INFO_FILE).write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> ClassifierInfo:
        path = folder / INFO_FILE
        if not path.exists() or not (folder / ADAPTER_FILE).exists():
            raise FileNotFoundError(
                f"no engagement classifier in {folder} (needs {INFO_FILE} and {ADAPTER_FILE}); "
                "train one with `heise-rag train classifier` or set HEISE_RAG_CLASSIFIER_MODEL"
            )
        return cls(**json.loads(path.read_text(encoding="utf-8")))


class BlendMembers(NamedTuple):
    """An artifact's blend and the members it names beside the encoder."""

    blend: Blend
    lexical: LexicalModel | None
    neighbours: NeighbourVote | None


def load_blend(folder: Path, info: ClassifierInfo) -> BlendMembers | None:
    """The blend of the classifier in ``folder`` with its members loaded, or None (encoder alone)."""
    if info.blend is None:
        return None
    blend = Blend(**info.blend)
    lexical = LexicalModel.load(folder) if LEXICAL in blend.weights else None
    neighbours = NeighbourVote.load(folder) if NEIGHBOURS in blend.weights else None
    return BlendMembers(blend, lexical, neighbours)


class Prediction(NamedTuple):
    """Calibrated probability of many comments and the label at the 0.5 threshold."""

    p_many_comments: float
    label: str


def tokenize(
    tokenizer: PreTrainedTokenizerBase, headlines: Sequence[str], max_length: int
) -> dict[str, torch.Tensor]:
    """Padded ids and attention masks with the E5 prefix; training and inference share this."""
    return tokenizer(
        [QUERY_PREFIX + text for text in headlines],
        max_length=max_length,
        truncation=True,
        padding=True,
        return_tensors="pt",
    )


def base_classifier(base_folder: str) -> PreTrainedModel:
    """The base encoder as a 2-class sequence classifier, its pooler and head newly initialized.

    The load report that lists them as missing is silenced: the adapter (or training) brings them.
    """
    level = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()
    try:
        return AutoModelForSequenceClassification.from_pretrained(base_folder, num_labels=2)
    finally:
        transformers_logging.set_verbosity(level)


def load_classifier(
    folder: Path, model_cache_dir: Path, device: str = "cpu", dtype: torch.dtype = torch.float32
) -> tuple[torch.nn.Module, PreTrainedTokenizerBase, ClassifierInfo]:
    """Base encoder + adapter + head from ``folder``, merged into one plain model in eval mode."""
    info = ClassifierInfo.load(folder)
    base_folder = resolve_model(info.base_model, model_cache_dir)
    model = merged(base_classifier(base_folder), folder)
    return model.to(device=device, dtype=dtype).eval(), AutoTokenizer.from_pretrained(base_folder), info


class EngagementPredictor:
    """Loads the classifier once (lazily) and predicts batches of headlines."""

    def __init__(
        self,
        folder: Path,
        *,
        model_cache_dir: Path,
        device: str = "cpu",
        batch_size: int = 64,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.folder = folder
        self._model_cache_dir = model_cache_dir
        self._device = device
        self.batch_size = batch_size
        self.dtype = dtype

    @classmethod
    def from_settings(cls, settings: Settings) -> EngagementPredictor:
        return cls(
            settings.classifier_model,
            model_cache_dir=settings.model_cache_dir,
            device=settings.device,
            batch_size=settings.embed_batch_size,
            dtype=inference_dtype(settings.classifier_dtype, settings.device),
        )

    @cached_property
    def _loaded(self) -> tuple[torch.nn.Module, PreTrainedTokenizerBase, ClassifierInfo]:
        return load_classifier(self.folder, self._model_cache_dir, self._device, self.dtype)

    @cached_property
    def _blend(self) -> BlendMembers | None:
        return load_blend(self.folder, self.info)

    @property
    def info(self) -> ClassifierInfo:
        return self._loaded[2]

    def warm_up(self) -> None:
        """Load the model now rather than on the first prediction."""
        _ = self._loaded, self._blend

    def log_odds(self, headlines: Sequence[str]) -> np.ndarray:
        """Uncalibrated log-odds of "good" for validated headlines: the encoder's, blended with the
        artifact's other members when it has a blend."""
        encoder = self.encoder_scores(headlines)
        if self._blend is None:
            return encoder.log_odds
        blend, lexical, neighbours = self._blend
        return blend.combine(member_log_odds(encoder, headlines, lexical, neighbours))

    @torch.inference_mode()
    def encoder_scores(self, headlines: Sequence[str]) -> EncoderScores:
        """The fine-tuned encoder's log-odds of "good" and sentence embeddings, batched by length."""
        model, tokenizer, info = self._loaded
        order = sorted(range(len(headlines)), key=lambda i: len(headlines[i]))
        scores = np.zeros(len(headlines))
        embeddings = np.zeros((len(headlines), model.config.hidden_size), dtype=np.float32)
        for first in range(0, len(order), self.batch_size):
            rows = order[first : first + self.batch_size]
            batch = tokenize(tokenizer, [headlines[i] for i in rows], info.max_length).to(self._device)
            output = model(**batch, output_hidden_states=True)
            logits = output.logits.float()
            scores[rows] = (logits[:, 1] - logits[:, 0]).cpu().numpy()
            embeddings[rows] = mean_pool(output.hidden_states[-1], batch["attention_mask"]).cpu().numpy()
        return EncoderScores(scores, embeddings)

    def predict(self, headlines: Sequence[str]) -> list[Prediction]:
        """One calibrated prediction per headline; a bad headline raises HeadlineError naming it."""
        cleaned = []
        for number, text in enumerate(headlines, start=1):
            try:
                cleaned.append(validate_headline(text))
            except HeadlineError as exc:
                raise HeadlineError(f"Schlagzeile {number}: {exc}") from None
        if not cleaned:
            return []
        p = 1.0 / (1.0 + np.exp(-self.log_odds(cleaned) / self.info.temperature))
        return [Prediction(float(v), LABEL_GOOD if v >= 0.5 else LABEL_BAD) for v in p]

    def rank(self, headlines: Sequence[str]) -> list[tuple[str, Prediction]]:
        """Alternative headlines for one article, most likely to be discussed first."""
        scored = zip(headlines, self.predict(headlines), strict=True)
        return sorted(scored, key=lambda pair: pair[1].p_many_comments, reverse=True)
