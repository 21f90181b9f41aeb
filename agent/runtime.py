"""The running product: one workspace and the tools built on it, shared by the API, UI and agent.

Everything heavy (embedding model, vector store, ranker, causal report, explainer) is created
on first use and rebuilt when the workspace's data version changes (after new events arrive).
The causal report is the exception: re-estimating it takes seconds to minutes, so after new
events the previous report keeps answering while a fresh one is estimated in the background;
every effect carries the data version it was estimated on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from whyrec.tools.workspace import Workspace

from .settings import Settings

log = logging.getLogger(__name__)


class Runtime:
    """Lazily built, data-version-aware access to the workspace's tools."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.RLock()
        self._workspace: Workspace | None = None
        self._cache: dict[str, tuple[int, Any]] = {}
        self._report: Any = None
        self._report_thread: threading.Thread | None = None
        self._store_thread: threading.Thread | None = None
        self._store_dirty = False
        #: True once warm_up has built everything a first request needs.
        self.warm = False

    # -- the workspace ------------------------------------------------------------------------
    @property
    def workspace(self) -> Workspace:
        with self._lock:
            if self._workspace is None:
                self._workspace = Workspace.open(self.settings.workspace)
            return self._workspace

    def refresh(self) -> None:
        """Pick up data another process ingested."""
        with self._lock:
            self.workspace.reload()

    def invalidate(self) -> None:
        """Drop everything computed from the events (after a user was forgotten)."""
        with self._lock:
            self.workspace.reload()
            store = self._cache.get("store")
            self._cache = {"store": store} if store else {}
            self._report = None

    def _cached(self, name: str, build: Callable[[], Any]) -> Any:
        with self._lock:
            version = self.workspace.data_version
            hit = self._cache.get(name)
            if hit is None or hit[0] != version:
                self._cache[name] = (version, build())
            return self._cache[name][1]

    # -- tools -----------------------------------------------------------------------------------
    @property
    def embedder(self):  # type: ignore[no-untyped-def]
        from whyrec.tools.embeddings import default_embedder

        return default_embedder()

    @property
    def store(self):  # type: ignore[no-untyped-def]
        from whyrec.tools.behaviour_store import BehaviourStore

        with self._lock:
            if "store" not in self._cache:
                self._cache["store"] = (0, BehaviourStore(self.workspace, self.embedder,
                                                          self.settings.chroma_url))
            return self._cache["store"][1]

    @property
    def ranker(self):  # type: ignore[no-untyped-def]
        from whyrec.tools.ranking import load_or_fit

        return self._cached("ranker", lambda: load_or_fit(self.workspace))

    @property
    def item_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """Catalog vectors from the behaviour store (for semantic recommend queries)."""
        return self._cached("item_vectors", lambda: self.store.item_vectors())

    @property
    def report(self):  # type: ignore[no-untyped-def]
        """The causal influence report: the latest finished one (see the module docstring)."""
        from whyrec.tools.causal import load_or_estimate

        with self._lock:
            version = self.workspace.data_version
            if self._report is None:
                self._report = load_or_estimate(self.workspace)
            elif self._report.data_version != version and self._report_thread is None:
                self._report_thread = threading.Thread(target=self._refresh_report, daemon=True,
                                                       name="whyrec-causal-refresh")
                self._report_thread.start()
            return self._report

    def _refresh_report(self) -> None:
        from whyrec.tools.causal import load_or_estimate

        try:
            fresh = load_or_estimate(Workspace.open(self.workspace.path))
            with self._lock:
                self._report = fresh
        except Exception:  # a failed refresh keeps the previous report
            log.exception("re-estimating the causal report failed; keeping the previous one")
        finally:
            with self._lock:
                self._report_thread = None

    def segment_report(self, segment: str | None):  # type: ignore[no-untyped-def]
        """A report with effects by ``segment`` (category, brand, price_band, activity)."""
        from whyrec.tools.causal import load_or_estimate

        if segment is None:
            return self.report
        return self._cached(f"report-{segment}", lambda: load_or_estimate(self.workspace, segment))

    @property
    def explainer(self):  # type: ignore[no-untyped-def]
        from whyrec.tools.explain import Explainer

        return self._cached("explainer", lambda: Explainer(self.ranker, self.workspace.items(),
                                                           self.report, self.workspace.events()))

    def schedule_store_sync(self) -> None:
        """Bring the vector store up to date with new events, in the background.

        The event log is the truth and is already committed; searches meanwhile see the store
        as of the previous sync (and ``ensure_ready`` catches up if it lags behind).
        """
        with self._lock:
            self._store_dirty = True
            if self._store_thread is not None:
                return
            self._store_thread = threading.Thread(target=self._sync_store, daemon=True,
                                                  name="whyrec-store-sync")
            self._store_thread.start()

    def _sync_store(self) -> None:
        try:
            while True:
                with self._lock:
                    if not self._store_dirty:
                        self._store_thread = None
                        return
                    self._store_dirty = False
                try:
                    self.store.sync()
                except Exception:  # `whyrec reindex` rebuilds the store from the log
                    log.exception("vector store sync after new events failed")
        finally:
            with self._lock:
                self._store_thread = None

    def knows_user(self, user_id: str) -> bool:
        return bool(self.ranker.knows_user(str(user_id)))

    def warm_up(self) -> None:
        """Build what the first request would otherwise wait for (the server runs this in the
        background at start): embedding model, vector store, ranker, causal report, explainer."""
        try:
            self.store.ensure_ready()
            _ = self.ranker, self.report, self.explainer, self.item_vectors
            self.embedder.embed(["warm up"])
            self.warm = True
        except Exception:  # each request reports its own error; a failed warm-up only logs
            log.exception("warm-up failed")

    def titles(self) -> dict[str, str]:
        """item_id -> title (cached per data version)."""
        return self._cached("titles", lambda: dict(zip(self.workspace.items()["item_id"].astype(str),
                                                       self.workspace.items()["title"].astype(str))))
