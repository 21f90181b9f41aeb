"""The workspace: one directory that holds everything whyrec knows about a shop.

Layout::

    workspace.json          manifest: schema version, data version, event parts, catalog file
    events/part-*.parquet   the event log, append-only Parquet parts: a part is one file, or
    events/part-*/u<k>-<b>.parquet  (large ingests) a folder of files partitioned by user: file b
                            holds the events of the users whose id hashes to b in k bits
                            (:func:`user_partition`), so every user's events are in one file
    staging/<token>/        what an ingest in progress writes (held by a lock; swept once free)
    catalog/catalog-*.parquet
    chroma/                 the embedded Chroma store (unless a Chroma server is used); after a
                            rebuild or a forget it lives in chroma-<token>/, named by chroma.current
    derived/                artefacts computed from the events (ranker, causal report), keyed
                            by the data version so they are recomputed when the events change
    rejected/               rows refused by ``ingest --skip-invalid``, with reasons (text cells a
                            spreadsheet would run as formulas start with ``'``)
    .lock, .store.lock      held by writers of the workspace, and of its vector store

Writes are transactional: new parts and a new catalog are written under temporary names and
become visible only when the manifest is atomically replaced. A crash or Ctrl-C before that
leaves the workspace exactly as it was; leftovers (temporary files, parts no manifest names,
store directories no longer in use) are swept when the workspace is next opened with no writer
at work, and on every write.

Reading: :meth:`Workspace.events` loads the whole log into one frame (small workspaces, the
server); :meth:`Workspace.lean_events` loads only the columns an offline job needs, ids as
categoricals (the ranker's fit and the causal decision table: about a tenth of the memory);
:meth:`Workspace.event_partitions` splits it into user partitions that jobs read one at
a time (in-process or on a cluster's workers, see :mod:`whyrec.tools.engine`), and
:meth:`Workspace.iter_events` streams it in batches, so nothing needs the whole log in memory.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from .schema import SCHEMA_VERSION, conform_events, conform_items, empty_events, empty_items

log = logging.getLogger(__name__)

MANIFEST = "workspace.json"
#: Names the directory of the embedded Chroma store when it is not ``chroma/``.
CHROMA_POINTER = "chroma.current"
#: Event parts before a commit compacts the single-file parts into one part.
MAX_PARTS = 48
#: Where ingests in progress write (one folder each, held by a lock file inside it).
STAGING = "staging"
_STAGING_LOCK = ".lock"
#: What :meth:`Workspace.lean_events` reads by default: every column the ranker's fit uses.
LEAN_COLUMNS: tuple[str, ...] = ("event_key", "user_id", "item_id", "behaviour", "timestamp", "value")
#: Event columns :meth:`Workspace.lean_events` returns as categoricals.
_TEXT_COLUMNS = frozenset({"user_id", "item_id", "behaviour", "session_id", "extra"})
_PLAIN_DTYPES = {"event_key": np.uint64, "timestamp": np.int64, "value": np.float64}


def user_partition(user_ids: pd.Series | np.ndarray, bits: int) -> np.ndarray:
    """The partition (0 .. 2**bits - 1) of each user id: the top ``bits`` of a stable 64-bit hash.

    The same id always lands in the same partition, in every process and version, and a
    partition at ``bits`` is the union of two at ``bits + 1`` (``p`` is ``2p`` and ``2p + 1``).

    >>> int(user_partition(pd.Series(["u1"]), 0)[0])
    0
    """
    values = np.asarray(pd.Series(user_ids).astype(str).to_numpy(dtype=object), dtype=object)
    if bits <= 0 or not len(values):
        return np.zeros(len(values), dtype=np.int64)
    hashes = pd.util.hash_array(values, categorize=True)
    return (hashes >> np.uint64(64 - bits)).astype(np.int64)


def partition_file_name(bits: int, index: int) -> str:
    """Name of the file holding partition ``index`` (of ``2**bits``) inside a part folder."""
    return f"u{bits}-{index:06d}.parquet"


def _file_bits(path: Path) -> tuple[int, int] | None:
    """(bits, index) of a partition file name, None for another name."""
    stem = path.name.removesuffix(".parquet")
    head, _, index = stem.partition("-")
    if path.suffix != ".parquet" or not head.startswith("u") or not head[1:].isdigit() or not index.isdigit():
        return None
    return int(head[1:]), int(index)


@dataclass(frozen=True)
class EventPartition:
    """The events of one slice of users: every event of each of those users, nothing else.

    Small and picklable (paths, not data), so a job can send it to a worker that reads it there.
    ``files`` holds (path, bits, index) of each file that may hold these users' events; a file
    partitioned more coarsely than ``bits`` is filtered as it is read.
    """

    bits: int
    index: int
    files: tuple[tuple[str, int, int], ...]

    @property
    def rows_upper_bound(self) -> int:
        """Rows in the files read (exact when no file needs filtering)."""
        return sum(pq.ParquetFile(path).metadata.num_rows for path, _, _ in self.files)

    def read(self, columns: list[str] | None = None, sort: bool = True) -> pd.DataFrame:
        """The partition's events (canonical columns, or just ``columns``), by time when ``sort``."""
        frames = []
        for path, bits, _ in self.files:
            wanted = None if columns is None else sorted(set(columns) | ({"user_id"} if bits < self.bits else set()))
            frame = pd.read_parquet(path, columns=wanted)
            if bits < self.bits:
                frame = frame[user_partition(frame["user_id"], self.bits) == self.index]
            frames.append(frame)
        if columns is None:
            events = conform_events(pd.concat(frames, ignore_index=True)) if frames else empty_events()
            if sort:
                events = events.sort_values(["timestamp", "event_key"], kind="stable").reset_index(drop=True)
            return events
        template = empty_events()
        if not frames:
            return template[columns]
        events = pd.concat([f[columns] for f in frames], ignore_index=True)
        if sort and "timestamp" in columns:
            order = ["timestamp", "event_key"] if "event_key" in columns else ["timestamp"]
            events = events.sort_values(order, kind="stable").reset_index(drop=True)
        return events

    def keys(self) -> np.ndarray:
        """The partition's event keys (uint64), unsorted."""
        frame = self.read(["event_key"], sort=False)
        return frame["event_key"].to_numpy(dtype=np.uint64)


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

    def committed_version(self) -> int:
        """The data version on disk now: another process may have committed since this object
        read its manifest (:meth:`reload` catches up)."""
        return Workspace._read(self.path).manifest.data_version

    # -- reading ---------------------------------------------------------------------------
    def events(self) -> pd.DataFrame:
        """The whole event log in one frame, sorted by time (cached per data version).

        For small workspaces (the server, tests, the demo shop). Jobs over a large log read it
        by :meth:`event_partitions` or :meth:`iter_events` instead.
        """
        version = self.manifest.data_version
        if self._events_cache and self._events_cache[0] == version:
            return self._events_cache[1]
        events = self._read_parts(self.manifest.event_parts)
        self._events_cache = (version, events)
        return events

    def lean_events(self, columns: Sequence[str] = LEAN_COLUMNS, sort: bool = True) -> pd.DataFrame:
        """The whole log in a compact frame for the offline jobs (the ranker's fit and tuning,
        the causal decision table): only ``columns``, the text columns as categoricals.

        ``user_id``, ``item_id``, ``behaviour`` (and ``session_id``, ``extra`` if asked for) are
        pandas categoricals whose categories are the distinct strings in sorted order; the
        timestamp is ``datetime64[ns, UTC]`` and ``event_key`` ``uint64`` as in :meth:`events`;
        ``value`` is left out when no stored event has one (readers treat a missing ``value``
        column as all missing). Rows are in :meth:`events` order (by time, then event key) when
        ``sort``. At 100M events (1M users, 1M items) this frame is about 2.5 GB where
        :meth:`events`'s strings take about 25 GB: each file is read on its own (only these
        columns), its ids dictionary-encoded by pyarrow, and only the codes are kept.

        Every computation the jobs make on it gives what it gives on :meth:`events` (the
        helpers in :mod:`whyrec.tools.frames` read either).

        >>> events = workspace.lean_events(["user_id", "item_id", "behaviour", "timestamp"])  # doctest: +SKIP
        """
        unknown = [c for c in columns if c not in empty_events().columns]
        if unknown:
            raise ValueError(f"lean_events: unknown column(s) {unknown}; choose from {list(empty_events().columns)}")
        wanted = list(dict.fromkeys(columns))
        if "value" in wanted and not self._has_values():
            wanted.remove("value")
        files = self.event_files()
        text = [c for c in wanted if c in _TEXT_COLUMNS]
        # Per file: each text column's local dictionary and indices; other columns as arrays.
        dictionaries: dict[str, pa.Array | None] = {c: None for c in text}
        local: list[dict[str, tuple[pa.Array, np.ndarray]]] = []
        plain: dict[str, list[np.ndarray]] = {c: [] for c in wanted if c not in _TEXT_COLUMNS}
        hidden: dict[str, list[np.ndarray]] = {}  # the sort keys not asked for
        read = sorted(set(wanted) | ({"event_key", "timestamp"} if sort else set()))
        for path, _, _ in files:
            table = pq.read_table(path, columns=read)
            encoded = {}
            for column in text:
                chunked = table.column(column)
                array = chunked.combine_chunks() if chunked.num_chunks != 1 else chunked.chunk(0)
                array = array.cast(pa.large_string()).dictionary_encode()
                if array.null_count:
                    raise WorkspaceError(f"{path}: column {column} holds missing values")
                encoded[column] = (array.dictionary, array.indices.to_numpy(zero_copy_only=False))
                seen = dictionaries[column]
                dictionaries[column] = (array.dictionary if seen is None
                                        else pa.concat_arrays([seen, array.dictionary]).unique())
            local.append(encoded)
            for column in plain:
                plain[column].append(_plain_column(table, column))
            for column in sorted(set(read) - set(wanted)):
                hidden.setdefault(column, []).append(_plain_column(table, column))
            del table
        out: dict[str, pd.Series | np.ndarray] = {}
        for column in text:
            found = dictionaries[column]
            names = pa.array([], pa.large_string()) if found is None else found
            names = names.take(pc.sort_indices(names))
            codes = np.concatenate(
                [pc.index_in(pair[column][0], value_set=names).to_numpy(zero_copy_only=False)
                 .astype(np.int32)[pair[column][1]] for pair in local] or [np.zeros(0, np.int32)])
            for pair in local:
                del pair[column]
            categories = pd.Index(np.asarray(names.to_pylist(), dtype=object), dtype=object)
            out[column] = pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(categories))
        for column, arrays in plain.items():
            out[column] = np.concatenate(arrays) if arrays else np.zeros(0, _PLAIN_DTYPES[column])
        if sort and len(files):
            keys = {c: out[c] if c in out else np.concatenate(hidden.pop(c)) for c in ("event_key", "timestamp")}
            order = np.lexsort((keys["event_key"], keys["timestamp"]))
            del keys
            for column in list(out):
                out[column] = out[column][order]
        frame = pd.DataFrame({c: _series(c, out[c]) for c in wanted})
        return frame

    def _has_values(self) -> bool:
        """True when some stored event has a ``value`` (from the files' statistics when kept)."""
        for path, _, _ in self.event_files():
            meta = pq.ParquetFile(path).metadata
            names = meta.schema.names
            if "value" not in names:
                continue
            index = names.index("value")
            for group in range(meta.num_row_groups):
                stats = meta.row_group(group).column(index).statistics
                rows = meta.row_group(group).num_rows
                if stats is None or not stats.has_null_count or stats.null_count < rows:
                    return True
        return False

    def _part_files(self, name: str) -> list[tuple[Path, int, int]]:
        """(path, bits, index) of each file of an event part: a single file is partition 0 of 1."""
        path = self.path / "events" / name
        if not path.is_dir():
            return [(path, 0, 0)]
        files = []
        for file in sorted(path.iterdir()):
            found = _file_bits(file)
            if found is not None:
                files.append((file, *found))
        return files

    def event_files(self) -> list[tuple[Path, int, int]]:
        """Every file of the event log as (path, bits, index), in commit order."""
        return [f for name in self.manifest.event_parts for f in self._part_files(name)]

    def _read_parts(self, names: list[str]) -> pd.DataFrame:
        files = [f for name in names for f in self._part_files(name)]
        if not files:
            return empty_events()
        frames = [pd.read_parquet(path) for path, _, _ in files]
        events = conform_events(pd.concat(frames, ignore_index=True))
        return events.sort_values(["timestamp", "event_key"], kind="stable").reset_index(drop=True)

    def event_count(self) -> int:
        """Events in the log, from the files' metadata (reads no rows)."""
        return sum(pq.ParquetFile(path).metadata.num_rows for path, _, _ in self.event_files())

    @property
    def partition_bits(self) -> int:
        """The finest partitioning of any part (0: the log is unpartitioned)."""
        return max((bits for _, bits, _ in self.event_files()), default=0)

    def event_partitions(self, bits: int | None = None, rows_per_partition: int | None = None) -> list[EventPartition]:
        """The log split into ``2**bits`` user partitions (default: the finest any part has, or
        enough that each holds about ``rows_per_partition`` events).

        Every event is in exactly one partition, and all events of a user in the same one, so a
        per-user job (a user's history, the unit table, batch recommendation) runs partition by
        partition — in-process or one task per partition on an engine's workers — and its
        results are concatenated, or summed where they are counts.

        >>> for part in workspace.event_partitions():               # doctest: +SKIP
        ...     events = part.read()                                 # one slice of users
        """
        files = self.event_files()
        if bits is None:
            bits = max((b for _, b, _ in files), default=0)
            if rows_per_partition:
                total = sum(pq.ParquetFile(path).metadata.num_rows for path, _, _ in files)
                while total > rows_per_partition << bits and bits < 16:
                    bits += 1
        partitions = []
        for index in range(1 << bits):
            chosen = []
            for path, file_bits, file_index in files:
                if file_bits <= bits:
                    if index >> (bits - file_bits) == file_index:
                        chosen.append((str(path), file_bits, file_index))
                elif file_index >> (file_bits - bits) == index:
                    chosen.append((str(path), bits, index))  # finer file: all its rows belong here
            partitions.append(EventPartition(bits, index, tuple(chosen)))
        return partitions

    def user_events(self, user_id: str) -> pd.DataFrame:
        """One user's events, in time order, reading only the user partition that holds them."""
        bits = self.partition_bits
        index = int(user_partition(pd.Series([str(user_id)]), bits)[0])
        events = self.event_partitions(bits)[index].read()
        return events[events["user_id"].astype(str) == str(user_id)].reset_index(drop=True)

    def iter_events(self, columns: list[str] | None = None, batch_rows: int = 1_000_000) -> Iterator[pd.DataFrame]:
        """The log in batches of at most ``batch_rows`` events, in storage order (not by time)."""
        for path, _, _ in self.event_files():
            handle = pq.ParquetFile(path)
            for batch in handle.iter_batches(batch_size=batch_rows, columns=columns):
                frame = batch.to_pandas()
                yield conform_events(frame) if columns is None else frame

    def event_keys(self) -> pd.Index:
        """Keys of every stored event (reads only that column)."""
        keys = [pq.read_table(path, columns=["event_key"]).column(0).to_numpy() for path, _, _ in self.event_files()]
        if not keys:
            return pd.Index([], dtype="uint64")
        return pd.Index(np.concatenate(keys).astype("uint64"))

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
        """Counts over the log, read partition by partition (users are counted per partition:
        each user is in one, so the sum is exact), never the whole log at once."""
        behaviours: dict[str, int] = {}
        users = events_n = 0
        items: set[str] = set()
        first = last = None
        columns = ["user_id", "item_id", "behaviour", "timestamp"]
        for partition in self.event_partitions():
            frame = partition.read(columns, sort=False)
            if frame.empty:
                continue
            events_n += len(frame)
            users += int(frame["user_id"].nunique())
            items.update(frame["item_id"].unique().tolist())
            for name, n in frame["behaviour"].value_counts().items():
                behaviours[str(name)] = behaviours.get(str(name), 0) + int(n)
            low, high = frame["timestamp"].min(), frame["timestamp"].max()
            first = low if first is None or low < first else first
            last = high if last is None or high > last else last
        ordered = dict(sorted(behaviours.items(), key=lambda kv: (-kv[1], kv[0])))
        return WorkspaceStats(
            path=str(self.path),
            schema_version=self.manifest.schema_version,
            data_version=self.manifest.data_version,
            events=events_n,
            users=users,
            items_with_events=len(items),
            catalog_items=len(self.items()),
            behaviours=ordered,
            first_event=None if first is None else pd.Timestamp(first).tz_convert("UTC"),
            last_event=None if last is None else pd.Timestamp(last).tz_convert("UTC"),
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
               sources: list[SourceRecord], replace_events: bool = False, shred_old: bool = False,
               part: Path | None = None) -> int:
        """Atomically add ``new_events`` (and a new full catalog) and return the new data version.

        ``part`` is a folder of partition files (:func:`partition_file_name`) written by an
        ingest in its staging folder: it becomes the new part as it is (renamed into place), in
        the same commit. With ``replace_events`` the event log is rewritten to exactly
        ``new_events`` (used when forgetting a user); with ``shred_old`` the files it replaces
        are overwritten before they are deleted. Call inside :meth:`lock`.
        """
        self._sweep_leftovers()
        manifest = Manifest.from_json(json.loads((self.path / MANIFEST).read_text(encoding="utf-8")))
        token = uuid.uuid4().hex[:10]
        written: list[Path] = []
        try:
            parts = [] if replace_events else list(manifest.event_parts)
            single = [name for name in parts if not (self.path / "events" / name).is_dir()]
            if len(parts) >= MAX_PARTS and len(single) >= 2:
                # Many small appends (the HTTP API): compact the single-file parts into one. Parts
                # written as partition folders (large ingests) stay as they are.
                new_events = pd.concat([self._read_parts(single), conform_events(new_events)], ignore_index=True)
                parts = [name for name in parts if name not in single]
            if len(new_events) or replace_events or len(parts) < len(manifest.event_parts):
                name = f"part-{manifest.data_version + 1:06d}-{token}.parquet"
                self._write_parquet(conform_events(new_events), self.path / "events" / name, written)
                parts.append(name)
            if part is not None:
                name = f"part-{manifest.data_version + 1:06d}-{token}"
                target = self.path / "events" / name
                os.replace(part, target)
                written.append(target)
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
                if path.is_dir():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
            raise
        retired = [self.path / "events" / name
                   for name in set(manifest.event_parts) - set(new_manifest.event_parts)]
        if manifest.catalog and manifest.catalog != new_manifest.catalog:
            retired.append(self.path / "catalog" / manifest.catalog)
        for path in retired:
            if path.is_dir():
                if shred_old:
                    shred_tree(path)
                else:
                    shutil.rmtree(path, ignore_errors=True)
            elif shred_old:
                shred_file(path)
            else:
                path.unlink(missing_ok=True)
        self.manifest = new_manifest
        return new_manifest.data_version

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """A new empty folder inside the workspace for an ingest's intermediate files (on the same
        file system, so its result can be renamed into place), removed on exit. A lock file inside
        marks it in use: sweeps remove only staging folders whose lock is free (a killed ingest's)."""
        root = self.path / STAGING
        root.mkdir(exist_ok=True)
        folder = root / uuid.uuid4().hex[:12]
        folder.mkdir()
        handle = open(folder / _STAGING_LOCK, "a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)
            handle.close()

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
                    if path.is_dir():
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        path.unlink(missing_ok=True)
        self._sweep_staging()
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

    def _sweep_staging(self) -> None:
        """Remove staging folders no ingest holds any more (their lock is free)."""
        root = self.path / STAGING
        if not root.is_dir():
            return
        for folder in root.iterdir():
            lock = folder / _STAGING_LOCK
            try:
                handle = open(lock, "a") if folder.is_dir() else None
            except OSError:
                continue
            if handle is None:
                folder.unlink(missing_ok=True)
                continue
            with handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError:
                    continue  # an ingest at work
                log.info("removing the staging folder %s of an interrupted ingest", folder)
                shutil.rmtree(folder, ignore_errors=True)

    def derived_file(self, name: str) -> Path:
        """Path of a derived artefact for the current data version."""
        return self.derived_path / f"{name}-v{self.manifest.data_version}"


def _plain_column(table: pa.Table, column: str) -> np.ndarray:
    """A numeric event column of one file as a NumPy array (timestamps as int64 nanoseconds)."""
    values = table.column(column)
    if column == "timestamp":
        values = values.cast(pa.timestamp("ns", tz="UTC")).cast(pa.int64())
    array = values.to_numpy()
    return np.asarray(array, dtype=_PLAIN_DTYPES[column])


def _series(column: str, values: object) -> pd.Series:
    """One column of the lean frame with the dtype :meth:`Workspace.events` gives it (ids as
    categoricals)."""
    if column == "timestamp":
        return pd.Series(pd.to_datetime(np.asarray(values, dtype=np.int64), unit="ns", utc=True))
    return pd.Series(values)


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
