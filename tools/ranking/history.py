"""Compact, array form of event histories that every ranker scores.

A :class:`History` is one user's (or a hypothetical) sequence of events as parallel NumPy
arrays; an :class:`EventLog` is the whole training log grouped by user (CSR-like), so a
ranker can slice any user's history without touching pandas.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..frames import is_categorical, positions_in, sorted_codes
from ..schema import BEHAVIOURS

#: Behaviour name -> small integer code (index into :data:`whyrec.tools.schema.BEHAVIOURS`).
BEHAVIOUR_CODE: dict[str, int] = {name: code for code, name in enumerate(BEHAVIOURS)}
SECONDS_PER_DAY = 86_400.0
REQUIRED_HISTORY_COLUMNS: tuple[str, ...] = ("item_id", "behaviour", "timestamp")


def to_days(timestamps: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    """UTC timestamps as float days since the Unix epoch."""
    values = pd.to_datetime(timestamps, utc=True)
    # The integer view counts the dtype's own unit (pandas 3 makes s/ms/us timestamps too).
    values = values.dt.as_unit("ns") if isinstance(values, pd.Series) else values.as_unit("ns")
    nanos = np.asarray(values.astype("int64"), dtype=np.float64)
    return nanos / 1e9 / SECONDS_PER_DAY


def from_days(days: float) -> pd.Timestamp:
    """Inverse of :func:`to_days` for one value."""
    return pd.Timestamp(round(days * SECONDS_PER_DAY * 1e9), tz="UTC")


def behaviour_codes(behaviours: pd.Series) -> np.ndarray:
    """Codes of a behaviour column (strings or a categorical); raises ``ValueError`` naming
    unknown behaviours."""
    if is_categorical(behaviours):
        names = [str(c) for c in behaviours.cat.categories]
        table = np.array([BEHAVIOUR_CODE.get(n, -1) for n in names] + [-1], dtype=np.int64)
        found = table[behaviours.cat.codes.to_numpy().astype(np.int64)]
        if (found < 0).any():
            raise ValueError(f"unknown behaviour(s) {sorted(set(behaviours[found < 0].astype(str)))}; "
                             f"expected one of {list(BEHAVIOURS)}")
        return found.astype(np.int8)
    codes = behaviours.astype(str).map(BEHAVIOUR_CODE)
    if codes.isna().any():
        bad = sorted(set(behaviours[codes.isna()].astype(str)))
        raise ValueError(f"unknown behaviour(s) {bad}; expected one of {list(BEHAVIOURS)}")
    return codes.to_numpy(dtype=np.int8)


@dataclass(frozen=True)
class History:
    """One sequence of events as arrays; ``items`` holds catalog indices (-1 = unknown item)."""

    items: np.ndarray      # int64 item index into the ranker's catalog
    behaviours: np.ndarray  # int8 behaviour code
    days: np.ndarray       # float64 days since the epoch
    keys: np.ndarray       # uint64 event keys
    values: np.ndarray     # float64 (rating stars etc., NaN if none)

    def __len__(self) -> int:
        return int(self.items.shape[0])

    @classmethod
    def empty(cls) -> History:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int8), np.zeros(0, np.float64),
                   np.zeros(0, np.uint64), np.zeros(0, np.float64))

    def take(self, selector: np.ndarray | slice) -> History:
        """The events picked by a boolean mask or an index array."""
        return History(self.items[selector], self.behaviours[selector], self.days[selector],
                       self.keys[selector], self.values[selector])

    def without(self, position: int) -> History:
        """The history with the event at ``position`` removed."""
        keep = np.ones(len(self), dtype=bool)
        keep[position] = False
        return self.take(keep)

    def known(self) -> History:
        """Only the events on items the ranker knows."""
        return self.take(self.items >= 0)

    def last_day(self) -> float | None:
        return float(self.days.max()) if len(self) else None


def history_from_frame(frame: pd.DataFrame, item_index: pd.Index) -> History:
    """Arrays of an event table (``item_id``, ``behaviour``, ``timestamp`` required).

    ``event_key`` and ``value`` are optional: hypothetical events get keys 0, 1, 2, ...
    """
    missing = [c for c in REQUIRED_HISTORY_COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError(f"history needs columns {list(REQUIRED_HISTORY_COLUMNS)}; missing {missing}")
    n = len(frame)
    if n == 0:
        return History.empty()
    items = positions_in(item_index, frame["item_id"])
    keys = (frame["event_key"].to_numpy(dtype=np.uint64) if "event_key" in frame.columns
            else np.arange(n, dtype=np.uint64))
    values = (pd.to_numeric(frame["value"], errors="coerce").to_numpy(dtype=np.float64,
                                                                       na_value=np.nan)
              if "value" in frame.columns else np.full(n, np.nan))
    return History(items, behaviour_codes(frame["behaviour"]), to_days(frame["timestamp"]),
                   keys, values)


@dataclass(frozen=True)
class EventLog:
    """The training log grouped by user: user ``r``'s events are ``[indptr[r], indptr[r+1])``."""

    users: pd.Index        # user ids (str), row r
    indptr: np.ndarray     # int64, len(users) + 1
    events: History        # all events, grouped by user, in time order within a user

    @classmethod
    def from_events(cls, events: pd.DataFrame, item_index: pd.Index) -> EventLog:
        """Group ``events`` by user (users in sorted id order, each user's events by time; ties
        keep the frame's order). Id columns may be strings or categoricals (the lean frame of a
        large log): the users are sorted once as codes and each column is taken in that order
        on its own, so no copy of the whole frame is made."""
        codes, users = sorted_codes(events["user_id"])
        days = to_days(events["timestamp"])
        order = np.lexsort((days, codes))
        indptr = np.concatenate([[0], np.cumsum(np.bincount(codes, minlength=len(users)))]).astype(np.int64)
        n = len(events)
        keys = (events["event_key"].to_numpy(dtype=np.uint64) if "event_key" in events.columns
                else np.arange(n, dtype=np.uint64))
        values = (pd.to_numeric(events["value"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
                  if "value" in events.columns else np.full(n, np.nan))
        history = History(positions_in(item_index, events["item_id"])[order],
                          behaviour_codes(events["behaviour"])[order], days[order], keys[order], values[order])
        return cls(users, indptr, history)

    @property
    def n_users(self) -> int:
        return len(self.users)

    def user_rows(self) -> np.ndarray:
        """The user row of every event (aligned with ``events``)."""
        return np.repeat(np.arange(self.n_users), np.diff(self.indptr))

    def history(self, row: int) -> History:
        return self.events.take(slice(self.indptr[row], self.indptr[row + 1]))

    def last_day(self, row: int) -> float:
        return float(self.events.days[self.indptr[row]:self.indptr[row + 1]].max())
