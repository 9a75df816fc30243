"""Time a newcomer's first `make run`: set-up, page, first answer, complete default index.

Run on a fresh clone with an empty model cache (what a new machine has)::

    git clone <repo> /tmp/fresh
    python -m bench.first_start --clone /tmp/fresh --model-cache /tmp/empty-cache

It starts `make run` there, waits for the server's health check, opens the ask page in chromium
(Playwright, Debian's browser as in the tests), asks the README's example question as soon as the
page is up, then reloads every 15 s until the page no longer reports a build in progress, and asks
once more on the complete index. Times are seconds after the command; `make run` is stopped at the
end. Not part of `make bench`: it needs a clone of its own and minutes of set-up.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

CHAT = "Frage zu heise-Meldungen stellen …"
SOURCE_CARD = '[class*="st-key-source-"]'
BUILDING = re.compile(r"wird im Hintergrund aufgebaut|Standardindex wird geprüft")
WAIT_MS = 900_000


def wait_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    """Until Streamlit answers its health check; a `make run` that ends first is an error."""
    while True:
        if process.poll() is not None:
            raise SystemExit(f"make run ended with exit status {process.returncode}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)


def ask(page: Page, question: str) -> None:
    """Type ``question`` and wait until the answer's first source card is shown."""
    before = page.locator(SOURCE_CARD).count()
    page.get_by_placeholder(CHAT).fill(question)
    page.get_by_placeholder(CHAT).press("Enter")
    page.locator(SOURCE_CARD).nth(before).wait_for(timeout=WAIT_MS)


def measure(clone: Path, model_cache: Path, port: int, log: Path) -> dict[str, float | bool]:
    started = time.perf_counter()
    marks: dict[str, float | bool] = {}

    def mark(name: str) -> None:
        marks[name] = round(time.perf_counter() - started, 1)
        print(f"{marks[name]:7.1f} s  {name}", flush=True)

    env = os.environ | {"HEISE_RAG_MODEL_CACHE_DIR": str(model_cache)}
    with log.open("w") as out:
        process = subprocess.Popen(
            ["make", "run", f"PORT={port}"], cwd=clone, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(url, process)
            mark("server healthy")
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium")
                page = browser.new_page()
                page.goto(url)
                page.get_by_placeholder(CHAT).wait_for(timeout=WAIT_MS)
                mark("page shown")
                ask(page, "Was war Anfang 2022 mit Exchange los?")
                mark("first answer")
                marks["first answer with build notice"] = bool(
                    page.get_by_text("Der Standardindex wird noch aufgebaut").count()
                )
                while True:
                    time.sleep(15)
                    page.reload()
                    page.get_by_placeholder(CHAT).wait_for(timeout=WAIT_MS)
                    time.sleep(2)  # the build's progress is a fragment drawn after the page
                    if not BUILDING.search(page.locator("body").inner_text()):
                        break
                mark("index complete (at most)")
                asked = time.perf_counter()
                ask(page, "Welche Sicherheitslücke in Log4j wurde Ende 2021 bekannt?")
                marks["answer on the complete index"] = round(time.perf_counter() - asked, 1)
                browser.close()
        finally:
            os.killpg(process.pid, signal.SIGTERM)
    return marks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clone", type=Path, required=True, help="a fresh clone of the project")
    parser.add_argument("--model-cache", type=Path, required=True, help="an empty folder for models")
    parser.add_argument("--port", type=int, default=8611)
    parser.add_argument("--log", type=Path, default=Path("var/bench/first-start-make.log"))
    parser.add_argument("--output", type=Path, default=None, help="write the times as JSON")
    args = parser.parse_args()
    args.log.parent.mkdir(parents=True, exist_ok=True)
    marks = measure(args.clone.resolve(), args.model_cache.resolve(), args.port, args.log.resolve())
    print(json.dumps(marks))
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(marks, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
