"""Sparse variants and fusion recipes, measured offline on a dev set's collection.

Why offline: every recipe (a BM25 variant, RRF with some k, DBSF, a convex combination of
normalised scores) must be compared on both dev sets, and rebuilding an index per variant costs
minutes. This script reads a collection's chunks and dense vectors once, scores BM25 itself (the
same formula as the project's sparse side: Lucene IDF, k1 1.2, b 0.75, avgdl = corpus mean),
embeds the questions with the configured E5, and replays the retriever exactly: each side
prefetches its top ``--prefetch`` chunks under the question's date filter, the fusion ranks the
union, the best chunk stands for its article. It prints MRR@10 and recall@10 per recipe.

Adaptive recipes (``--adaptive``) choose per question between dense alone and hybrid DBSF by a
signal known at query time (``SIGNALS``): ``adaptive:<signal>:<threshold>`` takes hybrid when the
signal reaches the threshold. ``--sweep`` scores every signal at thresholds drawn from the set's own
signal quantiles, so a threshold picked on one dev set can be confirmed on the other untouched.

    python -m bench.fusion --squad var/data/xquad-de/xquad.de.dev.json --collection heise-xquad
    python -m bench.fusion --questions var/data/heise-qa/heise_qa_dev.jsonl --collection heise
    python -m bench.fusion ... --sweep --adaptive overlap10:0.3,ratio:0.5
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import pickle
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
from scipy import sparse

from eval.questions import EvalQuestion, load_question_set
from eval.retrieval_metrics import recall_at, reciprocal_rank
from rag.core.domain import BERLIN
from rag.core.settings import get_settings
from rag.models.embeddings import Embedder
from rag.retrieval.sparse import _stemmer, _stop_words, document_text, tokenize
from rag.store.layout import DENSE
from rag.store.vector_store import VectorStore, open_client

K1, B = 1.2, 0.75
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass
class Corpus:
    """The chunks of a collection: article ids, texts, chunk numbers, dates, unit dense vectors."""

    article_ids: list[str]
    titles: list[str]
    texts: list[str]
    chunk_index: np.ndarray
    published: np.ndarray  # seconds since the epoch, NaN when undated
    dense: np.ndarray


def load_corpus(collection: str, cache: Path | None) -> Corpus:
    if cache and cache.exists():
        return pickle.loads(cache.read_bytes())
    client = open_client(get_settings())
    try:
        rows = [p for page in VectorStore(client, collection).scroll_pages(1024) for p in page]
    finally:
        client.close()
    payloads = [p.payload or {} for p in rows]
    dense = np.asarray([p.vector[DENSE] for p in rows], dtype=np.float32)  # type: ignore[index]
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    published = [pl.get("published_at") for pl in payloads]
    corpus = Corpus(
        article_ids=[str(pl["article_id"]) for pl in payloads],
        titles=[pl.get("title") or "" for pl in payloads],
        texts=[pl.get("text") or "" for pl in payloads],
        chunk_index=np.asarray([int(pl.get("chunk_index", 0)) for pl in payloads]),
        published=np.asarray(
            [datetime.fromisoformat(p).timestamp() if p else math.nan for p in published], dtype=np.float64
        ),
        dense=dense,
    )
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_bytes(pickle.dumps(corpus))
    return corpus


def date_mask(corpus: Corpus, date_from: date | None, date_to: date | None) -> np.ndarray | None:
    """The retriever's date filter: Berlin days, inclusive; undated chunks drop out."""
    if not date_from and not date_to:
        return None
    mask = ~np.isnan(corpus.published)
    if date_from:
        mask &= corpus.published >= datetime.combine(date_from, datetime.min.time(), BERLIN).timestamp()
    if date_to:
        end = datetime.combine(date_to + timedelta(days=1), datetime.min.time(), BERLIN).timestamp()
        mask &= corpus.published < end
    return mask


class Decompounder:
    """Corpus-driven compound splitting: a long word also yields its head and tail when both are
    frequent words of the corpus (an optional linking -s- dropped), e.g. Sicherheitslücke -> lücke."""

    def __init__(self, texts: Sequence[str], min_count: int = 5, min_part: int = 4) -> None:
        counts = Counter(w for t in texts for w in _WORD.findall(t.lower()))
        stop = _stop_words()
        self.vocab = {w for w, c in counts.items() if c >= min_count and len(w) >= min_part and w not in stop}
        self.min_part = min_part
        self._cache: dict[str, list[str]] = {}

    def parts(self, word: str) -> list[str]:
        if word not in self._cache:
            found: list[str] = []
            for i in range(len(word) - self.min_part, self.min_part - 1, -1):
                head, tail = word[:i], word[i:]
                if tail in self.vocab and (
                    head in self.vocab or (head.endswith("s") and head[:-1] in self.vocab)
                ):
                    found = [head.removesuffix("s") if head not in self.vocab else head, tail]
                    break
            self._cache[word] = found
        return self._cache[word]

    def tokenize(self, text: str) -> list[str]:
        stop = _stop_words()
        words = [w for w in _WORD.findall(text.lower()) if w not in stop and w != "_"]
        extra = [p for w in words if len(w) >= 2 * self.min_part for p in self.parts(w)]
        return _stemmer().stemWords(words + extra)


class BM25Matrix:
    """Okapi BM25 (Lucene IDF) as a chunk x term matrix of document weights, one IDF per term."""

    def __init__(self, docs: Sequence[list[str]]) -> None:
        self.vocab: dict[str, int] = {}
        rows, cols, vals = [], [], []
        lengths = np.asarray([len(d) for d in docs], dtype=np.float64)
        avgdl = max(1.0, lengths.mean())
        for r, doc in enumerate(docs):
            norm = K1 * (1 - B + B * lengths[r] / avgdl)
            for term, tf in Counter(doc).items():
                rows.append(r)
                cols.append(self.vocab.setdefault(term, len(self.vocab)))
                vals.append(tf * (K1 + 1) / (tf + norm))
        self.matrix = sparse.csc_matrix((vals, (rows, cols)), shape=(len(docs), len(self.vocab)))
        df = np.diff(self.matrix.indptr)
        self.idf = np.log(1 + (len(docs) - df + 0.5) / (df + 0.5))

    def ceiling(self, terms: Sequence[str]) -> float:
        """The best score a chunk could reach: every query term at saturation, IDF x (k1 + 1).

        A term the corpus lacks counts with document frequency 0: it cannot match, and the ratio of
        the top score to this ceiling says how much of the question the corpus covers lexically.
        """
        n = self.matrix.shape[0]
        unseen = math.log(1 + (n + 0.5) / 0.5)
        return sum(float(self.idf[self.vocab[t]]) if t in self.vocab else unseen for t in terms) * (K1 + 1)

    def scores(self, terms: dict[str, float]) -> np.ndarray:
        cols = [self.vocab[t] for t in terms if t in self.vocab]
        if not cols:
            return np.zeros(self.matrix.shape[0])
        weights = np.asarray([terms[t] for t in terms if t in self.vocab]) * self.idf[cols]
        return np.asarray(self.matrix[:, cols] @ weights).ravel()


def top(scores: np.ndarray, mask: np.ndarray | None, limit: int, positive: bool) -> list[tuple[int, float]]:
    """The ``limit`` best chunks (under the mask; with a positive score for BM25), best first."""
    s = scores if mask is None else np.where(mask, scores, -np.inf)
    idx = np.argpartition(-s, min(limit, len(s) - 1))[:limit]
    idx = idx[np.argsort(-s[idx], kind="stable")]
    return [(int(i), float(s[i])) for i in idx if np.isfinite(s[i]) and (s[i] > 0 or not positive)]


Hits = list[tuple[int, float]]
Fusion = Callable[[Hits, Hits], list[int]]


def rrf(k: int, w_dense: float = 1.0, w_sparse: float = 1.0) -> Fusion:
    """Qdrant's weighted RRF: 1 / ((rank + 1) / weight + k - 1) per list, summed."""

    def fuse(dense: list[tuple[int, float]], sparse_: list[tuple[int, float]]) -> list[int]:
        scores: dict[int, float] = {}
        for hits, w in ((dense, w_dense), (sparse_, w_sparse)):
            for rank, (i, _) in enumerate(hits):
                if w > 0:
                    scores[i] = scores.get(i, 0.0) + 1 / ((rank + 1) / w + k - 1)
        return sorted(scores, key=lambda i: -scores[i])

    return fuse


def _dbsf_norm(hits: list[tuple[int, float]]) -> dict[int, float]:
    """Qdrant's distribution-based normalisation: mean +- 3 standard deviations onto [0, 1]."""
    if len(hits) < 2:
        return {i: 0.5 for i, _ in hits}
    s = np.asarray([x for _, x in hits])
    std = s.std(ddof=1)
    if std == 0:
        return {i: 0.5 for i, _ in hits}
    low = s.mean() - 3 * std
    return {i: (x - low) / (6 * std) for i, x in hits}


def _minmax(hits: list[tuple[int, float]]) -> dict[int, float]:
    if not hits:
        return {}
    s = [x for _, x in hits]
    lo, hi = min(s), max(s)
    return {i: (x - lo) / (hi - lo) if hi > lo else 1.0 for i, x in hits}


def normalised_sum(norm: Callable[[list[tuple[int, float]]], dict[int, float]], alpha: float) -> Fusion:
    """``alpha`` * dense + (1 - alpha) * sparse of normalised scores; a missing side counts 0."""

    def fuse(dense: list[tuple[int, float]], sparse_: list[tuple[int, float]]) -> list[int]:
        d, s = norm(dense), norm(sparse_)
        scores = {i: alpha * d.get(i, 0.0) + (1 - alpha) * s.get(i, 0.0) for i in d.keys() | s.keys()}
        return sorted(scores, key=lambda i: -scores[i])

    return fuse


def _overlap(k: int) -> Callable[[Hits, Hits, float], float]:
    """Share of the dense top ``k`` chunks that the sparse top ``k`` also holds."""

    def signal(dense: Hits, sparse_: Hits, ceiling: float) -> float:
        return len({i for i, _ in dense[:k]} & {i for i, _ in sparse_[:k]}) / k

    return signal


def _sparse_z(dense: Hits, sparse_: Hits, ceiling: float) -> float:
    """How far the top BM25 chunk stands out of the sparse prefetch, in standard deviations."""
    s = np.asarray([x for _, x in sparse_])
    return float((s[0] - s.mean()) / s.std(ddof=1)) if len(s) > 1 and s.std() > 0 else 0.0


# Signals that decide dense or hybrid per question; hybrid when the value reaches the threshold.
# ``ratio`` needs the IDF of the question's terms, the others only the two prefetched lists.
SIGNALS: dict[str, Callable[[Hits, Hits, float], float]] = {
    "ratio": lambda d, s, c: s[0][1] / c if s and c > 0 else 0.0,
    "topsparse": lambda d, s, c: s[0][1] if s else 0.0,
    "zsparse": _sparse_z,
    "overlap5": _overlap(5),
    "overlap10": _overlap(10),
    "overlap30": _overlap(30),
    "topdense": lambda d, s, c: -d[0][1] if d else 0.0,  # negated: a weak dense top asks for BM25
}


def articles(corpus: Corpus, chunks: Sequence[int], k: int) -> list[str]:
    return list(dict.fromkeys(corpus.article_ids[i] for i in chunks))[:k]


def evaluate(
    corpus: Corpus,
    questions: Sequence[EvalQuestion],
    runs: dict[str, tuple[list[list[tuple[int, float]]], list[list[tuple[int, float]]]]],
    fusions: dict[str, Fusion | None],
    k: int = 10,
) -> dict[str, dict[str, float]]:
    """MRR@k and recall@k per (sparse variant, fusion); fusion None: the sparse side alone."""
    out = {}
    for variant, (dense_hits, sparse_hits) in runs.items():
        for name, fuse in fusions.items():
            rr, rec = [], []
            for q, dh, sh in zip(questions, dense_hits, sparse_hits, strict=True):
                if fuse is None:
                    chunks = [i for i, _ in sh]
                elif not sh:
                    chunks = [i for i, _ in dh]
                else:
                    chunks = fuse(dh, sh)
                ranked = articles(corpus, chunks[: 3 * 30], k)
                rr.append(reciprocal_rank(ranked, q.gold_ids, k))
                rec.append(recall_at(ranked, q.gold_ids, k))
            out[f"{variant} | {name}"] = {"mrr@10": float(np.mean(rr)), "recall@10": float(np.mean(rec))}
    return out


def per_question(
    corpus: Corpus,
    questions: Sequence[EvalQuestion],
    dense_hits: list[Hits],
    sparse_hits: list[Hits],
    fuse: Fusion,
    k: int = 10,
) -> tuple[np.ndarray, np.ndarray]:
    """Reciprocal rank and recall@k of one fusion for every question (empty sparse side: dense)."""
    rr, rec = [], []
    for q, dh, sh in zip(questions, dense_hits, sparse_hits, strict=True):
        ranked = articles(corpus, (fuse(dh, sh) if sh else [i for i, _ in dh])[: 3 * 30], k)
        rr.append(reciprocal_rank(ranked, q.gold_ids, k))
        rec.append(recall_at(ranked, q.gold_ids, k))
    return np.asarray(rr), np.asarray(rec)


def adaptive(
    dense: tuple[np.ndarray, np.ndarray],
    hybrid: tuple[np.ndarray, np.ndarray],
    signal: np.ndarray,
    threshold: float,
) -> dict[str, float]:
    """MRR@10, recall@10 and the hybrid share when hybrid answers the questions whose signal >= threshold."""
    take = signal >= threshold
    return {
        "mrr@10": float(np.where(take, hybrid[0], dense[0]).mean()),
        "recall@10": float(np.where(take, hybrid[1], dense[1]).mean()),
        "hybrid_share": float(take.mean()),
    }


def sweep(
    dense: tuple[np.ndarray, np.ndarray], hybrid: tuple[np.ndarray, np.ndarray], signal: np.ndarray
) -> list[tuple[float, dict[str, float]]]:
    """Thresholds halfway between the signal's 5 % quantiles, plus always (-inf) and never (+inf) hybrid.

    Halfway, so that a threshold printed with a few digits and passed back via ``--adaptive`` (on
    either set) splits this set's questions exactly as it did here.
    """
    cuts = sorted({float(x) for x in np.quantile(signal, np.linspace(0, 1, 21), method="lower")})
    grid = [-math.inf, *((a + b) / 2 for a, b in itertools.pairwise(cuts)), math.inf]
    return [(t, adaptive(dense, hybrid, signal, t)) for t in grid]


def pick(results: list[tuple[float, dict[str, float]]], fewest_hybrid: bool) -> float:
    """The threshold with the best MRR@10, then recall@10; ties go to the fewest or the most hybrid."""
    sign = 1 if fewest_hybrid else -1
    return max(results, key=lambda r: (r[1]["mrr@10"], r[1]["recall@10"], -sign * r[1]["hybrid_share"]))[0]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--collection", required=True)
    parser.add_argument("--squad", type=Path, default=None)
    parser.add_argument("--questions", type=Path, default=None)
    parser.add_argument("--prefetch", type=int, default=100)
    parser.add_argument("--cache", type=Path, default=None, help="pickle of the collection's chunks")
    parser.add_argument("--variants", default="baseline", help="comma-separated sparse variants")
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument(
        "--adaptive", default="", help="comma-separated <signal>:<threshold> recipes (baseline variant)"
    )
    parser.add_argument("--sweep", action="store_true", help="score every signal at its quantiles")
    parser.add_argument(
        "--query-cache", type=Path, default=None, help="npy of this set's question embeddings"
    )
    args = parser.parse_args()
    questions = load_question_set(args.questions, args.squad).questions
    corpus = load_corpus(args.collection, args.cache)
    if args.query_cache and args.query_cache.exists():
        queries = np.load(args.query_cache)
    else:
        embedder = Embedder.from_settings(get_settings())
        queries = np.asarray([embedder.encode_query(q.question) for q in questions], dtype=np.float32)
        if args.query_cache:
            np.save(args.query_cache, queries)
    masks = [date_mask(corpus, q.date_from, q.date_to) for q in questions]
    dense_hits = [top(corpus.dense @ v, m, args.prefetch, False) for v, m in zip(queries, masks, strict=True)]
    full = [document_text(t, x) for t, x in zip(corpus.titles, corpus.texts, strict=True)]
    once = [
        document_text(t, x) if c == 0 and not x.startswith(t) else x
        for t, x, c in zip(corpus.titles, corpus.texts, corpus.chunk_index, strict=True)
    ]
    runs = {}
    ceilings: list[float] = []
    for variant in args.variants.split(","):
        tok: Callable[[str], list[str]] = tokenize
        texts = full
        if variant == "title-once":
            texts = once
        elif variant == "compounds":
            tok = Decompounder(full).tokenize
        index = BM25Matrix([tok(t) for t in texts])
        qtf = variant == "query-tf"
        sparse_hits = []
        for q, m in zip(questions, masks, strict=True):
            terms = Counter(tok(q.question))
            weights = {t: float(c) if qtf else 1.0 for t, c in terms.items()}
            sparse_hits.append(top(index.scores(weights), m, args.prefetch, True))
            if variant == "baseline":
                ceilings.append(index.ceiling(list(terms)))
        runs[variant] = (dense_hits, sparse_hits)
    fusions: dict[str, Fusion | None] = {"sparse": None, "dense": rrf(60, 1.0, 0.0)}
    fusions |= {f"rrf k={k}": rrf(k) for k in (1, 5, 10, 20, 60, 100)}
    fusions |= {f"rrf k=60 w_sparse={w}": rrf(60, 1.0, w) for w in (0.25, 0.5, 0.75, 1.5)}
    fusions["dbsf"] = normalised_sum(_dbsf_norm, 0.5)
    fusions |= {f"dbsf a={a}": normalised_sum(_dbsf_norm, a) for a in (0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9)}
    fusions |= {f"minmax a={a}": normalised_sum(_minmax, a) for a in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)}
    result = evaluate(corpus, questions, runs, fusions)
    if "baseline" in runs and (args.adaptive or args.sweep):
        dh, sh = runs["baseline"]
        dense = per_question(corpus, questions, dh, sh, rrf(60, 1.0, 0.0))
        hybrid = per_question(corpus, questions, dh, sh, normalised_sum(_dbsf_norm, 0.5))
        values = {
            name: np.asarray([f(d, s, c) for d, s, c in zip(dh, sh, ceilings, strict=True)])
            for name, f in SIGNALS.items()
        }
        better, worse = int((hybrid[0] > dense[0]).sum()), int((hybrid[0] < dense[0]).sum())
        print(f"hybrid vs dense, reciprocal rank: better on {better}, worse on {worse} of {len(questions)}")
        for recipe in filter(None, args.adaptive.split(",")):
            name, threshold = recipe.split(":")
            result[f"baseline | adaptive:{recipe}"] = adaptive(dense, hybrid, values[name], float(threshold))
        if args.sweep:
            for name, signal in values.items():
                results = sweep(dense, hybrid, signal)
                for t, m in results:
                    result[f"sweep | adaptive:{name}:{t:.6g}"] = m
                picks = [f"{name}:{pick(results, fewest):.6g}" for fewest in (True, False)]
                print(f"pick {name}: ties to the fewest hybrid {picks[0]}, to the most hybrid {picks[1]}")
    for name, m in result.items():
        share = f"  hybrid {m['hybrid_share']:.0%}" if "hybrid_share" in m else ""
        print(f"{name:40s} MRR@10 {m['mrr@10']:.3f}  R@10 {m['recall@10']:.3f}{share}")
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
