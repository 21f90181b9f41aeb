"""The semantic router: which kind of question a message is, learnt from labelled examples.

Each message is read two ways: by the sentence-embedding model the project ships (meaning, in
English; paraphrases land near each other) and by character n-grams (spelling; robust to typos
and the only reliable signal for Chinese, which the English model reads poorly). A logistic
regression over both, trained on the example utterances of :mod:`whyrec.agent.examples`, gives
each intent a probability; the top one is the route, its probability the confidence. Below a
threshold the agent asks a clarifying question instead of guessing.

Training takes about two seconds (embedding the examples) and happens once per process and
embedder (:func:`shared_router`). Routing one message embeds it once (about 10 ms).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from .examples import EXAMPLES

log = logging.getLogger(__name__)

Embed = Callable[[Sequence[str]], np.ndarray]

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")

#: How many routed texts the router remembers.
CACHE_SIZE = 4096

#: Below this probability the top intent is not trusted (tuned on the dev part only).
CONFIDENCE = 0.2


@dataclass(frozen=True)
class Route:
    """The router's reading of a message: its intent, how sure, and the runners-up."""

    intent: str
    confidence: float
    ranked: tuple[tuple[str, float], ...]

    def to_json(self) -> dict[str, Any]:
        return {"intent": self.intent, "confidence": round(self.confidence, 3),
                "ranked": [[name, round(p, 3)] for name, p in self.ranked[:3]]}


class Router:
    """Classify messages into the intents of ``examples`` (intent -> language -> utterances).

    ``embed`` turns texts into unit vectors (the service's embedder). The embedding runs on a
    worker thread of the router: on a busy machine torch's main-thread kernels are an order of
    magnitude slower than a fresh thread's (measured in bench/results/agent.md).
    """

    def __init__(self, embed: Embed, examples: Mapping[str, Mapping[str, Sequence[str]]] = EXAMPLES,
                 embedding_weight: float = 1.0, chinese_embedding_weight: float = 0.5, ngram_weight: float = 1.0,
                 regularisation: float = 50.0) -> None:
        self.embed = embed
        self.examples = examples
        self.embedding_weight = embedding_weight
        self.chinese_embedding_weight = chinese_embedding_weight
        self.ngram_weight = ngram_weight
        self.regularisation = regularisation
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="whyrec-router")
        self._lock = threading.Lock()
        self._cache: dict[str, Route] = {}
        self.classes_: np.ndarray | None = None

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of ``texts`` (embedded on the router's worker thread)."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        return np.asarray(self._worker.submit(self.embed, list(texts)).result(), dtype=np.float32)

    def _features(self, texts: Sequence[str]) -> Any:
        from scipy import sparse

        # The sentence model reads English; for Chinese its vectors count for less.
        weights = np.asarray([self.chinese_embedding_weight if _CJK.search(t) else self.embedding_weight
                              for t in texts], dtype=np.float32)[:, None]
        dense = sparse.csr_matrix(self.embed_texts(texts) * weights)
        grams = self.ngrams_.transform([t.lower() for t in texts]) * self.ngram_weight
        return sparse.hstack([dense, grams], format="csr")

    def fit(self) -> Router:
        """Learn the intents from the examples; returns ``self``."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        from .slots import mask_products

        texts: list[str] = []
        labels: list[str] = []
        for intent, by_language in self.examples.items():
            for utterances in by_language.values():
                texts.extend(mask_products(u) for u in utterances)
                labels.extend([intent] * len(utterances))
        with self._lock:
            self.ngrams_ = TfidfVectorizer(analyzer="char", ngram_range=(1, 4), sublinear_tf=True, min_df=1)
            self.ngrams_.fit([t.lower() for t in texts])
            self.model_ = LogisticRegression(C=self.regularisation, max_iter=5000, class_weight="balanced")
            self.model_.fit(self._features(texts), np.asarray(labels))
            self.classes_ = self.model_.classes_
        log.info("router trained on %d examples of %d intents", len(texts), len(set(labels)))
        return self

    def route_many(self, texts: Sequence[str]) -> list[Route]:
        """The route of each text (one embedding batch; texts routed before come from a cache:
        the stateless endpoint reads a conversation's earlier messages again on every request)."""
        if self.classes_ is None:
            raise RuntimeError("the router is not trained: call fit() first")
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            probabilities = self.model_.predict_proba(self._features(missing))
            with self._lock:
                for text, row in zip(missing, probabilities, strict=True):
                    order = np.argsort(-row)
                    ranked = tuple((str(self.classes_[i]), float(row[i])) for i in order)
                    self._cache[text] = Route(ranked[0][0], ranked[0][1], ranked)
                while len(self._cache) > CACHE_SIZE:
                    self._cache.pop(next(iter(self._cache)))
        with self._lock:
            return [self._cache[t] for t in texts]

    def forget(self) -> None:
        """Empty the cache of routed texts (benchmarks time routing, not the cache)."""
        with self._lock:
            self._cache.clear()

    def route(self, text: str) -> Route:
        return self.route_many([text])[0]


_shared: dict[int, Router] = {}
_shared_lock = threading.Lock()


def shared_router(embedder: Any) -> Router:
    """One trained router per embedder in this process (``embedder.embed`` embeds texts)."""
    with _shared_lock:
        router = _shared.get(id(embedder))
        if router is None or router.embed != embedder.embed:
            router = Router(embedder.embed).fit()
            _shared[id(embedder)] = router
        return router
