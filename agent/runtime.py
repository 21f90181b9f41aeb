"""The running product: one workspace and the tools built on it, shared by the API, UI and agent.

Everything heavy (embedding model, vector store, ranker, causal report) is created on first use
and rebuilt when the workspace's data version changes (after new events are ingested).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

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

    def _cached(self, name: str, build: Any) -> Any:
        with self._lock:
            version = self.workspace.data_version
            hit = self._cache.get(name)
            if hit is None or hit[0] != version:
                self._cache[name] = (version, build())
            return self._cache[name][1]

    @property
    def store(self):  # type: ignore[no-untyped-def]
        from whyrec.tools.behaviour_store import BehaviourStore
        from whyrec.tools.embeddings import default_embedder

        with self._lock:
            if "store" not in self._cache:
                self._cache["store"] = (0, BehaviourStore(self.workspace, default_embedder(),
                                                          self.settings.chroma_url))
            return self._cache["store"][1]
