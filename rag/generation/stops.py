"""Cutting streamed text at stop strings without ever emitting part of one."""

from __future__ import annotations

from collections.abc import Iterable


class StopTrimmer:
    """Feed text deltas, get back the text that is safe to emit: anything that could still become a
    stop string is held back, and the text ends right before the first stop string (OpenAI
    semantics: the stop string itself is not part of the answer)."""

    def __init__(self, stops: Iterable[str] | None) -> None:
        self.stops = [stop for stop in stops or () if stop]
        self.buffer = ""
        self.stopped = False

    def feed(self, text: str) -> str:
        if self.stopped:
            return ""
        self.buffer += text
        if not self.stops:
            out, self.buffer = self.buffer, ""
            return out
        found = [i for i in (self.buffer.find(stop) for stop in self.stops) if i >= 0]
        if found:
            out, self.buffer, self.stopped = self.buffer[: min(found)], "", True
            return out
        hold = max(
            (k for stop in self.stops for k in range(1, len(stop)) if self.buffer.endswith(stop[:k])),
            default=0,
        )
        cut = len(self.buffer) - hold
        out, self.buffer = self.buffer[:cut], self.buffer[cut:]
        return out

    def flush(self) -> str:
        """What is left once the text ends (a held-back prefix that never became a stop string)."""
        out = "" if self.stopped else self.buffer
        self.buffer = ""
        return out
