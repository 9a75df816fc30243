"""QLoRA training of the answer adapter: LoRA on a 4-bit NF4 base, loss on the answer tokens only.

Why this loop instead of TRL's SFTTrainer: with batch size 1 and the answer at the end of the
sequence, the model only needs logits for the answer positions (``logits_to_keep``). Qwen's
vocabulary is 152k tokens, so the full-sequence logits TRL computes cost about a quarter of each
step on a CPU; here they cost nothing. Everything else is the standard QLoRA recipe: the base in
bitsandbytes NF4 with double quantization and a compute dtype for the hardware (bfloat16 on GPUs
and CPUs that have it, else float16/float32), ``prepare_model_for_kbit_training``, peft LoRA on the
attention and MLP projections, gradient checkpointing, paged AdamW on CUDA (plain AdamW elsewhere:
paging needs unified GPU memory). The same code runs on this CPU with the 0.5B base and unchanged
on a GPU with a larger one (``--device cuda``).
"""

from __future__ import annotations

import json
import math
import random
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
from tqdm import tqdm
from transformers import AutoModelForCausalLM, AutoTokenizer, get_linear_schedule_with_warmup

from rag.generation.engine import FALLBACK_CHAT_TEMPLATE, quantization_config
from rag.models.adapters import peft_quietly
from rag.models.dtypes import cpu_has_native_bf16

LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
TRAINING_FILE = "training.json"
LOSS_PLOT = "loss_curve.png"


@dataclass(frozen=True)
class AdapterConfig:
    """Hyper-parameters of one run; stored in ``training.json`` and the model card."""

    quantize: str = "nf4"  # "nf4" (QLoRA) or "none" (LoRA on the full-precision base)
    rank: int = 8
    alpha: int = 16
    top_layers: int | None = None  # LoRA on the last N decoder layers only (None: all)
    dropout: float = 0.05
    targets: tuple[str, ...] = LORA_TARGETS
    learning_rate: float = 3e-4
    epochs: int = 1
    max_examples: int | None = None  # a prefix of the (shuffled) training file
    max_length: int = 512  # longer examples are skipped, never truncated (the answer sits at the end)
    grad_accumulation: int = 2
    warmup_updates: int = 3
    gradient_checkpointing: bool = True
    dev_examples: int = 16  # held-out loss before and after training
    max_minutes: float | None = None  # stop after this wall time (shared CPUs), keeping what was learned
    seed: int = 13
    device: str = "cpu"
    threads: int | None = None


@dataclass
class Encoded:
    """Token ids of a whole example and how many of them, at the end, are the answer."""

    input_ids: list[int]
    answer_tokens: int


@dataclass
class TrainingResult:
    """What a run did, in numbers; written to ``training.json`` next to the adapter."""

    config: dict[str, Any]
    base_model: str
    compute_dtype: str
    optimizer: str
    train_examples: int
    examples_seen: int
    stopped_early: bool
    skipped_too_long: int
    updates: int
    seconds: float
    tokens_per_example_mean: float
    trainable_parameters: int
    base_weight_bytes: int
    dev_loss_before: float | None
    dev_loss_after: float | None
    losses: list[float] = field(default_factory=list)


def compute_dtype(device: str) -> torch.dtype:
    """bfloat16 where the hardware computes it natively, else float16 on GPUs and float32 on CPUs."""
    if device.startswith("cuda"):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if device == "cpu" and cpu_has_native_bf16() else torch.float32


def eos_id(model: Any, tokenizer: Any) -> int:
    """The token the engine stops at (Qwen: ``<|im_end|>``), so the adapter learns to stop there."""
    eos = model.generation_config.eos_token_id
    if isinstance(eos, list):
        eos = eos[0]
    return int(eos if eos is not None else tokenizer.eos_token_id)


def encode(tokenizer: Any, messages: Sequence[Mapping[str, str]], stop_id: int) -> Encoded:
    """The prompt as the engine renders it (chat template, generation prompt) + answer + stop token."""
    *prompt, answer = messages
    text = tokenizer.apply_chat_template(list(prompt), tokenize=False, add_generation_prompt=True)
    prompt_ids = list(tokenizer(text, add_special_tokens=False)["input_ids"])
    answer_ids = [*tokenizer(answer["content"], add_special_tokens=False)["input_ids"], stop_id]
    return Encoded(prompt_ids + answer_ids, len(answer_ids))


def answer_loss(model: Any, example: Encoded, device: torch.device) -> torch.Tensor:
    """Mean cross-entropy over the answer tokens; logits are computed for those positions only."""
    ids = torch.tensor([example.input_ids], device=device)
    n = example.answer_tokens
    logits = model(input_ids=ids, logits_to_keep=n + 1).logits[0, :-1].float()
    return torch.nn.functional.cross_entropy(logits, ids[0, -n:])


def load_trainable(base_path: str, config: AdapterConfig) -> tuple[Any, Any, torch.dtype]:
    """Tokenizer and the peft model: NF4 base prepared for k-bit training, or the plain base."""
    dtype = compute_dtype(config.device)
    tokenizer = AutoTokenizer.from_pretrained(base_path)
    if tokenizer.chat_template is None:
        tokenizer.chat_template = FALLBACK_CHAT_TEMPLATE
    quant = quantization_config(config.quantize, dtype)
    kwargs: dict[str, Any] = {"dtype": dtype}
    if quant is not None:
        kwargs.update(quantization_config=quant, device_map={"": config.device})
    model = AutoModelForCausalLM.from_pretrained(base_path, **kwargs)
    if quant is None:
        model.to(config.device)
    checkpointing = {"use_reentrant": False}
    with peft_quietly():
        if quant is not None:
            model = prepare_model_for_kbit_training(
                model,
                use_gradient_checkpointing=config.gradient_checkpointing,
                gradient_checkpointing_kwargs=checkpointing,
            )
        elif config.gradient_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=checkpointing)
            model.enable_input_require_grads()
        layers = model.config.num_hidden_layers
        top = min(config.top_layers or layers, layers)
        lora = LoraConfig(
            layers_to_transform=list(range(layers - top, layers)) if top < layers else None,
            r=config.rank,
            lora_alpha=config.alpha,
            lora_dropout=config.dropout,
            target_modules=list(config.targets),
            task_type="CAUSAL_LM",
        )
        model = get_peft_model(model, lora)
    model.train()  # from_pretrained leaves eval mode; see mean_loss for why it must never be on here
    return model, tokenizer, dtype


def make_optimizer(parameters: list[torch.nn.Parameter], config: AdapterConfig) -> torch.optim.Optimizer:
    """Paged AdamW (bitsandbytes) on CUDA, where optimizer state can page to host memory; else AdamW."""
    if config.device.startswith("cuda"):
        import bitsandbytes as bnb

        return bnb.optim.PagedAdamW(parameters, lr=config.learning_rate)
    return torch.optim.AdamW(parameters, lr=config.learning_rate)


def mean_loss(model: Any, examples: Sequence[Encoded], device: torch.device) -> float | None:
    """Held-out answer loss without dropout.

    The model stays in training mode: in eval mode bitsandbytes (0.50, CPUs with AVX512-BF16)
    repacks NF4 weights into an inference-only layout whose matmul has no backward, and training
    after that would silently lose the gradients through the base weights. Only dropout is switched
    off for the measurement."""
    if not examples:
        return None
    dropouts = [m for m in model.modules() if isinstance(m, torch.nn.Dropout) and m.training]
    for module in dropouts:
        module.eval()
    with torch.no_grad():
        total = sum(float(answer_loss(model, e, device)) for e in examples)
    for module in dropouts:
        module.train()
    return total / len(examples)


def encode_all(
    tokenizer: Any, rows: Sequence[Mapping[str, Any]], stop_id: int, max_length: int
) -> tuple[list[Encoded], int]:
    """Encoded examples that fit ``max_length``, and how many did not."""
    encoded = [encode(tokenizer, row["messages"], stop_id) for row in rows]
    kept = [e for e in encoded if len(e.input_ids) <= max_length]
    return kept, len(encoded) - len(kept)


def train_adapter(
    base_path: str,
    train_rows: Sequence[Mapping[str, Any]],
    dev_rows: Sequence[Mapping[str, Any]],
    output: Path,
    config: AdapterConfig,
    *,
    base_name: str,
    log: Callable[[str], None] = print,
) -> TrainingResult:
    """Train, save the adapter (``adapter_model.safetensors`` + config), the log and the loss curve."""
    if config.threads:
        torch.set_num_threads(config.threads)
    random.seed(config.seed)
    torch.manual_seed(config.seed)
    model, tokenizer, dtype = load_trainable(base_path, config)
    device = next(model.parameters()).device
    stop_id = eos_id(model, tokenizer)
    rows = list(train_rows)[: config.max_examples] if config.max_examples else list(train_rows)
    train, skipped = encode_all(tokenizer, rows, stop_id, config.max_length)
    dev, _ = encode_all(tokenizer, list(dev_rows)[: config.dev_examples], stop_id, config.max_length)
    if not train:
        raise ValueError(f"no training example fits max_length={config.max_length} tokens")
    log(f"{len(train)} Beispiele ({skipped} zu lang), {len(dev)} Dev-Beispiele, compute dtype {dtype}")
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = make_optimizer(parameters, config)
    updates = math.ceil(len(train) * config.epochs / config.grad_accumulation)
    schedule = get_linear_schedule_with_warmup(optimizer, min(config.warmup_updates, updates - 1), updates)
    dev_before = mean_loss(model, dev, device)
    started = time.perf_counter()
    losses: list[float] = []
    order = [e for _ in range(config.epochs) for e in random.sample(train, len(train))]
    deadline = started + config.max_minutes * 60 if config.max_minutes else math.inf
    with tqdm(total=len(order), desc="QLoRA", unit=" Beispiele") as bar:
        for step, example in enumerate(order, start=1):
            if time.perf_counter() > deadline:
                break
            loss = answer_loss(model, example, device)
            (loss / config.grad_accumulation).backward()
            losses.append(loss.item())
            if step % config.grad_accumulation == 0 or step == len(order) or time.perf_counter() > deadline:
                torch.nn.utils.clip_grad_norm_(parameters, 1.0)
                optimizer.step()
                schedule.step()
                optimizer.zero_grad(set_to_none=True)
            bar.set_postfix(loss=f"{sum(losses[-20:]) / len(losses[-20:]):.3f}")
            bar.update()
    seconds = time.perf_counter() - started
    dev_after = mean_loss(model, dev, device)
    output.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(output)
    (output / "README.md").unlink(missing_ok=True)  # peft's empty template; MODEL_CARD.md describes the run
    export_for_tgi(output, model.config.num_hidden_layers, base_name)
    result = TrainingResult(
        config=asdict(config),
        base_model=base_name,
        compute_dtype=str(dtype).removeprefix("torch."),
        optimizer=type(optimizer).__name__,
        train_examples=len(train),
        examples_seen=len(losses),
        stopped_early=len(losses) < len(order),
        skipped_too_long=skipped,
        updates=updates,
        seconds=round(seconds, 1),
        tokens_per_example_mean=round(sum(len(e.input_ids) for e in train) / len(train), 1),
        trainable_parameters=sum(p.numel() for p in parameters),
        base_weight_bytes=int(model.get_memory_footprint()),
        dev_loss_before=dev_before,
        dev_loss_after=dev_after,
        losses=[round(v, 4) for v in losses],
    )
    (output / TRAINING_FILE).write_text(json.dumps(asdict(result), indent=2), encoding="utf-8")
    plot_losses(losses, output / LOSS_PLOT)
    return result


_LAYER = re.compile(r"\.layers\.(\d+)\.")


def export_for_tgi(folder: Path, layers: int, base_name: str) -> None:
    """Make the saved adapter loadable by TGI as well as peft.

    TGI ignores a LoRA module type entirely when any layer lacks its weights (``prepare_weights``
    in ``text_generation_server/adapters/lora.py`` returns None), so an adapter trained on the top
    layers only gets zero weights for the others (the same function: their update is zero), stored
    in bfloat16 to keep the file small. ``base_model_name_or_path`` becomes the hub id, not this
    machine's cache path (written after peft saved, since peft looks a hub id up while saving).
    """
    from safetensors.torch import load_file, save_file

    weights_path = folder / "adapter_model.safetensors"
    weights = load_file(weights_path)
    by_suffix: dict[str, torch.Tensor] = {}
    for key, tensor in weights.items():
        by_suffix.setdefault(_LAYER.sub(".layers.{}.", key, count=1), tensor)
    full = {
        suffix.format(layer): weights.get(suffix.format(layer), torch.zeros_like(like))
        for suffix, like in by_suffix.items()
        for layer in range(layers)
    }
    save_file({k: v.to(torch.bfloat16).contiguous() for k, v in full.items()}, weights_path)
    config_path = folder / "adapter_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config.update(base_model_name_or_path=base_name, layers_to_transform=None)
    config_path.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


def plot_losses(losses: Sequence[float], path: Path, window: int = 20) -> None:
    """Per-example answer loss and its running mean, saved as a PNG."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 3.5), dpi=100)
    axes = figure.subplots()
    steps = range(1, len(losses) + 1)
    axes.plot(steps, losses, alpha=0.3, label="Beispiel")
    running = [sum(losses[max(0, i - window + 1) : i + 1]) / min(window, i + 1) for i in range(len(losses))]
    axes.plot(steps, running, label=f"Mittel ({window})")
    axes.set_xlabel("Trainingsbeispiel")
    axes.set_ylabel("Loss (Antwort-Tokens)")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
