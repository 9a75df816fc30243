"""The engagement predictor with the committed classifier: accuracy, API, bad input, files, CLI."""

from __future__ import annotations

import csv
import re
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from cli.main import app
from finetune.classifier.data import load_headlines, make_split
from rag.core.datafiles import HEADLINES_FILE
from rag.core.settings import Settings
from rag.engagement.headline_csv import CsvInputError, predict_csv_file
from rag.engagement.predictor import (
    MAX_HEADLINE_CHARS,
    EngagementPredictor,
    HeadlineError,
    Prediction,
    inference_dtype,
    validate_headline,
)

runner = CliRunner()
ACCURACY_SLICE = 400  # the first rows of the reference split's test part


@pytest.fixture(scope="module")
def predictor(settings: Settings, provisioned: Callable[[str], Path]) -> EngagementPredictor:
    provisioned("multilingual-e5-small")
    found = EngagementPredictor.from_settings(settings)
    found.warm_up()
    return found


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "leer"),
        ("   \n\t ", "leer"),
        ("x" * 5000, f"zu lang (5000 Zeichen, höchstens {MAX_HEADLINE_CHARS})"),
        ("🔥🚀😱", "keine Buchstaben oder Ziffern"),
        (None, "muss Text sein"),
    ],
)
def test_bad_headlines_get_a_clear_german_message(text: object, message: str) -> None:
    with pytest.raises(HeadlineError, match=re.escape(message)):
        validate_headline(text)


def test_inference_dtype_follows_the_setting() -> None:
    assert inference_dtype("float32", "cpu") == torch.float32
    assert inference_dtype("bfloat16", "cpu") == torch.bfloat16
    assert inference_dtype("auto", "cuda") == torch.float32  # auto only picks bf16 for a capable CPU


def test_headline_whitespace_is_normalized() -> None:
    assert validate_headline("  Apple  stellt\nneues iPhone vor ") == "Apple stellt neues iPhone vor"
    assert validate_headline("Linux 6.8 🐧 ist da") == "Linux 6.8 🐧 ist da"


@pytest.mark.slow
def test_committed_classifier_reaches_080_on_reference_validation_slice(
    predictor: EngagementPredictor, data_file: Callable[[str], Path]
) -> None:
    test = make_split(load_headlines(data_file(HEADLINES_FILE)), "reference").test.iloc[:ACCURACY_SLICE]
    predictions = predictor.predict(test.headline.tolist())
    predicted = [1 if p.label == "good" else 0 for p in predictions]
    accuracy = sum(int(a == b) for a, b in zip(predicted, test.label, strict=True)) / len(test)
    assert accuracy >= 0.80, f"accuracy {accuracy:.3f} on {len(test)} reference validation headlines"


@pytest.mark.slow
def test_predict_and_rank(predictor: EngagementPredictor) -> None:
    headlines = [
        "Microsoft erhöht die Preise für Office 365",
        "Bundesnetzagentur veröffentlicht Jahresbericht",
    ]
    predictions = predictor.predict(headlines)
    assert all(isinstance(p, Prediction) and 0.0 < p.p_many_comments < 1.0 for p in predictions)
    assert [p.label for p in predictions] == [
        "good" if p.p_many_comments >= 0.5 else "bad" for p in predictions
    ]
    ranked = predictor.rank(headlines)
    assert sorted(p.p_many_comments for _, p in ranked) == sorted(p.p_many_comments for p in predictions)
    assert ranked[0][1].p_many_comments >= ranked[1][1].p_many_comments
    assert predictor.predict([]) == []
    with pytest.raises(HeadlineError, match="Schlagzeile 2: Schlagzeile ist leer"):
        predictor.predict(["Gut", " "])


@pytest.mark.slow
def test_csv_keeps_columns_predicts_good_rows_and_reports_bad_ones(
    predictor: EngagementPredictor, tmp_path: Path
) -> None:
    source = tmp_path / "in.csv"
    rows = [
        b"id,headline,autor\n",
        b"1,Tesla senkt die Preise in Deutschland,ab\n",
        b"2,,cd\n",
        b'3,"' + "🔥🔥".encode() + b'",ef\n',
        b"4," + b"y" * 5000 + b",gh\n",
        b"5,Stra\xdfenverkehr: neue Regeln f\xfcr E-Scooter,ij\n",  # Latin-1, not UTF-8
        b'6,"Datenschutz, Cookies und Banner",kl\n',
    ]
    source.write_bytes(b"".join(rows))
    report = predict_csv_file(predictor, source, tmp_path / "out.csv")
    assert (report.rows, report.predicted) == (6, 2)
    assert [line for line, _ in report.skipped] == [3, 4, 5, 6]
    assert "nicht UTF-8" in report.skipped[-1][1]
    out = pd.read_csv(tmp_path / "out.csv", encoding="latin-1", dtype=str, keep_default_na=False)
    assert list(out.columns) == ["id", "headline", "autor", "p_good", "label"]
    assert out.autor.tolist() == ["ab", "cd", "ef", "gh", "ij", "kl"]
    assert out.label.tolist()[0] in {"good", "bad"} and out.label.tolist()[1:5] == ["", "", "", ""]
    assert 0 < float(out.p_good[5]) < 1
    assert (tmp_path / "out.csv").read_bytes().count(b"Stra\xdfenverkehr") == 1  # bytes carried through


@pytest.mark.slow
def test_csv_unbalanced_quote_costs_only_its_own_line(predictor: EngagementPredictor, tmp_path: Path) -> None:
    good = [
        f'{i},"Update {i}: Browser, Mailer und Office bekommen Sicherheitskorrekturen",security'
        if i % 10 == 0
        else f"{i},Neue Funktionen in Version {i} des Messengers,apps"
        for i in range(1, 51)
    ]
    good[4] = '5,Bundesrat sagt "Nein" zur Chatkontrolle,politik'  # a quote inside an unquoted field is fine
    broken = '99,"Tesla senkt die Preise in Deutschland,auto'  # the quote is never closed
    source = tmp_path / "in.csv"
    source.write_text("\n".join(["id,headline,ressort", *good[:25], broken, *good[25:]]) + "\n")
    report = predict_csv_file(predictor, source, tmp_path / "out.csv")
    assert (report.rows, report.predicted) == (51, 50)
    [(line, reason)] = report.skipped
    assert line == 27 and "kein lesbares CSV" in reason  # header, 25 good rows, then the broken one
    with (tmp_path / "out.csv").open(newline="", encoding="utf-8") as handle:
        out = list(csv.DictReader(handle))
    assert [row["id"] for row in out] == [str(i) for i in range(1, 51)]
    assert all(row["label"] in {"good", "bad"} for row in out)
    assert out[4]["headline"] == 'Bundesrat sagt "Nein" zur Chatkontrolle'


def test_csv_without_headline_column_is_rejected(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("titel;text\nHallo;Welt\n", encoding="utf-8")
    predictor = EngagementPredictor(tmp_path / "unused", model_cache_dir=tmp_path)  # never loaded
    with pytest.raises(CsvInputError, match="keine Spalte 'headline' \\(gefunden: 'titel', 'text'\\)"):
        predict_csv_file(predictor, source, tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.slow
def test_cli_single_ranking_and_files(predictor: EngagementPredictor, tmp_path: Path) -> None:
    result = runner.invoke(app, ["predict-headline", "Bundesregierung plant Tempolimit auf Autobahnen"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("p_good = ") and "label = " in result.output

    result = runner.invoke(app, ["predict-headline", "Neues Update für Firefox", "Warum Firefox stirbt"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith("Rang") and len(result.output.splitlines()) == 3

    source, target = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_text("headline,x\nElon Musk kauft Twitter,1\n🔥,2\n", encoding="utf-8")
    result = runner.invoke(app, ["predict-headline", "--input", str(source), "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert "1 von 2 Schlagzeilen bewertet, 1 Zeile(n) übersprungen" in result.output
    assert "Zeile 3: Schlagzeile enthält keine Buchstaben" in result.output
    assert pd.read_csv(target).columns.tolist() == ["headline", "x", "p_good", "label"]


def test_cli_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["predict-headline"])
    assert result.exit_code == 2 and "entweder Schlagzeile(n) oder --input DATEI" in result.output
    missing = tmp_path / "fehlt.csv"
    result = runner.invoke(app, ["predict-headline", "--input", str(missing)])
    assert result.exit_code == 1 and "nicht lesbar" in result.output
    result = runner.invoke(app, ["predict-headline", "Gute Schlagzeile", "  "])
    assert result.exit_code == 1 and "Schlagzeile 2: Schlagzeile ist leer" in result.output
