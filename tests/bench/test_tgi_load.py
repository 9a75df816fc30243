"""The TGI server load test at a tiny size: only documented statuses, and overload answered by 429."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bench.tgi_load import MODEL, load_test, table


def test_load_test_sees_only_200_and_429(provisioned: Callable[[str], Path]) -> None:
    provisioned(MODEL)
    levels = load_test([1, 4], requests=8, max_concurrent=2, max_tokens=4)
    assert [level.clients for level in levels] == [1, 4]
    for level in levels:
        assert set(level.statuses) <= {200, 429}
        assert sum(level.statuses.values()) == level.requests and level.statuses.get(200)
    assert levels[0].statuses == {200: 8}  # one client never meets a full server
    assert "| 4 | 8 |" in table(levels, 2)
