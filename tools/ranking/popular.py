"""Most-popular baseline: the same ranking for everyone (distinct users who did the target)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .base import Ranker
from .history import BEHAVIOUR_CODE, History
from .similarity import item_user_counts


def popularity_scores(ranker: Ranker, window_days: float | None = None,
                      behaviour: str = "target") -> np.ndarray:
    """Distinct users per item over the last ``window_days`` of the log (target behaviour or any),
    plus a 1e-3 share of all-behaviour users as tie-breaker."""
    log = ranker.log_
    if window_days is not None and len(log.events):
        cutoff = float(log.events.days.max()) - window_days
        keep = np.flatnonzero(log.events.days >= cutoff)
        from .history import EventLog
        rows = log.user_rows()[keep]
        order = np.argsort(rows, kind="stable")
        counts = np.bincount(rows, minlength=log.n_users)
        log = EventLog(log.users, np.concatenate([[0], np.cumsum(counts)]),
                       log.events.take(keep[order]))
    n_items = len(ranker.catalog_)
    anyone = item_user_counts(log, n_items)
    code = BEHAVIOUR_CODE[ranker.target_] if behaviour == "target" else None
    main = item_user_counts(log, n_items, code) if code is not None else anyone
    return main + 1e-3 * anyone


class MostPopular(Ranker):
    """Items by how many distinct users did the target behaviour on them (optionally recently)."""

    name: ClassVar[str] = "popular"

    def __init__(self, window_days: float | None = None, behaviour: str = "target",
                 target: str | None = None) -> None:
        self.window_days = window_days
        self.behaviour = behaviour
        self.target = target

    def _fit(self) -> None:
        self.popularity_ = popularity_scores(self, self.window_days, self.behaviour)

    def _score(self, history: History, now: float) -> np.ndarray:
        return self.popularity_.copy()

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        return np.tile(self.popularity_, (len(rows), 1))
