import pytest

from eval.answer_metrics import contains_answer, exact_match, normalize, token_f1


def test_normalization_drops_articles_punctuation_and_citations() -> None:
    assert normalize("Die Bundesnetzagentur [1], „sagt“ der Sprecher.") == "bundesnetzagentur sagt sprecher"


@pytest.mark.parametrize(
    ("prediction", "reference", "em", "f1", "contains"),
    [
        ("Berlin", "Berlin", 1.0, 1.0, 1.0),
        ("Die Hauptstadt ist Berlin [1].", "Berlin", 0.0, 0.5, 1.0),
        ("im Jahr 1990", "1990", 0.0, 0.5, 1.0),
        ("München", "Berlin", 0.0, 0.0, 0.0),
        ("", "Berlin", 0.0, 0.0, 0.0),
    ],
)
def test_squad_style_scores(prediction: str, reference: str, em: float, f1: float, contains: float) -> None:
    assert exact_match(prediction, reference) == em
    assert token_f1(prediction, reference) == pytest.approx(f1)
    assert contains_answer(prediction, reference) == contains
