"""The encoder's document precision: bfloat16 autocast where the CPU has bf16 units, float32
elsewhere, and vectors that agree with float32 closely enough that one index serves both."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

import rag.models.dtypes as dtypes
from bench.ingest import variant_embedder
from rag.core.settings import Settings
from rag.models.embeddings import Embedder, document_precision

E5 = "multilingual-e5-small"
PASSAGES = [
    "Hersteller gehackt: Digitale Nummernschilder verraten Standort der Fahrzeuge",
    "Microsoft hat ein Update für Exchange veröffentlicht, das eine kritische Lücke schließt. " * 12,
    "Größere Akkus, schnellere Prozessoren: Das neue Smartphone kostet ab 999 €.",
    "Kurz",
]


def test_auto_picks_bfloat16_only_on_a_cpu_with_native_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = Path("unused")
    monkeypatch.setattr(dtypes, "cpu_has_native_bf16", lambda: True)
    assert Embedder(E5, cache_dir=cache).document_dtype == torch.bfloat16
    assert Embedder(E5, cache_dir=cache, device="cuda").document_dtype == torch.float32
    assert Embedder(E5, cache_dir=cache, dtype="float32").document_dtype == torch.float32
    monkeypatch.setattr(dtypes, "cpu_has_native_bf16", lambda: False)
    assert Embedder(E5, cache_dir=cache).document_dtype == torch.float32
    assert Embedder(E5, cache_dir=cache, dtype="bfloat16").document_dtype == torch.bfloat16


def test_settings_read_the_dtype_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEISE_RAG_EMBEDDING_DTYPE", "bfloat16")
    assert Embedder.from_settings(Settings()).document_dtype == torch.bfloat16


def test_document_precision_turns_autocast_on_only_for_bfloat16() -> None:
    with document_precision(torch.bfloat16, "cpu"):
        assert torch.is_autocast_enabled("cpu")
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16
    with document_precision(torch.float32, "cpu"):
        assert not torch.is_autocast_enabled("cpu")
    assert not torch.is_autocast_enabled("cpu")


@pytest.mark.slow
def test_bfloat16_documents_agree_with_float32(
    provisioned: Callable[[str], Path], settings: Settings
) -> None:
    provisioned(E5)
    exact = Embedder(E5, cache_dir=settings.model_cache_dir, batch_size=3, dtype="float32")
    fast = Embedder(E5, cache_dir=settings.model_cache_dir, batch_size=3, dtype="bfloat16")
    reference, vectors = exact.encode_documents(PASSAGES), fast.encode_documents(PASSAGES)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    # bfloat16 weights instead of autocast drift to ~0.998 and fail this bound
    assert (vectors * reference).sum(1).min() > 0.9999
    assert not np.array_equal(vectors, reference)  # it really ran in bf16, not silently in float32
    query = "Was war Anfang 2022 mit Exchange los?"
    assert np.array_equal(fast.encode_query(query), exact.encode_query(query))


@pytest.mark.slow
def test_the_benchmarks_compare_against_float32_torch(
    provisioned: Callable[[str], Path], settings: Settings
) -> None:
    """`torch` in bench/encoder.py and bench/ingest.py is the float32 reference on every machine."""
    provisioned(E5)
    reference, fast = variant_embedder(settings, "torch"), variant_embedder(settings, "torch-bf16")
    assert reference is not None and fast is not None
    assert (reference.document_dtype, fast.document_dtype) == (torch.float32, torch.bfloat16)
    assert reference.active_backend == fast.active_backend == "torch"
