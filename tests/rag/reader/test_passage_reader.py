"""A second reader for passages: headlines go to the reader, longer passages to the passage reader,
each reading exactly as it would alone, and the two share the weights their adapters left alone."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from finetune.reader.training import ReaderTrainConfig, adapted_model
from rag.core.settings import Settings
from rag.models.adapters import peft_quietly
from rag.reader import model as reader_model
from rag.reader.model import HEADLINE_CHARS, ReaderInfo, release_freed_memory
from rag.reader.reader import SpanReader

HEADLINE = "Kurz notiert: SiFive macht Ernst gegen ARMs Smartphone-Vormacht"
PARAGRAPH = (
    "Der Chipdesigner SiFive aus San Mateo stellte am Dienstag neue RISC-V-Kerne vor. "
    "Sie sollen 2022 in Smartphones erscheinen und ARMs Cortex-Kerne ersetzen. "
) * 2
QUESTION = "Welcher Chipdesigner greift ARM an?"


def _artifact(folder: Path, base_folder: Path, seed: int, top_layers: int) -> Path:
    """An untrained reader whose adapter and head differ by seed (LoRA's B matrices start at zero)."""
    torch.manual_seed(seed)
    config = replace(ReaderTrainConfig(), top_layers=top_layers, max_length=64, stride=16)
    model = adapted_model(str(base_folder), config)
    for name, param in model.named_parameters():
        if "lora_B" in name or "qa_outputs" in name:
            param.data.normal_(0.0, 0.05)
    model.peft_config["default"].base_model_name_or_path = config.base_model
    model.save_pretrained(str(folder))
    ReaderInfo(base_model=config.base_model, max_length=64, stride=16).save(folder)
    return folder


@pytest.fixture(scope="module")
def readers(
    tmp_path_factory: pytest.TempPathFactory, provisioned: Callable[[str], Path], settings: Settings
) -> tuple[SpanReader, SpanReader, SpanReader]:
    """(headline reader alone, passage reader alone, both routed by passage length)."""
    base = provisioned("multilingual-e5-small")
    root = tmp_path_factory.mktemp("readers")
    # the reader adapts one layer more than the passage reader, which must not get that layer merged
    headline = _artifact(root / "headline", base, seed=1, top_layers=2)
    passage = _artifact(root / "passage", base, seed=2, top_layers=1)
    cache = settings.model_cache_dir
    return (
        SpanReader(folder=headline, model_cache_dir=cache),
        SpanReader(folder=passage, model_cache_dir=cache),
        SpanReader(folder=headline, passage_folder=passage, model_cache_dir=cache),
    )


def test_each_passage_kind_is_read_by_its_reader(readers: tuple[SpanReader, SpanReader, SpanReader]) -> None:
    headline_only, passage_only, routed = readers
    assert len(HEADLINE) <= HEADLINE_CHARS < len(PARAGRAPH)
    both = routed.read(QUESTION, [PARAGRAPH, HEADLINE])
    by_passage = {r.passage: r for r in both}
    assert set(by_passage) == {0, 1}
    alone_headline = headline_only.read(QUESTION, [HEADLINE])[0]
    alone_paragraph = passage_only.read(QUESTION, [PARAGRAPH])[0]
    assert by_passage[1] == replace(alone_headline, passage=1)
    assert by_passage[0] == replace(alone_paragraph, passage=0)
    # the readers differ, so routing decides the result: the headline reader reads the paragraph otherwise
    assert headline_only.read(QUESTION, [PARAGRAPH])[0].margin != pytest.approx(alone_paragraph.margin)
    assert [r.margin for r in both] == sorted((r.margin for r in both), reverse=True)
    assert routed.read(QUESTION, [HEADLINE]) == headline_only.read(QUESTION, [HEADLINE])
    assert routed.read(QUESTION, []) == []


def test_the_readers_share_what_their_adapters_left_alone(
    readers: tuple[SpanReader, SpanReader, SpanReader],
) -> None:
    routed = readers[2]
    routed.warm_up()
    loaded = routed._loaded
    assert loaded.passage_model is not None
    first = dict(loaded.model.named_parameters())
    second = dict(loaded.passage_model.named_parameters())
    shared = [name for name, param in second.items() if param is first[name]]
    own = [name for name, param in second.items() if param is not first[name]]
    assert any("embeddings.word_embeddings" in name for name in shared)
    assert any("encoder.layer.0." in name for name in shared)
    # the adapted top layers (LoRA merged into them: the reader's two, its own one) and the span head
    # stay the passage reader's own
    assert any("encoder.layer.11.attention" in name for name in own)
    assert any("encoder.layer.10.attention" in name for name in own)
    assert any("qa_outputs" in name for name in own)
    assert not any("encoder.layer.9." in name for name in own)


def test_a_passage_reader_on_another_base_is_refused(
    readers: tuple[SpanReader, SpanReader, SpanReader], tmp_path: Path, settings: Settings
) -> None:
    headline_only, passage_only, _ = readers
    replace(ReaderInfo.load(passage_only.folder), base_model="all-minilm-l6-v2").save(tmp_path)
    (tmp_path / "adapter_model.safetensors").write_bytes(b"")  # never read: the base check comes first
    mixed = SpanReader(
        folder=headline_only.folder, passage_folder=tmp_path, model_cache_dir=settings.model_cache_dir
    )
    with pytest.raises(ValueError, match=r"Basismodelle \(multilingual-e5-small / all-minilm-l6-v2\)"):
        mixed.warm_up()


def test_releasing_freed_memory_is_skipped_where_the_c_library_has_no_malloc_trim(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []

    class GlibcLike:
        def malloc_trim(self, pad: int) -> int:
            calls.append(pad)
            return 1

    class MuslLike:
        pass

    monkeypatch.setattr(reader_model.ctypes, "CDLL", lambda _name: GlibcLike())
    release_freed_memory()
    assert calls == [0]
    monkeypatch.setattr(reader_model.ctypes, "CDLL", lambda _name: MuslLike())
    release_freed_memory()  # no malloc_trim: nothing to do, no error
    assert calls == [0]


def test_loading_a_reader_prints_no_peft_deprecation_noise(
    readers: tuple[SpanReader, SpanReader, SpanReader], settings: Settings
) -> None:
    """peft reads a property transformers 5 deprecated; `heise-rag ask` printed that above each answer."""
    fresh = SpanReader(folder=readers[0].folder, model_cache_dir=settings.model_cache_dir)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fresh.warm_up()
        with peft_quietly():
            warnings.warn("eine andere Warnung", FutureWarning, stacklevel=1)  # others still show
    messages = [str(w.message) for w in caught]
    assert not [m for m in messages if "is_gradient_checkpointing" in m]
    assert "eine andere Warnung" in messages
    assert fresh.read(QUESTION, [HEADLINE])  # and the adapter is really merged in and reads
