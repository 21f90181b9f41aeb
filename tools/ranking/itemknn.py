"""Item-kNN baseline: cosine similarity between items' (weighted) user vectors, summed over the
user's profile.

``score(j) = sum_i x_u(i) * S[i, j]`` with ``x_u`` the user's profile (behaviour weights,
aggregation and optional recency, see :mod:`.interactions`) and ``S`` the asymmetric cosine
``c_ij / (n_i^alpha * n_j^(1-alpha) + shrink)`` of the weighted training matrix, top
``neighbours`` per item.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..engine import Engine
from .base import Ranker
from .history import History
from .interactions import Interactions
from .popular import tiebreak_scores
from .similarity import cooccurrence_similarity


class ItemKNN(Ranker):
    """``score(j) = sum_i x_u(i) cos(i, j)`` (top ``neighbours`` per i).

    >>> ItemKNN(neighbours=200, behaviour_weights={"click": 0.2}, aggregation="log")  # doctest: +SKIP
    """

    name: ClassVar[str] = "itemknn"
    scoring_params: ClassVar[tuple[str, ...]] = ("half_life_days",)

    def __init__(self, neighbours: int = 100, shrink: float = 10.0, alpha: float = 0.5,
                 behaviour_weights: Mapping[str, float] | None = None, aggregation: str = "max",
                 half_life_days: float | None = None, target: str | None = None) -> None:
        self.neighbours = neighbours
        self.shrink = shrink
        self.alpha = alpha
        self.behaviour_weights = behaviour_weights
        self.aggregation = aggregation
        self.half_life_days = half_life_days
        self.target = target

    def _fit(self) -> None:
        self._fit_on(None, None)

    def _fit_on(self, engine: Engine | None, scratch: str | Path | None) -> None:
        n_items = len(self.catalog_)
        self._refresh()
        self.matrix_ = self.interactions_.matrix(self.log_, n_items)
        self.similarity_ = cooccurrence_similarity(self.matrix_, self.neighbours, self.alpha,
                                                   self.shrink, engine=engine, scratch=scratch)
        self.tiebreak_ = tiebreak_scores(self)

    def _refresh(self) -> None:
        self.interactions_ = Interactions(self.behaviour_weights, self.aggregation,
                                          self.half_life_days)

    def _score(self, history: History, now: float) -> np.ndarray:
        profile = self.interactions_.profile(history, now, len(self.catalog_))
        return (profile @ self.similarity_).toarray()[0] + self.tiebreak_

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        profiles = (self.matrix_[rows] if self.half_life_days is None
                    else self.interactions_.profiles(self.log_, rows, len(self.catalog_)))
        return (profiles @ self.similarity_).toarray() + self.tiebreak_[None, :]
