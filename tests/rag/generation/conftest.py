"""Fixtures for the generators: a LoRA adapter, the TGI-compatible server on loopback, TGI's OpenAPI
description as a response validator."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from rag.core.settings import PROJECT_ROOT, Settings

TINY = "tiny-random-llama"
ADAPTER = "kurz"
SPEC_PATH = PROJECT_ROOT.parent / "shared" / "reference" / "tgi-openapi.json"


def to_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema 2020-12: ``nullable: true`` becomes ``anyOf [..., null]``.

    Everything else TGI's description uses (``$ref`` into ``components``, ``oneOf``/``allOf``,
    numeric ``exclusiveMinimum``) already means the same in 2020-12; unknown keywords such as
    ``example`` and ``discriminator`` are annotations there.
    """
    if isinstance(node, list):
        return [to_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: to_json_schema(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True:
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


def sse_data(text: str) -> list[str]:
    """The ``data:`` payloads of a server-sent event stream."""
    return [line[len("data:") :].strip() for line in text.splitlines() if line.startswith("data:")]


class OpenAPI:
    """Validates requests and responses against the response schemas of TGI's OpenAPI description."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.components = to_json_schema(spec["components"])
        self.checked: set[tuple[str, str, int, str]] = set()

    def _validator(self, schema: dict[str, Any]) -> Draft202012Validator:
        document = {**to_json_schema(schema), "components": self.components}
        Draft202012Validator.check_schema(document)
        return Draft202012Validator(document)

    def validate_request(self, path: str, body: dict[str, Any]) -> None:
        schema = self.spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        self._validator(schema).validate(body)

    def validate_response(self, path: str, method: str, response: httpx.Response) -> list[Any] | Any:
        """Check status, media type and body; returns the JSON body, or the list of SSE payloads."""
        responses = self.spec["paths"][path][method]["responses"]
        status = str(response.status_code)
        assert status in responses, f"{method.upper()} {path}: status {status} is not in TGI's description"
        content = responses[status].get("content")
        if not content:
            assert response.content == b"", f"{method.upper()} {path}: {status} documents no body"
            self.checked.add((path, method, response.status_code, ""))
            return None
        media = response.headers["content-type"].split(";")[0].strip()
        assert media in content, f"{method.upper()} {path} {status}: {media} not in {sorted(content)}"
        validator = self._validator(content[media]["schema"])
        self.checked.add((path, method, response.status_code, media))
        if media == "text/event-stream":
            events = [json.loads(data) for data in sse_data(response.text) if data != "[DONE]"]
            assert events, f"{path}: empty event stream"
            for event in events:
                validator.validate(event)
            return events
        body = response.json()
        validator.validate(body)
        return body


@pytest.fixture(scope="session")
def tgi_openapi() -> OpenAPI:
    if not SPEC_PATH.exists():
        pytest.skip(f"TGI's OpenAPI description is not at {SPEC_PATH} (shared reference folder missing)")
    return OpenAPI(json.loads(SPEC_PATH.read_text(encoding="utf-8")))


@pytest.fixture(scope="session")
def tiny(provisioned: Callable[[str], Path]) -> str:
    """The name of the tiny random test model, skipping when it is not provisioned."""
    provisioned(TINY)
    return TINY


@pytest.fixture(scope="session")
def lora_adapter(
    tiny: str, provisioned: Callable[[str], Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A random (non-zero) LoRA adapter for the tiny model, so outputs with it differ from the base."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    folder = tmp_path_factory.mktemp("lora") / ADAPTER
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(provisioned(tiny), dtype=torch.float32)
    config = LoraConfig(
        r=8,
        lora_alpha=64,
        target_modules=["q_proj", "v_proj", "o_proj", "down_proj"],
        init_lora_weights=False,
    )
    with warnings.catch_warnings():  # peft calls a transformers API deprecated in v5
        warnings.filterwarnings("ignore", ".*is_gradient_checkpointing", FutureWarning)
        get_peft_model(model, config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tgi_url(tiny: str, lora_adapter: Path, settings: Settings) -> Iterator[str]:
    """The TGI-compatible server with the tiny model and one adapter, on a free loopback port."""
    from rag.serve.routes import create_app
    from rag.serve.startup import build_server, running_server

    server = build_server(
        tiny, cache_dir=settings.model_cache_dir, lora_adapters={ADAPTER: str(lora_adapter)}
    )
    with running_server(create_app(server)) as url:
        yield url


@pytest.fixture
def tiny_settings(settings: Settings, tiny: str) -> Settings:
    """The session settings with the tiny model and short answers."""
    return settings.model_copy(
        update={"generator_model": tiny, "generator_max_new_tokens": 12, "generator_temperature": 0.0}
    )


@pytest.fixture
def free_url() -> str:
    """A loopback URL where nothing listens."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
