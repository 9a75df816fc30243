"""ragas metrics: the non-LLM ones always, the LLM-judged ones when a judge endpoint is given.

Why two ragas APIs: the string-based context metrics (`NonLLMContextPrecisionWithReference`,
`NonLLMContextRecall`, `NonLLMStringSimilarity`) exist as classic single-turn metrics run by
`ragas.evaluate`; the judged metrics use ragas 0.4's collections API, which talks to any
OpenAI-compatible endpoint (TGI's Messages API, vLLM, `heise-rag serve tgi`) through instructor
in JSON mode and lets every (question, metric) call fail on its own, so a judge that returns
invalid JSON is counted per question instead of becoming a silent NaN.
"""

from __future__ import annotations

import asyncio
import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

# ragas reports usage to a remote service unless told not to; this project runs offline.
os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")

from ragas import EvaluationDataset, evaluate
from ragas.embeddings.base import BaseRagasEmbedding

# The classic single-turn classes that `evaluate` runs. `ragas.metrics` re-exports them with a
# warning that points to `ragas.metrics.collections`, which has no non-LLM context metrics yet.
from ragas.metrics._context_precision import NonLLMContextPrecisionWithReference
from ragas.metrics._context_recall import NonLLMContextRecall
from ragas.metrics._string import NonLLMStringSimilarity

from rag.models.embeddings import Embedder

NON_LLM_METRICS = (
    "non_llm_context_precision_with_reference",
    "non_llm_context_recall",
    "non_llm_string_similarity",
)
JUDGE_METRICS = ("faithfulness", "answer_relevancy", "context_precision", "context_recall")


@dataclass(frozen=True)
class RagasSample:
    qid: str
    question: str
    response: str
    retrieved_contexts: list[str]
    reference_contexts: list[str]
    reference: str | None


def non_llm_scores(samples: Sequence[RagasSample]) -> dict[str, dict[str, float]]:
    """Per qid: context precision/recall against the gold passages, string similarity to the answer."""
    scores: dict[str, dict[str, float]] = {s.qid: {} for s in samples}
    with_contexts = [s for s in samples if s.retrieved_contexts and s.reference_contexts]
    with_reference = [s for s in samples if s.reference]
    runs: list[tuple[list[RagasSample], list[Any]]] = [
        (with_contexts, [NonLLMContextPrecisionWithReference(), NonLLMContextRecall()]),
        (with_reference, [NonLLMStringSimilarity()]),
    ]
    for subset, metrics in runs:
        if not subset:
            continue
        dataset = EvaluationDataset.from_list(
            [
                {
                    "user_input": s.question,
                    "response": s.response,
                    "retrieved_contexts": s.retrieved_contexts,
                    "reference_contexts": s.reference_contexts,
                    "reference": s.reference or "",
                }
                for s in subset
            ]
        )
        with warnings.catch_warnings():
            # ragas 0.4 marks `evaluate` deprecated, but the non-LLM context metrics exist only there.
            warnings.simplefilter("ignore", DeprecationWarning)
            result = evaluate(dataset, metrics=metrics, show_progress=False, raise_exceptions=True)
        for sample, row in zip(subset, result.scores, strict=True):
            scores[sample.qid].update({k: float(v) for k, v in row.items() if not math.isnan(float(v))})
    return scores


class LocalEmbeddings(BaseRagasEmbedding):
    """The project's bi-encoder as a ragas embedding, so answer relevancy needs no embedding API."""

    def __init__(self, embedder: Embedder) -> None:
        super().__init__()
        self.embedder = embedder

    def embed_text(self, text: str, **kwargs: Any) -> list[float]:
        return self.embedder.encode_query(text).tolist()

    async def aembed_text(self, text: str, **kwargs: Any) -> list[float]:
        return self.embed_text(text)


@dataclass
class JudgeResult:
    scores: dict[str, dict[str, float]]
    failures: dict[str, list[str]] = field(default_factory=dict)


def judge_scores(
    samples: Sequence[RagasSample],
    url: str,
    model: str,
    embedder: Embedder,
    api_key: str | None = None,
    timeout: float = 120.0,
) -> JudgeResult:
    """Faithfulness, answer relevancy, context precision and recall from an LLM judge at ``url``."""
    from openai import AsyncOpenAI
    from ragas.llms import llm_factory
    from ragas.metrics.collections import AnswerRelevancy, ContextPrecision, ContextRecall, Faithfulness

    client = AsyncOpenAI(base_url=url.rstrip("/") + "/v1", api_key=api_key or "none", timeout=timeout)
    llm = llm_factory(model, client=client, temperature=0.0, max_tokens=1024)
    metrics = {
        "faithfulness": Faithfulness(llm=llm),
        "answer_relevancy": AnswerRelevancy(llm=llm, embeddings=LocalEmbeddings(embedder)),
        "context_precision": ContextPrecision(llm=llm),
        "context_recall": ContextRecall(llm=llm),
    }
    result = JudgeResult({s.qid: {} for s in samples}, {name: [] for name in metrics})

    async def one(name: str, sample: RagasSample) -> None:
        if name in ("context_precision", "context_recall") and not sample.reference:
            return
        kwargs: dict[str, Any] = {"user_input": sample.question}
        if name in ("faithfulness", "answer_relevancy"):
            kwargs["response"] = sample.response
        if name != "answer_relevancy":
            kwargs["retrieved_contexts"] = sample.retrieved_contexts
        if name in ("context_precision", "context_recall"):
            kwargs["reference"] = sample.reference
        try:
            value = (await metrics[name].ascore(**kwargs)).value
            if value is None or math.isnan(float(value)):
                raise ValueError("the judge gave no score")
            result.scores[sample.qid][name] = float(value)
        except Exception as exc:  # every judge failure is counted and reported, whatever its kind
            result.failures[name].append(f"{sample.qid}: {type(exc).__name__}: {str(exc)[:200]}")

    async def run_all() -> None:
        for sample in samples:
            for name in metrics:
                await one(name, sample)
        await client.close()

    asyncio.run(run_all())
    return result
