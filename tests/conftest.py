"""Shared fixtures: the real settings, provisioned model and data files, a loopback HTTP server."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pytest

from ingest.service import make_indexer
from rag.core.domain import Article
from rag.core.settings import Settings, get_settings
from rag.models.provision import model_state
from rag.models.registry import MODELS, ModelSpec
from rag.store.vector_store import VectorStore, open_client

SAMPLE_ARTICLES = [
    Article(
        id="6315605",
        url="https://www.heise.de/-6315605",
        title="Exchange-Server: Jahr-2022-Fehler stoppt die Mailzustellung",
        body="Ein Datumsfehler im Malware-Scanner hält seit Neujahr E-Mails in Exchange-Warteschlangen fest. "
        "Microsoft hat ein Skript veröffentlicht, das den Fehler behebt.",
        published_at=datetime(2022, 1, 2, 9, tzinfo=UTC),
        source="heise",
    ),
    Article(
        id="7000001",
        url="https://www.heise.de/-7000001",
        title="Raspberry Pi 5 kommt mit schnellerem Prozessor",
        body="Der neue Raspberry Pi ist deutlich schneller als sein Vorgänger.",
        published_at=datetime(2023, 9, 28, 9, tzinfo=UTC),
        source="heise",
    ),
]


@pytest.fixture(scope="session")
def settings() -> Settings:
    return get_settings()


@pytest.fixture(scope="session")
def provisioned(settings: Settings) -> Callable[[str], Path]:
    """Folder of a provisioned model; skips with the reason when the set-up has not run."""

    def folder(name: str) -> Path:
        state = model_state(MODELS[name], settings.model_cache_dir)
        if state.status != "ready":
            pytest.skip(f"model {name!r} is {state.status}: run `make test` or `heise-rag models provision`")
        return state.path

    return folder


@pytest.fixture(scope="session")
def data_file(settings: Settings) -> Callable[[str], Path]:
    """Path of a provisioned data file; skips with the reason when the data is not provisioned."""

    def path(relative: str) -> Path:
        found = settings.resolved_data_dir / relative
        if not found.exists():
            pytest.skip(f"{relative} not provisioned: run `make test` or `heise-rag data provision`")
        return found

    return path


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTP server on 127.0.0.1 serving a temporary folder."""
    root = tmp_path / "www"
    root.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", root
    server.shutdown()
    server.server_close()


@pytest.fixture
def sample_articles() -> list[Article]:
    """The shared sample articles, for tests outside this folder's fixtures that ingest them."""
    return list(SAMPLE_ARTICLES)


@pytest.fixture
def loopback_fetches(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Let feed and page fetches reach 127.0.0.1, where ``http_root`` listens; refused by default."""
    monkeypatch.setenv("HEISE_RAG_FETCH_ALLOWED_NETWORKS", "127.0.0.1/32")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """Point runtime state at a temporary folder and reset the cached settings around the test."""
    monkeypatch.setenv("HEISE_RAG_VAR_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.fixture
def ask_env(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch, provisioned: Callable[[str], Path]
) -> Settings:
    """SAMPLE_ARTICLES indexed with the small encoder; the tiny random LLM answers (fast, nonsense)
    from the sources alone (answer mode `generate`; tests of the reader's modes set their own)."""
    provisioned("all-minilm-l6-v2")
    provisioned("tiny-random-llama")
    monkeypatch.setenv("HEISE_RAG_EMBEDDING_MODEL", "all-minilm-l6-v2")
    monkeypatch.setenv("HEISE_RAG_GENERATOR_MODEL", "tiny-random-llama")
    monkeypatch.setenv("HEISE_RAG_ANSWER_MODE", "generate")
    monkeypatch.setenv("HEISE_RAG_GENERATOR_MAX_NEW_TOKENS", "6")
    get_settings.cache_clear()
    settings = get_settings()
    client = open_client(settings)
    make_indexer(settings, VectorStore(client, settings.collection)).ingest(SAMPLE_ARTICLES)
    client.close()
    return settings


def _tiny_llama(name: str, cache: Path, tokenizer_folder: Path) -> ModelSpec:
    """A registered-looking tiny llama (random weights, seed 0) as a ready base folder in ``cache``.

    Why not tiny-random-llama itself: its attention heads have 4 dimensions and onnxruntime's
    GroupQueryAttention needs a multiple of 8.
    """
    import torch
    from transformers import AutoTokenizer, GenerationConfig, LlamaConfig, LlamaForCausalLM

    from rag.models.provision import MANIFEST, expected_manifest

    spec = replace(MODELS["tiny-random-llama"], name=name, generator_copies=True)
    base = cache / spec.name
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_folder)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
        bos_token_id=1, eos_token_id=2,
    )  # fmt: skip
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(bos_token_id=1, eos_token_id=[2], pad_token_id=2)
    model.save_pretrained(base)
    tokenizer.save_pretrained(base)
    (base / MANIFEST).write_text(json.dumps(expected_manifest(spec)), encoding="utf-8")
    return spec


@pytest.fixture(scope="session")
def onnx_tiny(
    provisioned: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[ModelSpec, Path]:
    """A tiny llama with its int4 and int8 ONNX copies built, in its own cache. Skips where
    onnxruntime-genai is not installed."""
    pytest.importorskip("onnxruntime_genai", reason="onnxruntime-genai has no wheel installed here")
    from rag.models.onnx_build import provision_onnx

    cache = tmp_path_factory.mktemp("onnx-cache")
    spec = _tiny_llama("tiny-onnx-llama", cache, provisioned("tiny-random-llama"))
    for precision in ("int4", "int8"):
        state = provision_onnx(spec, model_state(spec, cache), cache, precision=precision)
        assert state.status == "ready", state
    return spec, cache


@pytest.fixture(scope="session")
def openvino_tiny(
    settings: Settings, provisioned: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[ModelSpec, Path]:
    """A tiny llama with its int8 OpenVINO copy exported for real, in its own cache; the exporter's
    environment is the shared one under the model cache (made once per machine, ~1 min). Skips
    where openvino-genai is not installed."""
    pytest.importorskip("openvino_genai", reason="openvino-genai has no wheel installed here")
    from rag.models.openvino_build import provision_openvino, tools_dir

    cache = tmp_path_factory.mktemp("openvino-cache")
    shared_tools = tools_dir(settings.model_cache_dir)
    shared_tools.mkdir(parents=True, exist_ok=True)
    tools_dir(cache).symlink_to(shared_tools, target_is_directory=True)
    spec = _tiny_llama("tiny-openvino-llama", cache, provisioned("tiny-random-llama"))
    state = provision_openvino(spec, model_state(spec, cache), cache)
    assert state.status == "ready", state
    return spec, cache
