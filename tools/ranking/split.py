"""Temporal train/test splits for evaluation, and the validation split carved the same way."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..frames import distinct_strings


@dataclass(frozen=True)
class Split:
    """Training events, and per test user the held-out item ids (the target behaviour)."""

    train: pd.DataFrame
    test: dict[str, np.ndarray]
    description: str

    @property
    def n_test_users(self) -> int:
        return len(self.test)


def _held_out(train: pd.DataFrame, test_events: pd.DataFrame) -> dict[str, np.ndarray]:
    """Test users (only those with training events) -> distinct held-out item ids."""
    users = set(distinct_strings(train["user_id"]))
    frame = test_events.assign(user_id=test_events["user_id"].astype(str),
                               item_id=test_events["item_id"].astype(str))
    frame = frame[frame["user_id"].isin(users)]
    grouped = frame.groupby("user_id", sort=True)["item_id"].unique()
    return {str(u): np.asarray(items, dtype=object) for u, items in grouped.items()}


class Protocol(ABC):
    """How to split a log into train and test; :meth:`validation` applies it again to train."""

    target: str

    @abstractmethod
    def split(self, events: pd.DataFrame) -> Split: ...

    @abstractmethod
    def validation(self, events: pd.DataFrame) -> Split:
        """The split used for tuning, carved from the training part the same way."""

    @abstractmethod
    def to_json(self) -> dict: ...

    def windows(self, events: pd.DataFrame, count: int = 1) -> tuple[Split, ...]:
        """Up to ``count`` splits of ``events``, the latest first: :meth:`split`, then the same
        cut made again on each previous split's training part (rolling windows, each further
        back in time, each trained only on what came before it). Windows left with fewer than
        two test users are dropped."""
        return _rolling(self.split(events), self.split, count)

    def validation_windows(self, events: pd.DataFrame, count: int = 1) -> tuple[Split, ...]:
        """Rolling validation windows carved from the training part; the first is :meth:`validation`."""
        return _rolling(self.validation(events), self.split, count)


@dataclass(frozen=True)
class TimeCut(Protocol):
    """Train on events before ``cut``; test = target items of each user in ``[cut, end)``.

    Validation moves the window back by its own length: train before ``cut - (end - cut)``.
    """

    cut: pd.Timestamp
    end: pd.Timestamp
    target: str = "purchase"

    def split(self, events: pd.DataFrame) -> Split:
        return self._split(events, self.cut, self.end)

    def validation(self, events: pd.DataFrame) -> Split:
        width = self.end - self.cut
        return self._split(events[events["timestamp"] < self.cut], self.cut - width, self.cut)

    def windows(self, events: pd.DataFrame, count: int = 1) -> tuple[Split, ...]:
        """The test window, then windows of the same length moved back one length at a time."""
        width = self.end - self.cut
        splits = [self._split(events[events["timestamp"] < self.cut - (k - 1) * width], self.cut - k * width,
                              self.cut - (k - 1) * width) if k else self.split(events) for k in range(count)]
        return tuple(s for n, s in enumerate(splits) if n == 0 or s.n_test_users >= 2)

    def validation_windows(self, events: pd.DataFrame, count: int = 1) -> tuple[Split, ...]:
        width = self.end - self.cut
        return TimeCut(self.cut - width, self.cut, self.target).windows(events[events["timestamp"] < self.cut], count)

    def _split(self, events: pd.DataFrame, cut: pd.Timestamp, end: pd.Timestamp) -> Split:
        train = events[events["timestamp"] < cut]
        window = events[(events["timestamp"] >= cut) & (events["timestamp"] < end)
                        & (events["behaviour"] == self.target)]
        return Split(train.reset_index(drop=True), _held_out(train, window),
                     f"train < {cut.date()}, test = {self.target} in [{cut.date()}, {end.date()})")

    def to_json(self) -> dict:
        return {"split": "time_cut", "cut": self.cut.isoformat(), "end": self.end.isoformat(),
                "target": self.target}


@dataclass(frozen=True)
class FractionCut(Protocol):
    """Cut the log at the time of its ``fraction`` quantile event; test = target events after."""

    fraction: float = 0.8
    target: str = "purchase"

    def cut_time(self, events: pd.DataFrame) -> pd.Timestamp:
        times = events["timestamp"].sort_values(kind="stable").reset_index(drop=True)
        return pd.Timestamp(times.iloc[min(int(len(times) * self.fraction), len(times) - 1)])

    def split(self, events: pd.DataFrame) -> Split:
        cut = self.cut_time(events)
        train = events[events["timestamp"] < cut]
        test = events[(events["timestamp"] >= cut) & (events["behaviour"] == self.target)]
        return Split(train.reset_index(drop=True), _held_out(train, test),
                     f"train = first {self.fraction:.0%} of events (< {cut}), "
                     f"test = later {self.target}")

    def validation(self, events: pd.DataFrame) -> Split:
        return self.split(self.split(events).train)

    def to_json(self) -> dict:
        return {"split": "fraction_cut", "fraction": self.fraction, "target": self.target}


@dataclass(frozen=True)
class LastPositive(Protocol):
    """Each user's last target event (by time) is held out; train = everything before it.

    The user's events at or after the held-out event's time are dropped from training (no peek
    at the same session); other users' events stay (the usual leave-last-out protocol).
    """

    target: str = "favourite"

    def split(self, events: pd.DataFrame) -> Split:
        frame = events.assign(user_id=events["user_id"].astype(str))
        positives = frame[frame["behaviour"] == self.target]
        last = (positives.sort_values(["timestamp", "event_key"], kind="stable")
                .groupby("user_id", sort=False).tail(1))
        cutoff = frame["user_id"].map(last.set_index("user_id")["timestamp"])
        keep = cutoff.isna() | (frame["timestamp"] < cutoff)
        train = events[keep.to_numpy()]
        return Split(train.reset_index(drop=True), _held_out(train, last),
                     f"each user's last {self.target} held out; their later events dropped")

    def validation(self, events: pd.DataFrame) -> Split:
        return self.split(self.split(events).train)

    def to_json(self) -> dict:
        return {"split": "last_positive", "target": self.target}



@dataclass(frozen=True)
class RandomLeaveOneOut(Protocol):
    """For logs without usable time order: one target event per user, drawn at random (seeded),
    is held out; training keeps everything else except the user's other target events on that
    item (so a duplicate cannot give the answer away). Users need another event to train on."""

    target: str = "purchase"
    seed: int = 0

    def split(self, events: pd.DataFrame) -> Split:
        frame = events.assign(user_id=events["user_id"].astype(str),
                              item_id=events["item_id"].astype(str)).reset_index(drop=True)
        sizes = frame.groupby("user_id", sort=False)["item_id"].transform("size")
        positives = frame[(frame["behaviour"] == self.target) & (sizes >= 2)]
        rng = np.random.default_rng(self.seed)
        draw = pd.Series(rng.random(len(positives)), index=positives.index)
        chosen = positives.loc[draw.groupby(positives["user_id"], sort=False).idxmin().to_numpy()]
        pairs = pd.MultiIndex.from_frame(chosen[["user_id", "item_id"]])
        mine = pd.MultiIndex.from_frame(frame[["user_id", "item_id"]]).isin(pairs)
        dropped = mine & (frame["behaviour"] == self.target).to_numpy()
        train = events.reset_index(drop=True)[~dropped]
        return Split(train.reset_index(drop=True), _held_out(train, chosen),
                     f"one random {self.target} per user held out (seed {self.seed}); "
                     "their other events kept")

    def validation(self, events: pd.DataFrame) -> Split:
        return self.split(self.split(events).train)

    def to_json(self) -> dict:
        return {"split": "random_leave_one_out", "target": self.target, "seed": self.seed}

    def windows(self, events: pd.DataFrame, count: int = 1) -> tuple[Split, ...]:
        """Without an order in time: ``count`` independent draws (seeds ``seed``, ``seed`` + 1, …)."""
        return tuple(RandomLeaveOneOut(self.target, self.seed + k).split(events) for k in range(count))

    def validation_windows(self, events: pd.DataFrame, count: int = 1) -> tuple[Split, ...]:
        return self.windows(self.split(events).train, count)


def _rolling(first: Split, cut: Callable[[pd.DataFrame], Split], count: int) -> tuple[Split, ...]:
    splits = [first]
    while len(splits) < count:
        earlier = cut(splits[-1].train)
        if earlier.n_test_users < 2 or earlier.train.empty:
            break
        splits.append(earlier)
    return tuple(splits)


def choose_protocol(events: pd.DataFrame, target: str, fraction: float = 0.8,
                    min_users: int = 20, seed: int = 0) -> Protocol:
    """The validation protocol the data allow: a time cut after ``fraction`` of the events when
    timestamps spread enough for it to leave at least ``min_users`` users (or half the users
    with a target event, if fewer) with training events and a later target event; otherwise a
    seeded random leave-one-out of the target behaviour per user (one timestamp for
    everything, or too few distinct times)."""
    cut = FractionCut(fraction, target)
    buyers = len(distinct_strings(events.loc[events["behaviour"] == target, "user_id"]))
    needed = max(1, min(min_users, buyers // 2))
    if events["timestamp"].nunique() >= 2 and cut.split(events).n_test_users >= needed:
        return cut
    return RandomLeaveOneOut(target, seed)
