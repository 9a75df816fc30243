"""Choose the local answer model by measurement: XQuAD dev questions with their gold paragraph.

Each question gets three numbered sources (its own paragraph and two from other articles, in a
seeded random order) in the product's exact prompt; every candidate model answers greedily. The
table reports exact match, token F1, answer containment, citation precision (the answer cites the
gold source), refusals and time per answer. Run: `python -m bench.generator_choice [--n 40]`.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from langchain_core.documents import Document
from langchain_core.output_parsers import StrOutputParser

from eval.answer_metrics import contains_answer, exact_match, token_f1
from eval.questions import load_squad_questions
from rag.core.answer import SourceRef, resolve_citations
from rag.core.datafiles import XQUAD_FILE
from rag.core.prompting import PROMPT, REFUSAL, format_sources
from rag.core.settings import get_settings
from rag.generation import make_chat_model

CANDIDATES = ("qwen2.5-coder-0.5b-instruct", "smollm2-135m-instruct")


def _paragraphs(path: Path) -> dict[str, str]:
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    return {f"{a['title']}#{i}": p["context"] for a in data for i, p in enumerate(a["paragraphs"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--models", default=",".join(CANDIDATES))
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    settings = get_settings()
    path = settings.resolved_data_dir / XQUAD_FILE
    paragraphs = _paragraphs(path)
    rng = random.Random(42)
    questions = rng.sample(load_squad_questions(path).questions, args.n)
    results: dict[str, dict[str, float]] = {}
    for model in args.models.split(","):
        chain = PROMPT | make_chat_model(settings.model_copy(update={"generator_model": model}), "local")
        chain = chain | StrOutputParser()
        rows = []
        for q in questions:
            gold = q.gold_ids[0]
            title = gold.split("#")[0]
            others = [k for k in paragraphs if not k.startswith(title + "#")]
            ids = [gold, *rng.sample(others, 2)]
            random.Random(q.qid).shuffle(ids)
            docs = [
                Document(page_content=paragraphs[i], metadata={"title": i.split("#")[0], "source": "xquad"})
                for i in ids
            ]
            started = time.perf_counter()
            text = chain.invoke({"question": q.question, "context": format_sources(docs)})
            seconds = time.perf_counter() - started
            refs = [
                SourceRef(number=n, article_id=i, source="xquad", title="", score=0.0, passage="")
                for n, i in enumerate(ids, start=1)
            ]
            text, cited = resolve_citations(text, refs)
            rows.append(
                {
                    "em": exact_match(text, q.answer or ""),
                    "f1": token_f1(text, q.answer or ""),
                    "contains": contains_answer(text, q.answer or ""),
                    "cites_gold": float(any(c.article_id == gold for c in cited)) if cited else 0.0,
                    "cites_any": float(bool(cited)),
                    "refused": float(REFUSAL.rstrip(".") in text),
                    "seconds": seconds,
                }
            )
        results[model] = {k: sum(r[k] for r in rows) / len(rows) for k in rows[0]}
        print(model, {k: round(v, 3) for k, v in results[model].items()}, flush=True)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps({"n": args.n, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
