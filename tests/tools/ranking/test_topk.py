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
