"""The influence report: every behaviour's effect, for all decision points and per segment, cached.

:func:`estimate_report` computes a report from a decision table; :func:`load_or_estimate` does
it for a workspace and stores the result under ``derived/`` keyed by the data version, the
segment and the settings, so a second call reloads it without re-fitting and new events make
it recompute. :func:`pair_effects` picks the effects that apply to one user-item pair.
"""

from __future__ import annotations

import functools
import json
import logging
import time
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import pandas as pd

from ..engine import Engine, read_inputs, scratch_folder, write_inputs
from ..frames import distinct_strings, positions_in, sample_users
from ..workspace import EventPartition, Workspace
from .decisions import DecisionTable, build_decisions, concat_decisions, event_counts
from .effect import Trial, estimate_behaviour, estimate_trial, make_trial
from .estimand import LOOKS, Windows, choose_windows
from .graph import render_graph
from .results import POPULATION, BehaviourEffect, InfluenceReport, Refutation
from .segments import DIMENSIONS, SegmentSpec, band_edges, band_of
from .settings import EffectSettings
from .units import ItemHistory, build_units, item_history

log = logging.getLogger(__name__)

REPORT_NAME = "influence_report"
#: Bumped when the stored report's meaning changes, so an old file is never read as new.
REPORT_FORMAT = 6
#: Events per task when the decision table is built on an engine (user partitions of about this size).
TABLE_PARTITION_ROWS = 1_000_000
UNIT = ("decision points: right after each event of a shopper on an item (from the first view) until "
        "they buy it; treatment: the next event on the item is the behaviour; outcome: a purchase within H")


def estimate_report(table: DecisionTable, settings: EffectSettings = EffectSettings(),
                    segment: str | SegmentSpec | None = None, data_version: int = 0,
                    population: InfluenceReport | None = None, engine: Engine | None = None) -> InfluenceReport:
    """Estimate every behaviour for all decision points, and per value of ``segment`` if given.

    ``population``: a report of the same table and settings whose refutation results are reused
    (the refuters are seeded: re-running them would repeat them exactly). ``engine``: run one
    behaviour's trial (its sampled rows, estimate, refuters and segments) per call on that engine
    (e.g. a Dask cluster, :func:`whyrec.tools.engine.open_engine`); by default ``settings.jobs``
    local worker processes for large tables."""
    started = time.perf_counter()
    spec = SegmentSpec.parse(segment) if isinstance(segment, str) else segment
    # The windows (D and H) the estimates were made with; the pages draw the graph from the service
    # (WhyrecService.causal_graph_layers, from the same decision_graph), so the report stores none.
    extra: dict[str, object] = {"windows": table.windows.to_json()}
    if table.sample:
        extra["table_sample"] = dict(table.sample)
    edges = None
    if spec is not None and spec.dimension in ("price_band", "activity"):
        edges = band_edges(table.units.frame[DIMENSIONS[spec.dimension]])
        if edges is not None:
            extra["segment_edges"] = list(edges)
    reuse: dict[str, tuple[Refutation, ...] | None] = {}
    for behaviour in settings.behaviours:
        known = population.effect(behaviour, POPULATION) if population is not None else None
        reuse[behaviour] = known.refutations if known is not None and known.ok else None
    effects: list[BehaviourEffect] = []
    jobs = min(settings.jobs, len(settings.behaviours))
    if engine is not None or (jobs > 1 and len(table.frame) >= settings.parallel_min_rows):
        # One trial per call (an engine's, or a local worker process's): only each trial's
        # (sampled) rows travel, not the table.
        run = partial(_estimate_trial_job, settings=settings, spec=spec, edges=edges)
        calls = [(trial, reuse[trial.behaviour]) for trial in (make_trial(table, b, settings)
                                                                for b in settings.behaviours)]
        if engine is not None:
            parts = engine.map(run, calls)
        else:
            from joblib import Parallel, delayed

            parts = Parallel(n_jobs=jobs, backend="loky")(delayed(run)(call) for call in calls)
        for part in parts:
            effects += part
    else:
        for behaviour in settings.behaviours:
            effects += estimate_behaviour(table, behaviour, settings, spec, edges=edges,
                                          known_refutations=reuse[behaviour])
    return InfluenceReport(
        effects=tuple(effects), data_version=data_version, unit=UNIT,
        settings=json.loads(json.dumps({**settings.to_json(), **extra})),
        segment_by=None if spec is None else spec.key,
        seconds=round(time.perf_counter() - started, 3),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"))


def _estimate_trial_job(job: tuple[Trial, tuple[Refutation, ...] | None], settings: EffectSettings,
                        spec: SegmentSpec | None, edges: tuple[float, float] | None) -> tuple[BehaviourEffect, ...]:
    """One call of an engine or worker process: a behaviour's trial with the refutations to reuse
    (module level: picklable)."""
    trial, known = job
    return estimate_trial(trial, settings, spec, edges=edges, known_refutations=known)


def decision_table(workspace: Workspace, settings: EffectSettings = EffectSettings(),
                   engine: Engine | None = None) -> DecisionTable:
    """The workspace's decision points, with the windows the settings ask for (read from the
    log's lean frame: the four columns the table uses, ids as categoricals — the same table as
    from :meth:`~whyrec.tools.workspace.Workspace.events`, in a fraction of the memory).

    Beyond ``settings.table_max_events`` events, the table of a seeded sample of whole users
    (:func:`~whyrec.tools.frames.sample_users`): their rows are exactly the whole log's rows for
    them (item baselines, windows and the log's start come from the whole log), the event counts
    are the whole log's, and ``table.sample`` says what was drawn.

    ``engine``: the exposures and decision points are built user partition by user partition on
    its workers (each reads its partition of the workspace; the windows, the sample and the whole
    log's item history come from the driver) and put together in the driver: the same table, row
    for row (:func:`~whyrec.tools.causal.decisions.concat_decisions`)."""
    events = workspace.lean_events(["user_id", "item_id", "behaviour", "timestamp"])
    windows = choose_windows(events, settings.window_days, settings.horizon_days)
    items = workspace.items()
    sample, drawn = sample_users(events, settings.table_max_events, settings.seed)
    if drawn:
        log.info("decision table: %d events; built for %d of %d users (%d events, seed %d)", len(events),
                 drawn["users"], drawn["of_users"], drawn["events"], settings.seed)
    elif engine is None:
        return build_decisions(events, items, windows)
    counts, history = event_counts(events), item_history(events, items)
    users = pd.Index(distinct_strings(sample["user_id"])) if drawn else None
    del events
    if engine is None:
        table = build_decisions(sample, items, windows, build_units(sample, items, history))
    else:
        del sample
        table = _decisions_on(engine, workspace, _TableInputs(items, history, windows, users))
    return replace(table, event_counts=counts, sample=drawn)


@dataclass(frozen=True)
class _TableInputs:
    """What every partition's table needs from the whole log (pickled once for the workers)."""

    items: pd.DataFrame
    history: ItemHistory
    windows: Windows
    users: pd.Index | None  # the sampled users; None: every user


def _decisions_on(engine: Engine, workspace: Workspace, inputs: _TableInputs) -> DecisionTable:
    partitions = workspace.event_partitions(rows_per_partition=TABLE_PARTITION_ROWS)
    _ = inputs.history.looks, inputs.history.buys  # sorted once here, not in every task
    with scratch_folder("whyrec-table-", workspace.derived_path) as folder:
        write_inputs(folder / "inputs.pickle", inputs)
        token = uuid.uuid4().hex
        tables = engine.map(_partition_decisions, [(str(folder), token, p) for p in partitions])
        log.info("decision table: %d user partition(s) built on %d worker(s)", len(tables), engine.workers)
    return concat_decisions(tables, inputs.windows)


@functools.lru_cache(maxsize=1)
def _inputs_from(path: str, token: str) -> _TableInputs:
    """A worker's inputs (read once per worker process and table: ``token`` is new per table)."""
    inputs: _TableInputs = read_inputs(path, "the decision table's inputs",
                                       "with --address, the workspace must be on a volume every worker sees")
    return inputs


def _partition_decisions(job: tuple[str, str, EventPartition]) -> DecisionTable:
    """The engine's job: one user partition's exposures and decision points (the one result of
    the job that is not small: the driver needs the table anyway, and a pickled frame travels
    faster than one written to Parquet and read back)."""
    folder, token, partition = job
    inputs = _inputs_from(str(Path(folder) / "inputs.pickle"), token)
    events = partition.read(["user_id", "item_id", "behaviour", "timestamp", "event_key"])
    if inputs.users is not None:
        events = events[positions_in(inputs.users, events["user_id"]) >= 0]
    return build_decisions(events, inputs.items, inputs.windows, build_units(events, inputs.items, inputs.history))


def report_path(workspace: Workspace, segment: str | None, settings: EffectSettings) -> Path:
    """Where the report for this data version, segment and settings is stored."""
    key = "all" if not segment else SegmentSpec.parse(segment).key.replace("=", "-").replace("/", "_")
    base = workspace.derived_file(REPORT_NAME)
    return base.with_name(f"{base.name}-{key}-f{REPORT_FORMAT}-{settings.cache_key()}.json")


def load_or_estimate(workspace: Workspace, segment: str | None = None,
                     settings: EffectSettings = EffectSettings(), refresh: bool = False,
                     engine: Engine | None = None) -> InfluenceReport:
    """The stored report for the workspace's current events, estimating it if needed (on
    ``engine``, when given: the decision table user partition by user partition,
    :func:`decision_table`, and one behaviour per call, :func:`estimate_report`).

    >>> report = load_or_estimate(Workspace.open("ws"), segment="category")  # doctest: +SKIP
    >>> print(report.to_text())                                               # doctest: +SKIP
    """
    path = report_path(workspace, segment, settings)
    stored = None if refresh else stored_report(workspace, segment, settings)
    if stored is not None:
        log.info("influence report loaded from %s", path)
        return stored
    population = stored_report(workspace, None, settings) if segment else None
    report = estimate_report(decision_table(workspace, settings, engine), settings, segment, workspace.data_version,
                             population, engine)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(report.to_json(), indent=1), encoding="utf-8")
    tmp.replace(path)
    _remove_stale(workspace)
    log.info("influence report estimated in %.1f s and stored at %s", report.seconds, path)
    return report


def stored_report(workspace: Workspace, segment: str | None = None,
                  settings: EffectSettings = EffectSettings()) -> InfluenceReport | None:
    """The stored report for the current data version, or None (an unreadable file is None)."""
    path = report_path(workspace, segment, settings)
    if not path.exists():
        return None
    try:
        report = InfluenceReport.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("ignoring unreadable report %s: %s", path, exc)
        return None
    return report if report.data_version == workspace.data_version else None


def _remove_stale(workspace: Workspace) -> None:
    """Delete reports of older data versions (they can never be used again)."""
    current = workspace.derived_file(REPORT_NAME).name + "-"
    for old in workspace.derived_path.glob(f"{REPORT_NAME}-v*.json"):
        if not old.name.startswith(current):
            old.unlink(missing_ok=True)


def graph_picture(workspace: Workspace, settings: EffectSettings = EffectSettings(),
                  highlight: tuple[str, ...] = ()) -> Path:
    """Render the causal graph (one decision point's) to a PNG under ``derived/`` and return its path."""
    name = "causal_graph" + ("-" + "-".join(highlight) if highlight else "")
    path = workspace.derived_path / f"{name}-v2.png"
    if not path.exists():
        render_graph(path, highlight=highlight)
    return path


@dataclass(frozen=True)
class PairEffects:
    """The effects that apply to what one user did on one item."""

    user_id: str
    item_id: str
    behaviours: tuple[str, ...]
    effects: tuple[BehaviourEffect, ...]
    segment: str | None

    def to_json(self) -> dict:
        return {"user_id": self.user_id, "item_id": self.item_id, "behaviours": list(self.behaviours),
                "segment": self.segment, "effects": [e.to_json() for e in self.effects]}


def pair_behaviours(events: pd.DataFrame, user_id: str, item_id: str) -> tuple[str, ...]:
    """The treatments (view again, favourite, cart) this user did on this item, in funnel order."""
    mine = events[(events["user_id"] == str(user_id)) & (events["item_id"] == str(item_id))]
    kinds = mine["behaviour"].astype(str)
    found = []
    if kinds.isin(LOOKS).sum() >= 2:
        found.append("view")
    for behaviour in ("favourite", "cart"):
        if (kinds == behaviour).any():
            found.append(behaviour)
    return tuple(found)


def pair_effects(report: InfluenceReport, events: pd.DataFrame, items: pd.DataFrame,
                 user_id: str, item_id: str) -> PairEffects:
    """Effects for the behaviours ``user_id`` did on ``item_id``: the item's segment's
    estimate where the report has a usable one, else the population estimate."""
    behaviours = pair_behaviours(events, user_id, item_id)
    segment = _pair_segment(report, events, items, user_id, item_id)
    chosen = []
    for behaviour in behaviours:
        specific = report.effect(behaviour, segment) if segment else None
        general = report.effect(behaviour, POPULATION)
        effect = specific if specific is not None and specific.ok else general
        if effect is not None:
            chosen.append(effect)
    return PairEffects(str(user_id), str(item_id), behaviours, tuple(chosen), segment)


def _pair_segment(report: InfluenceReport, events: pd.DataFrame, items: pd.DataFrame,
                  user_id: str, item_id: str) -> str | None:
    if not report.segment_by:
        return None
    spec = SegmentSpec.parse(report.segment_by)
    row = items[items["item_id"] == str(item_id)]
    item = row.iloc[0] if len(row) else None
    value: str | None = None
    if spec.dimension == "category" and item is not None and pd.notna(item["category"]):
        value = str(item["category"]).split(".")[0]
    elif spec.dimension == "category":
        value = "unknown"
    elif spec.dimension == "brand":
        value = str(item["brand"]) if item is not None and pd.notna(item["brand"]) else "unknown"
    elif spec.dimension == "price_band" and item is not None and pd.notna(item["price"]):
        value = band_of(float(item["price"]), _edges(report))
    elif spec.dimension == "activity":
        mine = events[events["user_id"] == str(user_id)]
        first = mine.loc[mine["item_id"] == str(item_id), "timestamp"].min()
        if pd.notna(first):
            earlier = mine.loc[mine["timestamp"] < first, "item_id"].nunique()
            value = band_of(float(earlier), _edges(report))
    return None if value is None else f"{spec.dimension}={value}"


def _edges(report: InfluenceReport) -> tuple[float, float] | None:
    edges = report.settings.get("segment_edges")
    return (float(edges[0]), float(edges[1])) if edges else None
