"""The JSONL interchange format: real articles round-trip; every kind of bad line is reported."""

from __future__ import annotations

import json
from collections.abc import Callable
from itertools import islice
from pathlib import Path

from ingest.sources.gnad import read_gnad
from ingest.sources.headlines import read_headlines
from ingest.sources.jsonl import read_jsonl, write_jsonl
from rag.core.datafiles import GNAD_FILE, HEADLINES_FILE
from rag.core.domain import Article, Skipped

GOOD = {"id": "6315605", "title": "Glasfaser-Ausbau stockt", "source": "heise", "comments": 12}


def test_real_articles_round_trip(tmp_path: Path, data_file: Callable[[str], Path]) -> None:
    articles = [
        item
        for items in (read_headlines(data_file(HEADLINES_FILE)), read_gnad(data_file(GNAD_FILE)))
        for item in islice(items, 200)
        if isinstance(item, Article)
    ]
    path = tmp_path / "out" / "articles.jsonl"
    assert write_jsonl(articles, path) == 400
    assert list(read_jsonl(path)) == articles
    assert len(path.read_text(encoding="utf-8").splitlines()) == 400


def test_bad_lines_are_reported_with_line_number_and_pydantics_reason(tmp_path: Path) -> None:
    lines = [
        json.dumps(GOOD).encode(),  # 1
        b'{"id": "2", "title": "kaputt",',  # 2: invalid JSON
        json.dumps({"id": "3", "source": "heise"}).encode(),  # 3: no title
        json.dumps({**GOOD, "id": "4", "published_at": "2024-04-19T13:37:00"}).encode(),  # 4: naive date
        json.dumps({**GOOD, "id": "5", "published_at": "nächste Woche"}).encode(),  # 5: unparseable date
        b"",  # 6: blank lines are not records
        json.dumps({**GOOD, "title": "Doppelt"}).encode(),  # 7: duplicate id
        b'{"id": "8", "title": "Kaputtes \xfc", "source": "heise"}',  # 8: not UTF-8
        json.dumps({**GOOD, "id": "9", "body": "\x00\x01\x02binär"}).encode(),  # 9: binary body
        json.dumps({**GOOD, "id": "10", "title": "Zeilen\u2028trenner bleiben"}, ensure_ascii=False).encode(),
    ]
    path = tmp_path / "articles.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    items = list(read_jsonl(path))
    assert [item.id for item in items if isinstance(item, Article)] == ["6315605", "10"]
    reasons = {
        int(item.location.rsplit(":", 1)[1]): item.reason for item in items if isinstance(item, Skipped)
    }
    assert reasons.keys() == {2, 3, 4, 5, 7, 8, 9}
    assert reasons[2].startswith("kein gültiges JSON (`EOF while parsing")
    assert reasons[3] == "title: fehlt"
    assert reasons[4] == "published_at: braucht eine Zeitzone"
    assert reasons[5].startswith("published_at: ist kein Zeitpunkt")
    assert reasons[7] == f"doppelte ID '6315605', zuerst in {path}:1"
    assert reasons[8] == "kein gültiges UTF-8 (Byte 0xfc)"
    assert reasons[9] == "body: Binärdaten (Steuerzeichen '\\x00')"


def test_missing_file_is_named(tmp_path: Path) -> None:
    [item] = read_jsonl(tmp_path / "fehlt.jsonl")
    assert isinstance(item, Skipped) and item.location == str(tmp_path / "fehlt.jsonl")
