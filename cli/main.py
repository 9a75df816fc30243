"""The `heise-rag` command line; the app and the CLI call the same library functions."""

from __future__ import annotations

from typing import Annotated

import typer

from cli import (
    ask,
    engagement,
    eval_answers,
    eval_retrieval,
    index,
    train_answer,
    train_reader,
    train_reader_calibration,
    train_reranker,
)
from cli.errors import fail
from cli.german import GermanGroup
from cli.output import human_size, table
from rag.core.datafiles import DATA_FILES, DataProvisionError, provision_data
from rag.core.settings import get_settings
from rag.models.engine_copies import COPY_ENGINES, copy_state, recipe_for
from rag.models.provision import STATUS_LABELS, ProvisionError, model_state, provision_all
from rag.models.registry import MODELS
from rag.serve.defaults import DEFAULT_PAYLOAD_LIMIT, DEFAULT_REQUEST_TIMEOUT

app = typer.Typer(
    cls=GermanGroup,
    help="heise-rag: Fragen auf Deutsch an die Nachrichten von heise online.",
    no_args_is_help=True,
)
models_app = typer.Typer(help="Modelle für den Offline-Betrieb bereitstellen.", no_args_is_help=True)
data_app = typer.Typer(help="Datendateien im (von git ignorierten) Datenordner.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(data_app, name="data")
index_app = typer.Typer(help="Der Vektorindex.", no_args_is_help=True)
app.add_typer(index_app, name="index")


app.command("ask")(ask.ask)
app.command("ingest")(index.ingest)
index_app.command("build-default")(index.index_build_default)
index_app.command("stats")(index.index_stats)
index_app.command("copy")(index.index_copy)
index_app.command("reweight-sparse")(index.index_reweight_sparse)
index_app.command("reembed")(index.index_reembed)


@models_app.command("provision")
def models_provision(
    name: Annotated[list[str] | None, typer.Option("--name", "-n", help="Nur diese Modelle.")] = None,
    onnx: Annotated[
        bool,
        typer.Option(help="Auch die int8- und int4-ONNX-Kopien des Generators bauen."),
    ] = False,
    engine: Annotated[
        list[str] | None,
        typer.Option(
            help="Auch die Kopie dieser Generator-Engine bauen (onnx-int8, onnx-int4, openvino-int8; "
            "wiederholbar). Immer gebaut: die Kopie der eingestellten Engine (HEISE_RAG_GENERATOR_ENGINE)."
        ),
    ] = None,
    encoder_onnx: Annotated[
        bool | None,
        typer.Option(
            help="Auch die ONNX-Kopie des E5-Encoders bauen (float32 und int8, ~1 min; Standard: wenn "
            "HEISE_RAG_EMBEDDING_BACKEND nicht torch ist)."
        ),
    ] = None,
) -> None:
    """Jedes festgelegte Modellpaket installieren und seinen fertigen Ordner im gemeinsamen Cache anlegen."""
    settings = get_settings()
    cache = settings.model_cache_dir
    wanted = [*(engine or []), *(("onnx-int8", "onnx-int4") if onnx else ())]
    unknown = sorted(set(wanted) - set(COPY_ENGINES))
    if unknown:
        raise fail(f"unbekannte Engine(s) {unknown}; Kopien gibt es für {', '.join(COPY_ENGINES)}")
    if settings.generator_engine in COPY_ENGINES:
        wanted.insert(0, settings.generator_engine)
    try:
        states = provision_all(
            cache,
            name or None,
            log=typer.echo,
            copies=tuple(dict.fromkeys(wanted)),
            encoder_onnx=encoder_onnx if encoder_onnx is not None else settings.embedding_backend != "torch",
        )
    except ProvisionError as exc:
        raise fail(str(exc)) from exc
    typer.echo(f"{len(states)} Modell(e) bereit in {cache}")


@models_app.command("list")
def models_list() -> None:
    """Alle registrierten Modelle mit Paket, Herkunft, Lizenz, Status und Größe zeigen."""
    cache = get_settings().model_cache_dir
    rows = [("Name", "Rolle", "Paket", "Herkunft", "Lizenz", "Status", "Größe")]
    for spec in MODELS.values():
        state = model_state(spec, cache)
        size = human_size(state.size_bytes) if state.size_bytes else "-"
        rows.append(
            (
                spec.name,
                spec.role,
                spec.package_label,
                spec.upstream,
                spec.licence,
                STATUS_LABELS[state.status],
                size,
            )
        )
        for engine in COPY_ENGINES if spec.generator_copies else ():
            built = copy_state(spec, cache, recipe_for(engine))
            size = human_size(built.size_bytes) if built.size_bytes else "-"
            role = f"Kopie für die Engine {engine}"
            rows.append(
                (
                    built.path.name,
                    role,
                    f"aus {spec.name}",
                    spec.upstream,
                    spec.licence,
                    STATUS_LABELS[built.status],
                    size,
                )
            )
    typer.echo(table(rows))
    typer.echo(f"\nCache: {cache}")


@data_app.command("provision")
def data_provision() -> None:
    """Alle Datendateien in den Datenordner verlinken (oder laden) und ihre Prüfsummen prüfen."""
    settings = get_settings()
    try:
        results = provision_data(settings.resolved_data_dir, settings.shared_data_dir, log=typer.echo)
    except DataProvisionError as exc:
        raise fail(str(exc)) from exc
    typer.echo(f"{len(results)} Datendatei(en) bereit in {settings.resolved_data_dir}")


@data_app.command("list")
def data_list() -> None:
    """Alle Datendateien mit Quelle, Lizenz und ob sie vorhanden sind zeigen."""
    data_dir = get_settings().resolved_data_dir
    rows = [("Datei", "vorhanden", "Lizenz", "Quelle")]
    for item in DATA_FILES:
        present = "ja" if (data_dir / item.path).exists() else "nein"
        rows.append((item.path, present, item.licence, item.source))
    typer.echo(table(rows))


# The engagement classifier (cli/engagement.py): prediction, training, the report.
train_app = typer.Typer(help="Feinabstimmung (Training).", no_args_is_help=True)
eval_app = typer.Typer(help="Evaluationsberichte.", no_args_is_help=True)
app.add_typer(train_app, name="train")
app.add_typer(eval_app, name="eval")
app.command("predict-headline")(engagement.predict_headline)
train_app.command("classifier")(engagement.train_classifier)
train_app.command("sft-data")(train_answer.sft_data)
train_app.command("answer-adapter")(train_answer.answer_adapter)
train_app.command("reranker")(train_reranker.train_reranker)
train_app.command("reader")(train_reader.train_reader)
train_app.command("reader-calibration")(train_reader_calibration.train_reader_calibration)
eval_app.command("classifier")(engagement.eval_classifier)
eval_app.command("retrieval")(eval_retrieval.eval_retrieval)
eval_app.command("answers")(eval_answers.eval_answers)

# The TGI-compatible generator server (rag/serve/); imported lazily, it loads a model.
serve_app = typer.Typer(help="Server für CPU-Rechner.", no_args_is_help=True)
app.add_typer(serve_app, name="serve")


@serve_app.command("tgi")
def serve_tgi(
    model: Annotated[
        str | None, typer.Option(help="Bereitgestellter Name, Ordner oder Hub-ID (Standard: Einstellung).")
    ] = None,
    quantize: Annotated[
        str | None, typer.Option(help="bitsandbytes-nf4 (4 Bit) oder bitsandbytes (8 Bit).")
    ] = None,
    lora_adapters: Annotated[
        str | None, typer.Option("--lora-adapters", help="name=pfad,... (Auswahl mit adapter_id).")
    ] = None,
    host: Annotated[str, typer.Option(help="Netzwerkschnittstelle, auf der gelauscht wird.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 wählt einen freien).")] = 8080,
    max_input_tokens: Annotated[int | None, typer.Option(help="Standard: max_total_tokens - 1.")] = None,
    max_total_tokens: Annotated[int | None, typer.Option(help="Standard: der Kontext des Modells.")] = None,
    max_concurrent_requests: Annotated[int, typer.Option(help="Weitere bekommen 429.")] = 16,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar=["HEISE_RAG_TGI_API_KEY", "API_KEY"],
            show_default=False,
            help="`Authorization: Bearer <key>` auf jeder Route außer /health verlangen (TGI: API_KEY).",
        ),
    ] = None,
    payload_limit: Annotated[
        int, typer.Option(envvar="PAYLOAD_LIMIT", min=1, help="Größter Anfragekörper in Byte (darüber 413).")
    ] = DEFAULT_PAYLOAD_LIMIT,
    request_timeout: Annotated[
        float, typer.Option(min=0.001, help="Sekunden, die eine Generierung samt Warteschlange dauern darf.")
    ] = DEFAULT_REQUEST_TIMEOUT,
    threads: Annotated[int | None, typer.Option(help="Torch-Threads (Standard: Einstellung).")] = None,
    dtype: Annotated[
        str | None, typer.Option(help="auto, float32, bfloat16 (Standard: Einstellung).")
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(help="transformers, openvino-int8, onnx-int8 oder onnx-int4 (Standard: Einstellung)."),
    ] = None,
    lookup_tokens: Annotated[
        int | None,
        typer.Option(
            min=0, help="openvino-int8: Prompt-Lookup-Tokens je Schritt, 0: aus (Standard: Einstellung)."
        ),
    ] = None,
) -> None:
    """Ein Modell über die HTTP-API von TGI anbieten (/generate, /v1/chat/completions, ...)."""
    from rag.models.resolve import ModelNotProvisionedError
    from rag.serve.startup import parse_lora_adapters, run

    settings = get_settings()
    try:
        run(
            model or settings.generator_model,
            cache_dir=settings.model_cache_dir,
            host=host,
            port=port,
            quantize=quantize,
            lora_adapters=parse_lora_adapters(lora_adapters),
            device=settings.device,
            dtype=dtype or settings.generator_dtype,
            engine=engine or settings.generator_engine,
            max_input_tokens=max_input_tokens,
            max_total_tokens=max_total_tokens,
            max_concurrent_requests=max_concurrent_requests,
            request_timeout=request_timeout,
            api_key=api_key,
            payload_limit=payload_limit,
            threads=threads or settings.generator_threads,
            lookup_tokens=settings.generator_lookup_tokens if lookup_tokens is None else lookup_tokens,
            log=typer.echo,
        )
    except (ValueError, OSError, ModelNotProvisionedError) as exc:
        raise fail(str(exc)) from exc


if __name__ == "__main__":
    app()
