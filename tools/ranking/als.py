"""ALS baseline: implicit-feedback matrix factorisation (Hu, Koren & Volinsky) via ``implicit``.

Item factors come from ``implicit``; a history's user factor is solved exactly from its items at
scoring time, so known users, new users and counterfactual histories are scored the same way.
"""

from __future__ import annotations

import warnings
from typing import ClassVar

import numpy as np
from threadpoolctl import threadpool_limits

from .base import Ranker
from .history import History
from .popular import popularity_scores
from .similarity import interaction_matrix


class ALS(Ranker):
    """Weighted matrix factorisation on the binary user-item matrix (confidence ``1 + alpha``)."""

    name: ClassVar[str] = "als"

    def __init__(self, factors: int = 64, regularization: float = 0.05, alpha: float = 10.0,
                 iterations: int = 15, random_state: int = 0, target: str | None = None) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.random_state = random_state
        self.target = target

    def _fit(self) -> None:
        from implicit.cpu.als import AlternatingLeastSquares

        n_items = len(self.catalog_)
        self.matrix_ = interaction_matrix(self.log_, n_items).astype(np.float32)
        with threadpool_limits(1, "blas"), warnings.catch_warnings():
            # implicit warns about OpenBLAS threads even though the fit runs under our limit.
            warnings.filterwarnings("ignore", message=".*OpenBLAS.*", category=RuntimeWarning)
            model = AlternatingLeastSquares(factors=self.factors, regularization=self.regularization,
                                            alpha=self.alpha, iterations=self.iterations,
                                            random_state=self.random_state, num_threads=1)
            model.fit(self.matrix_, show_progress=False)
        self.item_factors_ = np.asarray(model.item_factors, dtype=np.float64)
        self.gram_ = self.item_factors_.T @ self.item_factors_
        pop = popularity_scores(self)
        self.tiebreak_ = 1e-6 * pop / max(float(pop.max()), 1e-12)

    def user_factor(self, items: np.ndarray) -> np.ndarray:
        """The least-squares user factor for a set of positive items (implicit's objective)."""
        items = np.unique(items)
        if len(items) == 0:
            return np.zeros(self.factors)
        y = self.item_factors_[items]
        confidence = self.alpha  # value 1 scaled by alpha, as implicit does
        a = self.gram_ + (confidence - 1.0) * (y.T @ y) + self.regularization * np.eye(self.factors)
        b = confidence * y.sum(axis=0)
        return np.linalg.solve(a, b)

    def _score(self, history: History, now: float) -> np.ndarray:
        return self.item_factors_ @ self.user_factor(history.items) + self.tiebreak_

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        factors = np.stack([self.user_factor(self.matrix_[row].indices) for row in rows])
        return factors @ self.item_factors_.T + self.tiebreak_[None, :]
