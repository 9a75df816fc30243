"""The evaluation page over real report folders, and the index page: statistics and ingest."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app.eval_reports import find_reports, latest_by_kind, metrics_table
from eval.retrieval_eval import METRICS, ModeResult
from eval.retrieval_report import write_retrieval_report
from rag.core.settings import PROJECT_ROOT, Settings, get_settings


def retrieval_report(folder: Path, mrr: float) -> None:
    """A report written by the real evaluation writer, with one mode."""
    metrics = dict.fromkeys(METRICS, mrr)
    result = ModeResult(
        mode="hybrid",
        metrics=metrics,
        intervals={m: (mrr - 0.1, mrr + 0.1) for m in metrics},
        latency_ms={"p50": 12.0, "p95": 30.0},
        rows=[{"qid": "q1", "mode": "hybrid", "rank": 2, "latency_ms": 12.0} | metrics],
    )
    write_retrieval_report([result], folder, "Retrieval evaluation", {"questions": 1})


def test_reports_are_found_by_kind_newest_first(tmp_path: Path) -> None:
    assert find_reports([tmp_path / "none"]) == []
    retrieval_report(tmp_path / "eval" / "old", 0.4)
    retrieval_report(tmp_path / "eval" / "new", 0.6)
    answers = tmp_path / "eval" / "answers-qwen"
    answers.mkdir()
    payload = {
        "metrics": {"f1": {"mean": 0.41, "ci95": [0.3, 0.5], "n": 26}},
        "latency_s": {"total_p50": 9.0},
    }
    (answers / "metrics.json").write_text(json.dumps(payload))
    other = tmp_path / "eval" / "bench"
    other.mkdir()
    (other / "metrics.json").write_text(json.dumps({"speed": {"p50": 0.8}, "n": 10}))
    grouped = latest_by_kind(find_reports([tmp_path / "eval", PROJECT_ROOT / "reports"]))
    assert [r.folder.name for r in grouped["retrieval"]][:1] == ["new"]
    assert metrics_table(grouped["retrieval"][0])["mrr@10"].tolist() == [0.6]
    assert metrics_table(grouped["answers"][0]).to_dict("records") == [
        {"Kennzahl": "f1", "Mittelwert": 0.41, "95-%-Intervall": "[0.300, 0.500]", "n": 26}
    ]
    table = metrics_table(grouped["other"][0])
    assert dict(zip(table["Kennzahl"], table["Wert"], strict=True)) == {"speed.p50": "0.8", "n": "10"}
    assert "E5 + LoRA (fine-tuned)" in set(metrics_table(grouped["classifier"][0])["Modell"])


def test_evaluation_page_shows_tables_and_plots(
    fresh_caches: None, isolated_env: Path, app: Callable[[str], AppTest]
) -> None:
    retrieval_report(get_settings().var_dir / "eval" / "retrieval", 0.5)
    page = app("evaluation")
    assert not page.exception
    assert [t.label for t in page.tabs][:1] == ["Retrieval"]
    assert "Schlagzeilen-Klassifikator" in [t.label for t in page.tabs]
    assert page.dataframe[0].value["Modus"].tolist() == ["hybrid"]
    assert len(page.get("image")) >= 2  # the retrieval plot and the classifier's curves


FEED = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>heise</title><id>https://www.heise.de/</id>
<updated>2024-04-19T14:00:00+02:00</updated>
<entry><title>Glasfaser-Ausbau stockt in Bayern</title><id>http://heise.de/-9700001</id>
<link href="https://www.heise.de/news/Glasfaser-Ausbau-stockt-in-Bayern-9700001.html"/>
<published>2024-04-19T13:37:00+02:00</published><summary>Der Ausbau stockt.</summary></entry>
<entry><title></title><link href="https://www.heise.de/news/Ohne-Titel-9700002.html"/>
<published>2024-04-19T13:37:00+02:00</published></entry>
</feed>"""


def skipped_reasons(page: AppTest) -> list[str]:
    return next(d.value for d in page.dataframe if "Grund" in d.value)["Grund"].tolist()


def metric(page: AppTest, label: str) -> str:
    return next(m.value for m in page.metric if m.label == label)


def test_index_page_shows_stats_and_ingests_a_feed_and_an_upload(
    app_env: Settings, app: Callable[[str], AppTest], http_root: tuple[str, Path], loopback_fetches: None
) -> None:
    page = app("index")
    assert not page.exception
    assert (metric(page, "Artikel"), metric(page, "Quellen")) == ("3", "1")
    assert metric(page, "Zeitraum") == "01.2022 – 10.2023"  # noqa: RUF001

    base, root = http_root
    (root / "heise-atom.xml").write_text(FEED, encoding="utf-8")
    page.text_input[0].set_value(f"{base}/heise-atom.xml")
    next(b for b in page.button if b.label == "Feed aufnehmen").click().run()
    assert not page.exception and not page.error
    assert "1 neu" in page.success[0].value
    assert skipped_reasons(page) == ["title: muss mindestens 1 Zeichen haben"]
    assert metric(page, "Artikel") == "4"

    lines = [
        json.dumps({"id": "1", "title": "Neuer Artikel", "body": "Text.", "source": "jsonl"}),
        "{kein json",
    ]
    page.file_uploader[0].set_value(("artikel.jsonl", "\n".join(lines).encode(), "application/json"))
    next(b for b in page.button if b.label == "Datei aufnehmen").click().run()
    assert not page.exception and not page.error
    assert "1 neu" in page.success[0].value
    skipped = next(d.value for d in page.dataframe if "Grund" in d.value)
    assert skipped["Ort"].tolist() == ["artikel.jsonl:2"]  # as uploaded: the temporary copy is gone
    assert not (get_settings().var_dir / "uploads").exists()
    assert (metric(page, "Artikel"), metric(page, "Quellen")) == ("5", "2")


def test_index_page_explains_an_unreachable_server_and_still_lists_models(
    fresh_caches: None, isolated_env: Path, app: Callable[[str], AppTest], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEISE_RAG_QDRANT_URL", "http://127.0.0.1:9")
    get_settings.cache_clear()
    page = app("index")
    assert not page.exception
    assert "ist nicht erreichbar" in page.error[0].value.replace("\\", "")
    models = page.dataframe[0].value
    assert list(models["Modell"])[:2] == ["multilingual-e5-small", "qwen2.5-coder-0.5b-instruct"]


def test_index_page_on_a_fresh_machine_says_how_to_build_the_index(
    fresh_caches: None, isolated_env: Path, app: Callable[[str], AppTest]
) -> None:
    page = app("index")
    assert not page.exception
    assert "Die Sammlung gibt es noch nicht" in page.info[0].value
