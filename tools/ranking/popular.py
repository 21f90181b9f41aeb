"""Most-popular baseline: the same ranking for everyone, from the weighted interaction matrix.

``score(j) = sum over users u of agg_u(j)`` where ``agg_u(j)`` combines u's events on ``j``
(behaviour weights, then max / sum / log(1+sum), see :mod:`.interactions`), optionally counting
only the last ``window_days`` of the log. The default weights are 1 for the target behaviour and
0 for the others: with ``max`` that is "distinct users who bought it".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np

from .base import Ranker
from .history import BEHAVIOUR_CODE, EventLog, History
from .interactions import Interactions, unit_weight_vector
from .similarity import item_user_counts


def recent_log(log: EventLog, window_days: float | None) -> EventLog:
    """The log restricted to its last ``window_days`` (users keep their rows, maybe empty)."""
    if window_days is None or not len(log.events):
        return log
    cutoff = float(log.events.days.max()) - window_days
    keep = np.flatnonzero(log.events.days >= cutoff)
    rows = log.user_rows()[keep]
    order = np.argsort(rows, kind="stable")
    counts = np.bincount(rows, minlength=log.n_users)
    return EventLog(log.users, np.concatenate([[0], np.cumsum(counts)]),
                    log.events.take(keep[order]))


def tiebreak_scores(ranker: Ranker) -> np.ndarray:
    """A tiny popularity term (distinct target users, then any users) that orders ties alike
    in every baseline: at most ``1e-6``."""
    n_items = len(ranker.catalog_)
    anyone = item_user_counts(ranker.log_, n_items)
    main = item_user_counts(ranker.log_, n_items, BEHAVIOUR_CODE[ranker.target_])
    pop = main + 1e-3 * anyone
    return 1e-6 * pop / max(float(pop.max()), 1e-12)


class MostPopular(Ranker):
    """Items by their summed interaction weight over all users (optionally recently).

    >>> MostPopular(behaviour_weights={"cart": 0.5}, aggregation="max", window_days=30)  # doctest: +SKIP
    """

    name: ClassVar[str] = "popular"

    def __init__(self, behaviour_weights: Mapping[str, float] | None = None,
                 aggregation: str = "max", window_days: float | None = None,
                 target: str | None = None) -> None:
        self.behaviour_weights = behaviour_weights
        self.aggregation = aggregation
        self.window_days = window_days
        self.target = target

    def _fit(self) -> None:
        defaults = np.zeros(len(BEHAVIOUR_CODE))
        defaults[BEHAVIOUR_CODE[self.target_]] = 1.0
        weights = unit_weight_vector(self.behaviour_weights, defaults)
        spec = Interactions({b: float(weights[c]) for b, c in BEHAVIOUR_CODE.items()},
                            self.aggregation)
        matrix = spec.matrix(recent_log(self.log_, self.window_days), len(self.catalog_))
        self.popularity_ = np.asarray(matrix.sum(axis=0)).ravel() + tiebreak_scores(self)

    def _score(self, history: History, now: float) -> np.ndarray:
        return self.popularity_.copy()

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        return np.tile(self.popularity_, (len(rows), 1))
