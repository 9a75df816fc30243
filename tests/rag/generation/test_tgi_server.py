"""The TGI-compatible server: every route it serves, answers validated against TGI's OpenAPI description."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from cli.main import app as cli_app
from rag.core.settings import PROJECT_ROOT, Settings
from rag.generation.engine import load_engine
from rag.serve.routes import create_app
from rag.serve.server import TGIServer
from rag.serve.startup import parse_lora_adapters, running_server

OpenAPI = Any  # tests/rag/generation/conftest.py: OpenAPI

ADAPTER = "kurz"  # the adapter the `tgi_url` server loads (conftest.py)
CHAT = {"messages": [{"role": "system", "content": "Antworte kurz."}, {"role": "user", "content": "Hallo"}]}

# (method, path, request body, expected status): every route and its documented error answers.
CASES: list[tuple[str, str, dict[str, Any] | None, int]] = [
    ("get", "/info", None, 200),
    ("get", "/health", None, 200),
    ("get", "/v1/models", None, 200),
    ("post", "/generate", {"inputs": "Hallo Welt", "parameters": {"max_new_tokens": 4}}, 200),
    (
        "post",
        "/generate",
        {
            "inputs": "Hallo Welt",
            "parameters": {
                "max_new_tokens": 4,
                "details": True,
                "decoder_input_details": True,
                "top_n_tokens": 2,
                "return_full_text": True,
                "stop": ["xyz"],
            },
        },
        200,
    ),
    (
        "post",
        "/generate",
        {
            "inputs": "Hallo",
            "parameters": {"max_new_tokens": 4, "details": True, "do_sample": True, "seed": 7},
        },
        200,
    ),
    (
        "post",
        "/generate",
        {"inputs": "Hallo", "parameters": {"max_new_tokens": 3, "adapter_id": ADAPTER}},
        200,
    ),
    ("post", "/generate", {"inputs": "", "parameters": {"max_new_tokens": 4}}, 422),
    (
        "post",
        "/generate",
        {"inputs": "Hallo", "parameters": {"max_new_tokens": 4, "adapter_id": "fehlt"}},
        422,
    ),
    ("post", "/generate", {"inputs": "Hallo", "parameters": {"max_new_tokens": 999999}}, 422),
    ("post", "/generate", {"inputs": "Hallo", "parameters": {"max_new_tokens": 4, "best_of": 2}}, 422),
    ("post", "/generate", {"parameters": {"max_new_tokens": 4}}, 422),
    (
        "post",
        "/generate_stream",
        {"inputs": "Hallo", "parameters": {"max_new_tokens": 4, "details": True}},
        200,
    ),
    (
        "post",
        "/generate_stream",
        {"inputs": "Hallo", "parameters": {"max_new_tokens": 3, "top_n_tokens": 3}},
        200,
    ),
    ("post", "/generate_stream", {"inputs": "Hallo", "parameters": {"temperature": -1}}, 422),
    ("post", "/generate_stream", {"inputs": "", "parameters": {"max_new_tokens": 4}}, 422),
    ("post", "/", {"inputs": "Hallo", "parameters": {"max_new_tokens": 3, "details": True}}, 200),
    (
        "post",
        "/",
        {"inputs": "Hallo", "parameters": {"max_new_tokens": 3, "details": True}, "stream": True},
        200,
    ),
    ("post", "/", {"inputs": "", "stream": True}, 422),
    ("post", "/v1/chat/completions", {**CHAT, "max_tokens": 4, "temperature": 0}, 200),
    ("post", "/v1/chat/completions", {**CHAT, "max_tokens": 4, "logprobs": True, "top_logprobs": 2}, 200),
    (
        "post",
        "/v1/chat/completions",
        {
            **CHAT,
            "max_tokens": 4,
            "stream": True,
            "stream_options": {"include_usage": True},
            "logprobs": True,
        },
        200,
    ),
    ("post", "/v1/chat/completions", {**CHAT, "max_tokens": 3, "model": ADAPTER, "stream": True}, 200),
    ("post", "/v1/chat/completions", {"messages": [], "max_tokens": 4}, 422),
    (
        "post",
        "/v1/chat/completions",
        {**CHAT, "tools": [{"type": "function", "function": {"name": "f", "arguments": {}}}]},
        422,
    ),
]


@pytest.mark.parametrize(("method", "path", "body", "status"), CASES, ids=lambda v: str(v)[:40])
def test_route_answers_match_tgi_openapi(
    tgi_url: str, tgi_openapi: OpenAPI, method: str, path: str, body: dict[str, Any] | None, status: int
) -> None:
    response = httpx.request(method.upper(), tgi_url + path, json=body, timeout=60)
    assert response.status_code == status, response.text
    parsed = tgi_openapi.validate_response(path, method, response)
    if status == 422:
        payload = parsed[0] if isinstance(parsed, list) else parsed
        assert payload["error_type"] == "validation" and payload["error"]


def test_every_served_route_is_a_tgi_route_and_is_tested(
    tiny: str, tgi_openapi: OpenAPI, settings: Settings
) -> None:
    engine = load_engine(tiny, cache_dir=settings.model_cache_dir)
    app = create_app(TGIServer(engine, model_id=tiny))
    served = {
        (route.path, method.lower())
        for route in app.routes
        if isinstance(route, APIRoute)
        for method in route.methods
    }
    for path, method in served:
        assert method in tgi_openapi.spec["paths"].get(path, {}), (
            f"{method.upper()} {path} is not a TGI route"
        )
    assert served == {(path, method) for method, path, _, _ in CASES}


def test_the_validator_rejects_answers_that_break_the_description(tgi_openapi: OpenAPI) -> None:
    from jsonschema import ValidationError

    broken = [
        ("/generate", httpx.Response(200, json={"details": None})),  # no generated_text
        ("/generate", httpx.Response(200, json={"generated_text": None})),  # not nullable
        ("/info", httpx.Response(200, json={"model_id": "x"})),
        ("/generate", httpx.Response(422, json={"error": "x"})),  # no error_type
        (
            "/generate_stream",
            httpx.Response(200, text='data: {"index": 1}\n\n', headers={"content-type": "text/event-stream"}),
        ),
    ]
    for path, response in broken:
        with pytest.raises(ValidationError):
            tgi_openapi.validate_response(path, "get" if path == "/info" else "post", response)
    with pytest.raises(AssertionError, match="not in TGI's description"):
        tgi_openapi.validate_response("/generate", "post", httpx.Response(404, json={}))


def test_our_test_requests_are_valid_tgi_requests(tgi_openapi: OpenAPI) -> None:
    for method, path, body, status in CASES:
        if method == "post" and status == 200:
            tgi_openapi.validate_request(path, body)


def test_stream_events_carry_text_details_and_the_final_text(tgi_url: str, tgi_openapi: OpenAPI) -> None:
    body = {"inputs": "Hallo Welt", "parameters": {"max_new_tokens": 6, "details": True}}
    streamed = tgi_openapi.validate_response(
        "/generate_stream", "post", httpx.post(f"{tgi_url}/generate_stream", json=body, timeout=60)
    )
    plain = httpx.post(f"{tgi_url}/generate", json=body, timeout=60).json()
    assert [event["index"] for event in streamed] == list(range(1, len(streamed) + 1))
    assert all(event["generated_text"] is None for event in streamed[:-1])
    assert streamed[-1]["generated_text"] == plain["generated_text"]
    assert streamed[-1]["details"]["generated_tokens"] == len(streamed) == 6
    assert streamed[-1]["details"]["finish_reason"] == "length"
    assert [e["token"]["id"] for e in streamed] == [t["id"] for t in plain["details"]["tokens"]]


def test_stop_sequence_ends_generation(tgi_url: str) -> None:
    first = httpx.post(f"{tgi_url}/generate", json={"inputs": "Hallo", "parameters": {"max_new_tokens": 6}})
    word = first.json()["generated_text"].split()[2]
    body = {"inputs": "Hallo", "parameters": {"max_new_tokens": 6, "stop": [word], "details": True}}
    answer = httpx.post(f"{tgi_url}/generate", json=body).json()
    assert answer["details"]["finish_reason"] == "stop_sequence"
    assert answer["generated_text"].endswith(word)  # TGI keeps the stop sequence


def test_adapter_id_changes_the_answer_and_base_stays_base(tgi_url: str) -> None:
    def text(adapter: str | None) -> str:
        parameters = {"max_new_tokens": 6, **({"adapter_id": adapter} if adapter else {})}
        return httpx.post(f"{tgi_url}/generate", json={"inputs": "Hallo", "parameters": parameters}).json()[
            "generated_text"
        ]

    base, adapted = text(None), text(ADAPTER)
    assert adapted != base
    assert text(None) == base
    models = httpx.get(f"{tgi_url}/v1/models").json()
    assert [m["id"] for m in models["data"]] == ["tiny-random-llama", ADAPTER]


def test_overloaded_server_answers_429_as_documented(
    tiny: str, tgi_openapi: OpenAPI, settings: Settings
) -> None:
    engine = load_engine(tiny, cache_dir=settings.model_cache_dir)
    client = TestClient(create_app(TGIServer(engine, model_id="tiny", max_concurrent_requests=0)))
    for path, body in [
        ("/generate", {"inputs": "Hallo", "parameters": {"max_new_tokens": 2}}),
        ("/v1/chat/completions", {**CHAT, "max_tokens": 2}),
    ]:
        response = client.post(path, json=body)
        assert response.status_code == 429
        assert tgi_openapi.validate_response(path, "post", response)["error_type"] == "overloaded"


def test_dropped_streams_free_their_slot(tiny: str, settings: Settings) -> None:
    engine = load_engine(tiny, cache_dir=settings.model_cache_dir)
    server = TGIServer(engine, model_id=tiny, max_concurrent_requests=1)
    body = {"inputs": "Hallo", "parameters": {"max_new_tokens": 1000}}
    with running_server(create_app(server)) as url:
        for path, payload in [("/generate_stream", body), ("/v1/chat/completions", {**CHAT, "stream": True})]:
            with httpx.stream("POST", url + path, json=payload, timeout=30) as response:
                assert response.status_code == 200
                next(response.iter_lines())  # read one event, then hang up
            deadline = time.monotonic() + 20
            while server._in_flight and time.monotonic() < deadline:
                time.sleep(0.05)
            assert server._in_flight == 0
        small = {"inputs": "Hallo", "parameters": {"max_new_tokens": 2}}
        assert httpx.post(url + "/generate", json=small, timeout=30).status_code == 200


def test_lora_adapters_option_parsing() -> None:
    assert parse_lora_adapters("a=/x/a, b=/x/b") == {"a": "/x/a", "b": "/x/b"}
    assert parse_lora_adapters("org/adapter") == {"org/adapter": "org/adapter"}
    assert parse_lora_adapters(None) == {}
    with pytest.raises(ValueError, match="name=pfad"):
        parse_lora_adapters("=/x")


def test_cli_rejects_unknown_quantize_and_a_taken_port(tiny: str) -> None:
    runner = CliRunner()
    result = runner.invoke(cli_app, ["serve", "tgi", "--model", tiny, "--port", "0", "--quantize", "gptq"])
    assert result.exit_code == 1
    assert "gptq" in result.output
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = runner.invoke(cli_app, ["serve", "tgi", "--model", tiny, "--port", port])
    assert result.exit_code == 1
    assert "Fehler" in result.output


@pytest.mark.slow
def test_cli_serves_a_model_with_adapters_until_interrupted(tiny: str, lora_adapter: Path) -> None:
    command = [
        str(Path(sys.executable).parent / "heise-rag"),
        "serve",
        "tgi",
        "--model",
        tiny,
        "--port",
        "0",
        "--lora-adapters",
        f"{ADAPTER}={lora_adapter}",
    ]
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ
    )
    try:
        url = None
        deadline = time.monotonic() + 180
        assert process.stdout is not None
        while url is None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                break
            if "bereit" in line and "http://" in line:
                url = line.strip().rsplit(" ", 1)[-1]
        assert url, "the server did not report its address"
        info = httpx.get(f"{url}/info", timeout=10).json()
        assert info["model_id"] == tiny
        body = {"inputs": "Hallo", "parameters": {"max_new_tokens": 3, "adapter_id": ADAPTER}}
        assert httpx.post(f"{url}/generate", json=body, timeout=60).status_code == 200
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    # uvicorn shuts down, then re-raises the interrupt: 130 is a clean Ctrl-C exit
    assert process.returncode in (0, 130, -signal.SIGINT)


# -- TGI's guards: API key, payload limit, concurrency before tokenizing, request timeout ---------

KEY = "geheimer-schluessel"
SMALL = {"inputs": "Hallo", "parameters": {"max_new_tokens": 2}}


@pytest.fixture
def tiny_server(tiny: str, settings: Settings) -> TGIServer:
    return TGIServer(load_engine(tiny, cache_dir=settings.model_cache_dir), model_id=tiny)


def test_api_key_guards_every_route_but_health(tiny_server: TGIServer) -> None:
    client = TestClient(create_app(tiny_server, api_key=KEY))
    routes = {  # one working request per route; this server loads no adapter
        (method, path): body
        for method, path, body, status in CASES
        if status == 200 and ADAPTER not in str(body)
    }
    for (method, path), body in routes.items():
        for headers in ({}, {"Authorization": "Bearer falsch"}, {"Authorization": KEY}):
            response = client.request(method.upper(), path, json=body, headers=headers)
            if path == "/health":
                assert response.status_code == 200
                continue
            assert response.status_code == 401, (path, headers)
            assert response.json()["error_type"] == "unauthorized"
            assert response.headers["www-authenticate"] == "Bearer"
        good = client.request(method.upper(), path, json=body, headers={"Authorization": f"Bearer {KEY}"})
        assert good.status_code == 200, (path, good.text)


def test_tgi_backend_sends_the_api_key(tiny_server: TGIServer, tiny_settings: Settings) -> None:
    from rag.generation import GeneratorError, make_chat_model

    with running_server(create_app(tiny_server, api_key=KEY)) as url:
        keyed = tiny_settings.model_copy(
            update={"generator_backend": "tgi", "generator_url": url, "generator_api_key": KEY}
        )
        model = make_chat_model(keyed)
        assert model.warm_up()["model_id"] == tiny_server.model_id
        assert model.invoke("Hallo").content
        wrong = make_chat_model(keyed.model_copy(update={"generator_api_key": None}))
        with pytest.raises(GeneratorError, match="401"):
            wrong.invoke("Hallo")


def test_bodies_over_the_payload_limit_get_413_before_tokenizing(
    tiny_server: TGIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_tokenizing(*args: Any, **kwargs: Any) -> list[int]:
        raise AssertionError("tokenized a request over the payload limit")

    client = TestClient(create_app(tiny_server))  # TGI's default: 2 MB
    monkeypatch.setattr(tiny_server.engine, "encode", no_tokenizing)
    big = {"inputs": "Hallo " * 400_000, "parameters": {"max_new_tokens": 2}}
    for path in ("/generate", "/generate_stream", "/v1/chat/completions"):
        response = client.post(path, json=big)
        assert response.status_code == 413, path
        assert response.json()["error_type"] == "payload_too_large"
    monkeypatch.undo()
    small = TestClient(create_app(tiny_server, payload_limit=200))
    chunked = small.post("/generate", content=iter([b'{"inputs": "', b"x" * 300, b'"}']))
    assert chunked.status_code == 413
    assert small.post("/generate", json=SMALL).status_code == 200


def test_payload_limit_refuses_a_declared_length_without_reading() -> None:
    import asyncio

    from rag.serve.middleware import PayloadLimitMiddleware

    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the app was called")

    async def receive() -> dict[str, Any]:
        raise AssertionError("the body was read")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "path": "/generate", "headers": [(b"content-length", b"3300000")]}
    asyncio.run(PayloadLimitMiddleware(app)(scope, receive, send))
    assert sent[0]["status"] == 413


def test_overload_is_checked_before_tokenizing_on_every_route(
    tiny_server: TGIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_tokenizing(*args: Any, **kwargs: Any) -> list[int]:
        raise AssertionError("tokenized a request the server had no slot for")

    monkeypatch.setattr(tiny_server.engine, "encode", no_tokenizing)
    tiny_server.max_concurrent_requests = 0
    client = TestClient(create_app(tiny_server))
    too_long = "Hallo " * 5000  # would be a 422 after tokenizing
    for path, body in [
        ("/generate", {"inputs": too_long}),
        ("/generate_stream", {"inputs": too_long}),
        ("/", {"inputs": too_long, "stream": True}),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": too_long}]}),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": too_long}], "stream": True}),
    ]:
        response = client.post(path, json=body)
        assert response.status_code == 429, (path, response.text)
        assert response.json()["error_type"] == "overloaded"


def test_validation_failures_give_their_slot_back(tiny_server: TGIServer) -> None:
    tiny_server.max_concurrent_requests = 1
    client = TestClient(create_app(tiny_server))
    for path, body in [
        ("/generate", {"inputs": ""}),
        ("/generate_stream", {"inputs": ""}),
        ("/v1/chat/completions", {"messages": []}),
        ("/v1/chat/completions", {"messages": [], "stream": True}),
    ]:
        assert client.post(path, json=body).status_code == 422, path
    assert tiny_server._in_flight == 0
    assert client.post("/generate", json=SMALL).status_code == 200


def test_request_timeout_cancels_the_generation_with_a_clear_error(tiny_server: TGIServer) -> None:
    tiny_server.request_timeout = 0.3
    engine = tiny_server.engine
    client = TestClient(create_app(tiny_server))
    with engine.lock:  # another generation holds the model: queueing counts against the deadline
        plain = client.post("/generate", json=SMALL)
        chat = client.post("/v1/chat/completions", json={**CHAT, "max_tokens": 2})
        streamed = client.post("/generate_stream", json=SMALL)
    for response in (plain, chat):
        assert response.status_code == 424
        assert "Zeitlimit von 0.3 s überschritten" in response.json()["error"]
    assert streamed.status_code == 200 and "Zeitlimit von 0.3 s überschritten" in streamed.text
    deadline = time.monotonic() + 10
    while engine.waiting and time.monotonic() < deadline:
        time.sleep(0.02)
    assert engine.waiting == 0 and tiny_server._in_flight == 0
    tiny_server.request_timeout = 60
    assert client.post("/generate", json=SMALL).status_code == 200
