"""The onnx-int4 and onnx-int8 engines on tiny ONNX builds, and their fallbacks to transformers."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rag.core.settings import Settings
from rag.generation.engine import SamplingParams, load_engine, unload_engines
from rag.models.onnx_build import OnnxPrecision, onnx_state
from rag.models.provision import MANIFEST
from rag.models.registry import MODELS, ModelSpec

OpenAPI = Any  # tests/rag/generation/conftest.py: OpenAPI
CHAT = [{"role": "user", "content": "Hallo, wie geht's?"}]


@pytest.fixture
def registered(
    onnx_tiny: tuple[ModelSpec, Path], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Path]]:
    """The tiny ONNX model's name, registered like a provisioned model, and its cache."""
    spec, cache = onnx_tiny
    monkeypatch.setitem(MODELS, spec.name, spec)
    yield spec.name, cache
    unload_engines()


@pytest.mark.slow
@pytest.mark.parametrize("runtime", ["onnx-int4", "onnx-int8"])
def test_streams_tokens_with_logprobs_and_stops_like_the_transformers_engine(
    registered: tuple[str, Path], runtime: str
) -> None:
    name, cache = registered
    onnx = load_engine(name, cache_dir=cache, runtime=runtime, threads=1)
    reference = load_engine(name, cache_dir=cache)
    assert (onnx.runtime, reference.runtime) == (runtime, "transformers")
    ids = onnx.encode_chat(CHAT)
    assert ids == reference.encode_chat(CHAT)  # one tokenizer for both engines

    stream = onnx.stream(ids, SamplingParams(max_new_tokens=6, top_n_tokens=3))
    tokens = list(stream)
    assert len(tokens) == stream.generated_tokens <= 6
    assert stream.finish_reason in ("length", "eos_token")
    assert all(t.logprob is not None and t.logprob <= 0 for t in tokens)
    assert all(len(t.top_tokens) == 3 and t.top_tokens[0].logprob >= t.logprob for t in tokens)
    # greedy: the chosen token is the most likely one
    assert all(t.top_tokens[0].id == t.id for t in tokens)

    stopped = onnx.stream(ids, SamplingParams(max_new_tokens=20, stop=(tokens[1].text,)))
    list(stopped)
    if tokens[1].text.strip():
        assert stopped.finish_reason == "stop_sequence" and stopped.generated_tokens <= 2

    prefill = onnx.prefill(ids[:5])
    assert [t.id for t in prefill] == ids[:5]
    assert prefill[0].logprob is None and all(t.logprob is not None for t in prefill[1:])


@pytest.mark.slow
def test_seeded_sampling_repeats_and_typical_p_is_refused(registered: tuple[str, Path]) -> None:
    name, cache = registered
    engine = load_engine(name, cache_dir=cache, runtime="onnx-int4", threads=1)
    ids = engine.encode_chat(CHAT)
    params = SamplingParams(max_new_tokens=5, do_sample=True, temperature=1.5, seed=7)
    assert [t.id for t in engine.stream(ids, params)] == [t.id for t in engine.stream(ids, params)]
    with pytest.raises(ValueError, match="typical_p"):
        engine.stream(ids, SamplingParams(typical_p=0.5))


def _fallback(name: str, cache: Path, caplog: pytest.LogCaptureFixture, **kwargs: object) -> str:
    with caplog.at_level(logging.WARNING, logger="rag.generation.engine"):
        engine = load_engine(name, cache_dir=cache, runtime="onnx-int4", **kwargs)  # type: ignore[arg-type]
    assert engine.runtime == "transformers"
    return caplog.text


@pytest.mark.slow
def test_a_missing_runtime_wheel_falls_back_to_transformers(
    registered: tuple[str, Path], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    name, cache = registered
    monkeypatch.delitem(sys.modules, "rag.generation.onnx_engine", raising=False)
    monkeypatch.setitem(sys.modules, "onnxruntime_genai", None)  # import raises ImportError
    assert "onnxruntime-genai lässt sich auf dieser Plattform nicht laden" in _fallback(name, cache, caplog)


@pytest.mark.slow
def test_a_stale_or_interrupted_build_falls_back_to_transformers(
    registered: tuple[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    name, cache = registered
    spec = MODELS[name]
    # a copy of the cache whose ONNX folder an older build recipe wrote
    copy = tmp_path / "cache"
    copy.mkdir()
    (copy / name).symlink_to(cache / name, target_is_directory=True)
    onnx = copy / f"{name}-onnx-int4"
    onnx.mkdir()
    for item in onnx_state(spec, cache).path.iterdir():
        (onnx / item.name).symlink_to(item)
    manifest = json.loads((onnx / MANIFEST).read_text(encoding="utf-8"))
    (onnx / MANIFEST).unlink()
    (onnx / MANIFEST).write_text(json.dumps(manifest | {"build_version": 0}), encoding="utf-8")
    assert onnx_state(spec, copy).status == "stale"
    assert "ist stale" in _fallback(name, copy, caplog)

    unload_engines()
    (onnx / MANIFEST).unlink()  # a build interrupted before its manifest
    assert onnx_state(spec, copy).status == "incomplete"
    assert "ist incomplete" in _fallback(name, copy, caplog)


def test_adapters_quantization_and_unbuilt_models_stay_on_transformers(
    tiny: str, settings: Settings, lora_adapter: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = settings.model_cache_dir
    assert "keine Kopie für onnx-int4" in _fallback(tiny, cache, caplog)
    caplog.clear()
    assert "ohne LoRA-Adapter" in _fallback(tiny, cache, caplog, adapters={"kurz": str(lora_adapter)})


@pytest.mark.slow
def test_the_tgi_server_serves_the_onnx_engine(registered: tuple[str, Path], tgi_openapi: OpenAPI) -> None:
    from rag.serve.routes import create_app
    from rag.serve.startup import build_server, running_server

    name, cache = registered
    server = build_server(name, cache_dir=cache, engine="onnx-int8", threads=1)
    assert server.engine.runtime == "onnx-int8"
    body = {
        "inputs": "Hallo Welt",
        "parameters": {
            "max_new_tokens": 4,
            "details": True,
            "decoder_input_details": True,
            "top_n_tokens": 2,
        },
    }
    with running_server(create_app(server)) as url:
        response = httpx.post(url + "/generate", json=body, timeout=60)
        refused = httpx.post(url + "/generate", json={"inputs": "Hallo", "parameters": {"typical_p": 0.5}})
    details = tgi_openapi.validate_response("/generate", "post", response)["details"]
    assert details["generated_tokens"] == len(details["tokens"]) <= 4 and details["prefill"]
    assert refused.status_code == 422 and "typical_p" in refused.json()["error"]


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["int4", "int8"])
def test_the_default_generator_answers_in_german_through_its_onnx_copies(
    settings: Settings, provisioned: Callable[[str], Path], precision: OnnxPrecision
) -> None:
    name = "qwen2.5-coder-0.5b-instruct"
    provisioned(name)
    state = onnx_state(MODELS[name], settings.model_cache_dir, precision)
    if state.status != "ready":
        pytest.skip(
            f"{state.path.name} is {state.status}: run `heise-rag models provision --onnx --name {name}`"
        )
    engine = load_engine(name, cache_dir=settings.model_cache_dir, runtime=f"onnx-{precision}")
    assert engine.runtime == f"onnx-{precision}"
    ids = engine.encode_chat([{"role": "user", "content": "Was ist die Hauptstadt von Deutschland?"}])
    stream = engine.stream(ids, SamplingParams(max_new_tokens=16))
    list(stream)
    assert "Berlin" in stream.text
    unload_engines()
