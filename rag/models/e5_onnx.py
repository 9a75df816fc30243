"""An ONNX Runtime copy of the E5 encoder (float32 and int8), built once per machine.

Why hand-written: sentence-transformers' own ONNX backend needs optimum-onnx, whose newest release
(0.1.0) requires transformers < 4.58; this project runs transformers 5. The recipe is short: the
sentence-transformers folder's transformer plus mean pooling is exported with
``torch.onnx.export`` (TorchScript exporter), fused with onnxruntime's BERT optimizer (attention,
GELU, skip layer norm) and, for ``onnx-int8``, dynamically quantized per channel with
``onnxruntime.quantization.quantize_dynamic``. Normalisation and the E5 prompts stay in Python,
applied exactly as the torch path applies them, so both backends' vectors agree and an index
built with one can be searched with the other.

The derived folder sits next to its base (``<name>-onnx``) and follows provisioning's rules: it is
built in a staging folder and moved into place whole, with a manifest written last that records
the base model's identity, this module's build version, the exporter's and quantizer's versions
(torch, onnxruntime) and the sha256 and size of every file. A folder without that manifest (an
interrupted build), or whose manifest names another base, build version or exporter version, or
whose files differ in size from the manifest, is not ``ready``: the encoder falls back to torch
with a warning, and the next ``heise-rag models provision`` rebuilds it.
"""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from rag.core.checksums import sha256_file
from rag.models.engine_copies import manifest_state
from rag.models.provision import (
    MANIFEST,
    STATUS_LABELS,
    ModelState,
    expected_manifest,
    folder_size,
    locked,
)
from rag.models.registry import ModelSpec

# Bump when the recipe (export, fusion, quantization options) changes: cached folders rebuild.
E5_ONNX_BUILD_VERSION = 1
ONNX_SUFFIX = "-onnx"
FLOAT_FILE = "model.onnx"
INT8_FILE = "model-int8.onnx"
MODEL_FILES = (FLOAT_FILE, INT8_FILE)
RUNTIME_PACKAGE = "onnxruntime"


class E5OnnxError(RuntimeError):
    """The ONNX copy cannot be built or loaded here; the message says why."""


def runtime_version() -> str | None:
    """The installed onnxruntime version, or None where its wheel is not installed."""
    try:
        return importlib.metadata.version(RUNTIME_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None


def _exporter_versions() -> dict[str, str | None]:
    return {"torch": importlib.metadata.version("torch"), RUNTIME_PACKAGE: runtime_version()}


def onnx_path(spec: ModelSpec, cache_dir: Path) -> Path:
    return cache_dir / f"{spec.name}{ONNX_SUFFIX}"


def _expected(spec: ModelSpec, versions: dict[str, str | None]) -> dict[str, object]:
    return {
        "name": f"{spec.name}{ONNX_SUFFIX}",
        "base": expected_manifest(spec),
        "build_version": E5_ONNX_BUILD_VERSION,
        "exporter": versions,
    }


def e5_onnx_state(spec: ModelSpec, cache_dir: Path) -> ModelState:
    """Inspect the derived folder without hashing it (reads the manifest and stats two files)."""
    return manifest_state(
        spec, onnx_path(spec, cache_dir), MODEL_FILES, _expected(spec, _exporter_versions())
    )


def export_e5(base: Path, out: Path) -> None:
    """Export, fuse and quantize the sentence-transformers folder ``base`` into ``out``."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers.optimizer import optimize_model
    from transformers import AutoModel

    model = AutoModel.from_pretrained(base, add_pooling_layer=False, attn_implementation="eager").eval()

    class MeanPooled(torch.nn.Module):
        """The transformer and sentence-transformers' mean pooling (prompt tokens included)."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    out.mkdir(parents=True)
    raw = out / "raw.onnx"
    ids = torch.tensor([[0, 100, 200, 300, 2], [0, 100, 2, 1, 1]])
    axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"}}
    with torch.no_grad():
        torch.onnx.export(
            MeanPooled(), (ids, (ids != 1).long()), str(raw), dynamo=False, opset_version=17,
            input_names=["input_ids", "attention_mask"], output_names=["sentence_embedding"],
            dynamic_axes=axes | {"sentence_embedding": {0: "batch"}}, do_constant_folding=True,
        )  # fmt: skip
    config = json.loads((base / "config.json").read_text(encoding="utf-8"))
    fused = optimize_model(
        str(raw),
        model_type="bert",
        num_heads=int(config["num_attention_heads"]),
        hidden_size=int(config["hidden_size"]),
        opt_level=0,
    )
    fused.save_model_to_file(str(out / FLOAT_FILE))
    raw.unlink()
    # Per channel keeps the int8 vectors at a cosine of ~0.997 to float (per tensor: ~0.985);
    # the embedding table (a Gather) stays float: quantizing it saves memory, not time.
    quantize_dynamic(
        out / FLOAT_FILE,
        out / INT8_FILE,
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=["MatMul", "Attention"],
        extra_options={"DefaultTensorType": 1},  # float: the fused ops' outputs have no inferred type
    )


def provision_e5_onnx(
    spec: ModelSpec,
    base: ModelState,
    cache_dir: Path,
    log: Callable[[str], None] = print,
    builder: Callable[[Path, Path], None] = export_e5,
) -> ModelState:
    """Make the ONNX folder of a ready base encoder ready; a no-op when its manifest matches.

    Where onnxruntime is not installed, log that and return the state unchanged rather than fail:
    the torch encoder still works.
    """
    state = e5_onnx_state(spec, cache_dir)
    if state.status == "ready":
        return state
    versions = _exporter_versions()
    if versions[RUNTIME_PACKAGE] is None:
        log(
            f"{state.path.name}: übersprungen, {RUNTIME_PACKAGE} ist nicht installiert; "
            "der Encoder läuft über torch"
        )
        return state
    with locked(cache_dir, state.path.name):
        state = e5_onnx_state(spec, cache_dir)
        if state.status == "ready":
            return state
        log(f"{state.path.name}: {STATUS_LABELS[state.status]}, wird aus {base.path.name} gebaut (~1 min)")
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix=f".staging-{state.path.name}-", dir=cache_dir) as tmp:
            out = Path(tmp) / "out"
            try:
                builder(base.path, out)
            except Exception as exc:
                raise E5OnnxError(
                    f"Modell {spec.name!r}: die ONNX-Kopie ließ sich nicht bauen: {exc}. In den Cache "
                    "wurde nichts geschrieben; der Encoder läuft bis dahin über torch."
                ) from exc
            manifest = _expected(spec, versions) | {
                "files": {
                    name: {"sha256": sha256_file(out / name), "size": (out / name).stat().st_size}
                    for name in MODEL_FILES
                },
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "build_seconds": round(time.perf_counter() - started, 1),
                "size_bytes": folder_size(out),
            }
            (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
            if state.path.exists():
                shutil.rmtree(state.path)
            out.rename(state.path)
    log(f"{state.path.name}: bereit in {state.path}")
    return e5_onnx_state(spec, cache_dir)


class OnnxE5:
    """The E5 encoder on onnxruntime: tokenizer and prompts of the base folder, vectors normalised.

    Two sessions, made when first needed: documents use every core, a query uses
    ``query_threads`` (one short input gains nothing from a second thread on a shared machine).
    """

    def __init__(self, base: Path, model_file: Path, *, query_threads: int | None = None) -> None:
        import onnxruntime  # noqa: F401  (fail here, where the caller can fall back)
        from transformers import AutoTokenizer

        self.base = base
        self.model_file = model_file
        self.query_threads = query_threads
        self.tokenizer = AutoTokenizer.from_pretrained(base)
        bert = json.loads((base / "sentence_bert_config.json").read_text(encoding="utf-8"))
        self.max_seq_length = int(bert.get("max_seq_length", 512))
        config = json.loads((base / "config.json").read_text(encoding="utf-8"))
        self.dim = int(config["hidden_size"])
        st_config = base / "config_sentence_transformers.json"
        st_settings = json.loads(st_config.read_text(encoding="utf-8")) if st_config.is_file() else {}
        self.prompts: dict[str, str] = st_settings.get("prompts", {})
        self._sessions: dict[int | None, object] = {}

    @property
    def query_prompt(self) -> str:
        return self.prompts.get("query", "")

    def _session(self, threads: int | None):
        if threads not in self._sessions:
            import onnxruntime as ort

            options = ort.SessionOptions()
            if threads:
                options.intra_op_num_threads = threads
            self._sessions[threads] = ort.InferenceSession(
                str(self.model_file), options, providers=["CPUExecutionProvider"]
            )
        return self._sessions[threads]

    def encode(
        self, texts: list[str], prompt: str, batch_size: int, threads: int | None = None
    ) -> np.ndarray:
        """Normalised vectors in input order; batches of similar length (longest first), like
        sentence-transformers, so padding costs little."""
        session = self._session(threads)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), batch_size):
            index = order[start : start + batch_size]
            encoded = self.tokenizer(
                [prompt + texts[i] for i in index],
                padding=True,
                truncation=True,
                max_length=self.max_seq_length,
                return_tensors="np",
            )
            feed = {
                "input_ids": encoded["input_ids"].astype(np.int64),
                "attention_mask": encoded["attention_mask"].astype(np.int64),
            }
            vectors = session.run(None, feed)[0]  # type: ignore[attr-defined]
            out[index] = vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
        return out
