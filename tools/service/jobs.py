"""Offline jobs behind the command line: ingest a log, build the demo shop, (re)index the vector
store, forget a user by their source id, and the evaluation and causal-report commands.

Like :class:`~.service.WhyrecService`, these are the only way the CLI reaches the domain.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..settings import Settings
from .errors import InvalidRequest, ServiceError


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
    from ..engine import EngineError, open_engine

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
