"""The right to be forgotten, and pseudonymous user ids.

:func:`forget_user` removes a user's events from the event log (the log is rewritten without
them in one atomic commit), the catalog items only they brought in, their documents from the
vector store (an embedded store is rebuilt without them, so no byte remains in its files),
every derived artefact that was computed from data including them (fitted rankers, causal
reports, graph pictures), and their rows in reject files. The artefacts are recomputed on next
use from what remains.

Forgetting survives a failure part-way (a vector store that cannot be read, a crash) and is
finished by calling it again: the store's documents go first, while the events still name the
user, and a marker (``derived/forget-pending-<keyed hash>``, no id in it) is kept until every
step is done. A user without events is still forgotten where anything of them is left — store
documents, reject rows, or that marker — and is unknown (``KeyError``) only when nothing is.

:func:`pseudonymise` replaces user ids by a keyed hash at ingest, so the workspace never holds
the source's ids; the same key maps an id to the same pseudonym, so forgetting still works.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .workspace import Workspace, replace_shredding, shred_file

log = logging.getLogger(__name__)

#: Derived artefacts that are pure functions of the events and may hold per-user data.
RECOMPUTABLE = ("ranker-*", "influence_report-*", "*.png", "explain-*")
#: Folders of a job on an engine (a tuning's sampled events and fitted rankers, a decision
#: table's sampled users and parts, a similarity's interaction matrix and rows), left behind
#: only when the run was killed before it could remove them.
TRANSIENT = ("whyrec-tune-*", "whyrec-table-*", "whyrec-similarity-*")


@dataclass(frozen=True)
class ForgetResult:
    user_id: str
    events_removed: int
    documents_removed: int
    artefacts_removed: int
    reject_rows_removed: int
    data_version: int
    #: Catalog items only this user's events had brought in (ids they created), now removed.
    items_removed: int = 0
    #: How the vector store forgot: "rebuilt" (embedded: no byte left in its files), "deleted"
    #: (a Chroma server: deleted through its API; its files may keep freed bytes) or "none".
    store_erasure: str = "none"
    seconds: float = 0.0
    #: False when nothing of the user was in the workspace (``forget(..., missing_ok=True)``).
    found: bool = True

    def to_text(self) -> str:
        store = {"rebuilt": " (the vector store was rebuilt without them)",
                 "deleted": " (deleted through the Chroma server's API; its files may keep freed "
                            "bytes until the server's store is rebuilt)"}.get(self.store_erasure, "")
        return (f"forgot user {self.user_id}: {self.events_removed:,} events, {self.documents_removed:,} "
                f"vector-store documents{store}, {self.items_removed:,} catalog items only they had "
                f"added, {self.artefacts_removed} derived artefacts and {self.reject_rows_removed} "
                f"reject-file rows removed (data version {self.data_version})")

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def pseudonymise(user_ids: pd.Series, key: bytes) -> pd.Series:
    """Keyed hash (HMAC-SHA256, 16 hex digits) of each id, prefixed ``p_``."""
    unique = user_ids.astype(str).unique()
    mapping = {u: "p_" + hmac.new(key, u.encode(), hashlib.sha256).hexdigest()[:16] for u in unique}
    return user_ids.astype(str).map(mapping).astype("string")


def forget_user(workspace: Workspace, user_id: str, store: Any = None) -> ForgetResult:
    """Remove every trace of ``user_id`` from ``workspace`` (and ``store``, a BehaviourStore).

    Also removed: catalog items that only this user's events brought in (an item id first seen
    in their events and touched by no one else) — what the user created — and the store's
    documents of items no longer in the catalog (left by an earlier erasure cut short). Safe to
    call again after a failure: it finishes what is left. Raises ``KeyError`` if nothing of the
    user is found: no events, no store documents, no reject rows, no erasure left unfinished.
    """
    import time

    started = time.perf_counter()
    user_id = str(user_id)
    with workspace.lock():
        workspace.reload()
        events = workspace.events()
        mine = events["user_id"] == user_id
        items = workspace.items()
        pending = _pending_marker(workspace, user_id)
        if not mine.any() and not pending.exists() and not _scrub_rejects(workspace, user_id, dry_run=True) \
                and (store is None or not store.documents_of(user_id)):
            raise KeyError(f"unknown user {user_id!r}: no events in this workspace")
        if not mine.any():
            log.warning("finishing an erasure left unfinished: the user has no events, but traces remain")
        _write_marker(pending)
        created = _created_by(items, events, mine) if mine.any() else []
        version = workspace.data_version
        erasure = None
        with store.writing() if store is not None else contextlib.nullcontext():
            # The store first: if it fails, the events still name the user and a retry starts over.
            # Under the store's lock until the events are gone, so no sync indexes them again.
            if store is not None:
                catalog_ids = set(items["item_id"].astype(str))
                orphans = [i for i in store.item_ids() if i not in catalog_ids]
                erasure = store.forget(user_id, items=sorted(set(created) | set(orphans)))
            if mine.any():
                catalog = items[~items["item_id"].isin(created)] if created else None
                version = workspace.commit(events[~mine], catalog, [], replace_events=True, shred_old=True)
        artefacts = 0
        for pattern in RECOMPUTABLE:
            for path in workspace.derived_path.glob(pattern):
                shred_file(path)
                artefacts += 1
        for pattern in TRANSIENT:
            for folder in workspace.derived_path.glob(pattern):
                for path in (p for p in folder.rglob("*") if p.is_file()):
                    shred_file(path)
                    artefacts += 1
                shutil.rmtree(folder, ignore_errors=True)
        reject_rows = _scrub_rejects(workspace, user_id)
        pending.unlink(missing_ok=True)  # every step is done
    log.info("forgot a user: %d events, %d documents, %d items", int(mine.sum()),
             erasure.documents_removed if erasure else 0, len(created))
    return ForgetResult(user_id, int(mine.sum()), erasure.documents_removed if erasure else 0,
                        artefacts, reject_rows, version,
                        items_removed=max(len(created), erasure.items_removed if erasure else 0),
                        store_erasure=erasure.method if erasure else "none",
                        seconds=time.perf_counter() - started)


def _created_by(items: pd.DataFrame, events: pd.DataFrame, mine: pd.Series) -> list[str]:
    """Items that entered the catalog through events and that only this user's events touch.

    An item from a catalog file stays (it is the shop's, not the user's). Workspaces from before
    items recorded their origin: an item whose only attribute is the placeholder title that
    ingest gives an unknown id ("Item <id>") counts as brought in by events.
    """
    others = set(events.loc[~mine, "item_id"])
    candidates = [i for i in pd.unique(events.loc[mine, "item_id"]) if i not in others]
    if not candidates:
        return []
    rows = items[items["item_id"].isin(candidates)]
    from_events = rows["extra"].fillna("").str.contains('"origin": "events"', regex=False)
    placeholder = (rows["extra"].isna() & (rows["title"] == "Item " + rows["item_id"])
                   & rows[["category", "brand", "price", "description"]].isna().all(axis=1))
    return sorted(rows.loc[from_events | placeholder, "item_id"].astype(str))


def _pending_marker(workspace: Workspace, user_id: str) -> Path:
    """Where an erasure in progress is marked: named by a hash of the user id keyed by the
    workspace id, so the marker names no one outright."""
    digest = hmac.new(workspace.manifest.workspace_id.encode(), user_id.encode(), hashlib.sha256).hexdigest()
    return workspace.derived_path / f"forget-pending-{digest[:32]}"


def _write_marker(path: Path) -> None:
    with open(path, "wb") as handle:
        os.fsync(handle.fileno())


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False)


def _scrub_rejects(workspace: Workspace, user_id: str, dry_run: bool = False) -> int:
    """Drop the user's rows from reject files: by the row's user id, the bad value, or the row
    as written holding the id as a whole token (cells as written, or as the reject file
    escapes them against spreadsheet formulas). ``dry_run``: only count them."""
    import re

    from .ingest.rejects import unescape_cells
    from .schema import ID_PUNCTUATION

    token = re.compile(r"(?<![\w" + re.escape(ID_PUNCTUATION) + r"])" + re.escape(user_id)
                       + r"(?![\w" + re.escape(ID_PUNCTUATION) + r"])")
    removed = 0
    for path in workspace.rejected_path.glob("*.csv"):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        cells = unescape_cells(frame)
        hit = pd.Series(False, index=frame.index)
        for column in ("user_id", "value"):
            if column in cells:
                hit |= cells[column] == user_id
        if "raw" in cells:
            hit |= cells["raw"].str.contains(token)
        if hit.any() and dry_run:
            removed += int(hit.sum())
        elif hit.any():
            kept = frame[~hit]
            replace_shredding(path, functools.partial(_write_csv, kept))
            removed += int(hit.sum())
    return removed
