"""The retrieval modes: the one list the settings, the pipeline, the CLI, the app and evaluation read.

Why in the core: the settings validate ``retrieval_mode`` against it and the app draws its choices
from it, both without importing the search code (which loads Qdrant and the encoder).
"""

from __future__ import annotations

from typing import Literal, get_args

# auto: dense or hybrid per question, hybrid when the best BM25 score stands out of the sparse list
# (rag/retrieval/search.py; bench/fusion.py measured it).
Mode = Literal["dense", "sparse", "hybrid", "auto"]
MODES: tuple[Mode, ...] = get_args(Mode)
# How hybrid search merges the dense and the sparse list (Qdrant's distribution-based score fusion
# or reciprocal rank fusion).
Fusion = Literal["dbsf", "rrf"]
# Evaluation also scores a mode followed by the cross-encoder: "<mode>+rerank".
RERANK_SUFFIX = "rerank"
EVAL_MODES: tuple[str, ...] = (*MODES, f"hybrid+{RERANK_SUFFIX}")
# How the answer is written from the sources (``rag/pipelines/evidence.py``).
AnswerMode = Literal["extractive", "evidence", "generate"]
ANSWER_MODES: tuple[AnswerMode, ...] = get_args(AnswerMode)
# Which source's span answers (``rag/pipelines/evidence.py``, ``order_readings``).
ReaderChoice = Literal["margin", "first", "rank"]
# The runtimes of the `local` backend and `serve tgi` (``rag/generation/engine.py``): transformers,
# or an optimized engine that runs a copy `models provision` builds (``rag/models/engine_copies.py``).
GeneratorEngine = Literal["transformers", "onnx-int8", "onnx-int4", "openvino-int8"]
GENERATOR_ENGINES: tuple[GeneratorEngine, ...] = get_args(GeneratorEngine)
