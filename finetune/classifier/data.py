"""The headline data set and its two evaluation splits.

Why two splits: the workshop reported a random 75/25 split (seed 42), which is comparable with its
numbers; an editor, though, predicts the *future*, so a time split (train on earlier months, test on
the latest) says what to expect in use. Each split also carves a development set out of its training
part: early stopping, temperature scaling and baseline hyper-parameters are chosen there, so the test
part is only ever used for the reported figures.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

LABELS = ("bad", "good")  # index 1 = many comments (> 50), index 0 = few (< 10)
SplitName = Literal["reference", "time"]
SPLITS: tuple[SplitName, ...] = ("reference", "time")
SEED = 42
REFERENCE_TEST_FRACTION = 0.25
DEV_FRACTION = 0.10
TIME_TEST_MONTHS = 4  # the latest months form the test part of the time split
TIME_DEV_MONTHS = 2  # the months just before them form its development part


@dataclass(frozen=True)
class HeadlineSplit:
    """Train / dev / test frames with ``headline`` and ``label`` (1 = good) columns."""

    name: SplitName
    train: pd.DataFrame
    dev: pd.DataFrame
    test: pd.DataFrame

    def parts(self) -> dict[str, pd.DataFrame]:
        return {"train": self.train, "dev": self.dev, "test": self.test}

    def rows(self) -> dict[str, list[int]]:
        """Each part's rows of the frame the split was made from (its index)."""
        return {part: frame.index.tolist() for part, frame in self.parts().items()}

    def describe(self) -> str:
        parts = []
        for part, frame in self.parts().items():
            span = f"{frame.time.min():%Y-%m-%d}..{frame.time.max():%Y-%m-%d}"
            parts.append(f"{part} {len(frame)} ({frame.label.mean():.1%} good, {span})")
        return f"{self.name}: " + ", ".join(parts)


def load_headlines(path: Path) -> pd.DataFrame:
    """The labelled headline file as ``id, headline, comments, time, label``; fails on a wrong file."""
    frame = pd.read_csv(path)
    missing = {"id", "headline", "time", "quality"} - set(frame.columns)
    if missing:
        raise ValueError(f"{path} lacks the column(s) {sorted(missing)}; is it the heise headline file?")
    unknown = set(frame.quality) - set(LABELS)
    if unknown:
        raise ValueError(f"{path}: unexpected quality value(s) {sorted(unknown)}")
    frame = frame.assign(
        headline=frame.headline.astype(str).str.strip(),
        time=pd.to_datetime(frame.time),
        label=(frame.quality == "good").astype(int),
    )
    return frame.drop(columns="quality").reset_index(drop=True)


def _random_dev(train: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    order = np.random.default_rng(seed).permutation(len(train))
    n_dev = round(len(train) * DEV_FRACTION)
    return train.iloc[order[n_dev:]], train.iloc[order[:n_dev]]


def reference_split(frame: pd.DataFrame, seed: int = SEED) -> HeadlineSplit:
    """The workshop's random 75/25 split; the development set is a random tenth of the 75 %."""
    order = np.random.default_rng(seed).permutation(len(frame))
    n_test = round(len(frame) * REFERENCE_TEST_FRACTION)
    train, dev = _random_dev(frame.iloc[order[n_test:]], seed + 1)
    return HeadlineSplit("reference", train, dev, frame.iloc[order[:n_test]])


def time_split(frame: pd.DataFrame) -> HeadlineSplit:
    """Train on the early months, pick models on the next ones, test on the latest months."""
    month = frame.time.dt.to_period("M")
    months = sorted(month.unique())
    if len(months) < TIME_TEST_MONTHS + TIME_DEV_MONTHS + 1:
        raise ValueError(f"a time split needs more than {len(months)} month(s) of headlines")
    test_from = months[-TIME_TEST_MONTHS]
    dev_from = months[-TIME_TEST_MONTHS - TIME_DEV_MONTHS]
    return HeadlineSplit(
        "time",
        train=frame[month < dev_from],
        dev=frame[(month >= dev_from) & (month < test_from)],
        test=frame[month >= test_from],
    )


def make_split(frame: pd.DataFrame, name: SplitName) -> HeadlineSplit:
    if name == "reference":
        return reference_split(frame)
    if name == "time":
        return time_split(frame)
    raise ValueError(f"unknown split {name!r}; choose one of {SPLITS}")
