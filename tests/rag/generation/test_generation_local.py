"""The in-process engine and the `local` backend, with the tiny random model (and one real one)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from langchain_core.messages import AIMessageChunk, HumanMessage
from langchain_core.prompts import ChatPromptTemplate
from transformers import AutoTokenizer

from rag.core.settings import Settings
from rag.generation import GeneratorError, make_chat_model
from rag.generation.engine import (
    FALLBACK_CHAT_TEMPLATE,
    Engine,
    SamplingParams,
    TransformersEngine,
    _Detokenizer,
    load_engine,
)
from rag.generation.local import LocalChatModel
from rag.generation.stops import StopTrimmer

CHAT = [{"role": "user", "content": "Hallo, wie geht's?"}]


@pytest.fixture
def engine(tiny: str, settings: Settings) -> Engine:
    return load_engine(tiny, cache_dir=settings.model_cache_dir)


def run(engine: Engine, params: SamplingParams, adapter: str | None = None) -> tuple[list[str], object]:
    stream = engine.stream(engine.encode_chat(CHAT), params, adapter=adapter)
    return [token.text for token in stream], stream


# -- stop strings --------------------------------------------------------------------------------


def test_stop_trimmer_holds_back_prefixes_and_cuts_before_the_stop() -> None:
    trimmer = StopTrimmer(["</s>", "ENDE"])
    assert trimmer.feed("Hallo </") == "Hallo "
    assert trimmer.feed("b> Welt EN") == "</b> Welt "
    assert trimmer.feed("DE danach") == ""
    assert trimmer.stopped and trimmer.flush() == ""
    open_end = StopTrimmer(["ENDE"])
    assert open_end.feed("Schluss EN") == "Schluss "
    assert open_end.flush() == "EN"
    assert StopTrimmer(None).feed("alles") == "alles"


# -- engine --------------------------------------------------------------------------------------


def test_incremental_detokenization_keeps_multibyte_characters_whole(
    provisioned: Callable[[str], Path],
) -> None:
    tokenizer = AutoTokenizer.from_pretrained(provisioned("qwen2.5-coder-0.5b-instruct"))
    text = "Grüße aus Köln: 🦩 im Zoo, Straße, Ärger & Öl bei 42 °C, 龘"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    detok = _Detokenizer(tokenizer, [])
    parts = [detok.add(i) for i in ids]
    assert "".join(parts) == text
    assert not any("\ufffd" in part for part in parts)
    assert "" in parts  # some character spans several byte tokens and waited for its last one


def test_tokens_stream_with_text_logprobs_and_finish_reason(engine: Engine) -> None:
    texts, stream = run(engine, SamplingParams(max_new_tokens=7, top_n_tokens=3))
    assert len(texts) == 7 == stream.generated_tokens  # type: ignore[attr-defined]
    assert stream.finish_reason == "length"  # type: ignore[attr-defined]
    assert "".join(texts).strip() == stream.text.strip()  # type: ignore[attr-defined]
    again = engine.stream(engine.encode_chat(CHAT), SamplingParams(max_new_tokens=7, top_n_tokens=3))
    tokens = list(again)
    assert all(t.logprob is not None and t.logprob <= 0 for t in tokens)
    for token in tokens:  # greedy: the chosen token is the most likely one
        assert len(token.top_tokens) == 3
        assert token.top_tokens[0].id == token.id
        assert [t.logprob for t in token.top_tokens] == sorted(
            (t.logprob for t in token.top_tokens), reverse=True
        )


def test_stop_string_and_eos_end_generation(engine: Engine, tiny: str) -> None:
    texts, _ = run(engine, SamplingParams(max_new_tokens=8))
    stop = texts[3].strip()
    _, stopped = run(engine, SamplingParams(max_new_tokens=8, stop=(stop,)))
    assert stopped.finish_reason == "stop_sequence"  # type: ignore[attr-defined]
    assert stopped.generated_tokens == 4  # type: ignore[attr-defined]
    first_id = next(iter(engine.stream(engine.encode_chat(CHAT), SamplingParams(max_new_tokens=1)))).id
    eos_engine = TransformersEngine(tiny, engine.model, engine.tokenizer)
    eos_engine.eos_ids = {first_id}
    _, ended = run(eos_engine, SamplingParams(max_new_tokens=8))
    assert ended.finish_reason == "eos_token" and ended.generated_tokens == 1  # type: ignore[attr-defined]


def test_sampling_is_reproducible_with_a_seed(engine: Engine) -> None:
    params = SamplingParams(max_new_tokens=8, do_sample=True, temperature=1.5, top_k=50, seed=11)
    first, _ = run(engine, params)
    second, stream = run(engine, params)
    assert first == second and stream.seed == 11  # type: ignore[attr-defined]
    greedy, _ = run(engine, SamplingParams(max_new_tokens=8))
    assert first != greedy


def test_closing_a_stream_stops_the_generation(engine: Engine) -> None:
    stream = engine.stream(engine.encode_chat(CHAT), SamplingParams(max_new_tokens=1500))
    next(iter(stream))
    assert stream._thread.is_alive()  # the answer streams while the model is still generating
    stream.close()
    stream._thread.join(timeout=10)
    assert not stream._thread.is_alive()
    assert engine.lock.acquire(timeout=5)  # released for the next request
    engine.lock.release()


def test_prefill_logprobs_and_fallback_template(engine: Engine) -> None:
    assert engine.tokenizer.chat_template == FALLBACK_CHAT_TEMPLATE  # tiny-random-llama ships none
    assert engine.render_chat(CHAT).endswith("<|assistant|>\n")
    ids = engine.encode("Hallo Welt")
    prefill = engine.prefill(ids)
    assert [t.id for t in prefill] == ids
    assert prefill[0].logprob is None and all(t.logprob is not None for t in prefill[1:])


def test_bad_quantization_and_adapter_names_are_rejected(
    engine: Engine, tiny: str, settings: Settings
) -> None:
    with pytest.raises(ValueError, match="quantization"):
        load_engine(tiny, cache_dir=settings.model_cache_dir, quantization="gptq")
    with pytest.raises(ValueError, match="adapter"):
        engine.stream([1, 2], SamplingParams(), adapter="fehlt")


def test_bfloat16_loading_generates(tiny: str, settings: Settings) -> None:
    engine = load_engine(tiny, cache_dir=settings.model_cache_dir, dtype="bfloat16")
    assert engine.model.dtype == torch.bfloat16
    texts, stream = run(engine, SamplingParams(max_new_tokens=4, top_n_tokens=2))
    assert stream.generated_tokens == 4 and "".join(texts)  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="dtype"):
        load_engine(tiny, cache_dir=settings.model_cache_dir, dtype="float8")


def test_int8_loading_generates(tiny: str, settings: Settings) -> None:
    engine = load_engine(tiny, cache_dir=settings.model_cache_dir, quantization="int8")
    assert type(engine.model.model.layers[0].mlp.up_proj).__name__ == "Linear8bitLt"
    texts, stream = run(engine, SamplingParams(max_new_tokens=4))
    assert stream.generated_tokens == 4 and "".join(texts)  # type: ignore[attr-defined]


# -- the `local` backend -------------------------------------------------------------------------


def test_local_backend_streams_tokens_and_reports_usage(tiny_settings: Settings) -> None:
    chat_model = make_chat_model(tiny_settings, "local")
    assert isinstance(chat_model, LocalChatModel)
    chunks = list(chat_model.stream([HumanMessage("Was ist ein Router?")]))
    total: AIMessageChunk = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    assert len([c for c in chunks if c.content]) > 3
    assert total.usage_metadata is not None and total.usage_metadata["output_tokens"] == 12
    assert total.response_metadata["finish_reason"] == "length"
    assert chat_model.invoke([HumanMessage("Was ist ein Router?")]).content == total.content


def test_local_backend_composes_in_lcel_with_stop_and_overrides(tiny_settings: Settings) -> None:
    chat_model = make_chat_model(tiny_settings)
    prompt = ChatPromptTemplate.from_messages([("system", "Antworte kurz."), ("human", "{frage}")])
    full = (prompt | chat_model).invoke({"frage": "Was ist DNS?"}).content
    word = full.split()[2]
    cut = (prompt | chat_model.bind(stop=[word])).invoke({"frage": "Was ist DNS?"})
    assert cut.content == full[: full.index(word)]
    short = (prompt | chat_model.bind(max_new_tokens=3)).invoke({"frage": "Was ist DNS?"})
    assert short.usage_metadata["output_tokens"] == 3  # type: ignore[index]


def test_local_backend_refuses_a_prompt_beyond_the_context(tiny_settings: Settings) -> None:
    with pytest.raises(GeneratorError, match="zu lang"):
        make_chat_model(tiny_settings).invoke("Wort " * 3000)


def test_local_model_loads_once_per_configuration(tiny_settings: Settings, lora_adapter: Path) -> None:
    first = make_chat_model(tiny_settings)
    second = make_chat_model(tiny_settings)
    assert first.warm_up() is second.warm_up()  # type: ignore[attr-defined]
    adapted = make_chat_model(tiny_settings.model_copy(update={"generator_adapter": str(lora_adapter)}))
    assert adapted.warm_up() is not first.warm_up()  # type: ignore[attr-defined]
    assert adapted.invoke("Hallo").content != first.invoke("Hallo").content


@pytest.mark.slow
def test_nf4_quantized_chat_model_answers_through_its_chat_template(settings: Settings, provisioned) -> None:  # type: ignore[no-untyped-def]
    provisioned("smollm2-135m-instruct")
    chat_model = make_chat_model(
        settings.model_copy(
            update={
                "generator_model": "smollm2-135m-instruct",
                "generator_quantization": "nf4",
                "generator_max_new_tokens": 16,
                "generator_temperature": 0.0,
            }
        ),
        "local",
    )
    engine = chat_model.warm_up()  # type: ignore[attr-defined]
    assert type(engine.model.model.layers[0].mlp.up_proj).__name__ == "Linear4bit"
    parts = [c.content for c in chat_model.stream("What is the capital of France?") if c.content]
    assert len(parts) > 2 and "Paris" in "".join(parts)


# -- one generation at a time per loaded model ---------------------------------------------------


def test_a_generation_that_queues_for_the_model_says_so(engine: Engine) -> None:
    import time

    params = SamplingParams(max_new_tokens=8)
    alone, _ = run(engine, params)
    notices: list[str] = []
    with engine.lock:  # another caller is generating
        stream = engine.stream(engine.encode_chat(CHAT), params, on_wait=lambda: notices.append("warte"))
        deadline = time.monotonic() + 10
        while engine.waiting == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert engine.waiting == 1
    texts = [token.text for token in stream]
    assert notices == ["warte"] and not stream.waiting
    assert texts == alone and engine.waiting == 0


def test_two_threads_streaming_one_local_model_each_get_their_own_answer(
    tiny: str, settings: Settings
) -> None:
    import threading

    from rag.generation.local import notify_when_waiting

    model = LocalChatModel(model=tiny, model_cache_dir=settings.model_cache_dir, max_new_tokens=60)
    questions = ["Hallo, wie geht's?", "Was meldet heise online heute?"]
    alone = {q: "".join(str(c.content) for c in model.stream([HumanMessage(q)])) for q in questions}
    assert alone[questions[0]] != alone[questions[1]]
    answers: dict[str, str] = {}
    waited: list[str] = []
    started = threading.Barrier(len(questions))

    def ask(question: str) -> None:
        with notify_when_waiting(lambda: waited.append(question)):
            started.wait()
            answers[question] = "".join(str(c.content) for c in model.stream([HumanMessage(question)]))

    threads = [threading.Thread(target=ask, args=(q,)) for q in questions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert answers == alone
    assert len(waited) <= 1  # at most the later one queued; each was told only about its own wait
