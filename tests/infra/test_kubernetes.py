"""The Kubernetes manifests validate against the Kubernetes JSON schemas (shipped offline inside the
kubernetes-validate package, strict: unknown fields fail) and have the compose stack's topology."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from rag.core.settings import PROJECT_ROOT, Settings

kubernetes_validate = pytest.importorskip(
    "kubernetes_validate", reason="kubernetes-validate is a dev extra: run `make test`"
)

MANIFESTS = sorted((PROJECT_ROOT / "infra" / "k8s").glob("*.yaml"))
K8S_VERSION = "1.33.0"  # the oldest Kubernetes the manifests promise to run on (infra/README.md)


def documents() -> list[tuple[Path, dict]]:
    return [
        (path, doc)
        for path in MANIFESTS
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8"))
        if doc
    ]


def by_kind() -> dict[tuple[str, str], dict]:
    return {(doc["kind"], doc["metadata"]["name"]): doc for _, doc in documents()}


@pytest.mark.parametrize("version", [K8S_VERSION, kubernetes_validate.latest_version()])
def test_every_manifest_validates_against_the_schemas(version: str) -> None:
    checked = 0
    for path, doc in documents():
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{path.name}: {doc['kind']} {doc['metadata']['name']}: {exc.message}")
        checked += 1
    assert checked >= 10


def test_the_validator_rejects_a_misspelt_field() -> None:
    """Strict validation is what makes the test above worth something."""
    statefulset = by_kind()[("StatefulSet", "qdrant")]
    container = statefulset["spec"]["template"]["spec"]["containers"][0]
    container["resource"] = container.pop("resources")
    with pytest.raises(kubernetes_validate.ValidationError, match="resource"):
        kubernetes_validate.validate(statefulset, K8S_VERSION, strict=True)


def test_topology_matches_the_compose_stack() -> None:
    objects = by_kind()
    qdrant = objects[("StatefulSet", "qdrant")]["spec"]
    assert qdrant["replicas"] == 3 and qdrant["serviceName"] == "qdrant-headless"
    assert objects[("Service", "qdrant-headless")]["spec"]["clusterIP"] == "None"
    assert objects[("PodDisruptionBudget", "qdrant")]["spec"]["maxUnavailable"] == 1
    tgi = objects[("Deployment", "tgi")]["spec"]["template"]["spec"]["containers"][0]
    assert "--quantize=bitsandbytes-nf4" in tgi["args"]
    assert "--lora-adapters=answer=/adapters/answer" in tgi["args"]
    assert tgi["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert ("Job", "heise-rag-indexer") in objects and ("Deployment", "heise-rag") in objects
    for (kind, name), doc in objects.items():
        if kind in {"Deployment", "StatefulSet", "Job"}:
            for container in doc["spec"]["template"]["spec"]["containers"]:
                assert container["resources"]["limits"]["memory"], name
                if kind != "Job":
                    assert "readinessProbe" in container, name


def test_settings_configmap_holds_valid_project_settings() -> None:
    data = by_kind()[("ConfigMap", "heise-rag-settings")]["data"]
    fields = {k.removeprefix("HEISE_RAG_").lower(): v for k, v in data.items()}
    assert set(fields) <= set(Settings.model_fields), set(fields) - set(Settings.model_fields)
    settings = Settings(_env_file=None, **fields)
    assert (settings.qdrant_shards, settings.qdrant_replication_factor) == (6, 2)
    assert settings.qdrant_url == "http://qdrant.heise-rag.svc:6333"


def test_api_keys_come_from_secrets_not_from_manifests() -> None:
    for _, doc in documents():
        assert doc["kind"] != "Secret", "secrets are created with kubectl, never committed"
        text = yaml.safe_dump(doc)
        assert "change-me" not in text
    app = by_kind()[("Deployment", "heise-rag")]["spec"]["template"]["spec"]["containers"][0]
    keys = {e["name"]: e["valueFrom"]["secretKeyRef"]["key"] for e in app["env"]}
    assert keys == {
        "HEISE_RAG_QDRANT_API_KEY": "qdrant-api-key",
        "HEISE_RAG_GENERATOR_API_KEY": "tgi-api-key",
    }
