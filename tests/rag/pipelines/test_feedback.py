"""The feedback log: records written by the app read back for evaluation."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

from rag.core.answer import Answer, AppliedFilters, SourceRef
from rag.pipelines.feedback import FeedbackLog, FeedbackRecord

SOURCE = SourceRef(
    number=1,
    article_id="6315605",
    source="heise",
    title="Exchange-Server: Jahr-2022-Fehler stoppt die Mailzustellung",
    url="https://www.heise.de/-6315605",
    published_at=datetime(2022, 1, 2, 9, tzinfo=UTC),
    score=0.8,
    passage="Ein Datumsfehler im Malware-Scanner …",
)
ANSWER = Answer(
    question="Was war Anfang 2022 mit Exchange los?",
    text="Ein Datumsfehler hielt E-Mails fest [1].",
    sources=[SOURCE],
    citations=[SOURCE],
    filters=AppliedFilters(detected_text="Anfang 2022"),
)


def record(rating: str, answer_id: str = "a1") -> FeedbackRecord:
    return FeedbackRecord.from_answer(
        rating,  # type: ignore[arg-type]
        "Und Exchange?",
        ANSWER,
        answer_id=answer_id,
        backend="local",
        generator_model="qwen2.5-coder-0.5b-instruct",
    )


def test_records_round_trip_with_question_answer_and_sources(tmp_path: Path) -> None:
    log = FeedbackLog(tmp_path / "nested" / "feedback.jsonl")
    assert list(log.records()) == []
    log.append(record("up"))
    log.append(record("down"))
    first, second = log.records()
    assert (first.rating, second.rating) == ("up", "down")
    assert first.question == "Und Exchange?" and first.searched_question == ANSWER.question
    assert first.sources[0].article_id == "6315605" and first.cited == [1]
    assert first.filters.detected_text == "Anfang 2022" and first.created_at.tzinfo is not None


def test_concurrent_appends_stay_whole_lines_and_hand_edits_are_skipped(tmp_path: Path) -> None:
    log = FeedbackLog(tmp_path / "feedback.jsonl")
    threads = [threading.Thread(target=log.append, args=(record("up", f"a{i}"),)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with log.path.open("a", encoding="utf-8") as handle:
        handle.write("kein json\n\n")
    assert sorted(r.answer_id for r in log.records()) == sorted(f"a{i}" for i in range(20))
