"""TGI's request bodies and response shapes, as its OpenAPI description defines them."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rag.generation.engine import Token

API_VERSION = "3.3.6"  # the TGI API version of the reference description
DEFAULT_MAX_NEW_TOKENS = 1024  # TGI's documented default
MAX_STOP_SEQUENCES = 4
MAX_TOP_N_TOKENS = 5

# TGI's quantize names -> ours
QUANTIZE = {"bitsandbytes-nf4": "nf4", "bitsandbytes": "int8"}


# -- requests -----------------------------------------------------------------------------------


class GenerateParameters(BaseModel):
    model_config = ConfigDict(extra="ignore")

    adapter_id: str | None = None
    best_of: int | None = Field(default=None, gt=0)
    decoder_input_details: bool = False
    details: bool = False
    do_sample: bool = False
    frequency_penalty: float | None = Field(default=None, gt=-2)
    grammar: dict[str, Any] | None = None
    max_new_tokens: int | None = Field(default=None, ge=0)
    repetition_penalty: float | None = Field(default=None, gt=0)
    return_full_text: bool | None = None
    seed: int | None = Field(default=None, ge=0)
    stop: list[str] = Field(default_factory=list)
    temperature: float | None = Field(default=None, gt=0)
    top_k: int | None = Field(default=None, gt=0)
    top_n_tokens: int | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, gt=0, le=1)
    truncate: int | None = Field(default=None, ge=0)
    typical_p: float | None = Field(default=None, gt=0, le=1)
    watermark: bool = False


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    inputs: str
    parameters: GenerateParameters = Field(default_factory=GenerateParameters)


class CompatGenerateRequest(GenerateRequest):
    stream: bool = False


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: str
    content: str | list[dict[str, Any]] | None = None
    tool_calls: list[dict[str, Any]] | None = None
    name: str | None = None


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    messages: list[ChatMessageIn]
    model: str | None = None
    max_tokens: int | None = Field(default=None, ge=0)
    max_completion_tokens: int | None = Field(default=None, ge=0)
    temperature: float | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, gt=0, le=1)
    seed: int | None = Field(default=None, ge=0)
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    frequency_penalty: float | None = None
    presence_penalty: float | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(default=None, ge=0)
    n: int | None = Field(default=None, ge=0)
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = None
    response_format: dict[str, Any] | None = None


class ValidationFailure(ValueError):
    """A request TGI would reject with 422 and ``error_type: validation``."""


# -- responses ----------------------------------------------------------------------------------


def error_body(message: str, error_type: str) -> dict[str, str]:
    return {"error": message, "error_type": error_type}


def sse(data: dict[str, Any] | str) -> str:
    return f"data: {data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)}\n\n"


def token_json(token: Token) -> dict[str, Any]:
    return {"id": token.id, "text": token.text, "logprob": token.logprob, "special": token.special}


def prefill_json(token: Token) -> dict[str, Any]:
    return {"id": token.id, "text": token.text, "logprob": token.logprob}


def chat_logprob_json(token: Token) -> dict[str, Any]:
    return {
        "token": token.text,
        "logprob": token.logprob if token.logprob is not None else 0.0,
        "top_logprobs": [{"token": t.text, "logprob": t.logprob} for t in token.top_tokens],
    }
