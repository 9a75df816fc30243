"""One typed settings object for the whole project.

Every value comes from an environment variable with the ``HEISE_RAG_`` prefix or from an optional
``.env`` file in the working directory; every default runs fully offline on a fresh machine, so
``make run`` needs no configuration at all.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, IPvAnyNetwork, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from rag.core.modes import AnswerMode, Fusion, GeneratorEngine, Mode, ReaderChoice

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _xdg_cache_home() -> Path:
    """The XDG cache directory, so every clone on a machine shares one model cache."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


class Settings(BaseSettings):
    """Configuration of heise-rag; see docs/configuration.md for each field."""

    model_config = SettingsConfigDict(
        env_prefix="HEISE_RAG_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        protected_namespaces=(),
    )

    var_dir: Path = Field(
        default=PROJECT_ROOT / "var",
        description="Ignored folder for runtime state (data links, embedded Qdrant store, feedback).",
    )
    data_dir: Path | None = Field(
        default=None, description="Where provisioned data files live; default `<var_dir>/data`."
    )
    shared_data_dir: Path = Field(
        default=PROJECT_ROOT.parent / "shared" / "data",
        description="A local copy of the data files to link from; when absent, data is downloaded.",
    )
    model_cache_dir: Path = Field(
        default_factory=lambda: _xdg_cache_home() / "heise-rag" / "models",
        description="Shared cache of provisioned model folders (outside the checkout).",
    )

    embedding_model: str = Field(
        default="multilingual-e5-small",
        description="Bi-encoder: a provisioned name, a local folder or a Hugging Face hub id.",
    )
    embedding_backend: Literal["torch", "onnx", "onnx-int8"] = Field(
        default="torch",
        description="How the E5 encoder runs (ingest and queries): torch (sentence-transformers), or the "
        "ONNX copy that `models provision` builds, in float32 (`onnx`) or int8 (`onnx-int8`) on "
        "onnxruntime; falls back to torch, with a warning, where the copy or onnxruntime is missing. "
        "Chosen by bench/encoder.py (docs/benchmarks.md).",
    )
    embedding_dtype: Literal["auto", "float32", "bfloat16"] = Field(
        default="auto",
        description="Precision of the torch encoder's matrix products for documents (ingest): "
        "`bfloat16` runs them under autocast (norms and softmax stay float32; vectors agree with "
        "float32 at a cosine >= 0.9999); `auto`: bfloat16 on a CPU with native bf16 (AMX, AVX512-BF16), "
        "else float32. Queries are always float32 (one short query gains nothing).",
    )
    embedding_document_prompt: Literal["none", "passage"] = Field(
        default="none",
        description="What goes in front of each document before it is embedded: nothing (`none`), or "
        "the model folder's `passage` prompt (E5: `passage: `). Recorded per collection, which keeps "
        "its own until `heise-rag index reembed`. Measured: XQuAD dev +0.032 MRR@10 with `passage`, the "
        "heise dev questions worse (docs/benchmarks.md).",
    )
    generator_model: str = Field(
        default="qwen2.5-coder-0.5b-instruct",
        description="Answer model for the `local` backend: provisioned name, folder or hub id.",
    )
    reranker_model: str | None = Field(
        default=None,
        description="Cross-encoder reranker (name, folder or hub id); reranking is off when unset.",
    )
    reranker_first_stage_weight: float = Field(
        default=1.0,
        ge=0,
        description="Weight of the search's own order when the reranker's order is fused with it (RRF); "
        "0: the reranker's order alone.",
    )
    classifier_model: Path = Field(
        default=PROJECT_ROOT / "finetune" / "artifacts" / "engagement-classifier",
        description="Headline-engagement classifier: folder with the LoRA adapter, head and classifier.json.",
    )
    classifier_dtype: Literal["auto", "float32", "bfloat16"] = Field(
        default="auto",
        description="Classifier weight dtype; `auto`: bfloat16 on a CPU with native bf16, else float32.",
    )

    reader_model: Path | None = Field(
        default=PROJECT_ROOT / "finetune" / "artifacts" / "reader",
        description="Extractive reader (LoRA adapter + span head, reader.json); unset: no reader, "
        "answers are generated from the sources.",
    )
    reader_passage_model: Path | None = Field(
        default=PROJECT_ROOT / "finetune" / "artifacts" / "reader-passages",
        description="Second reader for passages longer than a headline (200 characters: "
        "paragraphs), same folder layout and base model; chosen on dev data (docs/evaluation.md); "
        "unset: one reader reads everything.",
    )
    reader_dtype: Literal["auto", "float32", "bfloat16"] = Field(
        default="auto",
        description="Reader weight dtype; `auto`: bfloat16 on a CPU with native bf16, else float32.",
    )
    answer_mode: AnswerMode = Field(
        default="extractive",
        description="How the answer is written: `extractive` (the reader's span and its source), "
        "`evidence` (the generator phrases the reader's evidence, checked against it) or `generate` "
        "(the generator reads the sources alone); chosen by `make eval`.",
    )
    reader_choice: ReaderChoice = Field(
        default="rank",
        description="Which source's span answers: `rank` (the best-ranked source whose span the reader "
        "prefers to no answer, else the best-ranked source with a span), `first` (source [1]'s span, "
        "the others read only for conflicts) or `margin` (the reader's most certain span over all "
        "sources); chosen on dev data (docs/evaluation.md).",
    )
    reader_min_confidence: float = Field(
        default=0.13,
        ge=0,
        le=1,
        description="Below this reader confidence an answer from a headline (up to 200 characters) is "
        "the refusal sentence with the nearest sentence quoted; chosen on dev data with each question "
        "also asked without its gold articles (docs/evaluation.md).",
    )
    reader_passage_min_confidence: float = Field(
        default=0.18,
        ge=0,
        le=1,
        description="The same threshold for an answer from a longer passage (the passage reader's "
        "calibration); chosen the same way.",
    )

    chunk_tokens: int = Field(
        default=256, ge=32, description="Token budget of one embedded chunk (title included)."
    )
    chunk_overlap_tokens: int = Field(default=32, ge=0, description="Tokens shared by neighbouring chunks.")
    embed_batch_size: int = Field(default=32, ge=1, description="Texts per encoder batch.")
    query_threads: int | None = Field(
        default=1,
        ge=1,
        description="Torch threads while embedding one query (unset: the process setting).",
    )
    device: str = Field(default="cpu", description="Torch device for the encoders: `cpu`, `cuda`, `mps`.")

    retrieval_mode: Mode = Field(
        default="auto",
        description="Default search: dense (E5), sparse (BM25), hybrid (both, fused) or auto (hybrid only "
        "for questions that match the text lexically, else dense); auto matched dense on the heise dev "
        "set and beat it on XQuAD dev (bench/fusion.py).",
    )
    retrieval_candidates: int = Field(
        default=30, ge=1, description="Articles the hybrid search hands to the reranker."
    )
    answer_sources: int = Field(default=3, ge=1, description="Sources the answer model sees.")
    source_chars: int = Field(
        default=450,
        ge=0,
        description="Characters of each source the model sees (its most question-like sentences); 0: all.",
    )
    fusion: Fusion = Field(
        default="dbsf",
        description="Hybrid fusion: `dbsf` (normalised scores added) or `rrf` (weighted reciprocal ranks); "
        "DBSF beat RRF at every k on both dev sets (bench/fusion.py).",
    )
    rrf_k: int = Field(default=60, ge=1, description="RRF's rank constant (`rrf` fusion only).")
    dense_weight: float = Field(
        default=1.0, ge=0, description="Weight of the dense ranking in the RRF fusion (`rrf` only)."
    )
    sparse_weight: float = Field(
        default=1.0, ge=0, description="Weight of the BM25 ranking in the RRF fusion (`rrf` only)."
    )
    prefetch_limit: int = Field(
        default=100, ge=1, description="Chunks each vector kind prefetches for fusion."
    )
    auto_sparse_threshold: float = Field(
        default=6.3,
        description="`auto` mode: how many standard deviations the best BM25 score must stand above "
        "the mean of the sparse prefetch for a question to be searched hybrid (DBSF) instead of dense; "
        "picked on the heise dev answers, confirmed on XQuAD dev.",
    )

    qdrant_url: str | None = Field(
        default=None, description="Qdrant server URL; when unset the embedded store is used."
    )
    qdrant_api_key: SecretStr | None = Field(default=None, description="API key for a Qdrant server.")
    qdrant_path: str | None = Field(
        default=None,
        description="Embedded Qdrant storage folder, or `:memory:`; default `<var_dir>/qdrant-edge` "
        "(`<var_dir>/qdrant` for the `local` engine).",
    )
    qdrant_timeout: int = Field(default=30, description="Seconds per request to a Qdrant server.")
    qdrant_embedded_engine: Literal["local", "edge"] = Field(
        default="edge",
        description="Embedded store engine: Qdrant's engine in-process (HNSW, payload indexes), or "
        "qdrant-client's local mode (exact search in Python, seconds per query above ~10k chunks).",
    )
    qdrant_tls_ca_cert: Path | None = Field(
        default=None,
        description="CA bundle that verifies an `https://` Qdrant server signed by a private CA.",
    )
    # Collection layout: applied when a collection is created (embedded stores ignore the server parts).
    qdrant_shards: int = Field(
        default=1, ge=1, description="Shards of a new collection, spread over the cluster's nodes."
    )
    qdrant_replication_factor: int = Field(
        default=1, ge=1, description="Copies of each shard on different nodes (2 survives one node down)."
    )
    qdrant_write_consistency: int = Field(
        default=1, ge=1, description="Replicas that must confirm a write before it returns."
    )
    qdrant_on_disk_vectors: bool = Field(
        default=False, description="Keep the original dense vectors memory-mapped on disk instead of in RAM."
    )
    qdrant_quantization: Literal["none", "int8"] = Field(
        default="none", description="Scalar int8 quantization of the dense vectors, kept in RAM (4x smaller)."
    )
    qdrant_hnsw_m: int = Field(default=16, ge=4, description="HNSW edges per node of the dense index.")
    qdrant_hnsw_ef_construct: int = Field(
        default=100, ge=4, description="HNSW candidates while building the dense index."
    )
    # Search-time settings of the `edge` engine, chosen with bench/scale.py (docs/benchmarks.md).
    qdrant_hnsw_ef: int = Field(
        default=512,
        ge=1,
        description="`edge` engine: HNSW candidates per dense search (at least the query's limit) in "
        "collections of `qdrant_exact_below` points or more; more agrees better with exact search.",
    )
    qdrant_exact_below: int = Field(
        default=250_000,
        ge=0,
        description="`edge` engine: collections with fewer points are searched exactly (a scan, "
        "milliseconds in Rust); 0: always HNSW.",
    )
    collection: str = Field(default="heise", description="Qdrant collection the app searches.")
    feedback_path: Path | None = Field(
        default=None,
        description="JSONL file of the app's thumbs up/down on answers; default `<var_dir>/feedback.jsonl`.",
    )

    generator_backend: Literal["local", "tgi", "openai"] = Field(
        default="local",
        description="`local` runs the model in-process; `tgi`/`openai` call `generator_url`.",
    )
    generator_url: str | None = Field(
        default=None, description="TGI or OpenAI-compatible endpoint for the remote backends."
    )
    generator_quantization: Literal["none", "nf4", "int8"] = Field(
        default="none", description="`local` backend: bitsandbytes 4-bit NF4 or 8-bit loading, or none."
    )
    generator_engine: GeneratorEngine = Field(
        default="openvino-int8",
        description="`local` backend and `serve tgi`: `openvino-int8` (default) runs the int8 OpenVINO "
        "copy with OpenVINO GenAI, `onnx-int8`/`onnx-int4` the int8/int4 ONNX copy with "
        "onnxruntime-genai; `models provision` builds the configured engine's copy (`--engine` "
        "others). Each falls back to transformers, with a warning, where it cannot run (copy missing, "
        "no wheel for the platform, a LoRA adapter or bitsandbytes asked for); `transformers` is what "
        "LoRA adapters, bitsandbytes and QLoRA training use.",
    )
    generator_adapter: str | None = Field(
        default=None, description="`local` backend: folder (or hub id) of a peft LoRA adapter to apply."
    )
    generator_adapter_id: str | None = Field(
        default=None,
        description="Remote backends: LoRA adapter served by the server (TGI `adapter_id`, or `model`).",
    )
    generator_max_new_tokens: int = Field(
        default=256,
        ge=1,
        description="Most tokens one answer may have (answers have three sentences at most).",
    )
    generator_temperature: float = Field(
        default=0.0, ge=0.0, description="Sampling temperature; 0 decodes greedily (deterministic)."
    )
    generator_tgi_api: Literal["chat", "generate"] = Field(
        default="chat",
        description="`tgi` backend: Messages API (server applies the template) or native `generate`.",
    )
    generator_remote_model: str = Field(
        default="tgi", description="`model` sent to OpenAI-compatible servers (vLLM needs its served name)."
    )
    generator_api_key: SecretStr | None = Field(
        default=None, description="Bearer token for the remote generator (TGI endpoint or OpenAI-compatible)."
    )
    generator_timeout: float = Field(default=120.0, gt=0, description="Seconds per remote generator request.")
    generator_retries: int = Field(
        default=2, ge=0, description="Retries of a remote generator request on connection errors."
    )
    generator_dtype: Literal["auto", "float32", "bfloat16"] = Field(
        default="auto",
        description="Weights dtype for in-process generation; `auto`: bfloat16 on a CPU with native bf16.",
    )
    generator_lookup_tokens: int = Field(
        default=5,
        ge=0,
        le=32,
        description="`openvino-int8` engine: prompt-lookup decoding guesses up to this many tokens by "
        "copying what followed the last three tokens in the prompt and checks them in one step "
        "(answers quote their sources: greedy answers unchanged, 0.6-0.7x the time per answer on the dev "
        "questions); 0: off. Sampled requests decode without it.",
    )
    generator_threads: int | None = Field(
        default=None,
        ge=1,
        description="Torch threads for in-process generation (`local`, `serve tgi`); unset: all cores.",
    )
    app_builds_index: bool = Field(
        default=True,
        description="The app builds a missing or unfinished default index in a background thread and "
        "answers from what is indexed so far meanwhile (`make run`); off where the index is built "
        "separately (`heise-rag index build-default`, a server filled by another job).",
    )
    implausible_dates: Literal["warn", "skip"] = Field(
        default="warn",
        description="Articles published before 1995 or in the future: ingested and reported (`warn`), "
        "or reported and left out (`skip`).",
    )
    fetch_allowed_networks: Annotated[list[IPvAnyNetwork], NoDecode] = Field(
        default_factory=list,
        description="Private, loopback or link-local networks that feed and page fetches may reach "
        "anyway (comma-separated CIDR, e.g. an intranet feed server); all others are refused.",
    )
    fetch_max_bytes: int = Field(
        default=20_000_000, ge=1, description="Most bytes one fetched feed or page may send."
    )
    fetch_timeout_s: float = Field(
        default=30.0, gt=0, description="Seconds one fetch may take in all (and each network step)."
    )
    fetch_max_redirects: int = Field(default=5, ge=0, description="Redirects one fetch may follow.")
    max_decompressed_bytes: int = Field(
        default=500_000_000,
        ge=1,
        description="Most bytes gzip input (a file, an upload, a fetched body) may decompress to.",
    )
    upload_max_mb: int = Field(
        default=50,
        ge=1,
        description="Largest file the app accepts for ingest, in MB; keep `server.maxUploadSize` in "
        "`.streamlit/config.toml` the same.",
    )
    # Access control of the app (docs/ACCESS.md). With none of these set and no `[auth]` section in
    # `.streamlit/secrets.toml`, the app is open to everyone who can reach it.
    access_reader_secret: SecretStr | None = Field(
        default=None, description="Shared secret that logs a reader into the app (asking, headlines)."
    )
    access_editor_secret: SecretStr | None = Field(
        default=None, description="Shared secret that logs an editor into the app (reading and ingest)."
    )
    access_admin_secret: SecretStr | None = Field(
        default=None, description="Shared secret that logs an admin into the app (everything, feedback)."
    )
    access_proxy_user_header: str | None = Field(
        default=None,
        description="Header in which a trusted reverse proxy names the logged-in user (e.g. "
        "`X-Forwarded-User`); unset: such headers are ignored.",
    )
    access_proxy_groups_header: str = Field(
        default="X-Forwarded-Groups",
        description="Header in which the trusted reverse proxy lists the user's groups (comma-separated).",
    )
    access_readers: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Users (e-mail or proxy user name) and `group:NAME` entries who may read; "
        "empty: every logged-in user.",
    )
    access_editors: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Users and `group:NAME` entries who may also change the index (ingest, upload).",
    )
    access_admins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Users and `group:NAME` entries who may do everything, reading feedback included.",
    )

    @field_validator("qdrant_tls_ca_cert", "reader_model", "reader_passage_model", mode="before")
    @classmethod
    def _empty_path_is_unset(cls, value: object) -> object:
        """Compose passes an unset variable as an empty string; an empty CA path means none."""
        return None if value == "" else value

    @field_validator(
        "access_reader_secret",
        "access_editor_secret",
        "access_admin_secret",
        "access_proxy_user_header",
        mode="before",
    )
    @classmethod
    def _empty_access_value_is_unset(cls, value: object) -> object:
        """An empty secret or header name (compose's unset variable) must not switch a mode on;
        an empty secret would otherwise match an empty login form."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("access_readers", "access_editors", "access_admins", mode="before")
    @classmethod
    def _comma_separated_names(cls, value: object) -> object:
        """Users and groups are listed as `a@example.org,group:redaktion`, compared without case."""
        if isinstance(value, str):
            return [part.strip().lower() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            return [str(part).strip().lower() for part in value if str(part).strip()]
        return value

    @field_validator("fetch_allowed_networks", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        """An environment variable lists networks as `10.0.0.0/8,127.0.0.1/32`, not as JSON."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _write_consistency_within_replicas(self) -> Settings:
        """A write cannot wait for more copies than exist; Qdrant would reject every upsert."""
        if self.qdrant_write_consistency > self.qdrant_replication_factor:
            raise ValueError(
                f"qdrant_write_consistency ({self.qdrant_write_consistency}) exceeds "
                f"qdrant_replication_factor ({self.qdrant_replication_factor})"
            )
        return self

    @property
    def resolved_data_dir(self) -> Path:
        """The data folder, defaulting under ``var_dir`` so one setting moves all runtime state."""
        return self.data_dir or self.var_dir / "data"

    @property
    def resolved_feedback_path(self) -> Path:
        """The feedback file, defaulting under ``var_dir`` with the rest of the runtime state."""
        return self.feedback_path or self.var_dir / "feedback.jsonl"

    @property
    def resolved_qdrant_path(self) -> str:
        """The embedded store location, defaulting under ``var_dir``."""
        default = "qdrant-edge" if self.qdrant_embedded_engine == "edge" else "qdrant"
        return self.qdrant_path or str(self.var_dir / default)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once; tests build their own ``Settings`` instead."""
    return Settings()
