"""LoRA adapters loaded through peft, without its deprecation noise.

Why a module: peft 0.21 reads ``model.is_gradient_checkpointing``, a property transformers 5
deprecated, so every adapter load printed a FutureWarning; `heise-rag ask` showed it above each
answer although nothing is wrong on this project's side. Every load goes through here.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from transformers import PreTrainedModel


@contextmanager
def peft_quietly() -> Iterator[None]:
    """Silence only the deprecated-property warning peft triggers; every other warning still shows."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", ".*is_gradient_checkpointing", FutureWarning)
        yield


def merged(base: PreTrainedModel, folder: Path) -> PreTrainedModel:
    """``base`` with the adapter and saved heads in ``folder`` merged in: one plain model."""
    from peft import PeftModel  # imported here: peft pulls in bitsandbytes, slow for the CLI's --help

    with peft_quietly():
        return PeftModel.from_pretrained(base, str(folder)).merge_and_unload()
