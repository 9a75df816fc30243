"""The two evaluation splits of the headline file: disjoint, complete, reproducible, time-ordered."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from finetune.classifier.data import load_headlines, make_split
from rag.core.datafiles import HEADLINES_FILE


@pytest.fixture(scope="module")
def frame(data_file: Callable[[str], Path]) -> pd.DataFrame:
    return load_headlines(data_file(HEADLINES_FILE))


def test_labels_follow_the_comment_counts(frame: pd.DataFrame) -> None:
    assert set(frame.label) == {0, 1}
    assert (frame[frame.label == 1].comments > 50).all()
    assert (frame[frame.label == 0].comments < 10).all()


@pytest.mark.parametrize("name", ["reference", "time"])
def test_parts_are_disjoint_and_cover_every_row(frame: pd.DataFrame, name: str) -> None:
    split = make_split(frame, name)  # type: ignore[arg-type]
    parts = [set(p.index) for p in (split.train, split.dev, split.test)]
    assert sum(len(p) for p in parts) == len(frame)
    assert set.union(*parts) == set(frame.index)
    assert make_split(frame, name).test.index.equals(split.test.index)  # same seed, same rows


def test_reference_split_is_75_25(frame: pd.DataFrame) -> None:
    split = make_split(frame, "reference")
    assert len(split.test) == round(0.25 * len(frame))
    assert len(split.dev) == round(0.1 * (len(frame) - len(split.test)))


def test_time_split_tests_on_the_latest_months(frame: pd.DataFrame) -> None:
    split = make_split(frame, "time")
    assert split.train.time.max() < split.dev.time.min() <= split.dev.time.max() < split.test.time.min()
    assert split.test.time.min() >= pd.Timestamp("2023-09-01")  # the last four months: Sep..Dec 2023
    assert split.dev.time.min() >= pd.Timestamp("2023-07-01")  # the two months before them


def test_a_file_without_labels_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("id,headline,time\n1,Hallo,2023-01-01 10:00:00\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['quality'\]"):
        load_headlines(path)
