"""The answer adapter: QLoRA training on a tiny slice, loss on the answer tokens only, and the trained
adapter served in-process (NF4 base) and by the TGI-compatible server (`--quantize bitsandbytes-nf4
--lora-adapters answer=PATH`, selected per request by `adapter_id`).

The serving tests need a base whose layer widths are multiples of 32: on CPUs with AVX512-BF16,
bitsandbytes 0.50 repacks NF4 weights for inference and asserts that (tiny-random-llama is 16 wide).
So they train on a random 64-wide llama with tiny-random-llama's tokenizer, built here in a second;
the command-line test trains on tiny-random-llama itself."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import torch
from langchain_core.documents import Document
from safetensors.torch import load_file
from typer.testing import CliRunner

from cli.main import app
from finetune.answer_adapter.sft_data import chat_messages
from finetune.answer_adapter.training import (
    AdapterConfig,
    answer_loss,
    encode,
    eos_id,
    load_trainable,
    train_adapter,
)
from rag.core.prompting import REFUSAL
from rag.core.settings import Settings

TINY = "tiny-random-llama"
SOURCES = [
    Document("Der Router kostet 89 Euro.", metadata={"title": "Router", "source": "heise"}),
    Document("Das Update erscheint im Mai.", metadata={"title": "Update", "source": "heise"}),
]
ROWS = [
    {"messages": chat_messages("Wie viel kostet der Router?", SOURCES, "89 Euro [1]")},
    {"messages": chat_messages("Wann erscheint das Update?", SOURCES, "im Mai [2]")},
    {"messages": chat_messages("Wer hat das Update entwickelt?", SOURCES, REFUSAL)},
]
CONFIG = AdapterConfig(
    quantize="nf4",
    rank=4,
    alpha=8,
    top_layers=1,  # of 2: the export pads layer 0 with zeros for TGI
    learning_rate=2e-2,
    epochs=2,
    max_examples=2,
    max_length=1024,
    gradient_checkpointing=False,  # the command-line test trains with it on
    dev_examples=2,
)


@pytest.fixture(scope="module")
def tiny_path(provisioned: Callable[[str], Path]) -> str:
    return str(provisioned(TINY))


@pytest.fixture(scope="module")
def base_path(tiny_path: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A random 2-layer llama, 64 wide, with tiny-random-llama's tokenizer (NF4-servable on any CPU)."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("base")
    tokenizer = AutoTokenizer.from_pretrained(tiny_path)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module")
def trained(base_path: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A QLoRA adapter trained on three examples (NF4 base), seconds on a CPU."""
    folder = tmp_path_factory.mktemp("adapter") / "answer"
    result = train_adapter(base_path, ROWS, ROWS, folder, CONFIG, base_name=TINY, log=lambda _: None)
    assert result.examples_seen == 2 * CONFIG.epochs
    assert result.dev_loss_before is not None and result.dev_loss_after is not None
    assert result.dev_loss_after < result.dev_loss_before  # it learned the three answers
    return folder


def test_loss_covers_exactly_the_answer_tokens(tiny_path: str) -> None:
    """``logits_to_keep`` gives the same loss as the full logits restricted to the answer positions."""
    model, tokenizer, _ = load_trainable(
        tiny_path, AdapterConfig(quantize="none", gradient_checkpointing=False)
    )
    stop = eos_id(model, tokenizer)
    example = encode(tokenizer, ROWS[0]["messages"], stop)
    answer_ids = tokenizer("89 Euro [1]", add_special_tokens=False)["input_ids"]
    assert example.input_ids[-example.answer_tokens :] == [*answer_ids, stop]
    model.eval()
    with torch.no_grad():
        ids = torch.tensor([example.input_ids])
        logits = model(input_ids=ids).logits[0].float()
        n = example.answer_tokens
        full = torch.nn.functional.cross_entropy(logits[-n - 1 : -1], ids[0, -n:])
        assert float(answer_loss(model, example, torch.device("cpu"))) == pytest.approx(float(full), rel=1e-4)


def test_training_writes_adapter_log_and_loss_curve(trained: Path) -> None:
    files = {p.name for p in trained.iterdir()}
    assert {"adapter_model.safetensors", "adapter_config.json", "training.json", "loss_curve.png"} <= files
    adapter = json.loads((trained / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == TINY
    assert set(adapter["target_modules"]) == {
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    }
    assert adapter["layers_to_transform"] is None
    weights = load_file(trained / "adapter_model.safetensors")
    for module in ("self_attn.q_proj", "mlp.down_proj"):
        for layer, trained_layer in ((0, False), (1, True)):
            b = weights[f"base_model.model.model.layers.{layer}.{module}.lora_B.weight"]
            assert bool(b.abs().sum() > 0) is trained_layer
    record = json.loads((trained / "training.json").read_text())
    assert record["config"]["quantize"] == "nf4"
    assert len(record["losses"]) == record["examples_seen"]


def _prefill_logprobs(engine: object, ids: list[int], adapter: str | None) -> list[float | None]:
    return [t.logprob for t in engine.prefill(ids, adapter=adapter)]  # type: ignore[attr-defined]


def test_in_process_nf4_base_with_the_adapter(base_path: str, trained: Path, settings: Settings) -> None:
    from rag.generation.engine import load_engine
    from rag.generation.local import LOCAL_ADAPTER

    engine = load_engine(
        base_path,
        cache_dir=settings.model_cache_dir,
        quantization="nf4",
        adapters={LOCAL_ADAPTER: str(trained)},
    )
    ids = engine.encode_chat(ROWS[0]["messages"][:2])
    assert _prefill_logprobs(engine, ids, LOCAL_ADAPTER) != _prefill_logprobs(engine, ids, None)


def test_tgi_server_serves_the_adapter_per_adapter_id(
    base_path: str, trained: Path, settings: Settings
) -> None:
    from rag.serve.routes import create_app
    from rag.serve.startup import build_server, parse_lora_adapters, running_server

    server = build_server(
        base_path,
        cache_dir=settings.model_cache_dir,
        quantize="bitsandbytes-nf4",
        lora_adapters=parse_lora_adapters(f"answer={trained}"),
    )
    assert server.engine.quantization == "nf4"
    prompt = server.engine.render_chat(ROWS[1]["messages"][:2])
    with running_server(create_app(server)) as url:

        def generate(adapter: str | None) -> httpx.Response:
            parameters = {"max_new_tokens": 4, "details": True, "decoder_input_details": True}
            if adapter:
                parameters["adapter_id"] = adapter
            return httpx.post(
                f"{url}/generate", json={"inputs": prompt, "parameters": parameters}, timeout=60
            )

        base, adapted, unknown = generate(None), generate("answer"), generate("fehlt")
    assert base.status_code == adapted.status_code == 200
    assert unknown.status_code == 422
    prefill = [[t["logprob"] for t in r.json()["details"]["prefill"]] for r in (base, adapted)]
    assert prefill[0] != prefill[1]


def test_train_command_writes_the_model_card(tiny_path: str, tmp_path: Path) -> None:
    data = tmp_path / "sft"
    data.mkdir()
    (data / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    stats = {
        "train": {"examples": 3, "kinds": {"refusal": 1}},
        "command": "heise-rag train sft-data --seed 4",
    }
    (data / "stats.json").write_text(json.dumps(stats))
    out = tmp_path / "adapter"
    args = ["train", "answer-adapter", "--data", str(data), "--output", str(out), "--base", TINY]
    options = ["--max-length", "1024", "--rank", "4", "--max-examples", "1", "--dev-examples", "0"]
    result = CliRunner().invoke(app, [*args, *options])
    assert result.exit_code == 0, result.output
    card = (out / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "| train | 3 | refusal 1 |" in card
    assert "heise-rag train sft-data --seed 4" in card  # how the data was built
    assert "heise-rag train answer-adapter --data" in card
    assert "--quantize nf4" in card
    assert (out / "adapter_model.safetensors").exists()
