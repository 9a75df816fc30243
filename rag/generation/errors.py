"""Errors of the generator backends, with German+English messages that name the endpoint."""

from __future__ import annotations


class GeneratorError(RuntimeError):
    """A generator could not produce an answer (bad configuration, a server-side error)."""


class GeneratorUnavailableError(GeneratorError):
    """A remote generator (TGI or an OpenAI-compatible server) cannot be reached."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(
            f"Der Generator-Server unter {url} ist nicht erreichbar ({reason}). Läuft er? Lokal startet "
            f"`heise-rag serve tgi` einen; sonst HEISE_RAG_GENERATOR_URL prüfen oder "
            f"HEISE_RAG_GENERATOR_BACKEND=local setzen."
        )


class GenerationTimeoutError(GeneratorError):
    """A generation passed its deadline (waiting for the model included) and was cancelled."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"Zeitlimit von {seconds:g} s überschritten, die Generierung wurde abgebrochen")
