"""Cross-encoder reranking of retrieved articles, as a LangChain document compressor.

Why a cross-encoder last: it reads question and passage together, which fixes the small
bi-encoder's ranking mistakes; it is too slow for the whole index, so it only sees the top
candidates of the hybrid search.

Why slim artifacts are assembled: the project's own reranker (finetune/artifacts/reranker) is a
truncated E5 encoder whose word embeddings were frozen during training, so the repository keeps only
the trained layers and the head (``reranker.json`` names the base model). The 96M-parameter
embedding matrix and the tokenizer come from the provisioned base model; the complete folder is
written once into the model cache, keyed by the artifact's checksum, and loaded like any other.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import torch
from langchain_core.callbacks import Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document
from pydantic import ConfigDict
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from sentence_transformers import CrossEncoder

from rag.engagement.predictor import inference_dtype
from rag.models.int8 import dequantize
from rag.models.resolve import resolve_model
from rag.retrieval.passages import focus_passage

SLIM_SPEC = "reranker.json"
WEIGHTS = "model.safetensors"
WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
ASSEMBLED_DIR = "assembled"


def passage_text(title: str, text: str) -> str:
    """What the cross-encoder reads of one candidate: the title line, then the passage.

    Headline-only articles store the title as their text, and the first chunk of a 10kGNAD article
    opens with its lead (its title), so the title is not repeated then. Training renders passages with
    this same function, so the model sees at inference exactly the layout it learnt.
    """
    title, text = title.strip(), text.strip()
    if not title or text.startswith(title):
        return text or title
    return f"{title}\n{text}"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def assemble_slim(folder: Path, cache_dir: Path) -> Path:
    """The complete model folder for a slim artifact, built once into ``cache_dir/assembled``.

    A concurrent builder loses the final rename harmlessly: both wrote the same files.
    """
    spec = json.loads((folder / SLIM_SPEC).read_text(encoding="utf-8"))
    key = _digest(folder / WEIGHTS) + _digest(folder / SLIM_SPEC)[:4]
    target = cache_dir / ASSEMBLED_DIR / f"{spec['name']}-{key}"
    if (target / WEIGHTS).is_file():
        return target
    base = Path(resolve_model(spec["base_model"], cache_dir))
    staging = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for item in folder.iterdir():
        if item.is_dir():  # pooling and head modules
            shutil.copytree(item, staging / item.name)
        elif item.suffix == ".json" and item.name != SLIM_SPEC:
            shutil.copy2(item, staging / item.name)
    for name in TOKENIZER_FILES:
        if (base / name).is_file():
            shutil.copy2(base / name, staging / name)
    tensors = dequantize(load_file(folder / WEIGHTS))
    with safe_open(base / WEIGHTS, framework="pt") as weights:
        embeddings = weights.get_tensor(spec.get("base_tensor", WORD_EMBEDDINGS)).float()
    if list(embeddings.shape) != spec["word_embeddings_shape"]:
        shutil.rmtree(staging)
        raise ValueError(
            f"base model {spec['base_model']!r} has word embeddings {list(embeddings.shape)}, the reranker "
            f"was trained on {spec['word_embeddings_shape']}"
        )
    tensors[WORD_EMBEDDINGS] = embeddings
    save_file(tensors, staging / WEIGHTS, metadata={"format": "pt"})
    try:
        staging.rename(target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def reranker_folder(model: str, cache_dir: Path) -> str:
    """A folder (or hub id) CrossEncoder loads: slim artifacts are assembled, the rest pass through."""
    resolved = resolve_model(model, cache_dir)
    folder = Path(resolved)
    if (folder / SLIM_SPEC).is_file():
        return str(assemble_slim(folder, cache_dir))
    return resolved


def slim_spec(model: str, cache_dir: Path) -> dict[str, object]:
    """The ``reranker.json`` of a slim artifact (how it was trained); empty for other models."""
    spec_file = Path(resolve_model(model, cache_dir)) / SLIM_SPEC
    return json.loads(spec_file.read_text(encoding="utf-8")) if spec_file.is_file() else {}


def load_cross_encoder(
    model: str, cache_dir: Path, device: str = "cpu", max_length: int | None = None, dtype: str = "auto"
) -> CrossEncoder:
    """A CrossEncoder for a model setting; ``max_length`` defaults to the one a slim artifact was
    trained with (256 for other models).

    ``dtype="auto"`` runs bfloat16 on CPUs with native bf16 (about half the time, same ranking).
    """
    folder = reranker_folder(model, cache_dir)
    if max_length is None:
        max_length = int(slim_spec(model, cache_dir).get("max_length", 256))  # type: ignore[call-overload]
    torch_dtype: torch.dtype = inference_dtype(dtype, device)
    return CrossEncoder(folder, device=device, max_length=max_length, model_kwargs={"dtype": torch_dtype})


RRF_K = 60  # the usual reciprocal-rank-fusion constant (Cormack et al. 2009), as in the hybrid search


def fused_order(scores: Sequence[float], first_stage_weight: float) -> list[int]:
    """Indices of candidates (given in first-stage order) by weighted reciprocal-rank fusion of the
    first-stage rank and the cross-encoder's rank; weight 0 is the cross-encoder's order alone.

    Why fuse: a small reranker trained on proxy tasks has blind spots the first stage does not share
    (the first one shipped here preferred long passages); fusing the two orders keeps a candidate
    both rank highly on top and bounds the damage of either. Ties keep the first-stage order.
    """
    by_score = sorted(range(len(scores)), key=lambda i: -float(scores[i]))
    rerank_rank = {index: rank for rank, index in enumerate(by_score)}
    fused = [
        first_stage_weight / (RRF_K + i + 1) + 1 / (RRF_K + rerank_rank[i] + 1) for i in range(len(scores))
    ]
    return sorted(range(len(scores)), key=lambda i: (-fused[i], i))


class CrossEncoderReranker(BaseDocumentCompressor):
    """Scores (question, title + passage) pairs and keeps the ``top_n`` best documents, ordered by the
    fusion of the first-stage order and the scores (``first_stage_weight``; 0: the scores alone)."""

    model_config = ConfigDict(arbitrary_types_allowed=True, ignored_types=(cached_property,))

    model_name: str
    cache_dir: Path
    device: str = "cpu"
    top_n: int = 5
    max_length: int | None = None
    batch_size: int = 32
    dtype: str = "auto"
    first_stage_weight: float = 1.0

    @cached_property
    def model(self) -> CrossEncoder:
        return load_cross_encoder(self.model_name, self.cache_dir, self.device, self.max_length, self.dtype)

    @cached_property
    def focus_chars(self) -> int | None:
        """Characters of each candidate the model reads: its most question-like sentences, in their
        order (``rag.retrieval.passages.focus_passage``), as the artifact was trained; None: the
        passage start."""
        value = slim_spec(self.model_name, self.cache_dir).get("focus_chars")
        return int(value) if isinstance(value, int) else None

    def compress_documents(
        self, documents: Sequence[Document], query: str, callbacks: Callbacks | None = None
    ) -> Sequence[Document]:
        if not documents:
            return []
        pairs = [
            (
                query,
                focus_passage(
                    passage_text(d.metadata.get("title", ""), d.page_content), query, self.focus_chars
                ),
            )
            for d in documents
        ]
        scores = self.model.predict(pairs, batch_size=self.batch_size, show_progress_bar=False)
        order = fused_order([float(s) for s in scores], self.first_stage_weight)
        return [
            Document(
                page_content=documents[i].page_content,
                metadata=documents[i].metadata | {"rerank_score": float(scores[i])},
            )
            for i in order[: self.top_n]
        ]
