"""The one ranking rule: higher score first; equal scores by lower catalog position.

Every list whyrec shows, every counterfactual re-rank and every "rank of this item" count uses
these functions, so a tie can never be broken one way in a list and another way in its
explanation. :func:`top_k_sparse_rows` gives :func:`top_k_rows` of ``user part + static part``
without building the dense block (batch scoring over a large catalog).

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
import scipy.sparse as sp


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


def static_order(static: np.ndarray, allowed: np.ndarray | None = None) -> np.ndarray:
    """Positions of the allowed items ordered by the ranking rule on ``static`` alone."""
    positions = np.arange(len(static)) if allowed is None else np.flatnonzero(allowed)
    return positions[np.lexsort((positions, -np.asarray(static, dtype=np.float64)[positions]))]


def top_k_sparse_rows(user_part: sp.csr_matrix, static: np.ndarray, k: int,
                      blocked_rows: np.ndarray, blocked_items: np.ndarray,
                      allowed: np.ndarray | None = None,
                      order: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exactly ``top_k_rows(user_part.toarray() + static, k)`` with the ``(blocked_rows,
    blocked_items)`` pairs and the items outside ``allowed`` scored ``-inf`` — and the scores —
    from the rows' stored entries and the static order alone.

    An item a row stores nothing for scores its static value, so the row's best such items are
    the first ones of :func:`static_order` that the row neither stores nor blocks; the top k is
    taken from those and the stored entries, by the same rule. The cost follows the stored
    entries, not rows × items. ``order``: :func:`static_order` of ``static`` and ``allowed``
    (computed when not given). Returns (positions, scores), padded with -1 and ``-inf``.
    """
    n_rows, n_items = user_part.shape
    positions = np.full((n_rows, max(k, 0)), -1, dtype=np.int64)
    values = np.full((n_rows, max(k, 0)), -np.inf)
    if k <= 0 or n_rows == 0 or n_items == 0:
        return positions, values
    static = np.asarray(static, dtype=np.float64)
    order = static_order(static, allowed) if order is None else order
    blocked = sp.csr_matrix((np.full(len(blocked_rows), -np.inf), (np.asarray(blocked_rows, dtype=np.int64),
                                                                    np.asarray(blocked_items, dtype=np.int64))),
                            shape=(n_rows, n_items))
    # A blocked cell becomes a stored -inf (x + -inf = -inf), so one structure says what each row
    # stores or blocks; duplicate entries of a cell add up, as in toarray().
    csr = sp.csr_matrix(sp.csr_matrix(user_part, dtype=np.float64) + blocked)
    csr.sum_duplicates()
    cand_row = np.repeat(np.arange(n_rows, dtype=np.int64), np.diff(csr.indptr))
    cand_item = csr.indices.astype(np.int64)
    # The static stream of each row: the first k items of ``order`` the row neither stores nor blocks.
    rank = np.full(n_items, len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    width = int(min(len(order), k + (int(np.diff(csr.indptr).max()) if csr.nnz else 0)))
    taken = np.zeros((n_rows, width), dtype=bool)
    cand_rank = rank[cand_item]
    inside = cand_rank < width
    taken[cand_row[inside], cand_rank[inside]] = True
    free = ~taken
    first = free & (np.cumsum(free, axis=1) <= k)                    # the first k free slots, in order
    static_row, slot = np.nonzero(first)
    static_item = order[slot].astype(np.int64)
    # Stored entries that are blocked, not allowed or not finite never rank; nor does one below
    # the row's k-th static value.
    cand_score = csr.data + static[cand_item]
    keep = np.isfinite(cand_score)
    if allowed is not None:
        keep &= allowed[cand_item]
    counts = first.sum(axis=1)
    floor = np.full(n_rows, -np.inf)
    full = np.flatnonzero(counts >= k)
    if len(full):
        last = np.cumsum(counts) - 1                                 # each row's k-th static item
        floor[full] = static[static_item[last[full]]]
    keep &= cand_score >= floor[cand_row]
    row = np.concatenate([cand_row[keep], static_row])
    item = np.concatenate([cand_item[keep], static_item])
    score = np.concatenate([cand_score[keep], static[static_item]])
    ranked = np.lexsort((item, -score, row))
    row, item, score = row[ranked], item[ranked], score[ranked]
    place = np.arange(len(row)) - np.searchsorted(row, row, side="left")
    top = place < k
    positions[row[top], place[top]] = item[top]
    values[row[top], place[top]] = score[top]
    return positions, values
