"""Make the project's data files available under the ignored data folder, never in git.

Why: the files come from public sources with their own licences. On machines that carry a shared
copy (``shared_data_dir``) they are linked from there, checked against pinned checksums; elsewhere
they are downloaded from their public source. Upstream files are not pinned by us (the shared
copies are subsets of two of them), so the checksum of a first download is recorded and every
later run verifies against it.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag.core.checksums import sha256_file

# Paths relative to the data folder: the one place code names a data file (DATA_FILES lists them all).
HEADLINES_FILE = "heise-headlines/newsticker-2022-2023-good-bad.csv.gz"
GNAD_FILE = "10kgnad/test.csv"
TEASERS_FILE = "heise-teasers-2019/heise_frontpage_teasers_2019-01.csv"
XQUAD_FILE = "xquad-de/xquad.de.dev.json"
HEISE_QA_FILE = "heise-qa/heise_qa_dev.jsonl"

CHECKSUMS = ".checksums.json"
# How `data provision` shows each outcome to the user.
_SHOWN = {"linked": "verlinkt", "downloaded": "heruntergeladen"}
_RAW = "https://raw.githubusercontent.com"


class DataProvisionError(RuntimeError):
    """A data file could not be made available; the message names the file and what to do."""


@dataclass(frozen=True)
class DataFile:
    """One data file: where it lives relative to the data folder, and where it comes from."""

    path: str
    sha256: str
    source: str
    licence: str
    url: str | None = None


DATA_FILES: tuple[DataFile, ...] = (
    DataFile(
        HEADLINES_FILE,
        "7ae1d6445176cd399482db9339921f5127d4f941ff8e0fca2157b1d002d5a75d",
        "GitHub datanizing/m3-llm-workshop (shared copy: 85 % subset; the download is the full file)",
        "no licence stated; cite the source",
        f"{_RAW}/datanizing/m3-llm-workshop/main/newsticker-2022-2023-good-bad.csv.gz",
    ),
    DataFile(
        GNAD_FILE,
        "68ba71a01919261f36b362b6a31e7fa34255dde102a5586db23d72eae2e41514",
        "GitHub tblock/10kGNAD (test split, derStandard.at articles)",
        "CC BY-NC-SA 4.0",
        f"{_RAW}/tblock/10kGNAD/master/test.csv",
    ),
    DataFile(
        TEASERS_FILE,
        "d25a20fd16be0bf76cd4ec465272afd7bc51d8d59246ec0c11f704607e716948",
        "GitHub nwtnsqrd/heise-wordcloud (exported from its SQLite database; no direct file)",
        "no licence stated; small fixture only",
    ),
    DataFile(
        XQUAD_FILE,
        "6cf5c13df97e62790db354d704eaa794f0a5deae2fae4b702fce2c32903c586b",
        "GitHub google-deepmind/xquad (shared copy: 120-paragraph dev half; download is the full set)",
        "CC BY-SA 4.0",
        f"{_RAW}/google-deepmind/xquad/master/xquad.de.json",
    ),
    DataFile(
        "xquad-de/LICENSE-CC-BY-SA-4.0.txt",
        "25ddafc153e4cfdafd70729574ef1b44348e1814709e57680d55347038d3f92c",
        "Creative Commons licence text shipped beside XQuAD",
        "CC BY-SA 4.0",
        "https://creativecommons.org/licenses/by-sa/4.0/legalcode.txt",
    ),
    DataFile(
        HEISE_QA_FILE,
        "26d4c37af4fb6a3073d03bed019028a0e31960733fbb410eeb1a6c3c2c35006c",
        "written for this project over the headline file (shared copy only)",
        "project data",
    ),
    DataFile(
        "fixtures/html/heise-2015-1password.source.html",
        "766652616a159e463936564c262546b243ad761dae221bc39a3b9b610e2952e6",
        "GitHub mozilla/readability test page `heise`",
        "Apache-2.0",
        f"{_RAW}/mozilla/readability/main/test/test-pages/heise/source.html",
    ),
    DataFile(
        "fixtures/html/heise-2015-1password.expected.html",
        "ea477bef2f61e095dac0bc486bb4e2995d6f20c9243a98461bde96456db2c859",
        "GitHub mozilla/readability test page `heise`",
        "Apache-2.0",
        f"{_RAW}/mozilla/readability/main/test/test-pages/heise/expected.html",
    ),
    DataFile(
        "fixtures/html/heise-2015-1password.expected-metadata.json",
        "1aebbbcbb848a7dc7746641776c670a663eed3e8b99211c1e55fd2f000cf137c",
        "GitHub mozilla/readability test page `heise`",
        "Apache-2.0",
        f"{_RAW}/mozilla/readability/main/test/test-pages/heise/expected-metadata.json",
    ),
    DataFile(
        "fixtures/html/heise-2024-ionos-phishing.html.gz",
        "b1df38bccbd12d4f126c103c40aee64c3b65aa90fc43498ac761a215432d29b8",
        "GitHub flairNLP/fundus parser test data (selected page; shared copy only)",
        "MIT",
    ),
    DataFile(
        "fixtures/html/heise-2024-ionos-phishing.expected.json",
        "a0fab84633c5cd5edf4d6be946e56340fa007f51589a9446f7c3a8756bc9d264",
        "GitHub flairNLP/fundus parser test data (extracted expectation; shared copy only)",
        "MIT",
    ),
)


def _recorded(data_dir: Path) -> dict[str, str]:
    path = data_dir / CHECKSUMS
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _record(data_dir: Path, rel: str, digest: str) -> None:
    recorded = _recorded(data_dir) | {rel: digest}
    (data_dir / CHECKSUMS).write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n")


def _expected_digest(item: DataFile, data_dir: Path, dest: Path) -> str | None:
    """The pin for a shared copy, or the digest recorded when the file was first downloaded."""
    if dest.is_symlink():
        return item.sha256
    return _recorded(data_dir).get(item.path)


def _download(item: DataFile, dest: Path, timeout: float) -> str:
    assert item.url is not None
    part = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(item.url, timeout=timeout) as response, part.open("wb") as out:
            shutil.copyfileobj(response, out)
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        part.unlink(missing_ok=True)
        raise DataProvisionError(
            f"{item.path}: keine geteilte Kopie, und das Herunterladen von {item.url} schlug fehl ({exc}). "
            "Einmal online gehen oder HEISE_RAG_SHARED_DATA_DIR auf einen Ordner mit der Datei setzen."
        ) from exc
    part.rename(dest)
    return sha256_file(dest)


def provision_file(item: DataFile, data_dir: Path, shared_dir: Path, timeout: float = 60.0) -> str:
    """Make one file available; return how (`ok`, `linked`, `downloaded`)."""
    dest = data_dir / item.path
    if dest.exists():
        expected = _expected_digest(item, data_dir, dest)
        if expected is None or sha256_file(dest) == expected:
            return "ok"
        dest.unlink()
    dest.parent.mkdir(parents=True, exist_ok=True)
    shared = shared_dir / item.path
    if shared.is_file():
        digest = sha256_file(shared)
        if digest != item.sha256:
            raise DataProvisionError(
                f"{item.path}: die geteilte Kopie {shared} hat sha256 {digest}, erwartet "
                f"{item.sha256}. Sie ist nicht die Datei, auf der dieses Projekt aufbaut; wiederherstellen."
            )
        if dest.is_symlink():
            dest.unlink()
        os.symlink(shared.resolve(), dest)
        return "linked"
    if item.url is None:
        raise DataProvisionError(
            f"{item.path}: nicht in {shared_dir} und ohne öffentlichen Download ({item.source}). "
            "HEISE_RAG_SHARED_DATA_DIR auf einen Ordner setzen, der sie enthält."
        )
    _record(data_dir, item.path, _download(item, dest, timeout))
    return "downloaded"


def provision_data(data_dir: Path, shared_dir: Path, log: Callable[[str], None] = print) -> dict[str, str]:
    """Provision every data file; a missing one is reported and the others still come."""
    results: dict[str, str] = {}
    errors: list[str] = []
    for item in DATA_FILES:
        try:
            results[item.path] = provision_file(item, data_dir, shared_dir)
        except DataProvisionError as exc:
            errors.append(str(exc))
            continue
        if results[item.path] != "ok":
            log(f"{item.path}: {_SHOWN.get(results[item.path], results[item.path])}")
    if errors:
        raise DataProvisionError("\n".join(errors))
    return results
