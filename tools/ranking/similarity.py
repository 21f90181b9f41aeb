"""Item-item similarity learned from co-occurrence, and item-level statistics from the log."""

from __future__ import annotations

import numpy as np
import scipy.linalg.lapack
import scipy.sparse as sp

from .history import EventLog


def interaction_matrix(log: EventLog, n_items: int, weights: np.ndarray | None = None,
                       binary: bool = True) -> sp.csr_matrix:
    """Users x items; 1 where the user has any event on the item (or the summed event weights)."""
    events = log.events
    known = events.items >= 0
    rows = log.user_rows()[known]
    data = (np.ones(int(known.sum())) if weights is None
            else weights[events.behaviours[known]].astype(np.float64))
    matrix = sp.csr_matrix((data, (rows, events.items[known])), shape=(log.n_users, n_items))
    matrix.sum_duplicates()
    if binary:
        matrix.data = np.ones_like(matrix.data)
    return matrix


def top_n_rows(block: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of the ``n`` largest positive entries of each row."""
    n = min(n, block.shape[1])
    cols = np.argpartition(-block, n - 1, axis=1)[:, :n]
    vals = np.take_along_axis(block, cols, axis=1)
    return cols, vals


def cooccurrence_similarity(matrix: sp.csr_matrix, neighbours: int = 100, alpha: float = 0.5,
                            shrink: float = 0.0, chunk_cells: int = 20_000_000) -> sp.csr_matrix:
    """Asymmetric cosine ``c_ij / (n_i^alpha * n_j^(1-alpha) + shrink)``, top ``neighbours`` per row.

    Row ``i`` is the item a user interacted with, column ``j`` the candidate; the diagonal is 0.
    ``alpha = 0.5`` is plain cosine; larger ``alpha`` favours popular candidates less... and
    smaller favours them more. Ties at the ``neighbours``-th value keep the lower column.

    Sparse throughout: co-occurrence counts are computed as a sparse product in row blocks sized
    so that each block's product holds about ``chunk_cells`` entries at most, and only the
    non-zero pairs are scaled and ranked — time and memory follow the co-occurring pairs, not
    items squared (1M items fit).
    """
    matrix = sp.csc_matrix(matrix, dtype=np.float32)
    n_items = matrix.shape[1]
    if n_items == 0 or neighbours <= 0:
        return sp.csr_matrix((n_items, n_items))
    counts = np.asarray(matrix.multiply(matrix).sum(axis=0)).ravel().astype(np.float64)
    left = np.power(np.maximum(counts, 1e-12), alpha)
    right = np.power(np.maximum(counts, 1e-12), 1.0 - alpha)
    gram_t = matrix.T.tocsr()
    by_user = matrix.tocsr()
    # An upper bound of each row's product entries: the summed history lengths of its users.
    user_lengths = np.diff(by_user.indptr).astype(np.float64)
    work = np.asarray(gram_t.astype(bool).astype(np.float64) @ user_lengths).ravel()
    rows_out, cols_out, vals_out = [], [], []
    start = 0
    cumulative = np.concatenate([[0.0], np.cumsum(work)])
    while start < n_items:
        stop = int(np.searchsorted(cumulative, cumulative[start] + chunk_cells, side="right")) - 1
        stop = min(max(stop, start + 1), n_items)
        product = gram_t[start:stop] @ by_user  # columns in no particular order within a row
        n_rows = stop - start
        local = np.repeat(np.arange(n_rows), np.diff(product.indptr))
        rows: np.ndarray = local + start
        cols: np.ndarray = product.indices.astype(np.int64)
        vals = product.data.astype(np.float64) / (left[rows] * right[cols] + shrink)
        vals[cols == rows] = 0.0
        valid = vals > 0
        # Rows with more than `neighbours` candidates keep those above their n-th value, then
        # the lowest columns among the ones tied with it.
        candidates = np.bincount(local[valid], minlength=n_rows)
        kth = np.full(n_rows, -np.inf)
        for row in np.flatnonzero(candidates > neighbours):
            segment = vals[product.indptr[row]:product.indptr[row + 1]]
            segment = segment[segment > 0]
            kth[row] = np.partition(segment, len(segment) - neighbours)[len(segment) - neighbours]
        keep = valid & (vals > kth[local])
        tied = np.flatnonzero(valid & (vals == kth[local]))
        if len(tied):
            tied = tied[np.lexsort((cols[tied], local[tied]))]   # by row, then column
            room = neighbours - np.bincount(local[keep], minlength=n_rows)
            tied_rows = local[tied]
            starts = np.searchsorted(tied_rows, tied_rows, side="left")
            keep[tied[(np.arange(len(tied)) - starts) < room[tied_rows]]] = True
        # Only the kept entries (at most `neighbours` a row) are put in column order, not the
        # whole product: sorting the product was a quarter of the fit at 10M events.
        counts_kept = np.bincount(local[keep], minlength=n_rows)
        kept = sp.csr_matrix((vals[keep], cols[keep].astype(np.int32),
                              np.concatenate([[0], np.cumsum(counts_kept)])), shape=(n_rows, n_items))
        kept.sort_indices()
        rows_out.append(counts_kept)
        cols_out.append(kept.indices.astype(np.int32, copy=False))
        vals_out.append(kept.data)
        start = stop
    # Blocks come in row order and each row's columns ascending: the kept entries are already the
    # CSR arrays (int32 columns; at 1M items x 100 neighbours that is 1.2 GB, not 2.4 GB of triples).
    indptr = np.concatenate([[0], np.cumsum(np.concatenate(rows_out))]).astype(np.int64)
    return sp.csr_matrix((np.concatenate(vals_out), np.concatenate(cols_out), indptr), shape=(n_items, n_items))


def dense_cooccurrence_similarity(matrix: sp.csr_matrix, neighbours: int = 100, alpha: float = 0.5,
                                  shrink: float = 0.0, chunk_cells: int = 20_000_000) -> sp.csr_matrix:
    """The former dense-block computation of :func:`cooccurrence_similarity` (items x items in
    row blocks), kept as the benchmark's baseline and the tests' reference."""
    matrix = sp.csc_matrix(matrix, dtype=np.float32)
    n_items = matrix.shape[1]
    counts = np.asarray(matrix.multiply(matrix).sum(axis=0)).ravel().astype(np.float64)
    left = np.power(np.maximum(counts, 1e-12), alpha)
    right = np.power(np.maximum(counts, 1e-12), 1.0 - alpha)
    gram_t = matrix.T.tocsr()
    step = max(16, chunk_cells // max(n_items, 1))
    rows_out, cols_out, vals_out = [], [], []
    for start in range(0, n_items, step):
        stop = min(start + step, n_items)
        block = (gram_t[start:stop] @ matrix).toarray().astype(np.float64)
        block[np.arange(stop - start), np.arange(start, stop)] = 0.0
        block /= left[start:stop, None] * right[None, :] + shrink
        cols, vals = top_n_rows(block, neighbours)
        keep = vals > 0
        rows_out.append(np.broadcast_to(np.arange(start, stop)[:, None], cols.shape)[keep])
        cols_out.append(cols[keep])
        vals_out.append(vals[keep])
    if not rows_out:
        return sp.csr_matrix((n_items, n_items))
    return sp.csr_matrix((np.concatenate(vals_out), (np.concatenate(rows_out),
                                                     np.concatenate(cols_out))),
                         shape=(n_items, n_items))


def item_user_counts(log: EventLog, n_items: int, behaviour_code: int | None = None) -> np.ndarray:
    """Distinct users per item (with ``behaviour_code``: users who did that behaviour)."""
    events = log.events
    mask = events.items >= 0
    if behaviour_code is not None:
        mask &= events.behaviours == behaviour_code
    # Users x items, stored by column, duplicates summed (a counting sort by column, then small per-column
    # sorts): a column's stored entries are its distinct users. 10M events: 0.2 s against 7.7 s
    # for one global ``np.unique`` of the (user, item) keys.
    pairs = sp.csc_matrix((np.ones(int(mask.sum()), dtype=np.int32), (log.user_rows()[mask], events.items[mask])),
                          shape=(log.n_users, n_items))
    pairs.sum_duplicates()
    return np.diff(pairs.indptr).astype(np.float64)


def conversion_rates(touched: np.ndarray, converted: np.ndarray, smoothing: float = 5.0) -> np.ndarray:
    """Smoothed share of the users who touched an item that did the target behaviour on it
    (``touched`` and ``converted`` from :func:`item_user_counts`)."""
    base = converted.sum() / max(touched.sum(), 1.0)
    return (converted + smoothing * base) / (touched + smoothing)


def ease_weights(gram: np.ndarray) -> np.ndarray:
    """``B = -P / diag(P)`` with ``P = gram^-1`` (gram is symmetric positive definite)."""
    if gram.shape[0] == 0:
        return np.zeros((0, 0), dtype=np.float32)
    factor, info = scipy.linalg.lapack.spotrf(gram, lower=False, overwrite_a=True)
    if info != 0:
        raise np.linalg.LinAlgError(f"EASE: Cholesky failed (info={info}); raise l2")
    upper, info = scipy.linalg.lapack.spotri(factor, lower=False, overwrite_c=True)
    precision = np.triu(upper) + np.triu(upper, 1).T
    weights = -precision / np.diag(precision)[None, :]
    np.fill_diagonal(weights, 0.0)
    return weights.astype(np.float32)


def ease_similarity(matrix: sp.csr_matrix, l2: float = 200.0, neighbours: int = 100,
                    min_users: int = 2, max_items: int = 10_000) -> sp.csr_matrix:
    """EASE's item-item weights (learned by closed-form regression on co-occurrence), keeping the
    ``neighbours`` largest positive weights per row; items with fewer than ``min_users`` users
    get no row, and only the ``max_items`` most used items are modelled (dense inverse)."""
    n_items = matrix.shape[1]
    counts = np.asarray((matrix > 0).sum(axis=0)).ravel()
    kept = np.flatnonzero(counts >= max(min_users, 1))
    if len(kept) > max_items:
        kept = np.sort(kept[np.argsort(-counts[kept], kind="stable")[:max_items]])
    sub = sp.csr_matrix(matrix[:, kept], dtype=np.float32)
    sub.data = np.ones_like(sub.data)
    gram = (sub.T @ sub).toarray()
    gram[np.diag_indices_from(gram)] += l2
    weights = ease_weights(gram)
    if weights.shape[0] == 0:
        return sp.csr_matrix((n_items, n_items))
    cols, vals = top_n_rows(weights, neighbours)
    keep = vals > 0
    rows = np.broadcast_to(np.arange(len(kept))[:, None], cols.shape)[keep]
    return sp.csr_matrix((vals[keep].astype(np.float64), (kept[rows], kept[cols[keep]])),
                         shape=(n_items, n_items))
