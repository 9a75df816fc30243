"""The SQuAD source on German XQuAD and on malformed SQuAD documents."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from ingest.sources.squad import read_squad
from rag.core.datafiles import XQUAD_FILE
from rag.core.domain import Article, Skipped


def test_every_xquad_paragraph_becomes_an_article(data_file: Callable[[str], Path]) -> None:
    path = data_file(XQUAD_FILE)
    items = list(read_squad(path))
    assert all(isinstance(item, Article) for item in items)
    assert len(items) == 120 and len({item.id for item in items if isinstance(item, Article)}) == 120
    document = json.loads(path.read_text(encoding="utf-8"))
    first_entry = document["data"][0]
    first = items[0]
    assert isinstance(first, Article)
    assert first.id == f"{first_entry['title']}#0" == "Super_Bowl_50#0"
    assert first.title == "Super Bowl 50" and first.source == "xquad"
    assert first.body == first_entry["paragraphs"][0]["context"]
    # Every question's answer lies in the article its paragraph became.
    by_id = {item.id: item for item in items if isinstance(item, Article)}
    for entry in document["data"]:
        for number, paragraph in enumerate(entry["paragraphs"]):
            for question in paragraph["qas"]:
                assert question["answers"][0]["text"] in by_id[f"{entry['title']}#{number}"].body


def test_malformed_parts_are_reported_and_the_rest_is_read(tmp_path: Path) -> None:
    document = {
        "version": "1.1",
        "data": [
            {
                "title": "Glasfaser",
                "paragraphs": [
                    {"context": "Der Ausbau in Bayern stockt.", "qas": []},
                    {"context": "", "qas": []},
                    {"qas": []},
                    {"context": "Kaputt \udcfc", "qas": []},
                ],
            },
            {"paragraphs": []},
            {"title": "Glasfaser", "paragraphs": [{"context": "Gleicher Titel, gleiche Nummer.", "qas": []}]},
        ],
    }
    path = tmp_path / "squad.json"
    path.write_bytes(json.dumps(document, ensure_ascii=False).encode("utf-8", "surrogateescape"))
    items = list(read_squad(path, source="test"))
    assert items == [
        Article(id="Glasfaser#0", title="Glasfaser", body="Der Ausbau in Bayern stockt.", source="test"),
        Skipped(location=f"{path}:Glasfaser#1", reason="Absatz ohne Text in 'context'"),
        Skipped(location=f"{path}:Glasfaser#2", reason="Absatz ohne Text in 'context'"),
        Skipped(location=f"{path}:Glasfaser#3", reason="body: kein gültiges UTF-8 (Byte 0xfc)"),
        Skipped(
            location=f"{path}:data[1]",
            reason="kein SQuAD-Artikel: braucht 'title' und eine Liste 'paragraphs'",
        ),
        Skipped(
            location=f"{path}:Glasfaser#0", reason=f"doppelte ID 'Glasfaser#0', zuerst in {path}:Glasfaser#0"
        ),
    ]


def test_documents_that_are_not_squad_are_one_skipped_item(tmp_path: Path) -> None:
    (tmp_path / "kaputt.json").write_text('{"data": [', encoding="utf-8")
    (tmp_path / "liste.json").write_text("[1, 2]", encoding="utf-8")
    [broken] = read_squad(tmp_path / "kaputt.json")
    [wrong] = read_squad(tmp_path / "liste.json")
    assert isinstance(broken, Skipped) and broken.reason.startswith("kein JSON (Zeile 1")
    assert wrong == Skipped(
        location=str(tmp_path / "liste.json"), reason="kein SQuAD-JSON: keine Liste 'data' auf oberster Ebene"
    )
