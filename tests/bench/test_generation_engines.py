"""The engine labels of ``bench.generation --engines``."""

from __future__ import annotations

import pytest

from bench.generation import engine_spec


def test_an_engine_label_may_set_the_prompt_lookup_tokens() -> None:
    assert engine_spec("openvino-int8") == ("openvino-int8", None)
    assert engine_spec("openvino-int8@0") == ("openvino-int8", 0)
    assert engine_spec("transformers@5") == ("transformers", 5)
    for label in ("openvino", "openvino-int8@x", "openvino-int8@-1"):
        with pytest.raises(ValueError, match="unknown engine"):
            engine_spec(label)
