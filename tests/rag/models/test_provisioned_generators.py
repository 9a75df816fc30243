"""The provisioned generator folders load in seconds and answer through their chat templates."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

pytestmark = pytest.mark.slow


def greedy_chat(folder: Path, question: str, max_new_tokens: int = 16) -> str:
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    inputs = tokenizer.apply_chat_template(
        [{"role": "user", "content": question}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    output = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False)
    return tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)


def test_qwen_answers_in_german(provisioned: Callable[[str], Path]) -> None:
    answer = greedy_chat(
        provisioned("qwen2.5-coder-0.5b-instruct"), "Was ist die Hauptstadt von Deutschland?"
    )
    assert "Berlin" in answer


@pytest.mark.parametrize("name", ["smollm2-135m-instruct", "tiny-random-llama"])
def test_small_generators_load_and_generate(provisioned: Callable[[str], Path], name: str) -> None:
    folder = provisioned(name)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    inputs = tokenizer("Die Hauptstadt von Deutschland ist", return_tensors="pt")
    output = model.generate(**inputs, max_new_tokens=5, do_sample=False, min_new_tokens=5)
    assert output.shape[1] == inputs["input_ids"].shape[1] + 5
