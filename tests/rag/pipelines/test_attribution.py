"""Post-hoc citations: only uncited sentences that one source covers get a marker."""

from __future__ import annotations

from rag.core.answer import SourceRef
from rag.pipelines.attribution import attribute_citations, best_source, source_words

SOURCES = [
    SourceRef(
        number=1,
        article_id="a",
        source="heise",
        title="Hyperloop One macht dicht",
        score=1.0,
        passage="Hyperloop One stellt am 22.12.2023 den Betrieb ein. Die Mitarbeiter werden entlassen.",
    ),
    SourceRef(
        number=2,
        article_id="b",
        source="heise",
        title="Glasfaser",
        score=0.5,
        passage="Die Telekom baut Glasfaser in Bayern aus.",
    ),
]


def test_uncited_sentences_get_the_covering_source() -> None:
    text = "Hyperloop One stellte am 22.12.2023 den Betrieb ein. Die Telekom baute in Bayern Glasfaser aus!"
    assert attribute_citations(text, SOURCES) == (
        "Hyperloop One stellte am 22.12.2023 den Betrieb ein [1]. "
        "Die Telekom baute in Bayern Glasfaser aus [2]!",
        True,
    )


def test_model_citations_uncovered_and_short_sentences_stay_as_they_are() -> None:
    text = (
        "Die Telekom baut Glasfaser aus [1]. Apple stellt ein Auto vor. Ja. "
        "Dazu finde ich in den Quellen keine Antwort."
    )
    assert attribute_citations(text, SOURCES) == (text, False)
    assert best_source("Mitarbeiter entlassen", source_words(SOURCES)) == 1
    assert (
        best_source("Mitarbeiter von Apple in Cupertino entlassen", source_words(SOURCES)) is None
    )  # 2 of 4 words
    assert attribute_citations("", SOURCES) == ("", False)
