"""Generator benchmark: time to first token and tokens/s per backend, p50 over a few runs.

Run with `make bench` (or `python -m bench.generation [--model NAME] [--runs N]`). Every variant
answers the same short German question with greedy decoding:

- ``local-fp32``, ``local-nf4``, ``local-int8``: the `local` backend in this process (float32, or
  bitsandbytes 4-bit NF4 / 8-bit loading);
- ``tgi-chat``, ``tgi-native``, ``openai``: the `tgi` backend (Messages API, native
  ``/generate_stream``) and the `openai` backend against ``heise-rag serve tgi`` (float32) started
  as a separate process, i.e. the production topology on one machine;
- ``local-fp32-long``: the local backend with a RAG-sized prompt (five ~200-token sources), because
  time to first token grows with the prompt;
- ``local-fp32-t1``: float32 with one torch thread (``HEISE_RAG_GENERATOR_THREADS=1``): on a machine
  whose cores are busy with other processes, OpenMP threads waiting for each other cost more than
  the second core brings;
- ``local-bf16-t1``: the same in bfloat16 (``HEISE_RAG_GENERATOR_DTYPE=bfloat16``), which this
  machine's AVX512-BF16 runs about twice as fast for prompt processing.

``--engines transformers,openvino-int8,onnx-int8,onnx-int4`` instead compares the runtimes of the
`local` backend (the ``generator_engine`` setting) side by side (``openvino-int8@0``: with
prompt-lookup decoding off, ``@N``: N guessed tokens a step instead of the
``generator_lookup_tokens`` setting): every engine answers the same XQuAD dev questions
(``bench.generator_choice.dev_cases``: the product prompt with three sources, each shortened as the
product does, ``--source-chars``; 0 keeps whole paragraphs) greedily, the engines interleaved
question by question so that the shared machine's load hits them alike. Each engine warms up on one
more dev question that is not measured (OpenVINO's prefix cache would otherwise hold the whole
prompt of a measured one; the system prompt and instructions that every question shares it keeps, as
it does in the product). Reported per engine: time to first token, decode tokens/s and whole-answer
seconds (p50 over the questions), peak RSS of a process that loads the engine and answers once
(measured in a child process each), the model folder's size on disk, answer metrics and the share of
answers identical to the first engine's.

Per run: time to first token (call to first non-empty chunk), decode rate ((tokens - 1) / time after
the first token) and end-to-end rate (tokens / total time). One untimed warm-up run precedes each
variant. The machine is shared: absolute figures vary with its load.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from bench.generator_choice import (
    DevCase,
    add_source_chars_argument,
    dev_cases,
    score,
    source_chars_from,
)
from rag.core.prompting import PROMPT
from rag.core.settings import PROJECT_ROOT, Settings, get_settings
from rag.generation import make_chat_model
from rag.generation.engine import RUNTIMES, unload_engines
from rag.models.engine_copies import COPY_ENGINES, copy_state, recipe_for
from rag.models.provision import folder_size
from rag.models.registry import MODELS
from rag.models.resolve import resolve_model

SYSTEM = "Du bist ein hilfreicher Assistent. Antworte auf Deutsch."
QUESTION = "Was ist ein Router und wofür braucht man ihn zu Hause?"
SOURCE = (
    "Der Bundesverband der Verbraucherzentralen hat Router-Hersteller aufgefordert, Sicherheitsupdates "
    "über mindestens fünf Jahre bereitzustellen. Viele Geräte in deutschen Haushalten laufen mit "
    "veralteter Firmware, die bekannte Lücken enthält. Angreifer nutzen solche Schwachstellen, um "
    "Geräte in Botnetze einzubinden oder den Datenverkehr umzuleiten. Das Bundesamt für Sicherheit in "
    "der Informationstechnik empfiehlt, automatische Updates zu aktivieren, das Standardpasswort zu "
    "ändern und die Fernwartung abzuschalten, wenn sie nicht gebraucht wird. "
)


def messages(long: bool) -> list[BaseMessage]:
    if not long:
        return [SystemMessage(SYSTEM), HumanMessage(QUESTION)]
    sources = "\n\n".join(f"[{n}] {SOURCE * 2}" for n in range(1, 6))
    return [SystemMessage(SYSTEM), HumanMessage(f"Quellen:\n{sources}\n\nFrage: {QUESTION}")]


def one_run(chat_model: Any, prompt: Any) -> dict[str, float]:
    """Stream one answer of ``chat_model`` (a chat model or a chain ending in one) to ``prompt``."""
    started = time.perf_counter()
    first = None
    total = None
    for chunk in chat_model.stream(prompt):
        if chunk.content and first is None:
            first = time.perf_counter()
        total = chunk if total is None else total + chunk
    ended = time.perf_counter()
    assert total is not None and first is not None, "no answer"
    usage = total.usage_metadata or {}
    tokens = int(usage.get("output_tokens", 0))
    return {
        "ttft_s": first - started,
        "decode_tokens_per_s": (tokens - 1) / (ended - first) if tokens > 1 and ended > first else 0.0,
        "e2e_tokens_per_s": tokens / (ended - started),
        "output_tokens": tokens,
        "input_tokens": int(usage.get("input_tokens", 0)),
        "seconds": ended - started,
        "text": str(total.content),
    }


def measure(name: str, chat_model: BaseChatModel, runs: int, long: bool = False) -> dict[str, Any]:
    prompt = messages(long)
    started = time.perf_counter()
    if hasattr(chat_model, "warm_up"):
        chat_model.warm_up()
    load_s = time.perf_counter() - started
    chat_model.bind(max_tokens=4).invoke(prompt)  # warm-up, untimed
    results = [one_run(chat_model, prompt) for _ in range(runs)]
    summary: dict[str, Any] = {
        "variant": name,
        "runs": runs,
        "warm_up_or_load_s": round(load_s, 2),
        "torch_threads": torch.get_num_threads() if name.startswith("local") else "server default",
    }
    for key in ("ttft_s", "decode_tokens_per_s", "e2e_tokens_per_s"):
        summary[f"{key}_p50"] = round(statistics.median(r[key] for r in results), 3)
    summary["output_tokens"] = [r["output_tokens"] for r in results]
    summary["input_tokens"] = results[0]["input_tokens"]
    print(
        f"{name:18} ttft p50 {summary['ttft_s_p50']:6.2f} s   "
        f"decode {summary['decode_tokens_per_s_p50']:6.2f} tok/s   "
        f"e2e {summary['e2e_tokens_per_s_p50']:6.2f} tok/s   "
        f"in {summary['input_tokens']} / out {summary['output_tokens']} tokens   load {load_s:.1f} s",
        flush=True,
    )
    return summary


@contextmanager
def served(model: str, threads: int | None = None, timeout: float = 600) -> Iterator[str]:
    """`heise-rag serve tgi` in its own process on a free port; yields its URL."""
    command = [
        str(Path(sys.executable).parent / "heise-rag"),
        "serve",
        "tgi",
        "--model",
        model,
        "--port",
        "0",
    ]
    if threads:
        command += ["--threads", str(threads)]
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line and process.poll() is not None:
                raise RuntimeError(f"the server exited with {process.returncode}")
            if "ready" in line and "http://" in line:
                yield line.strip().rsplit(" ", 1)[-1]
                return
        raise RuntimeError("the server did not start in time")
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def run(
    settings: Settings,
    model: str,
    runs: int,
    max_new_tokens: int,
    variants: list[str],
    server_threads: int | None = None,
) -> list[dict]:
    base = settings.model_copy(
        update={
            "generator_model": model,
            "generator_max_new_tokens": max_new_tokens,
            "generator_temperature": 0.0,
        }
    )
    results = []
    for name, quantization in (("local-fp32", "none"), ("local-nf4", "nf4"), ("local-int8", "int8")):
        if name in variants:
            # int8 runs at a fraction of fp32 speed on CPU: one timed run is enough to see it
            n = 1 if quantization == "int8" else runs
            chat_model = make_chat_model(
                base.model_copy(update={"generator_quantization": quantization}), "local"
            )
            results.append(measure(name, chat_model, n))
            if name == "local-fp32" and "local-fp32-long" in variants:
                results.append(measure("local-fp32-long", chat_model, runs, long=True))
            unload_engines()
    for name, dtype in (("local-fp32-t1", "float32"), ("local-bf16-t1", "bfloat16")):
        if name not in variants:
            continue
        default_threads = torch.get_num_threads()
        update = {"generator_threads": 1, "generator_dtype": dtype}
        chat_model = make_chat_model(base.model_copy(update=update), "local")
        results.append(measure(name, chat_model, runs))
        if "local-fp32-long" in variants:
            results.append(measure(f"{name}-long", chat_model, runs, long=True))
        torch.set_num_threads(default_threads)
        unload_engines()
    remote = [v for v in ("tgi-chat", "tgi-native", "openai") if v in variants]
    if remote:
        with served(model, server_threads) as url:
            for name in remote:
                backend = "openai" if name == "openai" else "tgi"
                api = "generate" if name == "tgi-native" else "chat"
                update = {"generator_backend": backend, "generator_url": url, "generator_tgi_api": api}
                label = f"{name}-t{server_threads}" if server_threads else name
                results.append(measure(label, make_chat_model(base.model_copy(update=update)), runs))
    return results


def engine_spec(label: str) -> tuple[str, int | None]:
    """``ENGINE`` or ``ENGINE@N`` (N prompt-lookup tokens, overriding the setting) as (engine, N)."""
    engine, _, lookup = label.partition("@")
    if engine not in RUNTIMES or (lookup and not lookup.isdigit()):
        raise ValueError(f"unknown engine {label!r}; expected one of {', '.join(RUNTIMES)}, optionally @N")
    return engine, int(lookup) if lookup else None


def _engine_model(settings: Settings, model: str, label: str, max_new_tokens: int) -> BaseChatModel:
    engine, lookup = engine_spec(label)
    update: dict[str, Any] = {
        "generator_model": model,
        "generator_engine": engine,
        "generator_max_new_tokens": max_new_tokens,
        "generator_temperature": 0.0,
    }
    if lookup is not None:
        update["generator_lookup_tokens"] = lookup
    return make_chat_model(settings.model_copy(update=update), "local")


def _disk_bytes(settings: Settings, model: str, label: str) -> int:
    engine = engine_spec(label)[0]
    if engine in COPY_ENGINES:
        return copy_state(MODELS[model], settings.model_cache_dir, recipe_for(engine)).size_bytes
    return folder_size(Path(resolve_model(model, settings.model_cache_dir)))


def probe_memory(model: str, engine: str, max_new_tokens: int, source_chars: int | None) -> dict[str, Any]:
    """Load one engine and answer one dev question in this (fresh) process; report its peak RSS
    and, after the answer, how much of the resident memory is its own and how much mapped files.

    Peak from ``VmHWM``, the high-water mark of this process image: ``ru_maxrss`` survives
    ``exec`` on Linux and reported the parent's peak for both engines. The split matters for the
    OpenVINO engine, which maps its weight file: those pages are page cache that the kernel can
    share and reclaim, unlike the process's own (anonymous) memory.
    """
    chat_model = _engine_model(get_settings(), model, engine, max_new_tokens)
    runtime = chat_model.warm_up().runtime  # type: ignore[attr-defined]
    one_run(PROMPT | chat_model, dev_cases(1, source_chars=source_chars)[0].inputs)
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    kb = {key: int(status[key].split()[0]) for key in ("VmHWM", "RssAnon", "RssFile")}
    return {
        "runtime": runtime,
        "peak_rss_mb": kb["VmHWM"] / 1024,
        # after the answer: memory of its own (not reclaimable) and mapped files (weights, libraries)
        "anon_mb": kb["RssAnon"] / 1024,
        "file_mb": kb["RssFile"] / 1024,
    }


def _probe_in_child(model: str, engine: str, max_new_tokens: int, source_chars: int | None) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.generation", "--model", model, "--probe-memory", engine]
    command += ["--max-new-tokens", str(max_new_tokens), "--source-chars", str(source_chars or 0)]
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def compare_engines(
    settings: Settings,
    model: str,
    engines: list[str],
    questions: int,
    max_new_tokens: int,
    source_chars: int | None,
) -> list[dict[str, Any]]:
    """The engines side by side on the same dev questions, interleaved (see the module docstring)."""
    # the first ``questions`` of the seeded draw, and one more to warm up on
    cases: list[DevCase] = dev_cases(questions + 1, source_chars=source_chars)
    warm_up = cases.pop()
    chains = {}
    summary: dict[str, dict[str, Any]] = {}
    for engine in engines:
        memory = _probe_in_child(model, engine, max_new_tokens, source_chars)
        chat_model = _engine_model(settings, model, engine, max_new_tokens)
        started = time.perf_counter()
        runtime = chat_model.warm_up().runtime  # type: ignore[attr-defined]
        load_s = time.perf_counter() - started
        chains[engine] = PROMPT | chat_model
        chains[engine].bind(max_tokens=4).invoke(warm_up.inputs)  # untimed
        summary[engine] = {
            "engine": engine,
            "runtime": runtime,
            "load_s": round(load_s, 2),
            "disk_mb": round(_disk_bytes(settings, model, engine) / 2**20),
            "peak_rss_mb": round(memory["peak_rss_mb"]),
            "anon_mb": round(memory["anon_mb"]),
            "file_mb": round(memory["file_mb"]),
        }
    rows: dict[str, list[dict[str, Any]]] = {engine: [] for engine in engines}
    for i, case in enumerate(cases):
        order = engines if i % 2 == 0 else engines[::-1]
        for engine in order:
            run = one_run(chains[engine], case.inputs)
            rows[engine].append(run | score(case, run["text"]))
        print(f"question {i + 1}/{len(cases)}: " + ", ".join(
            f"{e} {rows[e][-1]['ttft_s']:.2f} s / {rows[e][-1]['seconds']:.2f} s" for e in engines
        ), flush=True)  # fmt: skip
    reference = [r["text"] for r in rows[engines[0]]]
    results = []
    for engine in engines:
        runs = rows[engine]
        entry = summary[engine] | {
            "questions": len(runs),
            "input_tokens_p50": statistics.median(r["input_tokens"] for r in runs),
            "output_tokens_p50": statistics.median(r["output_tokens"] for r in runs),
        }
        for key in ("ttft_s", "decode_tokens_per_s", "seconds"):
            entry[f"{key}_p50"] = round(statistics.median(r[key] for r in runs), 3)
        for key in ("em", "f1", "contains", "cites_gold", "refused"):
            entry[key] = round(sum(r[key] for r in runs) / len(runs), 3)
        entry["same_answer_as_" + engines[0]] = round(
            sum(r["text"] == ref for r, ref in zip(runs, reference, strict=True)) / len(runs), 3
        )
        entry["answers"] = [r["text"] for r in runs]
        results.append(entry)
        print({k: v for k, v in entry.items() if k != "answers"}, flush=True)
    return results


VARIANTS = [
    "local-fp32",
    "local-fp32-long",
    "local-fp32-t1",
    "local-bf16-t1",
    "local-nf4",
    "local-int8",
    "tgi-chat",
    "tgi-native",
    "openai",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="default: the generator_model setting")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument(
        "--variants", default=",".join(VARIANTS), help=f"comma-separated subset of {VARIANTS}"
    )
    parser.add_argument("--server-threads", type=int, default=None, help="torch threads of the server")
    parser.add_argument("--output", type=Path, default=None, help="write the results as JSON")
    parser.add_argument(
        "--engines",
        default=None,
        help=f"compare these engines instead ({','.join(RUNTIMES)}; ENGINE@N: N prompt-lookup tokens)",
    )
    parser.add_argument("--questions", type=int, default=8, help="dev questions per engine (--engines)")
    add_source_chars_argument(parser)
    parser.add_argument("--probe-memory", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    settings = get_settings()
    model = args.model or settings.generator_model
    chars = source_chars_from(args, settings)
    if args.probe_memory:
        print(json.dumps(probe_memory(model, args.probe_memory, args.max_new_tokens, chars)))
        return
    if args.engines:
        engines = [e.strip() for e in args.engines.split(",") if e.strip()]
        for label in engines:
            try:
                engine_spec(label)
            except ValueError as exc:
                parser.error(str(exc))
        print(
            f"model {model}, greedy, <= {args.max_new_tokens} new tokens, {args.questions} questions, "
            f"sources of {chars or 'all'} characters"
        )
        results = compare_engines(settings, model, engines, args.questions, args.max_new_tokens, chars)
        if args.output:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            report = {"model": model, "max_new_tokens": args.max_new_tokens, "source_chars": chars}
            report["engines"] = results
            args.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants: {unknown}")
    print(f"model {model}, greedy, {args.max_new_tokens} new tokens, p50 of {args.runs} runs", flush=True)
    results = run(settings, model, args.runs, args.max_new_tokens, variants, args.server_threads)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        report = {"model": model, "max_new_tokens": args.max_new_tokens, "results": results}
        args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
