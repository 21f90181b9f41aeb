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
               progress: bool = False, pseudonymise: bool = False) -> Any:
    """Validate and add a behaviour log (CSV/Parquet file or folder) in one atomic commit.

    Returns the ingest result (``to_text()``, ``to_json()``); raises :class:`InvalidRequest` for
    a bad mapping or a missing key, :class:`IngestRefused` when rows are invalid.
    """
    from ..ingest.mapping import MappingError, load_mapping
    from ..ingest.pipeline import IngestRejected, ingest
    from ..ingest.presets import get_preset
    from ..workspace import Workspace, WorkspaceError

    try:
        chosen = get_preset(preset) if preset else None
        options = {"year": year} if year else {}
        if chosen is not None:
            spec = chosen.make_mapping(options)
        elif mapping is not None:
            spec = load_mapping(mapping)
            if year:
                spec = spec.with_options(year=year)
        else:
            raise MappingError("give a preset or a mapping file")
        if pseudonymise and not settings.pseudonym_key:
            raise MappingError("--pseudonymise needs a key in WHYREC_PSEUDONYM_KEY (keep it secret and "
                               "use the same key for every ingest into this workspace)")
        key = settings.pseudonym_key.encode() if pseudonymise and settings.pseudonym_key else None
        workspace = Workspace.create(settings.workspace)
        return ingest(workspace, source, spec, preset=chosen, skip_invalid=skip_invalid,
                      report_rows=report_rows, progress=progress, pseudonym_key=key)
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
