"""The ask path with a reader: extractive and evidence answers, refusals, the generator check.

The index, the encoder and the generator are real (``ask_env``); the reader is a stand-in that
answers with a fixed span, so each test controls what the reader finds and how sure it is. The
real reader is tested in tests/finetune/reader (a trained artifact) and tests/rag/reader.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from langchain_core.language_models.fake_chat_models import FakeListChatModel

from rag.core.answer import Answer
from rag.core.prompting import REFUSAL
from rag.core.settings import Settings
from rag.pipelines.ask import AskOptions, RagPipeline
from rag.pipelines.components import build_pipeline, open_pipeline
from rag.reader.reader import Reading
from rag.store.vector_store import VectorStore, open_client

QUESTION = "Was hält seit Neujahr E-Mails in Exchange-Warteschlangen fest?"


class FixedReader:
    """Finds ``span`` in whichever passage holds it, with the given confidence."""

    def __init__(self, span: str, confidence: float, *, fits: bool = True) -> None:
        self.span, self.confidence, self.fits = span, confidence, fits

    def read(self, question: str, passages: Sequence[str]) -> list[Reading]:
        return [
            Reading(
                i,
                p.index(self.span),
                p.index(self.span) + len(self.span),
                self.span,
                1.0,
                self.confidence,
                self.fits,
            )
            for i, p in enumerate(passages)
            if self.span in p
        ]


def _ask(
    pipeline: RagPipeline,
    mode: str,
    reader: FixedReader,
    min_confidence: float = 0.3,
    question: str = QUESTION,
) -> list[object]:
    pipeline.reader, pipeline.answer_mode = reader, mode  # type: ignore[assignment]
    pipeline.min_confidence = pipeline.passage_min_confidence = min_confidence
    pipeline.today = lambda: date(2026, 11, 27)
    return list(pipeline.stream(question, AskOptions(k=2)))


def test_extractive_answer_is_the_span_with_its_source_and_the_evidence(ask_env: Settings) -> None:
    with open_pipeline(ask_env) as pipeline:
        text, answer = _ask(pipeline, "extractive", FixedReader("Ein Datumsfehler im Malware-Scanner", 0.9))
    assert isinstance(answer, Answer)
    assert text == answer.text == "Ein Datumsfehler im Malware-Scanner [1]."
    assert [c.article_id for c in answer.citations] == ["6315605"]
    (evidence,) = answer.evidence
    assert evidence.article_id == "6315605" and evidence.source == 1
    assert evidence.sentence[evidence.start : evidence.end] == "Ein Datumsfehler im Malware-Scanner"
    assert answer.confidence == 0.9 and not answer.refused
    assert "read" in answer.timings


def test_an_extractive_answer_keeps_its_single_citation_when_the_span_holds_a_full_stop(
    ask_env: Settings,
) -> None:
    """Citation attribution is for generated text: it split "William E. Simon [1]." into "William
    E [1]. Simon [1]." on the dev set. A span over a sentence end keeps one marker too."""
    span = "Exchange-Warteschlangen fest. Microsoft hat ein Skript"
    with open_pipeline(ask_env) as pipeline:
        text, answer = _ask(pipeline, "extractive", FixedReader(span, 0.9))
    assert isinstance(answer, Answer)
    assert text == answer.text == f"{span} [1]."
    assert not answer.citations_attributed


def test_an_unsure_reader_refuses_and_quotes_the_nearest_sentence(ask_env: Settings) -> None:
    with open_pipeline(ask_env) as pipeline:
        *_, answer = _ask(pipeline, "extractive", FixedReader("Ein Datumsfehler", 0.1))
    assert isinstance(answer, Answer)
    assert answer.text.startswith(f"{REFUSAL} Am nächsten kommt „") and answer.refused
    assert answer.evidence == [] and answer.confidence == 0.1
    (cited,) = answer.citations
    assert "Ein Datumsfehler" in answer.text and answer.text.endswith(f"“ [{cited.number}].")


def test_the_headline_threshold_holds_for_a_short_source(ask_env: Settings) -> None:
    """The test index's chunks are as short as headlines: the headline threshold decides, not the
    passage threshold (the two readers' confidences are calibrated apart)."""
    with open_pipeline(ask_env) as pipeline:
        _ask(pipeline, "extractive", FixedReader("Ein Datumsfehler", 0.15))
        pipeline.min_confidence, pipeline.passage_min_confidence = 0.2, 0.1
        *_, refused = pipeline.stream(QUESTION, AskOptions(k=2))
        pipeline.min_confidence, pipeline.passage_min_confidence = 0.1, 0.2
        *_, answered = pipeline.stream(QUESTION, AskOptions(k=2))
    assert isinstance(refused, Answer) and isinstance(answered, Answer)
    assert refused.refused and not answered.refused
    assert answered.evidence[0].passage_chars <= 200


class PartReader(FixedReader):
    """Finds a span per question: the span and confidence ``answers`` give for it."""

    def __init__(self, answers: dict[str, tuple[str, float]]) -> None:
        self.answers = answers
        self.fits = True

    def read(self, question: str, passages: Sequence[str]) -> list[Reading]:
        self.span, self.confidence = self.answers[question]
        return super().read(question, passages)


def test_a_double_question_is_answered_part_by_part(ask_env: Settings) -> None:
    """One span cannot answer "Wann … und welche …?": it got "Montag: Y2K22 [3]." on the default index."""
    first, second = QUESTION, "Wer hat ein Skript veröffentlicht?"
    double = f"{QUESTION.rstrip('?')} und wer hat ein Skript veröffentlicht?"
    both = PartReader({first: ("Ein Datumsfehler", 0.9), second: ("Microsoft", 0.8)})
    one = PartReader({first: ("Ein Datumsfehler", 0.9), second: ("Microsoft", 0.01)})
    with open_pipeline(ask_env) as pipeline:
        *_, answer = _ask(pipeline, "evidence", both, question=double)
        *_, half = _ask(pipeline, "extractive", one, question=double)
    assert isinstance(answer, Answer) and isinstance(half, Answer)
    assert answer.text == f"Zu „{first}“: Ein Datumsfehler [1]. Zu „{second}“: Microsoft [1]."
    assert [e.span for e in answer.evidence] == ["Ein Datumsfehler", "Microsoft"] and not answer.refused
    assert answer.confidence == 0.8
    no_answer = f"Zu „{second}“ finde ich in den Quellen keine Antwort."
    assert half.text == f"Zu „{first}“: Ein Datumsfehler [1]. {no_answer}"
    assert [e.span for e in half.evidence] == ["Ein Datumsfehler"] and not half.refused


def test_articles_left_out_are_neither_searched_nor_cited(ask_env: Settings) -> None:
    """What the evaluation's no-answer twins rely on: the gold article is not among the sources."""
    with open_pipeline(ask_env) as pipeline:
        *_, first = _ask(pipeline, "extractive", FixedReader("Ein Datumsfehler", 0.9))
        assert isinstance(first, Answer)
        gold = first.sources[0].article_id
        *_, without = pipeline.stream(QUESTION, AskOptions(k=2, exclude_articles=(gold,)))
    assert isinstance(without, Answer)
    assert gold not in {s.article_id for s in without.sources}
    assert without.filters.excluded_articles == (gold,)


def test_a_number_question_no_source_answers_with_a_number_is_refused_with_the_nearest_sentence(
    ask_env: Settings,
) -> None:
    """ "Wie viel kostet das iPhone 15?" over headlines without a price was answered "teuerstem
    Modell [1]."; the reader's best span regardless must not pass for the number asked."""
    unfit = FixedReader("Ein Datumsfehler", 0.9, fits=False)
    with open_pipeline(ask_env) as pipeline:
        *_, refused = _ask(pipeline, "evidence", unfit, question="Wie viele E-Mails hielt Exchange fest?")
        *_, kept = _ask(pipeline, "extractive", unfit, question=QUESTION)  # asks for no number
    assert isinstance(refused, Answer) and isinstance(kept, Answer)
    assert refused.refused and refused.text.startswith(REFUSAL.rstrip("."))
    assert "keine Quelle nennt eine Zahl dazu" in refused.text
    # no evidence (the app would mark the span as the answer), the nearest sentence quoted and cited
    assert refused.evidence == [] and refused.confidence == 0.9
    (cited,) = refused.citations
    sentence = refused.text.split("„")[1].split("“")[0]
    assert "Ein Datumsfehler" in sentence and sentence in cited.passage
    assert refused.text.endswith(f"“ [{cited.number}].")
    assert kept.text == "Ein Datumsfehler [1]." and not kept.refused


def test_evidence_mode_keeps_a_faithful_sentence_and_replaces_one_that_drops_the_span(
    ask_env: Settings,
) -> None:
    reader = FixedReader("Ein Datumsfehler", 0.9)
    written = ["Schuld war ein Datumsfehler im Scanner [1].", "Ein Virus war schuld [2]."]
    client = open_client(ask_env)
    try:
        store = VectorStore(client, ask_env.collection)
        pipeline = build_pipeline(ask_env, store, chat_model=FakeListChatModel(responses=written))
        *_, kept = _ask(pipeline, "evidence", reader)
        *_, replaced = _ask(pipeline, "evidence", reader)
    finally:
        client.close()
    assert isinstance(kept, Answer) and isinstance(replaced, Answer)
    assert kept.text == "Schuld war ein Datumsfehler im Scanner [1]."
    assert replaced.text == "Ein Datumsfehler [1]."
    assert replaced.evidence[0].span == "Ein Datumsfehler"
