"""The `heise-rag` command line; the app and the CLI call the same library functions."""

from __future__ import annotations

from typing import Annotated

import typer

from eval import answer_cli, retrieval_cli
from finetune import answer_adapter_cli, reranker_cli
from rag import cli_ask, cli_ingest, engagement_cli
from rag.cli_format import human_size, table
from rag.datafiles import DATA_FILES, DataProvisionError, provision_data
from rag.models.provision import ProvisionError, model_state, provision_all
from rag.models.registry import MODELS
from rag.settings import get_settings

app = typer.Typer(help="heise-rag: German question answering over heise online news.", no_args_is_help=True)
models_app = typer.Typer(help="Offline model provisioning.", no_args_is_help=True)
data_app = typer.Typer(help="Data files under the ignored data folder.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(data_app, name="data")
index_app = typer.Typer(help="The vector index.", no_args_is_help=True)
app.add_typer(index_app, name="index")


app.command("ask")(cli_ask.ask)
app.command("ingest")(cli_ingest.ingest)
index_app.command("build-default")(cli_ingest.index_build_default)
index_app.command("stats")(cli_ingest.index_stats)
index_app.command("copy")(cli_ingest.index_copy)
index_app.command("reweight-sparse")(cli_ingest.index_reweight_sparse)


@models_app.command("provision")
def models_provision(
    name: Annotated[list[str] | None, typer.Option("--name", "-n", help="Only these models.")] = None,
) -> None:
    """Install each pinned model package and build its ready folder in the shared cache."""
    cache = get_settings().model_cache_dir
    try:
        states = provision_all(cache, name or None, log=typer.echo)
    except ProvisionError as exc:
        typer.secho(f"Fehler / error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from exc
    typer.echo(f"{len(states)} model(s) ready in {cache}")


@models_app.command("list")
def models_list() -> None:
    """Show every registered model with its source package, upstream, licence, status and size."""
    cache = get_settings().model_cache_dir
    rows = [("name", "role", "package", "upstream", "licence", "status", "size")]
    for spec in MODELS.values():
        state = model_state(spec, cache)
        size = human_size(state.size_bytes) if state.size_bytes else "-"
        rows.append(
            (spec.name, spec.role, spec.package_label, spec.upstream, spec.licence, state.status, size)
        )
    typer.echo(table(rows))
    typer.echo(f"\ncache: {cache}")


@data_app.command("provision")
def data_provision() -> None:
    """Link (or download) every data file into the ignored data folder, checking checksums."""
    settings = get_settings()
    try:
        results = provision_data(settings.resolved_data_dir, settings.shared_data_dir, log=typer.echo)
    except DataProvisionError as exc:
        typer.secho(f"Fehler / error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from exc
    typer.echo(f"{len(results)} data file(s) ready in {settings.resolved_data_dir}")


@data_app.command("list")
def data_list() -> None:
    """Show every data file with its source, licence and whether it is present."""
    data_dir = get_settings().resolved_data_dir
    rows = [("file", "present", "licence", "source")]
    for item in DATA_FILES:
        present = "yes" if (data_dir / item.path).exists() else "no"
        rows.append((item.path, present, item.licence, item.source))
    typer.echo(table(rows))


# The engagement classifier (rag/engagement_cli.py): prediction, training, the report.
train_app = typer.Typer(help="Fine-tuning.", no_args_is_help=True)
eval_app = typer.Typer(help="Evaluation reports.", no_args_is_help=True)
app.add_typer(train_app, name="train")
app.add_typer(eval_app, name="eval")
app.command("predict-headline")(engagement_cli.predict_headline)
train_app.command("classifier")(engagement_cli.train_classifier)
train_app.command("sft-data")(answer_adapter_cli.sft_data)
train_app.command("answer-adapter")(answer_adapter_cli.answer_adapter)
train_app.command("reranker")(reranker_cli.train_reranker)
eval_app.command("classifier")(engagement_cli.eval_classifier)
eval_app.command("retrieval")(retrieval_cli.eval_retrieval)
eval_app.command("answers")(answer_cli.eval_answers)

# The TGI-compatible generator server (rag/serve/tgi.py); imported lazily, it loads a model.
serve_app = typer.Typer(help="Servers for CPU machines.", no_args_is_help=True)
app.add_typer(serve_app, name="serve")


@serve_app.command("tgi")
def serve_tgi(
    model: Annotated[
        str | None, typer.Option(help="Provisioned name, folder or hub id (default: the setting).")
    ] = None,
    quantize: Annotated[
        str | None, typer.Option(help="bitsandbytes-nf4 (4-bit) or bitsandbytes (8-bit).")
    ] = None,
    lora_adapters: Annotated[
        str | None, typer.Option("--lora-adapters", help="name=path,... (select with adapter_id).")
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port (0 picks a free one).")] = 8080,
    max_input_tokens: Annotated[int | None, typer.Option(help="Default: max_total_tokens - 1.")] = None,
    max_total_tokens: Annotated[int | None, typer.Option(help="Default: the model's context.")] = None,
    max_concurrent_requests: Annotated[int, typer.Option(help="More get 429.")] = 16,
    threads: Annotated[int | None, typer.Option(help="Torch threads (default: the setting).")] = None,
    dtype: Annotated[str | None, typer.Option(help="auto, float32, bfloat16 (default: setting).")] = None,
) -> None:
    """Serve a model over TGI's HTTP API (/generate, /generate_stream, /v1/chat/completions, ...)."""
    from rag.models.resolve import ModelNotProvisionedError
    from rag.serve.tgi import parse_lora_adapters, run

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
            max_input_tokens=max_input_tokens,
            max_total_tokens=max_total_tokens,
            max_concurrent_requests=max_concurrent_requests,
            threads=threads or settings.generator_threads,
            log=typer.echo,
        )
    except (ValueError, OSError, ModelNotProvisionedError) as exc:
        typer.secho(f"Fehler / error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from exc


if __name__ == "__main__":
    app()
