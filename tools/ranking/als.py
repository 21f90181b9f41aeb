"""ALS baseline: implicit-feedback matrix factorisation (Hu, Koren & Volinsky) via ``implicit``.

The matrix entries ``r`` come from :mod:`.interactions` (behaviour weights, aggregation); the
confidence of an observed entry is ``alpha * r`` (``implicit``'s convention). Item factors come
from ``implicit``; a history's user factor is solved exactly from its profile at scoring time, so
known users, new users and counterfactual histories are scored the same way.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from .base import Ranker
from .history import History
from .interactions import Interactions
from .popular import tiebreak_scores


class ALS(Ranker):
    """Weighted matrix factorisation of the interaction matrix (confidence ``alpha * r``).

    >>> ALS(factors=128, alpha=5.0, behaviour_weights={"click": 0.3}, aggregation="log")  # doctest: +SKIP
    """

    name: ClassVar[str] = "als"
    scoring_params: ClassVar[tuple[str, ...]] = ("half_life_days",)

    def __init__(self, factors: int = 64, regularization: float = 0.05, alpha: float = 10.0,
                 iterations: int = 15, behaviour_weights: Mapping[str, float] | None = None,
                 aggregation: str = "max", half_life_days: float | None = None,
                 random_state: int = 0, target: str | None = None) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.behaviour_weights = behaviour_weights
        self.aggregation = aggregation
        self.half_life_days = half_life_days
        self.random_state = random_state
        self.target = target

    def _fit(self) -> None:
        from implicit.cpu.als import AlternatingLeastSquares

        self._refresh()
        self.matrix_ = self.interactions_.matrix(self.log_, len(self.catalog_))
        with threadpool_limits(1, "blas"), warnings.catch_warnings():
            # implicit warns about OpenBLAS threads even though the fit runs under our limit.
            warnings.filterwarnings("ignore", message=".*OpenBLAS.*", category=RuntimeWarning)
            model = AlternatingLeastSquares(factors=self.factors, regularization=self.regularization,
                                            alpha=self.alpha, iterations=self.iterations,
                                            random_state=self.random_state, num_threads=1)
            model.fit(self.matrix_.astype(np.float32), show_progress=False)
        self.item_factors_ = np.asarray(model.item_factors, dtype=np.float64)
        self.gram_ = self.item_factors_.T @ self.item_factors_
        self.tiebreak_ = tiebreak_scores(self)

    def _refresh(self) -> None:
        self.interactions_ = Interactions(self.behaviour_weights, self.aggregation,
                                          self.half_life_days)

    def user_factor(self, items: np.ndarray, values: np.ndarray | None = None) -> np.ndarray:
        """The least-squares user factor for observed ``items`` with matrix values ``values``
        (default 1), under implicit's objective: confidence ``alpha * value``, preference 1."""
        items = np.asarray(items, dtype=np.int64)
        size = self.item_factors_.shape[1]
        if len(items) == 0:
            return np.zeros(size)
        confidence = self.alpha * (np.ones(len(items)) if values is None
                                   else np.asarray(values, dtype=np.float64))
        y = self.item_factors_[items]
        a = self.gram_ + (y.T * (confidence - 1.0)) @ y + self.regularization * np.eye(size)
        b = confidence @ y
        return np.linalg.solve(a, b)

    def _factors(self, profiles: sp.csr_matrix) -> np.ndarray:
        return np.stack([
            self.user_factor(profiles.indices[profiles.indptr[n]:profiles.indptr[n + 1]],
                             profiles.data[profiles.indptr[n]:profiles.indptr[n + 1]])
            for n in range(profiles.shape[0])]) if profiles.shape[0] else np.zeros((0, 0))

    def _score(self, history: History, now: float) -> np.ndarray:
        profile = self.interactions_.profile(history, now, len(self.catalog_))
        return self.item_factors_ @ self._factors(profile)[0] + self.tiebreak_

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        profiles = (self.matrix_[rows] if self.half_life_days is None
                    else self.interactions_.profiles(self.log_, rows, len(self.catalog_)))
        return self._factors(profiles) @ self.item_factors_.T + self.tiebreak_[None, :]
