"""EASE baseline (Steck, 2019): a closed-form item-item linear autoencoder on the weighted matrix.

The training matrix ``X`` and a user's profile ``x_u`` come from :mod:`.interactions` (behaviour
weights, aggregation, optional profile recency); ``score = x_u B``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from .base import Ranker
from .history import History
from .interactions import Interactions
from .popular import tiebreak_scores
from .similarity import ease_weights

log = logging.getLogger(__name__)


class EASE(Ranker):
    """``B = argmin ||X - XB||^2 + l2 ||B||^2, diag(B) = 0``; ``score = x_u B``.

    The dense ``B`` is limited to the ``max_items`` items with the most users, and to items with
    at least ``min_users`` users (others score only a popularity tie-breaker), so that it fits in
    memory on large catalogs.

    >>> EASE(l2=300.0, behaviour_weights={"click": 0.3}, aggregation="log")  # doctest: +SKIP
    """

    name: ClassVar[str] = "ease"
    scoring_params: ClassVar[tuple[str, ...]] = ("half_life_days",)

    def __init__(self, l2: float = 500.0, max_items: int = 10_000, min_users: int = 2,
                 behaviour_weights: Mapping[str, float] | None = None, aggregation: str = "max",
                 half_life_days: float | None = None, target: str | None = None) -> None:
        self.l2 = l2
        self.max_items = max_items
        self.min_users = min_users
        self.behaviour_weights = behaviour_weights
        self.aggregation = aggregation
        self.half_life_days = half_life_days
        self.target = target

    def _fit(self) -> None:
        n_items = len(self.catalog_)
        self._refresh()
        matrix = self.interactions_.matrix(self.log_, n_items)
        users = np.bincount(matrix.indices, minlength=n_items)
        order = np.argsort(-users, kind="stable")
        eligible = int((users >= max(self.min_users, 1)).sum())
        self.modelled_ = np.sort(order[:min(self.max_items, eligible)])
        sub = matrix[:, self.modelled_].astype(np.float32)
        gram = (sub.T @ sub).toarray()
        gram[np.diag_indices_from(gram)] += self.l2
        self.weights_ = ease_weights(gram)
        self.matrix_ = matrix
        self.tiebreak_ = tiebreak_scores(self)

    def _refresh(self) -> None:
        self.interactions_ = Interactions(self.behaviour_weights, self.aggregation,
                                          self.half_life_days)

    def _scores_from(self, profiles: sp.csr_matrix) -> np.ndarray:
        scores = np.tile(self.tiebreak_, (profiles.shape[0], 1))
        sub = profiles[:, self.modelled_].astype(np.float32)
        scores[:, self.modelled_] += np.asarray(sub @ self.weights_, dtype=np.float64)
        return scores

    def _score(self, history: History, now: float) -> np.ndarray:
        return self._scores_from(self.interactions_.profile(history, now, len(self.catalog_)))[0]

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        profiles = (self.matrix_[rows] if self.half_life_days is None
                    else self.interactions_.profiles(self.log_, rows, len(self.catalog_)))
        return self._scores_from(profiles)
