"""Answer metrics without an LLM judge: SQuAD exact match and token F1 with German normalization.

Why German normalization: SQuAD's English article stripping does not fit; German answers differ in
articles ("der/die/das/ein..."), umlaut spelling and punctuation, which must not count as errors.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter

_ARTICLES = re.compile(r"\b(der|die|das|den|dem|des|ein|eine|einen|einem|einer|eines)\b")
_CITATION = re.compile(r"\[\d+(?:\s*,\s*\d+)*\]")
_PUNCT = str.maketrans("", "", string.punctuation + "„“”‚‘’«»–—…")  # noqa: RUF001


def normalize(text: str) -> str:
    """Lower case, no citation markers, punctuation or German articles, single spaces."""
    text = unicodedata.normalize("NFC", text).lower()
    text = _CITATION.sub(" ", text).translate(_PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, reference: str) -> float:
    return float(normalize(prediction) == normalize(reference))


def token_f1(prediction: str, reference: str) -> float:
    pred, ref = normalize(prediction).split(), normalize(reference).split()
    common = sum((Counter(pred) & Counter(ref)).values())
    if not pred or not ref or common == 0:
        return float(pred == ref)
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def contains_answer(prediction: str, reference: str) -> float:
    """The normalized reference appears inside the normalized answer (long answers are fine)."""
    ref = normalize(reference)
    return float(bool(ref) and f" {ref} " in f" {normalize(prediction)} ")
