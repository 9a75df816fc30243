"""The reader's artifact and its inputs: base encoder + LoRA adapter + span head, and windows.

Why the classifier's shape: the reader is the provisioned E5 encoder with a LoRA adapter in its top
layers and a new span head (``qa_outputs``: a start and an end logit per token), saved as a few MB
under ``finetune/artifacts/reader`` and merged into the base weights once at load time. Training
and serving build the encoder's input with ``encode_windows`` so both see the same windows.
"""

from __future__ import annotations

import ctypes
import gc
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import (
    AutoModelForQuestionAnswering,
    AutoTokenizer,
    BatchEncoding,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)
from transformers.utils import logging as transformers_logging

from rag.models.adapters import merged
from rag.models.resolve import resolve_model

INFO_FILE = "reader.json"
ADAPTER_FILE = "adapter_model.safetensors"
QUERY_PREFIX = "query: "  # E5's prefix for the question side; the passage goes in unprefixed
HEADLINE_CHARS = 200
"""Longest passage read and scaled as a headline: heise headlines run to ~120 characters, XQuAD
paragraphs and 10kGNAD chunks start at several hundred."""


@dataclass(frozen=True)
class Calibration:
    """Platt scaling of the margin: P(the span is the answer) = sigmoid(slope * margin + bias).

    Passages of at most ``headline_chars`` characters (a headline alone) get their own scaling when
    ``headline_slope``/``headline_bias`` are set. Why: the reader's margins on heise headlines lie
    far below those on paragraphs for answers that are right about as often (heise dev: -14 to -1
    with 31 % contained; XQuAD paragraphs centre at +8), so one scaling called every headline answer
    wrong (confidence < 0.01). Both scalings are fitted on the dev answers by
    `heise-rag train reader-calibration`.
    """

    slope: float = 1.0
    bias: float = 0.0
    headline_chars: int = 0
    headline_slope: float | None = None
    headline_bias: float | None = None

    def probability(self, margin: float, passage_chars: int | None = None) -> float:
        slope, bias = self.slope, self.bias
        headline = passage_chars is not None and passage_chars <= self.headline_chars
        if headline and self.headline_slope is not None and self.headline_bias is not None:
            slope, bias = self.headline_slope, self.headline_bias
        return float(torch.sigmoid(torch.tensor(slope * margin + bias)))


@dataclass(frozen=True)
class ReaderInfo:
    """What serving needs beside the adapter, stored as ``reader.json`` in the artifact."""

    base_model: str
    max_length: int
    stride: int
    calibration: Calibration = field(default_factory=Calibration)
    training: dict[str, Any] = field(default_factory=dict)

    def save(self, folder: Path) -> None:
        (folder / INFO_FILE).write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> ReaderInfo:
        path = folder / INFO_FILE
        if not path.exists() or not (folder / ADAPTER_FILE).exists():
            raise FileNotFoundError(
                f"Kein Leser-Modell in {folder} (erwartet {INFO_FILE} und {ADAPTER_FILE}); "
                "mit `heise-rag train reader` trainieren oder HEISE_RAG_READER_MODEL setzen."
            )
        raw = json.loads(path.read_text(encoding="utf-8"))
        return cls(**{**raw, "calibration": Calibration(**raw.get("calibration", {}))})


def base_reader(base_folder: str) -> PreTrainedModel:
    """The base encoder with a new span head; the load report naming the head as missing is silenced."""
    level = transformers_logging.get_verbosity()
    transformers_logging.set_verbosity_error()
    try:
        return AutoModelForQuestionAnswering.from_pretrained(base_folder)
    finally:
        transformers_logging.set_verbosity(level)


def load_reader(
    folder: Path, model_cache_dir: Path, device: str = "cpu", dtype: torch.dtype = torch.float32
) -> tuple[torch.nn.Module, PreTrainedTokenizerBase, ReaderInfo]:
    """Base + adapter + head from ``folder``, merged into one plain model in eval mode."""
    info = ReaderInfo.load(folder)
    base_folder = resolve_model(info.base_model, model_cache_dir)
    model = merged(base_reader(base_folder), folder)
    return model.to(device=device, dtype=dtype).eval(), AutoTokenizer.from_pretrained(base_folder), info


def adapted_modules(folder: Path) -> set[str]:
    """Names of the base modules the adapter in ``folder`` changes: its LoRA targets and saved heads.

    Read from the adapter file's tensor names (``base_model.model.<module>.lora_A.weight``,
    ``base_model.model.<module>.weight``), so nothing of the base model has to be compared.
    """
    from safetensors import safe_open

    with safe_open(str(folder / ADAPTER_FILE), "pt") as tensors:
        keys = list(tensors.keys())
    names = set()
    for key in keys:
        name = key.removeprefix("base_model.model.")
        names.add(name.split(".lora_")[0] if ".lora_" in name else name.rpartition(".")[0])
    return names


def share_unchanged(model: torch.nn.Module, like: torch.nn.Module, adapted: set[str]) -> None:
    """Point ``model``'s parameters outside the ``adapted`` modules at ``like``'s tensors.

    ``adapted`` names the modules either adapter changed: a module only ``like``'s adapter merged
    into differs as much as one of ``model``'s own.

    Why: two readers on one base differ only in their adapted top layers and span heads; the
    embeddings (96 M of E5-small's 118 M weights) and the layers below the adapters would otherwise
    sit in memory twice. Why by name and not by comparing values: comparing reads every page of
    the memory-mapped embedding, which then counts as resident (~400 MB for E5-small).
    """
    reference = dict(like.named_parameters())
    for name, param in list(model.named_parameters()):
        owner, _, attribute = name.rpartition(".")
        other = reference.get(name)
        if owner not in adapted and other is not None and other.shape == param.shape:
            setattr(model.get_submodule(owner), attribute, other)
        else:  # its own copy: a view would keep the second load's memory-mapped weight file open
            param.data = param.data.clone()


def release_freed_memory() -> None:
    """Hand the heap memory freed by ``share_unchanged`` back to the operating system (glibc only).

    Why: the second load converts the whole base to the inference dtype before its tensors are
    replaced by the first reader's; glibc keeps those freed blocks in its heap, so without the trim
    the process stays ~250 MB larger although the tensors are shared (measured: bf16, both readers
    after three reads, 1,272 MiB without, 1,020 MiB with; the reader alone 995 MiB). Elsewhere (musl,
    macOS) there is no ``malloc_trim`` and nothing to do.
    """
    gc.collect()  # the second load's merged adapter wrapper is a reference cycle: free it first
    try:
        libc = ctypes.CDLL(None)
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)


def encode_windows(
    tokenizer: PreTrainedTokenizerBase,
    question: str,
    passages: Sequence[str],
    *,
    max_length: int,
    stride: int,
) -> BatchEncoding:
    """Question + passage pairs, long passages split into overlapping windows.

    ``overflow_to_sample_mapping`` names each window's passage; ``offset_mapping`` holds character
    offsets into the passage for passage tokens and None for everything else (question, specials).
    """
    enc = tokenizer(
        [QUERY_PREFIX + question] * len(passages),
        list(passages),
        truncation="only_second",
        max_length=max_length,
        stride=stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding=True,
        return_tensors="pt",
    )
    enc["offset_mapping"] = [
        [tuple(o) if enc.sequence_ids(w)[t] == 1 else None for t, o in enumerate(window.tolist())]
        for w, window in enumerate(enc["offset_mapping"])
    ]
    return enc
