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
