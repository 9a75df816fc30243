"""The remote backends end to end against the TGI-compatible server, and their errors."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.messages import AIMessageChunk, HumanMessage, SystemMessage
from langchain_core.prompts import ChatPromptTemplate

from rag.core.settings import Settings
from rag.generation import GeneratorError, GeneratorUnavailableError, make_chat_model
from rag.generation.openai_compat import openai_base_url
from rag.generation.tgi import TGIChatModel, tgi_root

ADAPTER = "kurz"  # the adapter the `tgi_url` server loads (conftest.py)
MESSAGES = [SystemMessage("Antworte kurz auf Deutsch."), HumanMessage("Was ist ein Router?")]


def remote(settings: Settings, backend: str, url: str, **update: object) -> Settings:
    return settings.model_copy(update={"generator_backend": backend, "generator_url": url, **update})


def collect(chat_model: object, messages: object = MESSAGES) -> tuple[list[str], AIMessageChunk]:
    chunks = list(chat_model.stream(messages))  # type: ignore[attr-defined]
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    return [c.content for c in chunks if c.content], total


@pytest.mark.parametrize(
    ("backend", "api"),
    [("tgi", "chat"), ("tgi", "generate"), ("openai", "chat")],
    ids=["tgi-chat", "tgi-native", "openai"],
)
def test_remote_backends_stream_the_local_answer(
    tgi_url: str, tiny_settings: Settings, backend: str, api: str
) -> None:
    local = make_chat_model(tiny_settings).invoke(MESSAGES)
    chat_model = make_chat_model(remote(tiny_settings, backend, tgi_url, generator_tgi_api=api))
    parts, total = collect(chat_model)
    assert len(parts) > 3  # token by token, not one block
    assert total.content == local.content  # same model, same template, greedy: the same answer
    assert total.usage_metadata is not None
    assert total.usage_metadata["output_tokens"] == 12
    assert total.usage_metadata["input_tokens"] == local.usage_metadata["input_tokens"]  # type: ignore[index]
    assert chat_model.invoke(MESSAGES).content == local.content


@pytest.mark.parametrize("backend_api", ["tgi:chat", "tgi:generate", "openai:chat"])
def test_adapter_id_selects_the_servers_lora_adapter(
    tgi_url: str, tiny_settings: Settings, lora_adapter: Path, backend_api: str
) -> None:
    backend, api = backend_api.split(":")
    local = make_chat_model(tiny_settings.model_copy(update={"generator_adapter": str(lora_adapter)}))
    base = make_chat_model(tiny_settings).invoke(MESSAGES).content
    expected = local.invoke(MESSAGES).content
    assert expected != base
    served = make_chat_model(
        remote(tiny_settings, backend, tgi_url, generator_tgi_api=api, generator_adapter_id=ADAPTER)
    )
    assert served.invoke(MESSAGES).content == expected


def test_tgi_backend_composes_in_lcel_and_honours_stop(tgi_url: str, tiny_settings: Settings) -> None:
    chat_model = make_chat_model(remote(tiny_settings, "tgi", tgi_url))
    prompt = ChatPromptTemplate.from_messages([("system", "Antworte kurz."), ("human", "{frage}")])
    full = (prompt | chat_model).invoke({"frage": "Was ist ein Router?"}).content
    word = full.split()[3]
    cut = (prompt | chat_model.bind(stop=[word])).invoke({"frage": "Was ist ein Router?"})
    assert cut.content == full[: full.index(word)]
    assert cut.response_metadata["finish_reason"] == "stop"


def test_tgi_backend_contacts_nothing_but_the_server(
    tgi_url: str, tiny_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    hosts: list[str] = []
    real = socket.getaddrinfo

    def recording(host: str, *args: object, **kwargs: object) -> object:
        hosts.append(host)
        return real(host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", recording)
    for api in ("chat", "generate"):
        collect(make_chat_model(remote(tiny_settings, "tgi", tgi_url, generator_tgi_api=api)))
    assert set(hosts) == {"127.0.0.1"}


def test_warm_up_reports_the_served_model(tgi_url: str, tiny_settings: Settings) -> None:
    chat_model = make_chat_model(remote(tiny_settings, "tgi", tgi_url + "/v1/"))
    assert isinstance(chat_model, TGIChatModel)
    assert chat_model.warm_up()["model_id"] == "tiny-random-llama"


def test_langchain_huggingface_chat_model_works_offline_against_the_server(tgi_url: str) -> None:
    """Verified here: ChatHuggingFace over HuggingFaceEndpoint(endpoint_url=...) resolves no model id
    on the hub (langchain-huggingface 1.2) and streams through the Messages API."""
    from langchain_huggingface import ChatHuggingFace, HuggingFaceEndpoint

    chat = ChatHuggingFace(llm=HuggingFaceEndpoint(endpoint_url=tgi_url, max_new_tokens=5, temperature=0.01))
    parts = [chunk.content for chunk in chat.stream("Hallo") if chunk.content]
    assert len(parts) >= 2


@pytest.mark.parametrize("backend", ["tgi", "openai"])
def test_unreachable_server_raises_a_clear_error_naming_the_url(
    tiny_settings: Settings, free_url: str, backend: str
) -> None:
    chat_model = make_chat_model(remote(tiny_settings, backend, free_url, generator_retries=1))
    started = time.monotonic()
    with pytest.raises(GeneratorUnavailableError) as caught:
        chat_model.invoke("Hallo")
    message = str(caught.value)
    assert free_url in message and "nicht erreichbar" in message
    assert caught.value.url.startswith(free_url)
    assert time.monotonic() - started < 15
    with pytest.raises(GeneratorUnavailableError):
        list(chat_model.stream("Hallo"))


def test_tgi_retries_connection_errors_then_gives_up(tiny_settings: Settings, free_url: str) -> None:
    chat_model = make_chat_model(remote(tiny_settings, "tgi", free_url, generator_retries=2))
    assert isinstance(chat_model, TGIChatModel)
    with pytest.raises(GeneratorUnavailableError, match="3 Versuche"):
        chat_model.invoke("Hallo")
    with pytest.raises(GeneratorUnavailableError, match=free_url):
        chat_model.warm_up()


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A server that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        accepted: list[socket.socket] = []
        stop = threading.Event()

        def accept() -> None:
            sock.settimeout(0.1)
            while not stop.is_set():
                try:
                    accepted.append(sock.accept()[0])
                except OSError:
                    continue

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()


@pytest.mark.parametrize("backend", ["tgi", "openai"])
def test_a_server_that_never_answers_times_out_with_the_url(
    tiny_settings: Settings, silent_url: str, backend: str
) -> None:
    settings = remote(tiny_settings, backend, silent_url, generator_timeout=0.5, generator_retries=0)
    with pytest.raises(GeneratorUnavailableError, match=silent_url):
        make_chat_model(settings).invoke("Hallo")


def test_a_server_that_is_not_tgi_gives_a_generator_error(
    http_root: tuple[str, Path], tiny_settings: Settings
) -> None:
    url, _ = http_root  # a static file server: POST is not supported
    with pytest.raises(GeneratorError, match=url):
        make_chat_model(remote(tiny_settings, "tgi", url, generator_retries=0)).invoke("Hallo")


def test_server_validation_errors_reach_the_caller(tgi_url: str, tiny_settings: Settings) -> None:
    settings = remote(
        tiny_settings, "tgi", tgi_url, generator_tgi_api="generate", generator_adapter_id="fehlt"
    )
    with pytest.raises(GeneratorError, match="fehlt"):
        make_chat_model(settings).invoke("Hallo")


def test_remote_backends_need_a_url_and_a_known_name(tiny_settings: Settings) -> None:
    with pytest.raises(GeneratorError, match="HEISE_RAG_GENERATOR_URL"):
        make_chat_model(tiny_settings.model_copy(update={"generator_url": None}), "tgi")
    with pytest.raises(GeneratorError, match="vllm"):
        make_chat_model(tiny_settings, "vllm")


def test_url_normalisation() -> None:
    assert tgi_root("http://h:8080/v1/") == "http://h:8080"
    assert openai_base_url("http://h:8080") == "http://h:8080/v1"
    assert openai_base_url("http://h:8000/v1/") == "http://h:8000/v1"
