"""The default index, built in a background thread of the app while readers already ask.

Why in the app and not before it: on this kind of machine the default index takes minutes to embed,
and a newcomer running `make run` should see the page at once. The thread writes through the app's
own store client (the embedded store allows one client per process; `rag.store.shared_client`
serializes its calls), so a question asked meanwhile is answered from what is already indexed. The
ingest is incremental and records each finished source, so a build cut short by stopping the app
resumes on the next start.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from rag.core.settings import Settings
    from rag.models.embeddings import Embedder
    from rag.store.vector_store import VectorStore

SOURCE_LABELS = {"headlines": "heise-Schlagzeilen", "10kgnad": "10kGNAD"}
State = Literal["checking", "running", "done", "failed"]


def number(value: int) -> str:
    """A count the German way (1.234)."""
    return f"{value:,}".replace(",", ".")


@dataclass(frozen=True)
class BuildProgress:
    """A snapshot of the build: what is being read, how far, and how it ended."""

    state: State
    needed: bool = False  # False: the index was complete already (nothing to show)
    source: str | None = None
    articles: int = 0
    total: int | None = None  # articles in the source being read, counted before it is ingested
    chunks: int = 0  # chunks written by this build, all sources together
    finished: tuple[str, ...] = ()
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None
    error: BaseException | None = None

    @property
    def fraction(self) -> float | None:
        """Share of the current source read, for a progress bar; None while it is being counted."""
        return min(1.0, self.articles / self.total) if self.total else None

    def line(self) -> str:
        """One German line for the pages: what is happening now."""
        if self.state == "checking" or self.source is None:
            return "Der Standardindex wird geprüft …"
        read = number(self.articles) + (f" von {number(self.total)}" if self.total else "")
        done = "".join(f"{SOURCE_LABELS.get(name, name)} fertig; " for name in self.finished)
        return (
            f"Der Standardindex wird im Hintergrund aufgebaut: {done}"
            f"{SOURCE_LABELS.get(self.source, self.source)} {read} Artikel gelesen, "
            f"{number(self.chunks)} Abschnitte eingebettet."
        )

    def answer_notice(self) -> str:
        """The notice an answer given during the build carries."""
        return (
            "Der Standardindex wird noch aufgebaut "
            f"({number(self.chunks)} Abschnitte bisher); die Antwort stützt sich nur auf das bereits "
            "Aufgenommene."
        )


class DefaultIndexBuild:
    """One build per app process: started once, read by every session's page run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # notified on every progress change
        self._progress: BuildProgress | None = None

    def progress(self) -> BuildProgress | None:
        """The latest snapshot; None when no build was started in this process."""
        with self._lock:
            return self._progress

    def running(self) -> bool:
        progress = self.progress()
        return progress is not None and progress.state in ("checking", "running")

    def wait_for_chunks(self, timeout: float) -> bool:
        """Block until this build has written chunks or ended; False when ``timeout`` passed first.

        Why: a question asked in the seconds between the page appearing and the first embedded
        batch would otherwise find an empty index; it waits for the first batch and is answered.
        """
        with self._changed:
            return self._changed.wait_for(
                lambda: (
                    self._progress is None
                    or self._progress.chunks > 0
                    or self._progress.state not in ("checking", "running")
                ),
                timeout=timeout,
            )

    def _set(self, **changes: object) -> None:
        with self._changed:
            assert self._progress is not None
            self._progress = replace(self._progress, **changes)  # type: ignore[arg-type]
            self._changed.notify_all()

    def start(
        self,
        settings: Settings,
        open_store: Callable[[], VectorStore],
        load_embedder: Callable[[], Embedder],
    ) -> bool:
        """Start the build in a daemon thread unless one was started already; True if this call did.

        ``open_store`` and ``load_embedder`` are the app's cached resources: the thread uses the very
        client and encoder the readers' questions use.
        """
        with self._lock:
            if self._progress is not None:
                return False
            self._progress = BuildProgress(state="checking")
        thread = threading.Thread(
            target=self._run, args=(settings, open_store, load_embedder), name="default-index", daemon=True
        )
        thread.start()
        return True

    def _run(
        self,
        settings: Settings,
        open_store: Callable[[], VectorStore],
        load_embedder: Callable[[], Embedder],
    ) -> None:
        from ingest.service import build_default_index, count_articles, default_sources_todo

        try:
            store = open_store()
            todo = default_sources_todo(store)
            if todo:
                self._set(state="running", needed=True)
            written: dict[str, int] = {}

            def update(name: str, articles: int, chunks: int) -> None:
                if self._source() != name:  # the first call of a source: count what it holds
                    self._set(source=name, total=None, finished=self._finished())
                    self._set(total=count_articles(name, settings))
                written[name] = chunks
                self._set(articles=articles, chunks=sum(written.values()))

            build_default_index(store, settings, load_embedder() if todo else None, on_progress=update)
        except Exception as exc:  # shown on the pages in German; a restart resumes the build
            self._set(state="failed", error=exc, ended=time.monotonic())
            return
        self._set(state="done", source=None, finished=self._finished(), ended=time.monotonic())

    def _source(self) -> str | None:
        progress = self.progress()
        return progress.source if progress else None

    def _finished(self) -> tuple[str, ...]:
        """The finished sources, counting the one being read as finished (its successor started)."""
        progress = self.progress()
        if progress is None:
            return ()
        return (*progress.finished, progress.source) if progress.source else progress.finished
