"""The embedder: the NumPy path equals the PyTorch path, and a query does not load PyTorch.

Issue 17, item 13: ``whyrec search`` spent most of its time importing PyTorch and loading the
model through sentence-transformers for a one-line query.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from whyrec.tools.embeddings import EMBEDDING_DIM, SMALL_BATCH, Embedder

TEXTS = [
    "wool scarf", "", "Ravn wool scarf. category apparel > accessories > scarf. brand Ravn",
    "bought Kvitfjell bookshelf speaker on 2026-10-06", "中文商品 测试 羊毛围巾", "Ünïcödé naïve café",
    "[UNK] [CLS] [SEP] tabs\tand\nnewlines", "word " * 400,  # past the 256-token limit: truncated alike
]


@pytest.fixture(scope="module")
def torch_vectors() -> np.ndarray:
    return Embedder(backend="torch").embed(TEXTS)


def test_numpy_path_equals_the_pytorch_path(torch_vectors: np.ndarray) -> None:
    vectors = Embedder(backend="numpy").embed(TEXTS)
    assert vectors.shape == (len(TEXTS), EMBEDDING_DIM) and vectors.dtype == np.float32
    assert np.abs(vectors - torch_vectors).max() < 1e-5
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_auto_uses_numpy_for_a_query_and_pytorch_for_a_batch(torch_vectors: np.ndarray) -> None:
    embedder = Embedder()
    query = embedder.embed(TEXTS[:1])
    assert embedder._model is None and embedder._small is not None
    batch = embedder.embed(TEXTS * (SMALL_BATCH // len(TEXTS) + 1))
    assert embedder._model is not None
    assert np.abs(query[0] - torch_vectors[0]).max() < 1e-5
    assert np.abs(batch[: len(TEXTS)] - torch_vectors).max() < 1e-5


def test_a_query_does_not_import_pytorch() -> None:
    """Before: every ``whyrec search`` imported torch and sentence-transformers (4-5 s here)."""
    code = ("import sys; from whyrec.tools.embeddings import Embedder; Embedder().embed(['wool scarf']); "
            "print(sorted(m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_progress_is_reported_batch_by_batch() -> None:
    calls: list[tuple] = []
    Embedder(backend="torch", batch_size=4).embed([f"text {n}" for n in range(70)],
                                                  progress=lambda *a: calls.append(a))
    assert calls[0] == (0, 70) and sum(c[0] for c in calls[1:]) == 70 and len(calls) == 4
