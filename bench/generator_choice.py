"""Choose the local answer model by measurement: XQuAD dev questions with their gold paragraph.

Each question gets numbered sources (its own paragraph and others from other articles, in a seeded
random order; three by default) in the product's exact prompt, each shortened to the question's
sentences as the product does (the ``source_chars`` setting, ``--source-chars 0`` keeps whole
paragraphs); every candidate model answers greedily. The
table reports exact match, token F1, answer containment, citation precision (the answer cites the
gold source), refusals and time per answer.
Run: `python -m bench.generator_choice [--n 40] [--sources 3] [--source-chars 450]`.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path

from langchain_core.documents import Document
from langchain_core.output_parsers import StrOutputParser

from eval.answer_metrics import contains_answer, exact_match, token_f1
from eval.questions import load_squad_questions
from rag.core.answer import SourceRef, resolve_citations
from rag.core.datafiles import XQUAD_FILE
from rag.core.prompting import PROMPT, REFUSAL, format_sources
from rag.core.settings import Settings, get_settings
from rag.generation import make_chat_model
from rag.retrieval.passages import focus_passage

CANDIDATES = ("qwen2.5-coder-0.5b-instruct", "smollm2-135m-instruct")


def _paragraphs(path: Path) -> dict[str, str]:
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    return {f"{a['title']}#{i}": p["context"] for a in data for i, p in enumerate(a["paragraphs"])}


@dataclass(frozen=True)
class DevCase:
    """One XQuAD dev question with its three sources in prompt order; ``ids[gold_index]`` is gold."""

    question: str
    answer: str
    ids: tuple[str, ...]
    gold: str
    documents: tuple[Document, ...]

    @property
    def inputs(self) -> dict[str, str]:
        """The product prompt's variables (``PROMPT | chat_model``)."""
        return {"question": self.question, "context": format_sources(self.documents)}


def dev_cases(n: int, seed: int = 42, *, sources: int = 3, source_chars: int | None = None) -> list[DevCase]:
    """``n`` seeded dev questions, each with its gold paragraph and ``sources - 1`` from other articles.

    ``source_chars`` shortens every paragraph as the product does (``focus_passage``, the
    ``source_chars`` setting); None keeps whole paragraphs.
    """
    path = get_settings().resolved_data_dir / XQUAD_FILE
    paragraphs = _paragraphs(path)
    rng = random.Random(seed)
    cases = []
    for q in rng.sample(load_squad_questions(path).questions, n):
        gold = q.gold_ids[0]
        title = gold.split("#")[0]
        others = [k for k in paragraphs if not k.startswith(title + "#")]
        ids = [gold, *rng.sample(others, sources - 1)]
        random.Random(q.qid).shuffle(ids)
        docs = tuple(
            Document(
                page_content=focus_passage(paragraphs[i], q.question, source_chars),
                metadata={"title": i.split("#")[0], "source": "xquad"},
            )
            for i in ids
        )
        cases.append(DevCase(q.question, q.answer or "", tuple(ids), gold, docs))
    return cases


def add_source_chars_argument(parser: argparse.ArgumentParser) -> None:
    """``--source-chars``: shared by the benchmarks that build dev prompts."""
    parser.add_argument(
        "--source-chars",
        type=int,
        default=None,
        help="characters per source (default: the source_chars setting, as the product; 0: whole)",
    )


def source_chars_from(args: argparse.Namespace, settings: Settings) -> int | None:
    """The character budget per source the product would use, or the one asked for; None: whole."""
    chars = settings.source_chars if args.source_chars is None else args.source_chars
    return chars or None


def score(case: DevCase, text: str) -> dict[str, float]:
    """Answer metrics of one answer: EM, token F1, containment, citations, refusal."""
    refs = [
        SourceRef(number=n, article_id=i, source="xquad", title="", score=0.0, passage="")
        for n, i in enumerate(case.ids, start=1)
    ]
    text, cited = resolve_citations(text, refs)
    return {
        "em": exact_match(text, case.answer),
        "f1": token_f1(text, case.answer),
        "contains": contains_answer(text, case.answer),
        "cites_gold": float(any(c.article_id == case.gold for c in cited)) if cited else 0.0,
        "cites_any": float(bool(cited)),
        "refused": float(REFUSAL.rstrip(".") in text),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--models", default=",".join(CANDIDATES))
    parser.add_argument("--sources", type=int, default=None, help="default: the answer_sources setting")
    add_source_chars_argument(parser)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    settings = get_settings()
    sources = args.sources or settings.answer_sources
    source_chars = source_chars_from(args, settings)
    print(f"{args.n} questions, {sources} sources of {source_chars or 'all'} characters", flush=True)
    cases = dev_cases(args.n, sources=sources, source_chars=source_chars)
    results: dict[str, dict[str, float]] = {}
    for model in args.models.split(","):
        chain = PROMPT | make_chat_model(settings.model_copy(update={"generator_model": model}), "local")
        chain = chain | StrOutputParser()
        rows = []
        for case in cases:
            started = time.perf_counter()
            text = chain.invoke(case.inputs)
            rows.append(score(case, text) | {"seconds": time.perf_counter() - started})
        results[model] = {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]}
        print(model, {k: round(v, 3) for k, v in results[model].items()}, flush=True)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        report = {"n": args.n, "sources": sources, "source_chars": source_chars, "results": results}
        args.output.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
