"""The source registry the CLI uses: names, default locations, and the contract every source keeps."""

from __future__ import annotations

from itertools import islice
from pathlib import Path

import pytest

from ingest.sources import SOURCES, default_locations
from ingest.sources.feed import HEISE_FEED_URL
from rag.core.domain import Article, Skipped
from rag.core.settings import Settings


def test_registry_names_every_source() -> None:
    assert set(SOURCES) == {"headlines", "10kgnad", "feed", "html", "jsonl", "squad"}


def test_default_locations_follow_the_settings(tmp_path: Path) -> None:
    locations = default_locations(Settings(_env_file=None, data_dir=tmp_path / "daten"))
    assert locations == {
        "headlines": str(tmp_path / "daten" / "heise-headlines" / "newsticker-2022-2023-good-bad.csv.gz"),
        "10kgnad": str(tmp_path / "daten" / "10kgnad" / "test.csv"),
        "feed": HEISE_FEED_URL,
        "squad": str(tmp_path / "daten" / "xquad-de" / "xquad.de.dev.json"),
    }


@pytest.mark.parametrize("name", ["headlines", "10kgnad", "squad"])
def test_local_defaults_yield_articles(name: str, settings: Settings) -> None:
    location = default_locations(settings)[name]
    if not Path(location).exists():
        pytest.skip(f"{location} not provisioned: run `make test` or `heise-rag data provision`")
    assert all(isinstance(item, Article) for item in islice(SOURCES[name](location), 50))


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_an_unreadable_input_is_one_skipped_item_naming_it(name: str, tmp_path: Path) -> None:
    missing = str(tmp_path / "gibt-es-nicht")
    items = list(SOURCES[name](missing))
    assert len(items) == 1 and isinstance(items[0], Skipped)
    assert items[0].location == missing and "Datei oder Ordner gibt es nicht" in items[0].reason
