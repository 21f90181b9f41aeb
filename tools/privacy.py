"""The right to be forgotten, and pseudonymous user ids.

:func:`forget_user` removes a user's events from the event log (the log is rewritten without
them in one atomic commit), their documents from the vector store, every derived artefact that
was computed from data including them (fitted rankers, causal reports, graph pictures), and
their rows in reject files. The artefacts are recomputed on next use from what remains.

:func:`pseudonymise` replaces user ids by a keyed hash at ingest, so the workspace never holds
the source's ids; the same key maps an id to the same pseudonym, so forgetting still works.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .workspace import Workspace

log = logging.getLogger(__name__)

#: Derived artefacts that are pure functions of the events and may hold per-user data.
RECOMPUTABLE = ("ranker-*", "influence_report-*", "*.png", "explain-*")


@dataclass(frozen=True)
class ForgetResult:
    user_id: str
    events_removed: int
    documents_removed: int
    artefacts_removed: int
    reject_rows_removed: int
    data_version: int

    def to_text(self) -> str:
        return (f"forgot user {self.user_id}: {self.events_removed:,} events, {self.documents_removed:,} "
                f"vector-store documents, {self.artefacts_removed} derived artefacts and "
                f"{self.reject_rows_removed} reject-file rows removed (data version {self.data_version})")

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def pseudonymise(user_ids: pd.Series, key: bytes) -> pd.Series:
    """Keyed hash (HMAC-SHA256, 16 hex digits) of each id, prefixed ``p_``."""
    unique = user_ids.astype(str).unique()
    mapping = {u: "p_" + hmac.new(key, u.encode(), hashlib.sha256).hexdigest()[:16] for u in unique}
    return user_ids.astype(str).map(mapping).astype("string")


def forget_user(workspace: Workspace, user_id: str, store: Any = None) -> ForgetResult:
    """Remove every trace of ``user_id`` from ``workspace`` (and ``store``, a BehaviourStore).

    Raises ``KeyError`` if the user has no events.
    """
    user_id = str(user_id)
    with workspace.lock():
        workspace.reload()
        events = workspace.events()
        mine = events["user_id"] == user_id
        if not mine.any():
            raise KeyError(f"unknown user {user_id!r}: no events in this workspace")
        version = workspace.commit(events[~mine], None, [], replace_events=True)
        artefacts = 0
        for pattern in RECOMPUTABLE:
            for path in workspace.derived_path.glob(pattern):
                path.unlink(missing_ok=True)
                artefacts += 1
        reject_rows = _scrub_rejects(workspace, user_id)
    documents = store.delete_user(user_id) if store is not None else 0
    log.info("forgot a user: %d events, %d documents", int(mine.sum()), documents)
    return ForgetResult(user_id, int(mine.sum()), documents, artefacts, reject_rows, version)


def _scrub_rejects(workspace: Workspace, user_id: str) -> int:
    removed = 0
    for path in workspace.rejected_path.glob("*.csv"):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        hit = frame["value"] == user_id if "value" in frame else pd.Series(False, index=frame.index)
        if hit.any():
            frame[~hit].to_csv(path, index=False)
            removed += int(hit.sum())
    return removed
