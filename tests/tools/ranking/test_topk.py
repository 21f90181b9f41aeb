"""The block form of the one ranking rule gives the same lists as the one-row form."""

from __future__ import annotations

import numpy as np

from whyrec.tools.ranking.topk import top_k, top_k_rows


def test_top_k_rows_matches_top_k_row_by_row_with_ties_and_excluded_items() -> None:
    rng = np.random.default_rng(0)
    for _ in range(300):
        rows, items, k = int(rng.integers(1, 30)), int(rng.integers(1, 40)), int(rng.integers(1, 45))
        block = rng.integers(0, 4, size=(rows, items)).astype(float)   # many ties
        block[rng.random((rows, items)) < 0.25] = -np.inf              # left out
        got = top_k_rows(block, k)
        assert got.shape == (rows, k)
        for r in range(rows):
            expected = top_k(block[r], k)
            assert got[r][: len(expected)].tolist() == expected.tolist()
            assert (got[r][len(expected):] == -1).all()


def test_top_k_rows_edge_cases() -> None:
    assert top_k_rows(np.zeros((2, 3)), 0).shape == (2, 0)
    assert top_k_rows(np.zeros((0, 3)), 2).shape == (0, 2)
    assert top_k_rows(np.full((1, 3), -np.inf), 2).tolist() == [[-1, -1]]


def test_top_k_sparse_rows_equals_the_dense_block_with_ties_blocks_filters_and_explicit_zeros() -> None:
    import scipy.sparse as sp

    from whyrec.tools.ranking.topk import top_k_sparse_rows

    rng = np.random.default_rng(1)
    for _ in range(600):
        rows, items, k = int(rng.integers(1, 8)), int(rng.integers(1, 40)), int(rng.integers(1, 12))
        stored = rng.random((rows, items)) < rng.random()
        part = sp.csr_matrix(rng.integers(0, 4, size=(rows, items)) * 0.5 * stored)   # many ties
        if rng.random() < 0.3:                                                         # explicit zeros
            coo = part.tocoo()
            extra_r, extra_c = rng.integers(0, rows, 3), rng.integers(0, items, 3)
            part = sp.csr_matrix((np.r_[coo.data, np.zeros(3)], (np.r_[coo.row, extra_r], np.r_[coo.col, extra_c])),
                                 shape=(rows, items))
        static = rng.integers(0, 3, size=items) * 0.25
        n_blocked = int(rng.integers(0, rows * items + 1))
        blocked_rows, blocked_items = rng.integers(0, rows, n_blocked), rng.integers(0, items, n_blocked)
        allowed = None if rng.random() < 0.5 else rng.random(items) < 0.7
        dense = part.toarray()
        dense += static[None, :]
        if allowed is not None:
            dense[:, ~allowed] = -np.inf
        dense[blocked_rows, blocked_items] = -np.inf
        expected = top_k_rows(dense, k)
        got, scores = top_k_sparse_rows(part, static, k, blocked_rows, blocked_items, allowed)
        assert got.tolist() == expected.tolist()
        found = expected >= 0
        assert scores[found].tolist() == dense[np.nonzero(found)[0], expected[found]].tolist()
        assert np.isneginf(scores[~found]).all()
