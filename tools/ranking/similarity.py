"""Item-item similarity learned from co-occurrence, and item-level statistics from the log."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.linalg.lapack
import scipy.sparse as sp

from ..engine import Engine, read_inputs, scratch_folder, write_inputs
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
                            shrink: float = 0.0, chunk_cells: int = 20_000_000, *,
                            engine: Engine | None = None, scratch: str | Path | None = None) -> sp.csr_matrix:
    """Asymmetric cosine ``c_ij / (n_i^alpha * n_j^(1-alpha) + shrink)``, top ``neighbours`` per row.

    Row ``i`` is the item a user interacted with, column ``j`` the candidate; the diagonal is 0.
    ``alpha = 0.5`` is plain cosine; larger ``alpha`` favours popular candidates less... and
    smaller favours them more. Ties at the ``neighbours``-th value keep the lower column.

    Sparse throughout: co-occurrence counts are computed as a sparse product in row blocks sized
    so that each block's product holds about ``chunk_cells`` entries at most, and only the
    non-zero pairs are scaled and ranked — time and memory follow the co-occurring pairs, not
    items squared (1M items fit).

    ``engine``: ranges of rows are computed on its workers, which read the two matrices from a
    file the driver writes under ``scratch`` (default: the system's temporary folder; for a
    remote cluster, a folder its workers see) and write their rows beside it. Each row depends
    only on its own product, so the result is the same matrix, bit for bit, however the rows are
    cut (tested).
    """
    matrix = sp.csc_matrix(matrix, dtype=np.float32)
    n_items = matrix.shape[1]
    if n_items == 0 or neighbours <= 0:
        return sp.csr_matrix((n_items, n_items))
    rows = _CooccurrenceRows.of(matrix, neighbours, alpha, shrink, chunk_cells)
    if engine is None or engine.name == "local":
        parts = [rows.top_n(0, n_items)]
    else:
        parts = _top_n_on(engine, rows, scratch)
    # Parts come in row order and each row's columns ascending: the kept entries are already the
    # CSR arrays (int32 columns; at 1M items x 100 neighbours that is 1.2 GB, not 2.4 GB of triples).
    indptr = np.concatenate([[0], np.cumsum(np.concatenate([p[0] for p in parts]))]).astype(np.int64)
    return sp.csr_matrix((np.concatenate([p[2] for p in parts]), np.concatenate([p[1] for p in parts]), indptr),
                         shape=(n_items, n_items))


#: A range of similarity rows: kept entries per row, their columns (ascending within a row), values.
RowsPart = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True)
class _CooccurrenceRows:
    """What any range of rows of :func:`cooccurrence_similarity` is computed from."""

    gram_t: sp.csr_matrix   # items x users
    by_user: sp.csr_matrix  # users x items
    left: np.ndarray
    right: np.ndarray
    work: np.ndarray        # cumulative upper bound of product entries before each row
    neighbours: int
    shrink: float
    chunk_cells: int

    @classmethod
    def of(cls, matrix: sp.csc_matrix, neighbours: int, alpha: float, shrink: float,
           chunk_cells: int) -> _CooccurrenceRows:
        counts = np.asarray(matrix.multiply(matrix).sum(axis=0)).ravel().astype(np.float64)
        gram_t = matrix.T.tocsr()
        by_user = matrix.tocsr()
        # An upper bound of each row's product entries: the summed history lengths of its users.
        user_lengths = np.diff(by_user.indptr).astype(np.float64)
        work = np.asarray(gram_t.astype(bool).astype(np.float64) @ user_lengths).ravel()
        return cls(gram_t, by_user, np.power(np.maximum(counts, 1e-12), alpha),
                   np.power(np.maximum(counts, 1e-12), 1.0 - alpha), np.concatenate([[0.0], np.cumsum(work)]),
                   neighbours, shrink, chunk_cells)

    def ranges(self, parts: int) -> list[tuple[int, int]]:
        """Rows cut into at most ``parts`` ranges of about equal work."""
        n_items = len(self.work) - 1
        targets = np.linspace(0.0, self.work[-1], parts + 1)[1:-1]
        cuts = np.unique(np.concatenate([[0], np.searchsorted(self.work, targets, side="left"), [n_items]]))
        return [(int(a), int(b)) for a, b in zip(cuts[:-1], cuts[1:], strict=True) if b > a]

    def top_n(self, first: int, last: int) -> RowsPart:
        """Rows ``first:last``, in blocks whose products hold about ``chunk_cells`` entries."""
        kept_counts, kept_cols, kept_vals = [], [], []
        start = first
        while start < last:
            stop = int(np.searchsorted(self.work, self.work[start] + self.chunk_cells, side="right")) - 1
            stop = min(max(stop, start + 1), last)
            counts, cols, vals = self._block(start, stop)
            kept_counts.append(counts)
            kept_cols.append(cols)
            kept_vals.append(vals)
            start = stop
        if not kept_counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32), np.zeros(0)
        return np.concatenate(kept_counts), np.concatenate(kept_cols), np.concatenate(kept_vals)

    def _block(self, start: int, stop: int) -> RowsPart:
        n_items = self.gram_t.shape[0]
        neighbours = self.neighbours
        product = self.gram_t[start:stop] @ self.by_user  # columns in no particular order within a row
        n_rows = stop - start
        local = np.repeat(np.arange(n_rows), np.diff(product.indptr))
        rows: np.ndarray = local + start
        cols: np.ndarray = product.indices.astype(np.int64)
        vals = product.data.astype(np.float64) / (self.left[rows] * self.right[cols] + self.shrink)
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
        return counts_kept, kept.indices.astype(np.int32, copy=False), kept.data


#: Ranges of rows per worker: enough to even out uneven ranges, few enough that each call's
#: reading of the inputs stays small against its work.
RANGES_PER_WORKER = 4


def _top_n_on(engine: Engine, rows: _CooccurrenceRows, scratch: str | Path | None) -> list[RowsPart]:
    with scratch_folder("whyrec-similarity-", scratch) as folder:
        inputs = folder / "inputs.pickle"
        write_inputs(inputs, rows)
        tasks = [(str(inputs), first, last, str(folder / f"rows-{number:05d}.npz"))
                 for number, (first, last) in enumerate(rows.ranges(engine.workers * RANGES_PER_WORKER))]
        parts = []
        for path in engine.map(_similarity_rows, tasks):
            with np.load(path) as part:
                parts.append((part["counts"], part["cols"], part["vals"]))
        return parts


def _similarity_rows(task: tuple[str, int, int, str]) -> str:
    """The engine's job function: rows ``first:last`` from the inputs at ``path``, saved to ``out``.
    Each call reads the inputs itself (not cached: a worker keeps nothing once the fit is done)."""
    path, first, last, out = task
    rows = read_inputs(path, "the similarity's inputs", "a remote cluster's workers must see the workspace's folder")
    counts, cols, vals = rows.top_n(first, last)
    np.savez(out, counts=counts, cols=cols, vals=vals)
    return out


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
