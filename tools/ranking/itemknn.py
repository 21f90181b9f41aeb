"""Item-kNN baseline: cosine similarity between items' user sets, summed over the user's items."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .base import Ranker
from .history import History
from .popular import popularity_scores
from .similarity import cooccurrence_similarity, interaction_matrix


class ItemKNN(Ranker):
    """``score(j) = sum over the user's distinct items i of cos(i, j)`` (top ``neighbours`` per i)."""

    name: ClassVar[str] = "itemknn"

    def __init__(self, neighbours: int = 100, shrink: float = 10.0, alpha: float = 0.5,
                 target: str | None = None) -> None:
        self.neighbours = neighbours
        self.shrink = shrink
        self.alpha = alpha
        self.target = target

    def _fit(self) -> None:
        n_items = len(self.catalog_)
        self.matrix_ = interaction_matrix(self.log_, n_items)
        self.similarity_ = cooccurrence_similarity(self.matrix_, self.neighbours, self.alpha,
                                                   self.shrink)
        pop = popularity_scores(self)
        self.tiebreak_ = 1e-6 * pop / max(float(pop.max()), 1e-12)

    def _score(self, history: History, now: float) -> np.ndarray:
        items = np.unique(history.items)
        scores = self.tiebreak_.copy()
        if len(items):
            scores += np.asarray(self.similarity_[items].sum(axis=0)).ravel()
        return scores

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        return (self.matrix_[rows] @ self.similarity_).toarray() + self.tiebreak_[None, :]
