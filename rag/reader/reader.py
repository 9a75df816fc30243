"""The served reader: the best answer span among the sources, with a calibrated confidence.

Why one batch for all sources: the ask path reads three sources of at most a few hundred tokens;
their windows go through the encoder together, which is the cheapest way on a CPU.

Why an optional second reader for longer passages: training on paragraph questions makes the reader
better on paragraphs (XQuAD) and worse on headlines, whose answers it then cuts short
(docs/evaluation.md). With ``passage_folder`` set, passages longer than ``HEADLINE_CHARS`` go to the
passage reader; the two share every weight their adapters left alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import torch
from transformers import BatchEncoding, PreTrainedTokenizerBase

from rag.core.question_form import (
    asks_for_name,
    asks_for_number,
    asks_when,
    names_no_digit,
    names_number,
    names_time,
    opens_with_question_word,
    without_given_numbers,
)
from rag.core.sentences import is_one_sentence
from rag.core.settings import Settings
from rag.models.dtypes import inference_dtype
from rag.reader.model import (
    HEADLINE_CHARS,
    Calibration,
    ReaderInfo,
    adapted_modules,
    encode_windows,
    load_reader,
    release_freed_memory,
    share_unchanged,
)
from rag.reader.spans import SpanScore, best_span, brackets_balanced, trim_span, whole_value


@dataclass(frozen=True)
class Reading:
    """The best span of one passage: offsets into it, its text, margin over no-answer, confidence.

    ``fits`` is False where no span of the passage passed the question's test (``answer_test``: no
    number for "Wie viele …?", no time for "Wann …?") and the reading is its best span regardless."""

    passage: int
    start: int
    end: int
    text: str
    margin: float
    confidence: float
    fits: bool = True


@dataclass(frozen=True)
class _Loaded:
    """The loaded models: the (headline) reader, the optional passage reader, one tokenizer."""

    model: torch.nn.Module
    info: ReaderInfo
    tokenizer: PreTrainedTokenizerBase
    passage_model: torch.nn.Module | None = None
    passage_info: ReaderInfo | None = None


class SpanReader:
    """Loads the reader(s) once (lazily, or in ``warm_up``) and reads questions against passages."""

    def __init__(
        self,
        *,
        folder: Path,
        model_cache_dir: Path,
        passage_folder: Path | None = None,
        device: str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.folder = folder
        self.passage_folder = passage_folder
        self._model_cache_dir = model_cache_dir
        self._device = device
        self._dtype = dtype

    @classmethod
    def from_settings(cls, settings: Settings) -> SpanReader:
        assert settings.reader_model is not None, "the caller checks that a reader is configured"
        return cls(
            folder=settings.reader_model,
            passage_folder=settings.reader_passage_model,
            model_cache_dir=settings.model_cache_dir,
            device=settings.device,
            dtype=inference_dtype(settings.reader_dtype, settings.device),
        )

    @cached_property
    def _loaded(self) -> _Loaded:
        loaded = self._load()
        if loaded.passage_model is not None:
            release_freed_memory()  # only once _load has returned is the second load's copy freed
        return loaded

    def _load(self) -> _Loaded:
        model, tokenizer, info = load_reader(self.folder, self._model_cache_dir, self._device, self._dtype)
        if self.passage_folder is None:
            return _Loaded(model, info, tokenizer)
        if (base := ReaderInfo.load(self.passage_folder).base_model) != info.base_model:
            raise ValueError(
                f"Leser {self.folder} und Absatz-Leser {self.passage_folder} haben verschiedene "
                f"Basismodelle ({info.base_model} / {base}); beide brauchen dasselbe."
            )
        passage_model, _, passage_info = load_reader(
            self.passage_folder, self._model_cache_dir, self._device, self._dtype
        )
        adapted = adapted_modules(self.folder) | adapted_modules(self.passage_folder)
        share_unchanged(passage_model, model, adapted)
        return _Loaded(model, info, tokenizer, passage_model, passage_info)

    @property
    def info(self) -> ReaderInfo:
        return self._loaded.info

    def warm_up(self) -> None:
        """Load the model(s) now rather than on the first question."""
        _ = self._loaded

    @torch.inference_mode()
    def read(self, question: str, passages: Sequence[str]) -> list[Reading]:
        """One Reading per passage that has a candidate span, best margin first."""
        if not passages:
            return []
        loaded = self._loaded
        if loaded.passage_model is None or loaded.passage_info is None:
            return self._read(loaded.model, loaded.info, loaded.tokenizer, question, passages)
        short = [i for i, text in enumerate(passages) if len(text) <= HEADLINE_CHARS]
        long = [i for i, text in enumerate(passages) if len(text) > HEADLINE_CHARS]
        found = []
        for indices, model, info in (
            (short, loaded.model, loaded.info),
            (long, loaded.passage_model, loaded.passage_info),
        ):
            group = self._read(model, info, loaded.tokenizer, question, [passages[i] for i in indices])
            found += [replace(r, passage=indices[r.passage]) for r in group]
        return sorted(found, key=lambda r: r.margin, reverse=True)

    def _read(
        self,
        model: torch.nn.Module,
        info: ReaderInfo,
        tokenizer: PreTrainedTokenizerBase,
        question: str,
        passages: Sequence[str],
    ) -> list[Reading]:
        if not passages:  # every passage went to the other reader
            return []
        enc = encode_windows(tokenizer, question, passages, max_length=info.max_length, stride=info.stride)
        inputs = {k: enc[k].to(self._device) for k in ("input_ids", "attention_mask")}
        output = model(**inputs)
        return readings(
            enc, output.start_logits, output.end_logits, passages, info.calibration, answer_test(question)
        )


def answer_test(question: str) -> Callable[[str], bool]:
    """What a span should be: within one sentence (a SQuAD answer never crosses one, the reader's
    spans sometimes did: "Hallenmarkt Newcastles. Bei seiner Eröffnung 1835"), its brackets whole
    (``brackets_balanced``), no indirect question ("Wann Apple angeblich die Veröffentlichung
    plant"), for "Wann …?" also a time (a year, month, date or era), for "Wie viele …?" a number,
    either one the question does not name itself, for "Wer …?" or "Welche Firma …?" no number
    beyond those the question names (``rag/core/question_form.py``)."""
    kind = _value_test(question)

    def well_formed(text: str) -> bool:
        return is_one_sentence(text) and brackets_balanced(text) and not opens_with_question_word(text)

    if kind is None:
        return well_formed
    return lambda text: well_formed(text) and kind(without_given_numbers(text, question))


def _value_test(question: str) -> Callable[[str], bool] | None:
    """What the asked value must look like, if the question's form says."""
    if asks_when(question):
        return names_time
    if asks_for_number(question):
        return names_number
    if asks_for_name(question):
        return names_no_digit
    return None


def readings(
    enc: BatchEncoding,
    start_logits: torch.Tensor,
    end_logits: torch.Tensor,
    passages: Sequence[str],
    calibration: Calibration,
    accept: Callable[[str], bool] | None = None,
) -> list[Reading]:
    """The best span of each passage over its windows (``encode_windows``), best margin first.

    With ``accept`` (a test of the span's text, ``answer_test``) a passage's reading is its best
    accepted span, and its best span as before where none is."""
    starts, ends = start_logits.float().cpu().numpy(), end_logits.float().cpu().numpy()
    best: dict[int, SpanScore] = {}
    accepted: dict[int, SpanScore] = {}
    for window, passage in enumerate(enc["overflow_to_sample_mapping"].tolist()):
        offsets = enc["offset_mapping"][window]
        _keep_better(best, passage, best_span(starts[window], ends[window], offsets))
        if accept is not None:
            test = _on_text(accept, passages[passage])
            _keep_better(accepted, passage, best_span(starts[window], ends[window], offsets, accept=test))
    best |= accepted
    found = []
    for passage, span in best.items():
        text = passages[passage]
        start, end = whole_value(text, *trim_span(text, span.start, span.end))
        if end > start:
            margin = _margin(span)
            confidence = calibration.probability(margin, len(text))
            fits = accept is None or passage in accepted
            found.append(Reading(passage, start, end, text[start:end], margin, confidence, fits))
    return sorted(found, key=lambda r: r.margin, reverse=True)


def _keep_better(best: dict[int, SpanScore], passage: int, span: SpanScore | None) -> None:
    if span and (passage not in best or _margin(span) > _margin(best[passage])):
        best[passage] = span


def _on_text(accept: Callable[[str], bool], text: str) -> Callable[[int, int], bool]:
    """``accept`` as a test of character offsets into ``text``."""
    return lambda start, end: accept(text[start:end])


def _margin(span: SpanScore) -> float:
    return span.score - span.null_score
