"""Turn a GGUF checkpoint into an ordinary transformers folder, once, at provisioning time.

Why: transformers can load a GGUF directly, but it de-quantizes every tensor and rebuilds the
tokenizer from the raw vocabulary on each start: about 50 s for Qwen2.5-0.5B on two cores. A folder
with safetensors weights, a `tokenizer.json`, the chat template and a generation config loads in
about 3 s and needs nothing GGUF-specific at run time.

The conversion uses transformers' own GGUF support; its quirks that matter here:

* For llama and qwen2 files transformers 5 takes its legacy GGUF path, which still attaches a
  non-serializable GGUF "quantizer" to the model unless asked to de-quantize explicitly, and then
  `save_pretrained` refuses to write. `GgufConfig(dequantize=True)` gives a plain dense model.
* A GGUF names a single end-of-sequence token, while llama.cpp (the runtime these files are made
  for) also stops on end-of-turn tokens such as Qwen's `<|endoftext|>`; see `_generation_ids`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rag.core.checksums import sha256_file

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

__all__ = ["CONVERSION_VERSION", "assemble_parts", "convert_gguf", "sha256_file"]

CONVERSION_VERSION: int = 1

_GGUF_MAGIC = b"GGUF"
_CHUNK = 1 << 20

# Why float32 on disk, measured on the three provisioned files rather than assumed. The GGUF blocks
# de-quantize to `scale * q (+ min)` in float32, and that product usually needs more mantissa bits
# than a 16-bit format has: float16 holds only 12-75 % of the weights exactly (by block type; the
# rest round by up to 4.9e-4 relative), bfloat16 2-32 % (up to 3.9e-3). Against the model loaded
# straight from the GGUF, the next-token logits of a float16 folder (computed in float32) differ by
# up to 1.1e-2 for Qwen2.5-0.5B and 0.12 for SmolLM2, of a bfloat16 folder by 0.12 and 0.94; a
# float32 folder is bit-identical. It also loads without a cast, straight from the memory map: peak
# RAM 2.5 GB for Qwen instead of 4.2 GB. And `from_pretrained` computes in the dtype the config
# records unless told otherwise, which on CPU for a 16-bit folder moved SmolLM2's logits by 1.4
# (float16) and 13 (bfloat16). The price is disk: 2.5 GB instead of 1.3 GB for Qwen, once.
_SAVE_DTYPE = "float32"

# The end-of-generation tokens llama.cpp recognises by their text in addition to the file's EOS
# (llama-vocab.cpp, `special_eog_ids`), restricted to those our chat models use.
_END_OF_TURN_TOKENS = ("<|im_end|>", "<|endoftext|>")


def assemble_parts(parts: Sequence[Path], out_file: Path) -> str:
    """Concatenate byte parts in order into out_file (streamed, not in memory); return its sha256 hex.

    The digest is computed in the same pass as the copy, so a 0.5 GB model is read once and never
    held in memory; the caller compares it with its pinned value.
    """
    digest = hashlib.sha256()
    with out_file.open("wb") as sink:
        for part in parts:
            with part.open("rb") as source:
                while chunk := source.read(_CHUNK):
                    digest.update(chunk)
                    sink.write(chunk)
    return digest.hexdigest()


def convert_gguf(gguf_file: Path, out_dir: Path) -> None:
    """Write a transformers folder (model + tokenizer + chat template) into out_dir.

    The file name need not end in `.gguf` (an assembled download does not); it is checked by its
    magic bytes first, so a wrong file fails here with its name rather than deep in a parser.
    """
    _require_gguf(gguf_file)
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig, GgufConfig

    # `gguf_file` is resolved relative to the folder; `local_files_only` keeps the hub out of it. The
    # explicit dtype matters beyond `_SAVE_DTYPE`: left to "auto", transformers tries `torch.load` on a
    # weight file whose name does not end in `.gguf`.
    location = {"pretrained_model_name_or_path": str(gguf_file.parent), "gguf_file": gguf_file.name}
    tokenizer = AutoTokenizer.from_pretrained(**location, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(
        **location,
        dtype=_SAVE_DTYPE,
        quantization_config=GgufConfig(dequantize=True),
        local_files_only=True,
    )
    eos_ids, pad_id = _generation_ids(tokenizer)
    # A fresh config rather than the one derived from the model config, so that the saved file holds
    # exactly these ids and is not marked `_from_model_config`.
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=eos_ids, pad_token_id=pad_id
    )

    # A GGUF tokenizer knows no length limit, so `truncation=True` would silently do nothing.
    tokenizer.model_max_length = model.config.max_position_embeddings

    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    # Saves `tokenizer.json` and, when the GGUF carries one, `chat_template.jinja`.
    tokenizer.save_pretrained(out_dir)


def _require_gguf(path: Path) -> None:
    with path.open("rb") as handle:
        head = handle.read(len(_GGUF_MAGIC))
    if head != _GGUF_MAGIC:
        raise ValueError(f"{path} is not a GGUF file: it starts with {head!r} instead of {_GGUF_MAGIC!r}")


def _generation_ids(tokenizer: PreTrainedTokenizerBase) -> tuple[list[int], int]:
    """The ids generation stops at (the GGUF's EOS first) and the pad id.

    Mirrors llama.cpp so that greedy output stops where it would with the same file. The pad id is
    the GGUF's padding token, else the EOS, which is what `generate` would fall back to anyway.
    """
    eos_id = tokenizer.eos_token_id
    vocab = tokenizer.get_vocab()
    extra = [vocab[text] for text in _END_OF_TURN_TOKENS if text in vocab and vocab[text] != eos_id]
    pad_id = tokenizer.pad_token_id
    return [eos_id, *extra], eos_id if pad_id is None else pad_id
