"""The one ranking rule: higher score first; equal scores by lower catalog position.

Every list whyrec shows, every counterfactual re-rank and every "rank of this item" count uses
these two functions, so a tie can never be broken one way in a list and another way in its
explanation.

>>> import numpy as np
>>> top_k(np.array([0.5, 0.9, 0.5, 0.1]), 3)
array([1, 0, 2])
>>> rank_of(np.array([0.5, 0.9, 0.5, 0.1]), 2)
2
>>> top_k_rows(np.array([[0.5, 0.9, 0.5, 0.1], [0.0, 0.0, 0.0, -np.inf]]), 3).tolist()
[[1, 0, 2], [0, 1, 2]]
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


def top_k_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """:func:`top_k` for every row of a (users x items) block at once, by the same rule.

    Returns positions of shape (rows, k), best first, padded with -1 where a row has fewer than
    ``k`` finite scores (items to leave out are scored ``-inf`` by the caller). Rows whose k-th
    score is tied with items outside the partition's pick (or that run out of finite scores)
    are ranked one by one with :func:`top_k`, so ties always go to the lower position.
    """
    n_rows, n_items = scores.shape
    out = np.full((n_rows, max(k, 0)), -1, dtype=np.int64)
    if k <= 0 or n_items == 0 or n_rows == 0:
        return out
    scores = np.asarray(scores, dtype=np.float64)
    k_eff = min(k, n_items)
    picked = np.argpartition(-scores, k_eff - 1, axis=1)[:, :k_eff]
    values = np.take_along_axis(scores, picked, axis=1)
    kth = values.min(axis=1)
    exact = np.isfinite(kth) & ((scores == kth[:, None]).sum(axis=1) == (values == kth[:, None]).sum(axis=1))
    order = np.lexsort((picked, -values), axis=1)
    out[:, :k_eff] = np.take_along_axis(picked, order, axis=1)
    for row in np.flatnonzero(~exact):
        top = top_k(scores[row], k)
        out[row] = -1
        out[row, :len(top)] = top
    return out
