"""What each effect means: decision points, the window D and the horizon H, chosen from the log.

The estimand (``docs/causal.md``) is a sequential target trial on *decision points*. A
decision point is the moment right after any event of a shopper on an item (the first look,
a repeat look, a favourite, a cart), while the item is not bought yet, the behaviour in
question not done yet, and the first look is at most ``D`` ago. The effect of a behaviour is
the average, over decision points, of

    P(buy within H | the shopper's next action on the item is the behaviour)
  − P(buy within H | the next action is anything else, or nothing),

adjusting only for what is known at the decision point. Only decision points with a full
``H`` of log after them count.

``D`` and ``H`` default to 7 days. A log shorter than four weeks gets both cut to fit: 1.5 ×
the 95th percentile of first-look → purchase delays, at most a quarter of the log's span, so
most decision points keep a full follow-up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

LOOKS: tuple[str, ...] = ("view", "click")
OUTCOME = "purchase"
#: The behaviours whose effect on purchase the tool estimates (``view`` = looking again).
BEHAVIOURS: tuple[str, ...] = ("view", "favourite", "cart")
DEFAULT_DAYS = 7.0
#: A log at least this many times the default window keeps the default D and H.
LONG_LOG_FACTOR = 4.0


@dataclass(frozen=True)
class Windows:
    """The treatment window ``D`` and the outcome horizon ``H``, and the log they were cut for."""

    window: pd.Timedelta
    horizon: pd.Timedelta
    log_start: pd.Timestamp | None
    log_end: pd.Timestamp | None
    adapted: bool  # True when the log was too short for the defaults

    @property
    def span(self) -> pd.Timedelta:
        if self.log_start is None or self.log_end is None:
            return pd.Timedelta(0)
        return self.log_end - self.log_start

    def to_json(self) -> dict[str, object]:
        return {"window": human_duration(self.window), "horizon": human_duration(self.horizon),
                "window_seconds": self.window.total_seconds(), "horizon_seconds": self.horizon.total_seconds(),
                "log_span": human_duration(self.span), "adapted_to_short_log": self.adapted}


def choose_windows(events: pd.DataFrame, window_days: float | None = None,
                   horizon_days: float | None = None) -> Windows:
    """``D`` and ``H`` for this log: the given days, else 7 days, else cut to fit a short log.

    >>> w = choose_windows(events)       # doctest: +SKIP
    >>> w.horizon, w.window              # doctest: +SKIP
    """
    if events.empty:
        default = pd.Timedelta(days=DEFAULT_DAYS)
        return Windows(default, default, None, None, False)
    start, end = events["timestamp"].min(), events["timestamp"].max()
    span = end - start
    adapted = False
    if horizon_days is not None:
        horizon = pd.Timedelta(days=horizon_days)
    elif span >= pd.Timedelta(days=LONG_LOG_FACTOR * DEFAULT_DAYS):
        horizon = pd.Timedelta(days=DEFAULT_DAYS)
    else:
        horizon, adapted = _short_log_horizon(events, span), True
    window = pd.Timedelta(days=window_days) if window_days is not None else horizon
    return Windows(window, horizon, start, end, adapted)


def _short_log_horizon(events: pd.DataFrame, span: pd.Timedelta) -> pd.Timedelta:
    quarter = max(span / 4, pd.Timedelta(minutes=1))
    looks = events[events["behaviour"].isin(LOOKS)].groupby(["user_id", "item_id"], observed=True)["timestamp"].min()
    buys = events[events["behaviour"] == OUTCOME].groupby(["user_id", "item_id"], observed=True)["timestamp"].min()
    delays = (buys - looks.reindex(buys.index)).dropna()
    delays = delays[delays >= pd.Timedelta(0)]
    if delays.empty:
        return quarter.round("s")
    typical = delays.quantile(0.95) * 1.5
    return min(quarter, max(typical, pd.Timedelta(minutes=1))).round("s")


def human_duration(delta: pd.Timedelta) -> str:
    """'7 days', '36 hours', '40 minutes' — the unit a person would use."""
    seconds = delta.total_seconds()
    if seconds >= 2 * 86_400:
        return f"{_g(seconds / 86_400)} days"
    if seconds >= 2 * 3_600:
        return f"{_g(seconds / 3_600)} hours"
    if seconds >= 120:
        return f"{_g(seconds / 60)} minutes"
    return f"{_g(seconds)} seconds"


def duration_parts(delta: pd.Timedelta) -> tuple[float, str]:
    """(amount, unit key) for the message catalogue: (7, 'days'), (40, 'minutes')."""
    seconds = delta.total_seconds()
    for size, unit in ((86_400, "days"), (3_600, "hours"), (60, "minutes")):
        if seconds >= 2 * size:
            return float(np.round(seconds / size, 1)), unit
    return float(np.round(seconds, 1)), "seconds"


def _g(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")
