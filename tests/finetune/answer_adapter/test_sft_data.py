"""SFT data for the answer adapter: product prompt format, answers cited from the right source,
refusals only over sources without the answer, a stable split by article."""

from __future__ import annotations

import json
from pathlib import Path

from finetune.answer_adapter.sft_data import (
    SftConfig,
    build_examples,
    span_questions,
    split_of,
    write_examples,
)
from rag.core.prompting import PROMPT, REFUSAL, SYSTEM_PROMPT, format_sources


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
