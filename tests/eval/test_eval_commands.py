"""The eval commands end to end on a real tiny index, and a judge that answers with invalid JSON."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from eval.ragas_scores import RagasSample, judge_scores
from rag.core.settings import Settings
from rag.models.embeddings import Embedder

runner = CliRunner()


class NotJsonJudge(http.server.BaseHTTPRequestHandler):
    """An OpenAI-compatible chat endpoint whose model never returns the JSON it is asked for."""

    calls = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        type(self).calls += 1
        body = json.dumps(
            {
                "id": "x",
                "object": "chat.completion",
                "created": 0,
                "model": "judge",
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": "Kein JSON."},
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def judge_url() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotJsonJudge)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_judge_failures_are_counted_not_scored(ask_env: Settings, judge_url: str) -> None:
    samples = [
        RagasSample("with-ref", "Wer?", "Die Telekom [1].", ["Die Telekom baut aus."], ["x"], "Telekom"),
        RagasSample("no-ref", "Was?", "Nichts.", ["Apple."], ["y"], None),
    ]
    result = judge_scores(samples, judge_url, "judge", Embedder.from_settings(ask_env), timeout=10)
    assert result.scores == {"with-ref": {}, "no-ref": {}}
    # faithfulness and relevancy are judged for both answers; precision/recall need a reference answer
    assert {m: len(f) for m, f in result.failures.items()} == {
        "faithfulness": 2,
        "answer_relevancy": 2,
        "context_precision": 1,
        "context_recall": 1,
    }
    assert result.failures["faithfulness"][0].startswith("with-ref: ")
    assert NotJsonJudge.calls >= 6


def test_eval_answers_writes_the_report_and_gates(
    ask_env: Settings, question_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "answers"
    args = [
        "eval",
        "answers",
        "--questions",
        str(question_file),
        "--collection",
        "heise",
        "--output",
        str(out),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "übersprungen" in result.output  # the malformed line and the unknown gold id
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["meta"]["n_questions"] == 2
    assert metrics["metrics"]["exact_match"]["n"] == 1  # only q1 has a reference answer
    assert metrics["metrics"]["gold_in_sources"]["mean"] == 1.0
    assert 0.0 <= metrics["flat"]["non_llm_context_recall"] <= 1.0
    assert any("q3: no gold article" in p for p in metrics["problems"])
    assert any(":2:" in p for p in metrics["problems"])
    lines = [json.loads(line) for line in (out / "answers.jsonl").read_text().splitlines()]
    assert [line["qid"] for line in lines] == ["q1", "q2"] and lines[0]["source_ids"][0] == "6315605"
    assert {"answer_metrics.png", "answer_latency.png", "per_question.csv", "report.md"} <= {
        p.name for p in out.iterdir()
    }
    assert "## Skipped (2)" in (out / "report.md").read_text()

    gated = runner.invoke(app, [*args, "--fail-under", "gold_in_sources=1.1", "--baseline", str(out)])
    assert gated.exit_code == 1
    assert "unter der Schwelle: gold_in_sources = 1.0000 < 1.1" in gated.output
    assert "Vergleich mit" in gated.output and "Δ +0.0000" in gated.output


def test_eval_answers_asks_no_answer_twins_without_their_gold(
    ask_env: Settings, question_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "twins"
    args = ["eval", "answers", "--questions", str(question_file), "--collection", "heise"]
    result = runner.invoke(app, [*args, "--output", str(out), "--no-answer-twins"])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["metrics"]["no_answer_refused"]["n"] == 2
    twins = [json.loads(line) for line in (out / "no_answer.jsonl").read_text().splitlines()]
    assert [t["qid"] for t in twins] == ["q1", "q2"]
    for twin in twins:  # the gold article is never a source of its twin
        assert not set(twin["gold_ids"]) & set(twin["source_ids"])
        assert twin["scores"]["no_answer_refused"] in (0.0, 1.0)
    answered = [json.loads(line) for line in (out / "answers.jsonl").read_text().splitlines()]
    assert answered[0]["source_ids"][0] == "6315605"  # the questions themselves keep their gold
    assert "no_answer_refused" in (out / "per_question.csv").read_text().splitlines()[0]


def test_eval_retrieval_all_modes_and_bad_floor(
    ask_env: Settings, question_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "retrieval"
    args = [
        "eval",
        "retrieval",
        "--questions",
        str(question_file),
        "--collection",
        "heise",
        "--output",
        str(out),
    ]
    result = runner.invoke(app, [*args, "--fail-under", "hybrid.recall@10=1.0"])
    assert result.exit_code == 0, result.output
    flat = json.loads((out / "metrics.json").read_text())["flat"]
    assert flat["hybrid.recall@10"] == 1.0 and set(flat) >= {"dense.mrr@10", "sparse.ndcg@10"}
    assert {"recall_at_k.png", "retrieval_latency.png", "per_question.csv"} <= {p.name for p in out.iterdir()}
    typo = runner.invoke(app, [*args, "--fail-under", "hybrid.mrr=0.1"])
    assert typo.exit_code == 2 and "unbekannte Metrik" in typo.output
    missing = runner.invoke(app, ["eval", "retrieval", "--collection", "heise", "--output", str(out)])
    assert missing.exit_code == 2 and "genau eine der Optionen --questions oder --squad" in missing.output
