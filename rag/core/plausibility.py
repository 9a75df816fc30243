"""Publication dates that cannot be right, for ingest warnings and `index stats`.

Why: a source that gives year 1 or 2099 (a parse default, a typo, a placeholder) is accepted by
every type check, lands in the index and stretches its date range and the question's date filter to
nonsense. Nothing in a German tech news corpus predates 1995 (heise online started in 1996), and
nothing is published in the future; a day of slack keeps clock skew and time zones from counting.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rag.core.domain import BERLIN

EARLIEST_PLAUSIBLE = datetime(1995, 1, 1, tzinfo=BERLIN)
FUTURE_SLACK = timedelta(days=1)


def date_problem(published_at: datetime | None) -> str | None:
    """Why an (aware) publication date is implausible, in English for logs and reports; None if it is fine."""
    if published_at is None:
        return None
    day = published_at.date().isoformat()
    if published_at < EARLIEST_PLAUSIBLE:
        return f"unplausibles Erscheinungsdatum {day}: vor {EARLIEST_PLAUSIBLE:%Y}"
    if published_at > datetime.now(UTC) + FUTURE_SLACK:
        return f"unplausibles Erscheinungsdatum {day}: in der Zukunft"
    return None
