"""Offline jobs behind the command line: ingest a log, build the demo shop, (re)index the vector
store, forget a user by their source id, and the evaluation and causal-report commands.

Like :class:`~.service.WhyrecService`, these are the only way the CLI reaches the domain.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..engine import Engine, EngineError
from ..settings import Settings
from .errors import InvalidRequest, ServiceError, Unavailable

if TYPE_CHECKING:   # imported where used: the ranking stack is slow to import for the other jobs
    from ..ranking.base import Ranker


class IngestRefused(ServiceError):
    """The log was refused as a whole; ``str(error)`` is the report naming the bad rows."""

    status = 422


@dataclass(frozen=True)
class IndexResult:
    items_upserted: int
    behaviours_upserted: int
    removed: int
    seconds: float
    rebuilt: bool

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def ingest_log(settings: Settings, source: Path, preset: str | None = None, mapping: Path | None = None,
               year: int | None = None, skip_invalid: bool = False, report_rows: int = 10,
               progress: bool = False, pseudonymise: bool = False, engine: str | None = None,
               address: str | None = None, workers: int | None = None) -> Any:
    """Validate and add a behaviour log (CSV/Parquet file or folder) in one atomic commit.

    The reading, validation and deduplication run in this process, or on an engine
    (``engine="dask"``: a local cluster of ``workers`` processes, or the cluster at ``address``,
    whose workers must see the source and the workspace at the same paths); the result is the
    same. Returns the ingest result (``to_text()``, ``to_json()``); raises
    :class:`InvalidRequest` for a bad mapping, a missing key or an engine that cannot start,
    :class:`IngestRefused` when rows are invalid.
    """
    from ..ingest.mapping import MappingError, load_mapping
    from ..ingest.pipeline import IngestRejected, ingest
    from ..ingest.presets import get_preset
    from ..workspace import Workspace, WorkspaceError

    try:
        chosen = get_preset(preset) if preset else None
        if chosen is not None:
            spec = chosen.make_mapping({"year": year} if year else {})
        elif mapping is not None:
            spec = load_mapping(mapping)
            spec = spec.with_options(year=year) if year else spec
        else:
            raise MappingError("give a preset or a mapping file")
        if pseudonymise and not settings.pseudonym_key:
            raise MappingError("--pseudonymise needs a key in WHYREC_PSEUDONYM_KEY (keep it secret and "
                               "use the same key for every ingest into this workspace)")
        key = settings.pseudonym_key.encode() if pseudonymise and settings.pseudonym_key else None
        workspace = Workspace.create(Path(settings.workspace).resolve())  # workers elsewhere need full paths
        with open_job_engine(engine, address, workers) as runner:
            return ingest(workspace, Path(source).resolve(), spec, preset=chosen, skip_invalid=skip_invalid,
                          report_rows=report_rows, progress=progress, pseudonym_key=key, engine=runner)
    except EngineError as exc:     # the cluster failed under the job (a worker died)
        raise Unavailable(str(exc)) from exc
    except (MappingError, WorkspaceError) as exc:
        raise InvalidRequest(str(exc)) from exc
    except IngestRejected as exc:
        raise IngestRefused(str(exc)) from exc


def build_demo(settings: Settings, force: bool = False, **config: Any) -> Any:
    """Generate the demo shop workspace (``config``: users, items, days, seed, scenario)."""
    from ..demo import DemoConfig, build_demo_workspace
    from ..workspace import Workspace

    target = settings.workspace
    if Workspace.exists(target):
        if not force:
            raise InvalidRequest(f"{target} already holds a workspace; pass --force to replace it")
        shutil.rmtree(target)
    return build_demo_workspace(target, DemoConfig(**{k: v for k, v in config.items() if v is not None}))


def index(settings: Settings, rebuild: bool = False, progress: bool = False) -> IndexResult:
    """Bring the vector store up to date with the event log (or rebuild it from scratch)."""
    from ..behaviour_store import BehaviourStore
    from ..embeddings import default_embedder
    from ..workspace import Workspace

    store = BehaviourStore(Workspace.open(settings.workspace), default_embedder(), settings.chroma_url)
    result = store.rebuild(progress=progress) if rebuild else store.sync(progress=progress)
    return IndexResult(result.items_upserted, result.behaviours_upserted,
                       result.items_deleted + result.behaviours_deleted, result.seconds, result.rebuilt)


def source_user_id(settings: Settings, user_id: str) -> str:
    """The workspace's id for a user named by their source id (pseudonymised workspaces)."""
    from ..privacy import pseudonymise
    from ..workspace import Workspace

    known = set(Workspace.open(settings.workspace).events()["user_id"])
    if user_id not in known and settings.pseudonym_key:
        return str(pseudonymise(pd.Series([user_id]), settings.pseudonym_key.encode()).iloc[0])
    return user_id


def effects_command(argv: Sequence[str]) -> int:
    """``whyrec effects``: the causal report on the command line."""
    from ..causal.cli import effects_cli

    return int(effects_cli(list(argv)))


def evaluate_command(argv: Sequence[str]) -> int:
    """``whyrec evaluate``: rankers compared on real datasets."""
    from ..ranking.evaluate import evaluate_cli

    return int(evaluate_cli(list(argv)))


# -- beyond one machine (issue 18): the same jobs in-process or on a cluster ---------------------
def open_job_engine(engine: str | None = None, address: str | None = None, workers: int | None = None,
                    memory_limit: str | None = None) -> Any:
    """The engine offline jobs run on: ``local`` (in this process, the default) or ``dask`` (a
    local cluster of ``workers`` processes, or the cluster at ``address``). Close it when done
    (it is a context manager). Raises :class:`InvalidRequest` when it cannot be started."""
    from ..engine import open_engine

    try:
        return open_engine(engine, address=address, workers=workers, memory_limit=memory_limit)
    except EngineError as exc:
        raise InvalidRequest(str(exc)) from exc


def generate_log(out: Path, events: int, users: int | None = None, items: int | None = None, days: int = 120,
                 seed: int = 7, attributes: bool = False, timestamps: str = "epoch", progress: bool = False) -> Any:
    """Write a large synthetic behaviour log (CSV or Parquet by ``out``'s suffix) in bounded
    memory (``whyrec demo --stream --events N --out FILE``); returns its summary (``to_text()``,
    ``to_json()``). Ingest it with a mapping of its columns (``user_id, item_id, behaviour,
    timestamp`` in epoch seconds, ``session_id``; ``duplicates = "keep"``)."""
    from tqdm.auto import tqdm

    from ..demo.stream import StreamConfig, write_log

    if events <= 0:
        raise InvalidRequest("--events must be a positive number")
    config = StreamConfig(events=events, users=users, items=items, days=days, seed=seed, attributes=attributes,
                          timestamps=timestamps)
    with tqdm(total=events, desc="generate", unit="ev", unit_scale=True, disable=not progress) as bar:
        return write_log(out, config, progress=bar.update)


def _partition_counts(partition: Any) -> dict[str, Any]:
    """Events by behaviour and users of one user partition (a job's work item)."""
    frame = partition.read(["user_id", "behaviour"], sort=False)
    return {"events": len(frame), "users": int(frame["user_id"].nunique()),
            "behaviours": {str(k): int(v) for k, v in frame["behaviour"].value_counts().items()}}


def count_behaviours_by_partition(workspace_path: str | Path, engine: Any = None,
                                  rows_per_partition: int = 2_000_000) -> dict[str, Any]:
    """Events, users and behaviours counted partition by partition on ``engine``: the shape of
    every per-user offline job (similarity fit, unit table, batch recommendation, evaluation)
    over a log larger than memory — map a function over ``Workspace.event_partitions()``, each
    call reading its partition on whichever worker runs it, then combine the small results."""
    from ..engine import LocalEngine
    from ..workspace import Workspace

    partitions = Workspace.open(workspace_path).event_partitions(rows_per_partition=rows_per_partition)
    results = (engine or LocalEngine()).map(_partition_counts, partitions)
    behaviours: dict[str, int] = {}
    for r in results:
        for name, n in r["behaviours"].items():
            behaviours[name] = behaviours.get(name, 0) + n
    return {"partitions": len(partitions), "events": sum(r["events"] for r in results),
            "users": sum(r["users"] for r in results), "behaviours": behaviours}
def tune(settings: Settings, budget_seconds: float | None = None, engine: str | None = None,
         address: str | None = None, workers: int | None = None) -> Any:
    """``whyrec tune``: auto-tune the ranker on the workspace's validation split (within the
    budget, default the settings'), store the choice and refit the served ranker on all events.
    The trials run in this process (the default) or on an engine (``engine="dask"``: a local
    cluster of ``workers`` processes, or the cluster at ``address``, whose workers must see the
    workspace's folder); so does the refit's co-occurrence similarity (the rest of it runs here).

    Returns the tuning record (``to_text()``, ``to_json()``). A running server keeps its model
    until its next refit (new events or a restart)."""
    from ..ranking.persist import latest_tuning, load_or_tune
    from ..workspace import Workspace, WorkspaceError

    budget = settings.tune_budget_seconds if budget_seconds is None else budget_seconds
    if budget <= 0:
        raise InvalidRequest(f"the tuning budget must be positive, not {budget}")
    try:
        workspace = Workspace.open(Path(settings.workspace).resolve())  # workers elsewhere need full paths
    except WorkspaceError as exc:
        raise InvalidRequest(str(exc)) from exc
    if workspace.event_count() == 0:
        raise InvalidRequest(f"{settings.workspace} holds no events to tune on; ingest a log first")
    with open_job_engine(engine, address, workers) as runner:
        try:   # the served ranker (chosen policy)
            load_or_tune(workspace, budget, settings.retune_fraction, retune=True, engine=runner)
        except EngineError as exc:  # the cluster failed under the search: the stored tuning stands
            raise Unavailable(str(exc)) from exc
    result = latest_tuning(workspace)
    assert result is not None
    return result


@dataclass(frozen=True)
class BatchResult:
    """What ``whyrec recommend --all`` wrote."""

    path: str
    users: int
    rows: int
    k: int
    exclusion: str
    seconds: float

    @property
    def users_per_second(self) -> float:
        return self.users / self.seconds if self.seconds > 0 else float("inf")

    def to_text(self) -> str:
        return (f"wrote {self.rows:,} rows ({self.users:,} users x top {self.k}, {self.exclusion} excluded) "
                f"to {self.path} in {self.seconds:.1f} s ({self.users_per_second:,.0f} users/s)")

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "users_per_second": round(self.users_per_second, 1)}


BATCH_FORMATS = (".parquet", ".csv")


def batch_recommend(settings: Settings, out: Path, k: int = 10, exclude: str | None = None,
                    progress: Callable[[int, int], None] | None = None, chunk: int = 512,
                    engine: str | None = None, address: str | None = None, workers: int | None = None,
                    users_per_task: int = 20_000) -> BatchResult:
    """Top ``k`` for every user of the workspace, streamed to ``out`` (``.parquet`` or ``.csv``)
    with columns ``user_id, rank, item_id, score`` — ``chunk`` users at a time, so memory stays
    flat. ``exclude`` defaults to the exclusion policy learned on validation (``seen`` before
    any tuning). ``progress(done, total)`` is called as slices of users finish. The file appears
    only when complete (written beside it, then renamed).

    The scoring runs in this process (the default) or on an engine (``engine="dask"``: a local
    cluster of ``workers`` processes, or the cluster at ``address``): the users are cut into
    slices of ``users_per_task``; each task loads the served ranker from the workspace, scores
    its slice and writes it to a part file beside ``out``; the parts are then copied into ``out``
    in user order, so the file is the same whichever engine ran it."""
    import time

    from ..ranking.exclusion import POLICIES
    from ..ranking.persist import latest_tuning, load_or_tune, served_ranker_path
    from ..workspace import Workspace, WorkspaceError

    out = Path(out)
    if out.suffix.lower() not in BATCH_FORMATS:
        raise InvalidRequest(f"--out must end in {' or '.join(BATCH_FORMATS)}, not {out.name!r}")
    if k < 1:
        raise InvalidRequest(f"k must be at least 1, not {k}")
    if exclude is not None and exclude not in POLICIES:
        raise InvalidRequest(f"unknown exclusion policy {exclude!r}; use one of {', '.join(POLICIES)}")
    if not out.parent.exists():
        raise InvalidRequest(f"the folder {out.parent} does not exist")
    try:
        workspace = Workspace.open(Path(settings.workspace).resolve())  # workers elsewhere need full paths
    except WorkspaceError as exc:
        raise InvalidRequest(str(exc)) from exc
    started = time.perf_counter()
    with open_job_engine(engine, address, workers) as runner:
        try:   # fitted (tuned first, if never tuned) when no saved ranker fits the data: on the engine too
            ranker = load_or_tune(workspace, settings.tune_budget_seconds, settings.retune_fraction,
                                  policy=exclude, engine=runner)
        except EngineError as exc:
            raise Unavailable(str(exc)) from exc
        ranker_path = served_ranker_path(workspace, exclude)
        if exclude is None:
            tuning = latest_tuning(workspace)
            exclude = tuning.policy if tuning is not None else "seen"
        return _batch_on(runner, ranker, ranker_path, out, k, exclude, chunk, users_per_task, progress, started)


def _batch_on(runner: Engine, ranker: Ranker, ranker_path: Path, out: Path, k: int, exclude: str,
              chunk: int, users_per_task: int, progress: Callable[[int, int], None] | None,
              started: float) -> BatchResult:
    """:func:`batch_recommend` once the served ranker is fitted: the users' slices scored on
    ``runner`` and put together in user order."""
    import time

    n_users = len(ranker.user_ids)
    out = out.resolve()
    parts = out.with_name(f".{out.name}.parts")
    shutil.rmtree(parts, ignore_errors=True)
    parts.mkdir()
    tasks = [_BatchSlice(str(ranker_path), start, min(start + users_per_task, n_users), k, exclude, chunk,
                         str(parts / f"{number:06d}.parquet"))
             for number, start in enumerate(range(0, n_users, users_per_task))]
    _RANKERS[str(ranker_path)] = ranker  # an in-process run scores with the ranker already loaded
    tmp = out.with_name(f".{out.name}.partial")
    writer = _ParquetRows(tmp) if out.suffix.lower() == ".parquet" else _CsvRows(tmp)
    rows_written = 0
    try:
        def done(position: int, _rows: int) -> None:
            if progress is not None:
                progress(tasks[position].stop, n_users)

        try:
            runner.map(_score_slice, tasks, on_done=done)
        except EngineError as exc:  # the cluster failed under the job: no file is left
            raise Unavailable(str(exc)) from exc
        import pyarrow.parquet as pq

        for task in tasks:
            frame = pq.read_table(task.part).to_pandas()
            writer.write(frame)
            rows_written += len(frame)
        writer.close()
        tmp.replace(out)
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    finally:
        _RANKERS.pop(str(ranker_path), None)
        shutil.rmtree(parts, ignore_errors=True)
    return BatchResult(str(out), n_users, rows_written, k, exclude, time.perf_counter() - started)


@dataclass(frozen=True)
class _BatchSlice:
    """One task of a batch job: users ``start:stop`` of the served ranker, written to ``part``."""

    ranker_path: str
    start: int
    stop: int
    k: int
    exclude: str
    chunk: int
    part: str


#: Rankers a process has loaded for batch tasks, by file (a worker loads each once).
_RANKERS: dict[str, Any] = {}


def _score_slice(task: _BatchSlice) -> int:
    """Score one slice of users and write its rows to ``task.part``; returns the row count."""
    import numpy as np

    from ..ranking.base import Ranker

    ranker = _RANKERS.get(task.ranker_path)
    if ranker is None:
        ranker = _RANKERS.setdefault(task.ranker_path, Ranker.load(Path(task.ranker_path)))
    users = np.asarray(ranker.user_ids, dtype=object)
    writer = _ParquetRows(Path(task.part))
    rows_written = 0
    try:
        for start in range(task.start, task.stop, task.chunk):
            rows = np.arange(start, min(start + task.chunk, task.stop), dtype=np.int64)
            positions, scores = ranker.recommend_rows(rows, task.k, exclude=task.exclude, chunk=task.chunk)
            found = positions >= 0
            which, slot = np.nonzero(found)
            frame = pd.DataFrame({"user_id": users[rows[which]].astype(str),
                                  "rank": (slot + 1).astype(np.int32),
                                  "item_id": ranker.item_ids[positions[found]].astype(str),
                                  "score": scores[found]})
            writer.write(frame)
            rows_written += len(frame)
    finally:
        writer.close()
    return rows_written


class _CsvRows:
    def __init__(self, path: Path) -> None:
        self.handle = open(path, "w", encoding="utf-8", newline="")
        self.header = True

    def write(self, frame: pd.DataFrame) -> None:
        frame.to_csv(self.handle, header=self.header, index=False, float_format="%.6g")
        self.header = False

    def close(self) -> None:
        if not self.handle.closed:
            self.handle.close()


class _ParquetRows:
    def __init__(self, path: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.pa = pa
        schema = pa.schema([("user_id", pa.string()), ("rank", pa.int32()), ("item_id", pa.string()),
                            ("score", pa.float64())])
        self.writer: Any = pq.ParquetWriter(path, schema)
        self.schema = schema

    def write(self, frame: pd.DataFrame) -> None:
        self.writer.write_table(self.pa.Table.from_pandas(frame, schema=self.schema, preserve_index=False))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
