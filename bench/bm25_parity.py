"""BM25 parity: the project's sparse search against a textbook BM25 over the very same chunks.

Why: the sparse side once reached MRR@10 0.64 where a textbook Okapi BM25 over the same chunks with
the same tokenizer reached 0.80 (the collection's avgdl was the headlines' alone). This benchmark
keeps the two comparable: `bm25s` (Lucene's IDF ``ln(1 + (N - n + 0.5) / (n + 0.5))``, which is
Qdrant's, k1 1.2, b 0.75) indexes the chunk texts stored in the collection, tokenized by
`rag.sparse.tokenize`, and both rankings are collapsed to articles (best chunk per article) and
scored on the same questions. Parity: MRR@10 within 0.01 and the same top 10 up to ties (articles
with equal scores may come in either order). The collection's vectors carry the ``avgdl`` they were
encoded with, which may lag the corpus mean by up to 5 % (ingest/sparse_stats.py); after
`heise-rag index reweight-sparse --force` the two agree exactly.

    python -m bench.bm25_parity --collection heise-xquad --output var/bench/bm25_parity.json
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

import bm25s
import numpy as np

from eval.questions import load_question_set
from eval.retrieval_metrics import reciprocal_rank
from rag.core.payload import article_key
from rag.core.settings import get_settings
from rag.models.embeddings import Embedder
from rag.retrieval.search import SearchFilter, make_retriever
from rag.retrieval.sparse import document_text, tokenize
from rag.store.vector_store import VectorStore, open_client

K1, B = 1.2, 0.75


class ReferenceBM25:
    """Textbook Okapi BM25 (Lucene variant) by `bm25s` over tokenized documents.

    A query term counts once, as in the project's query vectors; scores are bm25s's, i.e. the
    project's divided by ``k1 + 1`` (a constant factor that leaves every ranking unchanged).
    """

    def __init__(self, documents: Sequence[list[str]]) -> None:
        """``documents``: the token lists of `rag.sparse.tokenize`, one per chunk."""
        self.index = bm25s.BM25(k1=K1, b=B, method="lucene")
        self.index.index(list(documents), show_progress=False)
        self.n = len(documents)

    def scores(self, query: str) -> np.ndarray:
        vocab = self.index.vocab_dict
        terms = [t for t in dict.fromkeys(tokenize(query)) if t in vocab]
        if not terms:
            return np.zeros(self.n, dtype=np.float32)
        return np.asarray(self.index.get_scores(terms))

    def article_scores(self, query: str, article_of: Sequence[str]) -> dict[str, float]:
        """Each article's best chunk score: the tie-proof yardstick of an article ranking."""
        best: dict[str, float] = {}
        for i in np.flatnonzero(scores := self.scores(query)):
            best[article_of[i]] = max(best.get(article_of[i], 0.0), float(scores[i]))
        return best

    def top(self, query: str, k: int) -> list[tuple[int, float]]:
        """The ``k`` best documents with a positive score, best first, ties by document order."""
        scores = self.scores(query)
        order = np.lexsort((np.arange(self.n), -scores))[:k]
        return [(int(i), float(scores[i])) for i in order if scores[i] > 0]


def best_per_article(keys: Sequence[str], k: int) -> list[str]:
    """The first ``k`` distinct articles of a chunk ranking (the retriever's collapse)."""
    return list(dict.fromkeys(keys))[:k]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--collection", default="heise-xquad")
    parser.add_argument("--squad", type=Path, default=None, help="default: the provisioned XQuAD dev set")
    parser.add_argument("--questions", type=Path, default=None, help="a JSONL question set instead")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    settings = get_settings()
    squad = args.squad or (
        None if args.questions else settings.resolved_data_dir / "xquad-de" / "xquad.de.dev.json"
    )
    questions = load_question_set(args.questions, squad).questions
    client = open_client(settings)
    try:
        store = VectorStore(client, args.collection)
        fields = ["source", "article_id", "title", "text", "published_at"]
        payloads = [p for _, p in store.scroll_payloads(fields)]
        tokens = [tokenize(document_text(p["title"], p["text"])) for p in payloads]
        reference = ReferenceBM25(tokens)
        encoded_avgdl = store.metadata().get("bm25_avgdl")
        keys = [article_key(p["source"], p["article_id"]) for p in payloads]
        ids = {article_key(p["source"], p["article_id"]): str(p["article_id"]) for p in payloads}
        article_of = [ids[key] for key in keys]
        retriever = make_retriever(store, Embedder.from_settings(settings), k=args.k)
        rr_project, rr_reference, same, same_up_to_ties = [], [], 0, 0
        for q in questions:
            if q.date_from or q.date_to:
                raise SystemExit("the reference has no date filter: use a question set without dates")
            docs = retriever.search(q.question, SearchFilter(), "sparse").documents
            ours = [str(d.metadata["article_id"]) for d in docs][: args.k]
            hits = reference.top(q.question, args.k * 3)
            theirs = [ids[a] for a in best_per_article([keys[i] for i, _ in hits], args.k)]
            best = reference.article_scores(q.question, article_of)
            same_up_to_ties += len(ours) == len(theirs) and bool(
                np.allclose([best.get(a, 0.0) for a in ours], [best[a] for a in theirs], rtol=1e-4)
            )
            rr_project.append(reciprocal_rank(ours, q.gold_ids, args.k))
            rr_reference.append(reciprocal_rank(theirs, q.gold_ids, args.k))
            same += ours == theirs
    finally:
        client.close()
    result = {
        "collection": args.collection,
        "chunks": len(payloads),
        "avgdl_corpus": float(np.mean([len(t) for t in tokens])),
        "avgdl_encoded": encoded_avgdl,
        "questions": len(questions),
        f"mrr@{args.k}_project": sum(rr_project) / len(questions),
        f"mrr@{args.k}_reference": sum(rr_reference) / len(questions),
        f"same_top{args.k}": same / len(questions),
        f"same_top{args.k}_up_to_ties": same_up_to_ties / len(questions),
    }
    print(json.dumps(result, indent=2))
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
