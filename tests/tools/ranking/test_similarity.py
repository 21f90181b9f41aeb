"""The sparse top-N co-occurrence similarity equals the former dense computation."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from whyrec.tools.ranking.similarity import cooccurrence_similarity, dense_cooccurrence_similarity


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("alpha", "shrink"), [(0.5, 0.0), (0.8, 5.0), (0.0, 1.0)])
def test_sparse_similarity_equals_the_dense_computation(seed: int, alpha: float, shrink: float) -> None:
    binary = sp.random(300, 200, density=0.05, random_state=seed, format="csr")
    binary.data[:] = 1.0
    weighted = sp.random(300, 200, density=0.05, random_state=seed + 10, format="csr")
    for matrix in (binary, weighted):
        # Every neighbour kept: the same matrix, entry by entry (small blocks: many chunks).
        full = cooccurrence_similarity(matrix, 200, alpha, shrink, chunk_cells=500)
        reference = dense_cooccurrence_similarity(matrix, 200, alpha, shrink)
        assert abs(full - reference).max() < 1e-9
        assert full.diagonal().sum() == 0
        # Top 10: the same number of neighbours and the same weights per item (ties may pick
        # other columns in the dense code; the sparse code keeps the lower column).
        top = cooccurrence_similarity(matrix, 10, alpha, shrink, chunk_cells=500)
        dense_top = dense_cooccurrence_similarity(matrix, 10, alpha, shrink)
        assert (np.diff(top.indptr) == np.diff(dense_top.indptr)).all()
        np.testing.assert_allclose(np.sort(top.toarray(), axis=1), np.sort(dense_top.toarray(), axis=1))


def test_ties_keep_the_lower_column_and_empty_inputs_work() -> None:
    matrix = sp.csr_matrix(np.array([[1, 1, 1, 1]], dtype=float))   # every pair co-occurs once
    top = cooccurrence_similarity(matrix, 2)
    assert [sorted(top[i].indices.tolist()) for i in range(4)] == [[1, 2], [0, 2], [0, 1], [0, 1]]
    assert cooccurrence_similarity(sp.csr_matrix((3, 0)), 5).shape == (0, 0)
    assert cooccurrence_similarity(sp.csr_matrix((3, 4)), 5).nnz == 0


def _reference_top(full: np.ndarray, n: int) -> np.ndarray:
    """Each row's ``n`` largest positive entries, ties broken by the lower column."""
    out = np.zeros_like(full)
    for i, row in enumerate(full):
        order = np.lexsort((np.arange(len(row)), -row))
        chosen = [j for j in order[:n] if row[j] > 0]
        out[i, chosen] = row[chosen]
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_top_n_with_many_ties_is_exactly_the_lower_columns_in_canonical_order(seed: int) -> None:
    # Binary, small counts: most candidates of a row tie at its n-th value, and the sparse
    # product lists each row's columns in no particular order.
    matrix = sp.random(400, 150, density=0.04, random_state=seed, format="csr")
    matrix.data[:] = 1.0
    full = dense_cooccurrence_similarity(matrix, 150, 0.5, 0.0).toarray()
    for n in (1, 5, 20):
        top = cooccurrence_similarity(matrix, n, 0.5, 0.0, chunk_cells=700)
        assert top.has_canonical_format
        assert all((np.diff(top.indices[a:b]) > 0).all() for a, b in zip(top.indptr[:-1], top.indptr[1:]))
        np.testing.assert_array_equal(top.toarray(), _reference_top(full, n))


def test_item_user_counts_are_distinct_users_per_item_and_rates_are_smoothed() -> None:
    import pandas as pd

    from whyrec.tools.ranking.history import BEHAVIOUR_CODE, EventLog
    from whyrec.tools.ranking.similarity import conversion_rates, item_user_counts

    rng = np.random.default_rng(3)
    n = 3_000       # 40 users x 60 items: many repeated (user, item) pairs; some unknown items
    events = pd.DataFrame({"user_id": rng.integers(0, 40, n).astype(str),
                           "item_id": np.where(rng.random(n) < 0.1, "gone", rng.integers(0, 60, n).astype(str)),
                           "behaviour": rng.choice(["view", "cart", "purchase"], n),
                           "timestamp": pd.Timestamp("2024-01-01", tz="UTC")
                           + pd.to_timedelta(rng.integers(0, 10**6, n), "s")})
    index = pd.Index([str(i) for i in range(60)] + ["never"], dtype=object)
    log = EventLog.from_events(events, index)
    known = events[events["item_id"] != "gone"]
    touched = item_user_counts(log, len(index))
    bought = item_user_counts(log, len(index), BEHAVIOUR_CODE["purchase"])
    expected = known.groupby("item_id")["user_id"].nunique().reindex(index, fill_value=0).to_numpy(float)
    expected_bought = (known[known["behaviour"] == "purchase"].groupby("item_id")["user_id"].nunique()
                       .reindex(index, fill_value=0).to_numpy(float))
    np.testing.assert_array_equal(touched, expected)
    np.testing.assert_array_equal(bought, expected_bought)
    assert touched[-1] == 0 and touched.max() < 40 and (touched >= bought).all()
    rates = conversion_rates(touched, bought, smoothing=5.0)
    base = bought.sum() / touched.sum()
    np.testing.assert_allclose(rates, (bought + 5 * base) / (touched + 5))
    assert rates[-1] == pytest.approx(base)  # an item nobody touched gets the shop's rate


@pytest.mark.parametrize("workers", [1, 3, 8])
def test_rows_computed_on_an_engine_are_the_same_matrix_bit_for_bit(tmp_path, workers: int) -> None:
    """Issue 18: the similarity's rows cut into ranges, each computed from pickled inputs (what a
    cluster's worker does), put together: the in-process matrix, every index and value equal."""
    from ..engines import Pickling

    rng = np.random.default_rng(workers)
    binary = sp.random(500, 260, density=0.04, random_state=workers, format="csr")
    binary.data[:] = 1.0
    weighted = sp.csr_matrix((rng.gamma(1.0, 2.0, 4_000), (rng.integers(0, 500, 4_000),
                                                           rng.integers(0, 260, 4_000))), shape=(500, 260))
    for matrix in (binary, weighted):
        for neighbours, chunk in ((5, 600), (40, 20_000_000)):
            here = cooccurrence_similarity(matrix, neighbours, 0.7, 1.0, chunk_cells=chunk)
            engine = Pickling(workers)
            there = cooccurrence_similarity(matrix, neighbours, 0.7, 1.0, chunk_cells=chunk, engine=engine,
                                            scratch=tmp_path)
            assert engine.sent and 1 <= engine.sent[0] <= workers * 4
            for name in ("indptr", "indices", "data"):
                np.testing.assert_array_equal(getattr(there, name), getattr(here, name))
            assert there.indices.dtype == here.indices.dtype and there.data.dtype == here.data.dtype
    assert not list(tmp_path.iterdir())     # the job's folder is removed


def test_the_ranges_of_rows_cover_every_row_once_in_order() -> None:
    from whyrec.tools.ranking.similarity import _CooccurrenceRows

    matrix = sp.csc_matrix(sp.random(200, 90, density=0.05, random_state=4, format="csr"), dtype=np.float32)
    rows = _CooccurrenceRows.of(matrix, 10, 0.5, 0.0, 1_000)
    for parts in (1, 2, 7, 500):
        ranges = rows.ranges(parts)
        assert ranges[0][0] == 0 and ranges[-1][1] == 90 and len(ranges) <= parts
        assert all(a < b for a, b in ranges) and all(r[1] == s[0] for r, s in zip(ranges, ranges[1:]))
