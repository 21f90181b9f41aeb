"""The one ranking rule: higher score first; equal scores by lower catalog position.

Every list whyrec shows, every counterfactual re-rank and every "rank of this item" count uses
these two functions, so a tie can never be broken one way in a list and another way in its
explanation.

>>> import numpy as np
>>> top_k(np.array([0.5, 0.9, 0.5, 0.1]), 3)
array([1, 0, 2])
>>> rank_of(np.array([0.5, 0.9, 0.5, 0.1]), 2)
2
"""

from __future__ import annotations

import numpy as np


def top_k(scores: np.ndarray, k: int, allowed: np.ndarray | None = None) -> np.ndarray:
    """Positions of the ``k`` best allowed items with a finite score, best first.

    ``allowed`` is a boolean mask (``None``: every item). Items scored ``-inf`` never appear.
    """
    if k <= 0 or scores.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64)
    if allowed is not None:
        scores = np.where(allowed, scores, -np.inf)
    k = min(k, scores.shape[0])
    # Every item scoring at least the k-th best, ordered by (score desc, position asc).
    kth = np.partition(-scores, k - 1)[k - 1]
    tied = np.flatnonzero(-scores <= kth)
    top = tied[np.lexsort((tied, -scores[tied]))][:k]
    return top[np.isfinite(scores[top])].astype(np.int64)


def rank_of(scores: np.ndarray, target: int, eligible: np.ndarray | None = None,
            margin: float = 0.0) -> int:
    """How many eligible items rank above ``target`` — its 0-based rank among them.

    With ``margin > 0`` only items ahead by more than ``margin`` count (robust to rounding);
    with ``margin < 0`` items within ``-margin`` of the target count as ahead.
    """
    mine = scores[target]
    if margin:
        better = scores > mine + margin
    else:
        positions = np.arange(scores.shape[0])
        better = (scores > mine) | ((scores == mine) & (positions < target))
    if eligible is not None:
        better &= eligible
    better[target] = False
    return int(better.sum())
