"""EASE baseline (Steck, 2019): a closed-form item-item linear autoencoder."""

from __future__ import annotations

import logging
from typing import ClassVar

import numpy as np

from .base import Ranker
from .history import History
from .popular import popularity_scores
from .similarity import ease_weights, interaction_matrix

log = logging.getLogger(__name__)


class EASE(Ranker):
    """``B = argmin ||X - XB||^2 + l2 ||B||^2, diag(B) = 0``; ``score = x_u B``.

    The dense ``B`` is limited to the ``max_items`` most interacted items (others score only a
    popularity tie-breaker) so that it fits in memory on large catalogs.
    """

    name: ClassVar[str] = "ease"

    def __init__(self, l2: float = 500.0, max_items: int = 10_000, min_users: int = 2,
                 target: str | None = None) -> None:
        self.l2 = l2
        self.max_items = max_items
        self.min_users = min_users
        self.target = target

    def _fit(self) -> None:
        n_items = len(self.catalog_)
        matrix = interaction_matrix(self.log_, n_items)
        counts = np.asarray(matrix.sum(axis=0)).ravel()
        order = np.argsort(-counts, kind="stable")
        eligible = int((counts >= max(self.min_users, 1)).sum())
        self.modelled_ = np.sort(order[:min(self.max_items, eligible)])
        sub = matrix[:, self.modelled_].astype(np.float32)
        gram = (sub.T @ sub).toarray()
        gram[np.diag_indices_from(gram)] += self.l2
        self.weights_ = ease_weights(gram)
        self.matrix_ = matrix
        pop = popularity_scores(self)
        self.tiebreak_ = 1e-6 * pop / max(float(pop.max()), 1e-12)

    def _expand(self, sub_scores: np.ndarray) -> np.ndarray:
        scores = np.tile(self.tiebreak_, (sub_scores.shape[0], 1))
        scores[:, self.modelled_] += sub_scores
        return scores

    def _score(self, history: History, now: float) -> np.ndarray:
        x = np.isin(self.modelled_, history.items).astype(np.float32)
        return self._expand((x @ self.weights_)[None, :].astype(np.float64))[0]

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        sub = self.matrix_[rows][:, self.modelled_]
        return self._expand(np.asarray(sub @ self.weights_, dtype=np.float64))
