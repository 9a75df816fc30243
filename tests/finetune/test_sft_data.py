"""SFT data for the answer adapter: product prompt format, answers cited from the right source,
refusals only over sources without the answer, a stable split by article."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from finetune.sft_data import SftConfig, build_examples, span_questions, split_of, write_examples
from rag.prompting import PROMPT, REFUSAL, SYSTEM_PROMPT, format_sources

GNAD_ROWS = [
    "Wirtschaft;'Der Konzern baut Stellen ab. Wien - Der Konzern hat im Jahr 2015 rund 1.200 Mitarbeiter "
    "beschäftigt. Der Umsatz stieg um 12 Prozent. Das ist ein gutes Ergebnis für alle, sagte Anna Berger.'",
    "Sport;'Rapid gewinnt das Derby. Wien - Rapid hat seit 2010 kein Derby verloren. Die Fans feierten "
    "lange. Das Stadion war mit 25.000 Menschen ausverkauft.'",
    "Web;'Ein neues Handy kommt. Berlin - Das Gerät soll ab 2016 erhältlich sein. Es kostet 499 Euro. "
    "Der Akku hält zwei Tage.'",
    "Kultur;'Ein Film läuft an. Wien - Der Film wurde in Wien gedreht. Die Kritiken sind gemischt. "
    "Der Regisseur arbeitete drei Jahre daran.'",
]
HEADLINES = [
    ("6315231", "Apple wünscht sich mehr Bluetooth-Bandbreite", "2022-01-03 13:38:00"),
    ("6266836", "Bericht: Höchststand bei Anschlägen auf Geldautomaten", "2022-12-03 17:17:00"),
    ("6287308", "Werkstattberichte: Neues aus den Fablabs und der Makerszene", "2022-01-18 10:07:00"),
    ("6233916", "Zentrum für KI in der Medizin soll für Gesundheitsversorgung sorgen", "2023-11-16 09:20:00"),
    ("6300001", "Telekom erweitert Glasfasernetz in Bayern", "2023-05-02 08:00:00"),
]


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    gnad = tmp_path / "test.csv"
    gnad.write_text("\n".join(GNAD_ROWS) + "\n", encoding="utf-8")
    heads = tmp_path / "headlines.csv"
    rows = [f"{i},{title},10.0,{time}.000000,bad" for i, title, time in HEADLINES]
    heads.write_text("id,headline,comments,time,quality\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return gnad, heads


def test_template_questions_have_their_span_as_answer() -> None:
    sentences = [
        "Der Konzern hat im Jahr 2015 rund 1.200 Mitarbeiter beschäftigt.",
        "Der Umsatz stieg um 12 Prozent.",
        "Das ist ein gutes Ergebnis für alle, sagte Anna Berger.",
    ]
    found = {q.kind: q for q in span_questions(sentences, max_words=30)}
    assert found["year"].question == "Der Konzern hat in welchem Jahr rund 1.200 Mitarbeiter beschäftigt?"
    assert found["year"].answer == "2015"
    assert found["quantity"].question == "Der Umsatz stieg um wie viel Prozent?"
    assert found["quantity"].answer == "12 Prozent"
    assert found["speaker"].question == "Wer sagte: „Das ist ein gutes Ergebnis für alle“?"
    assert found["speaker"].answer == "Anna Berger"


def test_examples_use_the_product_prompt_and_cite_the_source_with_the_answer(
    inputs: tuple[Path, Path],
) -> None:
    examples = build_examples(*inputs, SftConfig(headline_examples=40, refusal_share=0.3, dev_share=0.3))
    kinds = {e.kind for e in examples}
    assert {"year", "quantity", "headline", "refusal"} <= kinds
    for example in examples:
        documents = [p.document() for p in example.sources]
        expected = PROMPT.format_messages(context=format_sources(documents), question=example.question)
        system, user, assistant = example.messages
        assert system == {"role": "system", "content": SYSTEM_PROMPT}
        assert user == {"role": "user", "content": expected[1].content}
        assert assistant == {"role": "assistant", "content": example.answer}
        if example.kind == "refusal":
            assert example.answer == REFUSAL
            assert all(p.article_id != example.origin for p in example.sources)
            continue
        text, marker = example.answer.rsplit(" ", 1)
        cited = example.sources[int(marker.strip("[]")) - 1]
        assert cited.article_id == example.origin
        assert text in cited.text
        assert sum(text in p.text for p in example.sources) == 1


def test_split_is_by_article_and_files_report_sizes(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    examples = build_examples(*inputs, SftConfig(headline_examples=40, dev_share=0.5))
    for example in examples:
        assert example.split == split_of(example.origin, 0.5)
    stats = write_examples(examples, tmp_path / "sft")
    rows = {
        split: [json.loads(line) for line in (tmp_path / "sft" / f"{split}.jsonl").read_text().splitlines()]
        for split in ("train", "dev")
    }
    assert {s: len(r) for s, r in rows.items()} == {s: stats[s]["examples"] for s in rows}  # type: ignore[index]
    assert sum(len(r) for r in rows.values()) == len(examples)
    assert not {r["origin"] for r in rows["train"]} & {r["origin"] for r in rows["dev"]}
    assert json.loads((tmp_path / "sft" / "stats.json").read_text()) == stats
