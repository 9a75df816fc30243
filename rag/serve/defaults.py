"""The server's limits, in a module without heavy imports so the CLI can show them as defaults."""

from __future__ import annotations

DEFAULT_PAYLOAD_LIMIT = 2_000_000  # bytes; TGI's `--payload-limit` default
# Seconds a generation may take, queueing for the model included; the `tgi` client backend gives
# up after 120 s by default (HEISE_RAG_GENERATOR_TIMEOUT), work past that would be thrown away.
DEFAULT_REQUEST_TIMEOUT = 120.0
