"""Which questions a span answers, which ask for a number or date, and which get the quoted
statement (yes/no questions, questions for a reason and for what happened)."""

from __future__ import annotations

import pytest

from rag.core.question_form import (
    asks_for_name,
    asks_for_number,
    asks_what_happened,
    asks_when,
    asks_why,
    is_yes_no_question,
    names_number,
    names_time,
    opens_with_question_word,
    split_questions,
    without_given_numbers,
)


@pytest.mark.parametrize(
    "question",
    [
        "Darf die Deutsche Post per Smartphone gekaufte Briefmarken nach zwei Wochen verfallen lassen?",
        "Hat Microsoft ein Skript gegen den Exchange-Fehler veröffentlicht?",
        "Umfasst der neue Vertrag Video-on-Demand und High Definition?",
        "Wurde Norwegen 1972 Mitglied der Europäischen Union?",
        "Gibt es schon ein Update für Log4j?",
        "Did Microsoft publish a fix?",
    ],
)
def test_questions_without_a_question_word_are_yes_no(question: str) -> None:
    assert is_yes_no_question(question)


@pytest.mark.parametrize(
    "question",
    [
        "Was war Anfang 2022 mit Exchange los?",
        "Um wie viele Jahre hat KI Harrison Ford verjüngt?",
        "Mit welchem KI-Trick versuchten Ermittler, einen Mordfall aufzuklären?",
        "Der Verlust welcher Region führte zum Krieg?",  # the question word need not come first
        "Das Wievielfache mussten andere Saaten für Öl bezahlen?",
        "Wofür steht DNS4EU?",
        "Ist der Fokus auf spirituelle Betreuung im Hinduismus hoch oder gering?",  # the span picks one
        "Nennen Sie ein Luxussegment von Toyota.",
        "What stopped mail delivery in Exchange at the start of 2022?",
    ],
)
def test_questions_a_span_can_answer_are_not_yes_no(question: str) -> None:
    assert not is_yes_no_question(question)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Wie viele Unternehmen waren im August 2009 an der WSE gelistet?", True),
        ("Um wie viele Jahre hat KI Harrison Ford verjüngt?", True),
        ("Das Wievielfache mussten andere Staaten für Öl bezahlen?", True),
        ("Seit wann gilt das Gesetz?", True),
        ("In welchem Jahr wurde die Universität gegründet?", True),
        ("Wie lange pilotierte ein Algorithmus den Versuchsjäger?", True),
        ("Welcher Prozentsatz der Bevölkerung war protestantisch?", True),
        ("Welche Bandbreite erreichte die größte abgewehrte DDoS-Attacke?", True),  # a quantity
        ("Welchen Anteil am Regenwald der Erde hat der Amazonas-Regenwald?", True),
        ("Welche maximale Geschwindigkeit erreicht der Zug?", True),
        ("Was kostet das neue iPhone?", True),
        ("Welche Werte vertritt die Partei?", False),  # values, not a value
        ("Wie heißt der Google-Ingenieur?", False),
        ("Welche Bank hat den Zugang gesperrt?", False),
        ("Wer gewann 2000 die Meisterschaft?", False),  # a year in the question asks for none
    ],
)
def test_questions_that_ask_for_a_number_or_date(question: str, expected: bool) -> None:
    assert asks_for_number(question) is expected


@pytest.mark.parametrize(
    ("span", "expected"),
    [
        ("374", True),
        ("2,8%", True),
        ("fünf bis zehn Jahre", True),
        ("das Zehnfache ihres Eigengewichts", True),
        ("Hunderten", True),
        ("Mai 2013", True),
        ("im März", True),
        ("acht", True),
        ("Deutsche Welle", False),
        ("Mainz", False),  # a month only as a whole word
        ("Macht", False),
        ("Elfmeter", False),
    ],
)
def test_spans_that_name_a_number_or_date(span: str, expected: bool) -> None:
    assert names_number(span) is expected


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Wann wurde die erste Warschauer Börse gegründet?", True),
        ("Seit wann gibt es das Deutschlandticket?", True),
        ("In welchem Jahr wurde das Interstate-Highway-System geschaffen?", True),
        ("In welchem Jahrhundert entstand die Kathedrale?", True),
        ("An welchem Tag startete die Mission?", True),
        ("Wie viele Sender betreibt die BBC?", False),  # a number, not a time
        ("Wie lange pilotierte ein Algorithmus den Jet?", False),  # a duration
        ("In welchem Zeitabschnitt fand die pleistozäne Epoche statt?", False),  # a period's name
        ("Wer gewann 2000 die Meisterschaft?", False),
    ],
)
def test_questions_that_ask_when(question: str, expected: bool) -> None:
    assert asks_when(question) is expected


@pytest.mark.parametrize(
    ("span", "expected"),
    [
        ("1349", True),
        ("8. Februar 2007", True),
        ("im April", True),
        ("in den 1950er Jahren", True),
        ("vor 66 Millionen Jahren", True),
        ("zwischen 2005 und 2010", True),
        ("nach dem Zweiten Weltkrieg", True),
        ("am Montag", True),
        ("13", False),  # a number, but no year: "Wann erreichte die Pest England?" -> "13"
        ("233", False),
        ("1,5-Grad-Grenze", False),
        ("bis zu 4096 Shadern", False),
        ("Mainz", False),
    ],
)
def test_spans_that_name_a_time(span: str, expected: bool) -> None:
    assert names_time(span) is expected


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Was war Anfang 2022 mit Exchange los?", True),
        ("Was ist los bei Twitter?", True),
        ("Was passierte mit Uniper im September 2022?", True),
        ("und was geschah danach?", True),
        ("Was ist bei Intel passiert?", True),
        ("Was wurde im Dezember 2023 aus der Röhrenbahn-Firma Hyperloop One?", True),
        ("Was ist aus Gfycat geworden?", True),
        ("Was ist mit dem Deutschlandticket?", True),
        ("Was gibt es Neues bei Log4j?", True),
        ("Was ist die NASUWT?", False),  # a definition: the span names it
        ("Was kostet das iPhone 15?", False),
        ("Was war das Los der Arbeiter?", False),  # "Los", the noun
        ("Was prüfte das britische Sozialamt im Jahr 2012?", False),
        ("Welche Pläne gibt es gegen Hass im Netz?", False),
        ("What happened to Twitter in 2022?", True),  # English gets the statement too
        ("What's going on with Log4j?", True),
        ("What became of Hyperloop One?", True),
        ("What is Log4Shell?", False),
    ],
)
def test_questions_for_what_happened(question: str, expected: bool) -> None:
    assert asks_what_happened(question) is expected


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Warum wurde Polonia 2013 aus der Spitzengruppe verbannt?", True),
        ("Wozu missbraucht eine vorinstallierte Schadsoftware Android-Geräte?", True),
        ("Und wieso hat Microsoft das Update zurückgezogen?", True),
        ("Aus welchem Grund wurde das Merit-Netzwerk gegründet?", True),
        ("Wofür steht DNS4EU?", False),  # an expansion: the span names it
        ("Wie viele Sicherheitslücken behebt das Update?", False),
    ],
)
def test_questions_for_a_reason_or_purpose(question: str, expected: bool) -> None:
    assert asks_why(question) is expected


def test_the_numbers_a_question_names_itself_are_no_answer() -> None:
    question = "Wie viel kostet das iPhone 14 in 2022?"
    assert not names_number(without_given_numbers("14: Apple plant wohl Preiserhöhungen", question))
    assert names_number(without_given_numbers("iPhone 14 Pro Max: mehr als 2000 Euro", question))
    assert not names_time(without_given_numbers("2022", question))
    assert without_given_numbers("1.299 Euro", "Was kostet es?") == "1.299 Euro"  # none given


@pytest.mark.parametrize(
    ("span", "indirect"),
    [
        ("Wann Apple angeblich die Veröffentlichung plant", True),
        ("Welche Reaktionen", True),
        (" wie viel die Schäden kosten", True),
        ("iPadOS 17", False),
        ("Wannsee-Konferenz", False),
        ("Wolfsburg", False),
    ],
)
def test_opens_with_question_word(span: str, indirect: bool) -> None:
    assert opens_with_question_word(span) is indirect


@pytest.mark.parametrize(
    ("question", "parts"),
    [
        (
            "Wann wurde Log4Shell bekannt und welche Version behebt die Lücke?",
            ("Wann wurde Log4Shell bekannt?", "Welche Version behebt die Lücke?"),
        ),
        (
            "Wie viele Nutzer hat Mastodon, und wie viele hat Threads?",
            ("Wie viele Nutzer hat Mastodon?", "Wie viele hat Threads?"),
        ),
        ("Wer kaufte Twitter und wann?", ("Wer kaufte Twitter?", "Wann kaufte Twitter?")),  # elliptic
    ],
)
def test_a_double_question_splits_into_its_two_questions(question: str, parts: tuple[str, ...]) -> None:
    assert split_questions(question) == parts


@pytest.mark.parametrize(
    "question",
    [
        "Wie und wann kam die Pest nach Europa?",  # two question words side by side
        "Wie schnell und wie teuer ist der Raspberry Pi 5?",  # a first part without its subject
        "Was sagen Sony, Nintendo und Microsoft?",  # a list
        "Hat Microsoft und wer noch Activision gekauft?",  # no question word before the "und"
    ],
)
def test_a_question_that_asks_one_thing_stays_whole(question: str) -> None:
    assert split_questions(question) == (question,)


def test_questions_for_a_person_or_organisation() -> None:
    assert asks_for_name("Wer kaufte Twitter?") and asks_for_name("Von wem stammt der Code?")
    assert asks_for_name("Welche Firma hat Activision Blizzard übernommen?")
    assert asks_for_name("Welcher Konzern stellt Flugzeugtreibstoff her?")
    assert not asks_for_name("Welche Version behebt die Lücke?")
    assert not asks_for_name("Was kostet das iPhone 15?")
