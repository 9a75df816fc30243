"""Data provisioning against real files: a shared folder on disk and an HTTP server on loopback."""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path

import pytest

from rag.core.checksums import sha256_file
from rag.core.datafiles import CHECKSUMS, DATA_FILES, DataFile, DataProvisionError, provision_file
from rag.core.settings import Settings

CONTENT = "label;text\nWeb;'Ein Artikel über Datenschutz.'\n".encode()
DIGEST = hashlib.sha256(CONTENT).hexdigest()


def test_links_from_shared_copy_and_is_idempotent(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    (shared / "sub").mkdir(parents=True)
    (shared / "sub" / "a.csv").write_bytes(CONTENT)
    item = DataFile("sub/a.csv", DIGEST, "test", "none")
    data = tmp_path / "data"
    assert provision_file(item, data, shared) == "linked"
    assert (data / "sub" / "a.csv").is_symlink()
    assert (data / "sub" / "a.csv").read_bytes() == CONTENT
    assert provision_file(item, data, shared) == "ok"


def test_shared_copy_with_wrong_checksum_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "a.csv").write_bytes(CONTENT + b"manipuliert")
    item = DataFile("a.csv", DIGEST, "test", "none")
    with pytest.raises(DataProvisionError, match=r"a\.csv: die geteilte Kopie .* hat sha256"):
        provision_file(item, tmp_path / "data", shared)
    assert not (tmp_path / "data" / "a.csv").exists()


def test_missing_file_without_download_names_file_and_remedy(tmp_path: Path) -> None:
    item = DataFile("heise-qa/x.jsonl", DIGEST, "project only", "none")
    with pytest.raises(DataProvisionError, match=r"heise-qa/x\.jsonl: nicht in .*HEISE_RAG_SHARED_DATA_DIR"):
        provision_file(item, tmp_path / "data", tmp_path / "no-shared")


def test_download_records_checksum_and_repairs_tampering(tmp_path: Path, http_root: tuple[str, Path]) -> None:
    base, root = http_root
    (root / "test.csv").write_bytes(CONTENT)
    item = DataFile("10kgnad/test.csv", "unused-for-downloads", "test", "none", f"{base}/test.csv")
    data = tmp_path / "data"
    assert provision_file(item, data, tmp_path / "no-shared") == "downloaded"
    assert json.loads((data / CHECKSUMS).read_text()) == {"10kgnad/test.csv": DIGEST}
    assert provision_file(item, data, tmp_path / "no-shared") == "ok"
    (data / "10kgnad" / "test.csv").write_bytes(b"kaputt")
    assert provision_file(item, data, tmp_path / "no-shared") == "downloaded"
    assert sha256_file(data / "10kgnad" / "test.csv") == DIGEST


def test_unreachable_server_is_named(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/test.csv"
    item = DataFile("x/test.csv", DIGEST, "test", "none", url)
    with pytest.raises(DataProvisionError, match=f"Herunterladen von {url} schlug fehl"):
        provision_file(item, tmp_path / "data", tmp_path / "no-shared", timeout=5)
    assert not any((tmp_path / "data" / "x").iterdir())


def test_every_registered_file_is_provisioned_with_its_pinned_checksum(settings: Settings) -> None:
    data_dir = settings.resolved_data_dir
    missing = [f.path for f in DATA_FILES if not (data_dir / f.path).exists()]
    if missing:
        pytest.skip(f"data not provisioned ({missing[0]} ...): run `make test` or `heise-rag data provision`")
    recorded_file = data_dir / CHECKSUMS
    recorded = json.loads(recorded_file.read_text()) if recorded_file.is_file() else {}
    for item in DATA_FILES:
        path = data_dir / item.path
        expected = item.sha256 if path.is_symlink() else recorded[item.path]
        assert sha256_file(path) == expected, item.path
