"""The workspace: one directory that holds everything whyrec knows about a shop.

Layout::

    workspace.json          manifest: schema version, data version, event parts, catalog file
    events/part-*.parquet   the event log, append-only Parquet parts
    catalog/catalog-*.parquet
    chroma/                 the embedded Chroma store (unless a Chroma server is used); after a
                            rebuild or a forget it lives in chroma-<token>/, named by chroma.current
    derived/                artefacts computed from the events (ranker, causal report), keyed
                            by the data version so they are recomputed when the events change
    rejected/               rows refused by ``ingest --skip-invalid``, with reasons

Writes are transactional: new parts and a new catalog are written under temporary names and
become visible only when the manifest is atomically replaced. A crash or Ctrl-C before that
leaves the workspace exactly as it was; leftovers (temporary files, parts no manifest names,
store directories no longer in use) are swept when the workspace is next opened with no writer
at work, and on every write.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .schema import SCHEMA_VERSION, conform_events, conform_items, empty_events, empty_items

log = logging.getLogger(__name__)

MANIFEST = "workspace.json"
#: Names the directory of the embedded Chroma store when it is not ``chroma/``.
CHROMA_POINTER = "chroma.current"
#: Event parts before a commit compacts the log into one part.
MAX_PARTS = 48


class WorkspaceError(RuntimeError):
    """The workspace is missing, from a newer whyrec, or damaged."""


@dataclass
class SourceRecord:
    """One ingested source file, kept in the manifest for provenance."""

    path: str
    sha256: str
    rows_read: int
    rows_added: int
    rows_rejected: int
    ingested_at: str


@dataclass
class Manifest:
    schema_version: int = SCHEMA_VERSION
    data_version: int = 0
    workspace_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    event_parts: list[str] = field(default_factory=list)
    catalog: str | None = None
    sources: list[SourceRecord] = field(default_factory=list)
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    updated_at: str | None = None

    @classmethod
    def from_json(cls, data: dict) -> Manifest:
        sources = [SourceRecord(**s) for s in data.get("sources", [])]
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "sources"}
        return cls(sources=sources, **known)


@dataclass(frozen=True)
class WorkspaceStats:
    """What ``whyrec stats`` prints."""

    path: str
    schema_version: int
    data_version: int
    events: int
    users: int
    items_with_events: int
    catalog_items: int
    behaviours: dict[str, int]
    first_event: pd.Timestamp | None
    last_event: pd.Timestamp | None
    sources: int

    def to_text(self) -> str:
        lines = [
            f"workspace      {self.path} (schema v{self.schema_version}, data v{self.data_version})",
            f"events         {self.events:,}",
            f"users          {self.users:,}",
            f"items          {self.items_with_events:,} with events, {self.catalog_items:,} in catalog",
            "behaviours     " + (", ".join(f"{b} {n:,}" for b, n in self.behaviours.items()) or "none"),
            f"time span      {self.first_event} .. {self.last_event}",
            f"sources        {self.sources}",
        ]
        return "\n".join(lines)

    def to_json(self) -> dict:
        data = asdict(self)
        data["first_event"] = None if self.first_event is None else self.first_event.isoformat()
        data["last_event"] = None if self.last_event is None else self.last_event.isoformat()
        return data


class Workspace:
    """A whyrec workspace directory. Open with :meth:`open` or :meth:`create`."""

    def __init__(self, path: Path, manifest: Manifest) -> None:
        self.path = Path(path)
        self.manifest = manifest
        self._events_cache: tuple[int, pd.DataFrame] | None = None
        self._items_cache: tuple[int, pd.DataFrame] | None = None

    # -- opening ---------------------------------------------------------------------------
    @classmethod
    def create(cls, path: str | os.PathLike) -> Workspace:
        """Open the workspace at ``path``, creating an empty one if there is none."""
        root = Path(path)
        if (root / MANIFEST).exists():
            return cls.open(root)
        root.mkdir(parents=True, exist_ok=True)
        for sub in ("events", "catalog", "derived", "rejected"):
            (root / sub).mkdir(exist_ok=True)
        workspace = cls(root, Manifest())
        workspace._write_manifest(workspace.manifest)
        return workspace

    @classmethod
    def open(cls, path: str | os.PathLike) -> Workspace:
        """Open an existing workspace; raise :class:`WorkspaceError` if there is none.

        If no writer is at work, leftovers of an interrupted one (a killed ingest's temporary
        part, an old store directory) are removed first, so none stays visible.
        """
        workspace = cls._read(Path(path))
        workspace._sweep_if_idle()
        return workspace

    @classmethod
    def _read(cls, root: Path) -> Workspace:
        manifest_path = root / MANIFEST
        if not manifest_path.exists():
            raise WorkspaceError(
                f"no whyrec workspace at {root} (no {MANIFEST}); create one with "
                f"`whyrec ingest ... --workspace {root}` or `whyrec demo --workspace {root}`")
        try:
            data = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise WorkspaceError(f"cannot read {manifest_path}: {exc}") from exc
        manifest = Manifest.from_json(data)
        if manifest.schema_version > SCHEMA_VERSION:
            raise WorkspaceError(
                f"{root} uses workspace schema v{manifest.schema_version}; this whyrec reads up to "
                f"v{SCHEMA_VERSION}. Upgrade whyrec.")
        return cls(root, manifest)

    @staticmethod
    def exists(path: str | os.PathLike) -> bool:
        return (Path(path) / MANIFEST).exists()

    def reload(self) -> None:
        """Re-read the manifest (another process may have ingested)."""
        fresh = Workspace._read(self.path)
        self.manifest = fresh.manifest

    # -- paths -----------------------------------------------------------------------------
    @property
    def chroma_path(self) -> Path:
        """The embedded Chroma store's directory (read fresh: a forget may have replaced it)."""
        try:
            name = (self.path / CHROMA_POINTER).read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return self.path / "chroma"
        return self.path / name if _is_store_name(name) else self.path / "chroma"

    def new_chroma_path(self) -> Path:
        """An empty directory for a new embedded store (call inside :meth:`lock`)."""
        path = self.path / f"chroma-{uuid.uuid4().hex[:10]}"
        path.mkdir()
        return path

    def switch_chroma(self, target: Path, keep_old_as: Path | None = None) -> None:
        """Make ``target`` the embedded store, atomically, then destroy the old one: its files
        are overwritten with zeros and deleted (or, with ``keep_old_as``, moved there). Call
        inside :meth:`lock`, with no client of this process left open on the old store."""
        old = self.chroma_path
        tmp = self.path / (CHROMA_POINTER + ".tmp")
        tmp.write_text(target.name, encoding="utf-8")
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, self.path / CHROMA_POINTER)
        if old.exists() and old != target:
            if keep_old_as is not None:
                os.replace(old, keep_old_as)
            else:
                shred_tree(old)

    def discard_chroma_path(self, path: Path) -> None:
        """Destroy a store directory that was being built and will not be used."""
        if path.exists() and path != self.chroma_path:
            shred_tree(path)

    @property
    def derived_path(self) -> Path:
        path = self.path / "derived"
        path.mkdir(exist_ok=True)
        return path

    @property
    def rejected_path(self) -> Path:
        path = self.path / "rejected"
        path.mkdir(exist_ok=True)
        return path

    @property
    def data_version(self) -> int:
        return self.manifest.data_version

    # -- reading ---------------------------------------------------------------------------
    def events(self) -> pd.DataFrame:
        """The whole event log, sorted by time (cached per data version)."""
        version = self.manifest.data_version
        if self._events_cache and self._events_cache[0] == version:
            return self._events_cache[1]
        events = self._read_parts(self.manifest.event_parts)
        self._events_cache = (version, events)
        return events

    def _read_parts(self, names: list[str]) -> pd.DataFrame:
        if not names:
            return empty_events()
        frames = [pd.read_parquet(self.path / "events" / name) for name in names]
        events = conform_events(pd.concat(frames, ignore_index=True))
        return events.sort_values(["timestamp", "event_key"], kind="stable").reset_index(drop=True)

    def event_keys(self) -> pd.Index:
        """Keys of every stored event (reads only that column)."""
        keys = [pq.read_table(self.path / "events" / n, columns=["event_key"]).column(0).to_numpy()
                for n in self.manifest.event_parts]
        if not keys:
            return pd.Index([], dtype="uint64")
        return pd.Index(pd.concat([pd.Series(k) for k in keys], ignore_index=True).astype("uint64"))

    def items(self) -> pd.DataFrame:
        """The catalog (cached per data version)."""
        version = self.manifest.data_version
        if self._items_cache and self._items_cache[0] == version:
            return self._items_cache[1]
        if self.manifest.catalog:
            items = conform_items(pd.read_parquet(self.path / "catalog" / self.manifest.catalog))
        else:
            items = empty_items()
        self._items_cache = (version, items)
        return items

    def stats(self) -> WorkspaceStats:
        events = self.events()
        counts = events["behaviour"].value_counts()
        return WorkspaceStats(
            path=str(self.path),
            schema_version=self.manifest.schema_version,
            data_version=self.manifest.data_version,
            events=len(events),
            users=int(events["user_id"].nunique()),
            items_with_events=int(events["item_id"].nunique()),
            catalog_items=len(self.items()),
            behaviours={str(b): int(n) for b, n in counts.items()},
            first_event=None if events.empty else events["timestamp"].min(),
            last_event=None if events.empty else events["timestamp"].max(),
            sources=len(self.manifest.sources),
        )

    # -- writing ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Exclusive lock for writers (ingest, forget), across processes."""
        with open(self.path / ".lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def commit(self, new_events: pd.DataFrame, catalog: pd.DataFrame | None,
               sources: list[SourceRecord], replace_events: bool = False, shred_old: bool = False) -> int:
        """Atomically add ``new_events`` (and a new full catalog) and return the new data version.

        With ``replace_events`` the event log is rewritten to exactly ``new_events`` (used when
        forgetting a user); with ``shred_old`` the files it replaces are overwritten before they
        are deleted. Call inside :meth:`lock`.
        """
        self._sweep_leftovers()
        manifest = Manifest.from_json(json.loads((self.path / MANIFEST).read_text(encoding="utf-8")))
        token = uuid.uuid4().hex[:10]
        written: list[Path] = []
        try:
            parts = [] if replace_events else list(manifest.event_parts)
            if len(parts) >= MAX_PARTS:  # many small appends (the HTTP API): compact into one part
                new_events = pd.concat([self._read_parts(parts), conform_events(new_events)], ignore_index=True)
                parts = []
                replace_events = True
            if len(new_events) or replace_events:
                name = f"part-{manifest.data_version + 1:06d}-{token}.parquet"
                self._write_parquet(conform_events(new_events), self.path / "events" / name, written)
                parts.append(name)
            catalog_name = manifest.catalog
            if catalog is not None:
                catalog_name = f"catalog-{manifest.data_version + 1:06d}-{token}.parquet"
                self._write_parquet(conform_items(catalog), self.path / "catalog" / catalog_name, written)
            new_manifest = Manifest.from_json(json.loads(json.dumps(asdict(manifest))))
            new_manifest.event_parts = parts
            new_manifest.catalog = catalog_name
            new_manifest.data_version = manifest.data_version + 1
            new_manifest.sources = manifest.sources + sources
            new_manifest.updated_at = datetime.now(UTC).isoformat()
            self._write_manifest(new_manifest)
        except BaseException:
            for path in written:
                path.unlink(missing_ok=True)
            raise
        retired = [self.path / "events" / name
                   for name in set(manifest.event_parts) - set(new_manifest.event_parts)]
        if manifest.catalog and manifest.catalog != new_manifest.catalog:
            retired.append(self.path / "catalog" / manifest.catalog)
        for path in retired:
            if shred_old:
                shred_file(path)
            else:
                path.unlink(missing_ok=True)
        self.manifest = new_manifest
        return new_manifest.data_version

    def _write_parquet(self, frame: pd.DataFrame, path: Path, written: list[Path]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        written.append(tmp)
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        written.append(path)

    def _write_manifest(self, manifest: Manifest) -> None:
        tmp = self.path / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps(asdict(manifest), indent=2), encoding="utf-8")
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, self.path / MANIFEST)

    def _sweep_if_idle(self) -> None:
        """Sweep leftovers if no writer holds the lock now (else that writer sweeps them)."""
        try:
            handle = open(self.path / ".lock", "a")
        except OSError:  # a read-only workspace: nothing can be swept, nothing was left by us
            return
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return
            try:
                self._sweep_leftovers()
            except OSError as exc:
                log.warning("could not remove leftovers in %s: %s", self.path, exc)
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _sweep_leftovers(self) -> None:
        """Remove what a crashed or killed write left behind: event parts and catalogs the
        manifest does not name (temporary files included), temporary manifests and reject files,
        and embedded-store directories no longer in use (overwritten, then deleted)."""
        manifest = Manifest.from_json(json.loads((self.path / MANIFEST).read_text(encoding="utf-8")))
        referenced = set(manifest.event_parts) | ({manifest.catalog} if manifest.catalog else set())
        for folder in ("events", "catalog"):
            directory = self.path / folder
            directory.mkdir(exist_ok=True)
            for path in directory.iterdir():
                if path.name not in referenced:
                    log.info("removing leftover %s from an interrupted write", path)
                    path.unlink(missing_ok=True)
        # Only what writers holding the lock create: derived artefacts are written without it.
        for path in [self.path / (MANIFEST + ".tmp"), self.path / (CHROMA_POINTER + ".tmp"),
                     *(self.path / "rejected").glob("*.tmp")]:
            if path.exists():
                log.info("removing leftover %s from an interrupted write", path)
                path.unlink(missing_ok=True)
        for folder in ("rejected", "derived"):
            for path in (self.path / folder).glob("*.shred"):
                shred_file(path)
        current = self.chroma_path
        for path in self.path.iterdir():
            if path.is_dir() and _is_store_name(path.name) and path.name != "chroma" and path != current:
                log.info("removing the old vector store %s", path)
                shred_tree(path)

    def derived_file(self, name: str) -> Path:
        """Path of a derived artefact for the current data version."""
        return self.derived_path / f"{name}-v{self.manifest.data_version}"


def _is_store_name(name: str) -> bool:
    """``chroma`` or ``chroma-<hex token>`` (never ``chroma.damaged-…``, kept for inspection)."""
    if name == "chroma":
        return True
    prefix, _, token = name.partition("-")
    return prefix == "chroma" and len(token) == 10 and all(c in "0123456789abcdef" for c in token)


def shred_file(path: Path) -> None:
    """Overwrite ``path`` with zeros, flush it to disk, then delete it."""
    block = bytes(1 << 20)
    try:
        size = path.stat().st_size
        with open(path, "r+b") as handle:
            for start in range(0, size, len(block)):
                handle.write(block[: min(len(block), size - start)])
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        log.warning("could not overwrite %s before deleting it: %s", path, exc)
    path.unlink(missing_ok=True)


def replace_shredding(path: Path, write: Callable[[Path], object]) -> None:
    """Replace ``path`` by what ``write(tmp)`` writes, and shred the old content.

    The old file is renamed aside (``.shred``), the new one renamed into place, then the old one
    is overwritten and deleted; a crash in between leaves the ``.shred`` file for the next sweep.
    """
    tmp = path.with_name(path.name + ".tmp")
    write(tmp)
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    aside = path.with_name(path.name + ".shred")
    if path.exists():
        os.replace(path, aside)
    os.replace(tmp, path)
    if aside.exists():
        shred_file(aside)


def shred_tree(path: Path) -> None:
    """Overwrite every file under ``path`` with zeros, flush it to disk, then delete the tree.

    Deleting alone leaves the bytes in the file system's free blocks, and in the file itself
    while another process still has it open; overwriting first leaves nothing to read there.
    """
    for file in sorted(path.rglob("*"), reverse=True):
        if file.is_file() and not file.is_symlink():
            shred_file(file)
    shutil.rmtree(path, ignore_errors=True)
