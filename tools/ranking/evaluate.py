"""``whyrec evaluate``: every ranker under one temporal, full-ranking protocol per dataset.

For each dataset: split by time (the test set is each user's later target behaviour), carve a
validation split from the training part the same way, tune each model on validation only, refit
on the full training part, and score the test users over all items. Results are records with
means and standard errors over test users, written as JSON and a markdown table.

>>> records = evaluate("tmall2014", ["whyrec", "repeat"], data_dir="../shared/data")  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..cli_options import add_engine_arguments
from ..engine import Engine, EngineError, open_engine, read_inputs, scratch_folder, write_inputs
from .causal_weights import UNSUPPORTED_POLICIES, CausalWeights, estimate_causal_weights
from .harness import measure
from .registry import MODELS, make_ranker
from .regression_weights import RegressionWeights, regression_weights
from .spaces import search_space
from .split import FractionCut, LastPositive, Protocol, Split, TimeCut
from .tuning import tune

log = logging.getLogger(__name__)

#: Record names of whyrec variants (``whyrec-causal``: behaviour weights from causal effects).
WHYREC_VARIANT_PREFIX = "whyrec-"
CAUSAL_MODEL = "whyrec-causal"
REGRESSION_MODEL = "whyrec-regression"
#: How whyrec's behaviour weights are chosen: by the tuner ("grid"), from causal effects, or
#: by a logistic regression on the validation split (:mod:`.regression_weights`).
WEIGHT_SOURCES: tuple[str, ...] = ("grid", "causal", "regression")

Loader = Callable[[Path], tuple[pd.DataFrame, pd.DataFrame]]


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset lives, how it is split, which protocols run, and whether to tune on it."""

    name: str
    folder: str
    protocol: Protocol
    exclude_seen: tuple[bool, ...]
    tune: bool = True
    note: str = ""


def _utc(day: str) -> pd.Timestamp:
    return pd.Timestamp(day, tz="UTC")


DATASETS: dict[str, DatasetSpec] = {
    "tmall2014": DatasetSpec(
        "tmall2014", "tmall-brand-rec-2014",
        TimeCut(_utc("2013-07-16"), _utc("2013-08-16"), target="purchase"), (False, True),
        note="click/favourite/cart -> purchase; test = brands bought 07-16..08-15"),
    "movielens": DatasetSpec(
        "movielens", "movielens-ml-latest-small", LastPositive(target="favourite"), (True,),
        note="rating >= 4 is positive (favourite); each user's last positive held out"),
    "rees46": DatasetSpec(
        "rees46", "rees46-multicategory-2019oct-head", FractionCut(0.8, target="purchase"),
        (False,),
        note="view/cart -> purchase; cut after 80% of events; few users (41 test, 25 validation)"),
    "demo": DatasetSpec(
        "demo", "", FractionCut(0.8, target="purchase"), (False, True),
        note="whyrec demo shop; cut after 80% of events"),
}


@dataclass(frozen=True)
class EvalRecord:
    """One (dataset, model, protocol) result: test metrics, and how the model was tuned.

    ``validation`` is the tuning summary (:meth:`TuneResult.to_json`: validation score ± s.e.,
    trials, seconds, converged, edges) or None for untuned defaults. ``comparison`` (on the
    whyrec record) is its margin over the strongest other model on the same test users.
    """

    dataset: str
    model: str
    protocol: dict[str, Any]
    metrics: dict[str, float]
    stderr: dict[str, float]
    n_test_users: int
    fit_seconds: float
    tune_seconds: float
    params: dict[str, Any] = field(default_factory=dict)
    validation: dict[str, Any] | None = None
    comparison: dict[str, Any] | None = None
    fixed_weights: dict[str, Any] | None = None
    per_user: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k != "per_user"}
        data["params"] = {k: v for k, v in self.params.items() if k != "item_vectors"}
        return json.loads(json.dumps(data, default=_json_default))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EvalRecord:
        known = {f for f in cls.__dataclass_fields__ if f != "per_user"}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class Comparison:
    """A model's margin over the strongest other model, paired over the same test users."""

    model: str
    baseline: str
    metric: str
    model_score: float
    baseline_score: float
    difference: float
    difference_stderr: float
    ratio: float
    n_users: int

    def to_json(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self), default=_json_default))


def compare(records: Sequence[EvalRecord], model: str = "whyrec", metric: str = "ndcg@20"
            ) -> Comparison | None:
    """``model`` against the best other record by test ``metric`` (all from one dataset and
    protocol). The s.e. of the difference is paired over users (both rankers are scored on the
    same users); picking the baseline by its test score favours the baseline."""
    mine = [r for r in records if r.model == model]
    # Variants of whyrec itself (``whyrec-causal``) are not baselines.
    others = [r for r in records if r.model != model and not r.model.startswith(WHYREC_VARIANT_PREFIX)]
    if not mine or not others:
        return None
    ours = mine[0]
    best = max(others, key=lambda r: r.metrics[metric])
    return paired(ours, best, metric)


def paired(ours: EvalRecord, best: EvalRecord, metric: str = "ndcg@20") -> Comparison:
    """``ours`` against ``best`` on the same test users (s.e. of the per-user difference)."""
    a, b = ours.per_user.get(metric), best.per_user.get(metric)
    if a is not None and b is not None and len(a) == len(b) and len(a) > 1:
        diff = np.asarray(a) - np.asarray(b)
        stderr = float(diff.std(ddof=1) / np.sqrt(len(diff)))
    else:
        stderr = float("nan")
    base = best.metrics[metric]
    return Comparison(ours.model, best.model, metric, ours.metrics[metric], base,
                      ours.metrics[metric] - base, stderr,
                      ours.metrics[metric] / base if base > 0 else float("inf"),
                      ours.n_test_users)


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, (pd.Timestamp,)):
        return value.isoformat()
    return repr(value)


def load_dataset(name: str, data_dir: Path, demo_options: dict[str, Any] | None = None
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Events and catalog of a benchmark dataset (``demo`` is generated by whyrec.tools.demo)."""
    if name == "demo":
        from ..demo import DemoConfig, generate_shop

        shop = generate_shop(DemoConfig(**(demo_options or {})))
        return shop.events, shop.items
    from ..ingest.pipeline import read_preset

    spec = DATASETS[name]
    return read_preset(name, data_dir / spec.folder)


@dataclass(frozen=True)
class _Run:
    """One model under one exclusion setting: what one engine call evaluates."""

    model: str                   # the registered model
    record: str                  # the record's name (``whyrec-causal`` for fixed causal weights)
    exclude_seen: bool
    fixed_weights: CausalWeights | RegressionWeights | None = None


@dataclass(frozen=True)
class _Inputs:
    """Everything a run needs besides the run itself (written once for a cluster's workers)."""

    dataset: str
    events: pd.DataFrame
    items: pd.DataFrame | None
    protocol: Protocol
    windows: int
    tune: bool
    model_params: dict[str, dict[str, Any]]
    budget_seconds: float
    restarts: int


@dataclass(frozen=True)
class _Context:
    """The inputs with their test split and validation windows (made once per process)."""

    inputs: _Inputs
    split: Split
    windows: tuple[Split, ...]

    @classmethod
    def make(cls, inputs: _Inputs) -> _Context:
        events = inputs.events
        return cls(inputs, inputs.protocol.split(events),
                   tuple(inputs.protocol.validation_windows(events, inputs.windows)) if inputs.tune else ())


def _evaluate_run(context: _Context, run: _Run) -> EvalRecord:
    """Tune ``run``'s model on the validation windows (when tuning), refit it on the training
    part and score it on the test users: the record, without its comparison."""
    inputs, split, windows_used = context.inputs, context.split, context.windows
    validation = windows_used[0] if windows_used else None
    fixed = dict(inputs.model_params.get(run.model, {}))
    space = None
    if run.fixed_weights is not None:
        fixed["behaviour_weights"] = dict(run.fixed_weights.weights)
        space = tuple(a for a in search_space(
            run.model, validation.train["behaviour"].astype(str).unique() if validation is not None
            else [], fixed.get("target"), with_text=fixed.get("item_vectors") is not None)
            if not a.name.startswith("w:"))
    params, summary, tune_seconds = fixed, None, 0.0
    if validation is not None:
        # Fixed weights were learned on the latest window (its training part, for regression
        # its labels too), which holds the older windows' test periods: those runs are tuned on
        # the latest window only.
        tuned = tune(run.model, windows_used if run.fixed_weights is None else windows_used[:1], inputs.items,
                     run.exclude_seen, fixed, space=space,
                     budget_seconds=inputs.budget_seconds, restarts=inputs.restarts)
        params, summary, tune_seconds = tuned.params, tuned.to_json(), tuned.cpu_seconds
    started = time.perf_counter()
    ranker = make_ranker(run.model, **params).fit(split.train, inputs.items)
    fit_seconds = time.perf_counter() - started
    result = measure(ranker, split, run.exclude_seen)
    tuned_on = ("none (defaults)" if validation is None else "validation" if len(windows_used) == 1
                else f"{len(windows_used)} rolling validation windows")
    return EvalRecord(
        dataset=inputs.dataset, model=run.record,
        protocol={**inputs.protocol.to_json(), "exclude_seen": run.exclude_seen,
                  "full_ranking": True, "n_items": len(ranker.catalog_),
                  "tuned_on": tuned_on, "split": split.description},
        metrics=result.metrics, stderr=result.stderr, n_test_users=result.n_users,
        fit_seconds=round(fit_seconds, 3), tune_seconds=round(tune_seconds, 1),
        params=params, validation=summary, per_user=result.per_user,
        fixed_weights=run.fixed_weights.to_json() if run.fixed_weights is not None else None)


@functools.lru_cache(maxsize=1)
def _context_from(path: str, token: str) -> _Context:
    """A worker's context for the inputs at ``path`` (read and split once per worker process and
    evaluation: ``token`` is new for every evaluation, so a reused path is never served stale)."""
    return _Context.make(read_inputs(path, "the evaluation's inputs",
                                     "with --address, --scratch must be a folder every worker sees"))


def _evaluate_from(task: tuple[str, str, _Run]) -> EvalRecord:
    """The engine's job function: one run against the inputs written at ``task[0]``. The result
    leaves out item vectors (the driver has them): results stay small."""
    path, token, run = task
    record = _evaluate_run(_context_from(path, token), run)
    return replace(record, params={k: v for k, v in record.params.items() if k != "item_vectors"})


def _evaluate_on(engine: Engine, plans: Sequence[_Plan], scratch: str | Path | None,
                 done: dict[tuple[int, int], EvalRecord] | None = None) -> list[list[EvalRecord]]:
    """Every run of every plan spread over ``engine``'s workers in one go, one call each (a
    dataset's long run overlaps the next dataset's runs); each plan's inputs are written once to
    a file under ``scratch`` (default: the system's temporary folder; on a remote cluster, a
    folder its workers see too), removed afterwards. ``done`` collects (plan, run) -> record as
    they come back, so a caller keeps what finished before a failure."""
    done = {} if done is None else done
    with scratch_folder("whyrec-evaluate-", scratch) as folder:
        tasks, where = [], []
        for n, plan in enumerate(plans):
            path = folder / f"inputs-{n}.pickle"
            write_inputs(path, plan.context.inputs)
            token = uuid.uuid4().hex
            tasks += [(str(path), token, run) for run in plan.runs]
            where += [(n, m) for m in range(len(plan.runs))]

        def arrived(position: int, record: EvalRecord) -> None:
            done[where[position]] = record
            _log_record(record)

        engine.map(_evaluate_from, tasks, on_done=arrived)
    return [records for n, plan in enumerate(plans) if (records := _returned(plan, n, done)) is not None]


def _returned(plan: _Plan, n: int, done: dict[tuple[int, int], EvalRecord]) -> list[EvalRecord] | None:
    """Plan ``n``'s records as they came back from the workers, with the item vectors the driver
    kept (never shipped back); None unless every one of its runs came back."""
    if any((n, m) not in done for m in range(len(plan.runs))):
        return None
    params = plan.context.inputs.model_params
    return [replace(done[(n, m)], params={**done[(n, m)].params, "item_vectors": params[run.model]["item_vectors"]})
            if "item_vectors" in params.get(run.model, {}) else done[(n, m)]
            for m, run in enumerate(plan.runs)]


@dataclass(frozen=True)
class Evaluation:
    """What :func:`evaluate_datasets` measured: the records of the datasets that finished, the
    ones skipped (no data) and, when the engine failed, its message."""

    records: list[EvalRecord]
    skipped: dict[str, str] = field(default_factory=dict)
    failed: str | None = None


def evaluate_datasets(datasets: Sequence[str], models: Sequence[str], data_dir: str | Path = "../shared/data",
                      engine: Engine | None = None, scratch: str | Path | None = None,
                      **options: Any) -> Evaluation:
    """:func:`evaluate` on each of ``datasets`` (``options`` are its keywords). In this process,
    one dataset after the other; on a cluster, every dataset's runs are sent together, so the
    workers are not idle while one dataset's longest run ends. A dataset whose files are missing
    is skipped (said in ``skipped``); an engine failure keeps the datasets whose runs had all
    finished."""
    skipped: dict[str, str] = {}
    records: list[EvalRecord] = []
    if engine is None or engine.name == "local":
        for name in datasets:
            try:
                records += evaluate(name, models, data_dir, engine=engine, **options)
            except (FileNotFoundError, ImportError) as exc:
                skipped[name] = str(exc)
            except EngineError as exc:
                return Evaluation(records, skipped, f"{name}: {exc}")
        return Evaluation(records, skipped)
    plans = []
    for name in datasets:
        try:
            plans.append(_plan(name, models, data_dir, **options))
        except (FileNotFoundError, ImportError) as exc:
            skipped[name] = str(exc)
    done: dict[tuple[int, int], EvalRecord] = {}
    failed = None
    try:
        _evaluate_on(engine, plans, scratch, done)
    except EngineError as exc:   # keep the datasets whose runs all came back
        failed = str(exc)
    for n, plan in enumerate(plans):
        returned = _returned(plan, n, done)
        if returned is not None:
            records += _finish(plan, returned)
    return Evaluation(records, skipped, failed)


def _log_record(record: EvalRecord) -> None:
    summary = record.validation
    log.info("%s %s exclude_seen=%s: NDCG@20 %.4f ± %.4f (%d users)%s", record.dataset, record.model,
             record.protocol.get("exclude_seen"), record.metrics["ndcg@20"], record.stderr["ndcg@20"],
             record.n_test_users, f"; validation {summary['score']:.4f}" if summary else "")


def evaluate(dataset: str, models: Sequence[str], data_dir: str | Path = "../shared/data",
             exclude_seen: Sequence[bool] | None = None, tune_models: bool | None = None,
             events: pd.DataFrame | None = None, items: pd.DataFrame | None = None,
             protocol: Protocol | None = None,
             model_params: dict[str, dict[str, Any]] | None = None,
             budget_seconds: float = 600.0, restarts: int = 0,
             weights: Sequence[str] = ("grid",), unsupported: str = "estimate",
             windows: int = 1, engine: Engine | None = None,
             scratch: str | Path | None = None) -> list[EvalRecord]:
    """Evaluate ``models`` on ``dataset``; one record per (model, exclude-seen setting).

    ``weights``: how whyrec's behaviour weights are chosen — ``"grid"`` (searched by the tuner,
    the record ``whyrec``) and/or ``"causal"`` (the causal tool's population effects estimated on
    the validation split's training events, fixed while the tuner searches everything else; the
    record ``whyrec-causal``, compared with ``whyrec`` on the same test users when both run).
    ``unsupported``: what a not-supported effect weighs (:func:`.causal_weights.causal_weights`).

    Every model is tuned by the same search (:func:`~.tuning.tune`) on the same validation
    split, with ``budget_seconds`` of CPU time each, then refitted on the training part and scored on test.
    ``events``/``items``/``protocol`` override the built-in dataset (used by tests);
    ``model_params`` fixes parameters per model (e.g. ``item_vectors`` for whyrec).
    ``windows`` > 1 tunes on that many rolling validation windows
    (:meth:`~.split.Protocol.validation_windows`); fixed weights are learned on the latest.
    ``engine`` (:func:`~whyrec.tools.engine.open_engine`; default: this process) runs the
    (model, setting) pairs, one call each — on Dask, side by side on its workers, which read the
    inputs from a file under ``scratch``. A search that converges within its budget gives the
    same record wherever it ran; one that the budget stops depends on the CPU it got.
    """
    plan = _plan(dataset, models, data_dir, exclude_seen, tune_models, events, items, protocol, model_params,
                 budget_seconds, restarts, weights, unsupported, windows)
    if engine is None or engine.name == "local":
        done = []
        for run in plan.runs:
            done.append(_evaluate_run(plan.context, run))
            _log_record(done[-1])
        return _finish(plan, done)
    return _finish(plan, _evaluate_on(engine, [plan], scratch)[0])


@dataclass(frozen=True)
class _Plan:
    """One dataset's evaluation before it runs: its context, its runs in table order, the settings."""

    context: _Context
    runs: tuple[_Run, ...]
    settings: tuple[bool, ...]


def _plan(dataset: str, models: Sequence[str], data_dir: str | Path = "../shared/data",
             exclude_seen: Sequence[bool] | None = None, tune_models: bool | None = None,
             events: pd.DataFrame | None = None, items: pd.DataFrame | None = None,
             protocol: Protocol | None = None,
             model_params: dict[str, dict[str, Any]] | None = None,
             budget_seconds: float = 600.0, restarts: int = 0,
             weights: Sequence[str] = ("grid",), unsupported: str = "estimate",
             windows: int = 1) -> _Plan:
    """The dataset loaded and split, fixed weights learned, the runs listed (see :func:`evaluate`)."""
    spec = DATASETS.get(dataset)
    if events is None:
        if spec is None:
            raise ValueError(f"unknown dataset {dataset!r}; choose from {sorted(DATASETS)}")
        events, items = load_dataset(dataset, Path(data_dir))
    protocol = protocol or (spec.protocol if spec else None)
    if protocol is None:
        raise ValueError(f"no protocol for dataset {dataset!r}")
    settings = tuple(dict.fromkeys(exclude_seen if exclude_seen is not None
                                   else spec.exclude_seen if spec else (True,)))
    do_tune = tune_models if tune_models is not None else (spec.tune if spec else True)
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise ValueError(f"unknown model(s) {unknown}; choose from {sorted(MODELS)}")

    unknown_weights = [w for w in weights if w not in WEIGHT_SOURCES]
    if unknown_weights or not weights:
        raise ValueError(f"weights must be among {WEIGHT_SOURCES}, not {list(weights)}")
    if unsupported not in UNSUPPORTED_POLICIES:
        raise ValueError(f"unsupported must be one of {UNSUPPORTED_POLICIES}, not {unsupported!r}")
    if windows < 1:
        raise ValueError(f"windows must be at least 1, not {windows}")
    split = protocol.split(events)
    windows_used = protocol.validation_windows(events, windows) if do_tune else ()
    validation = windows_used[0] if windows_used else None
    fixed_runs: list[tuple[str, CausalWeights | RegressionWeights]] = []
    if "regression" in weights and "whyrec" in models:
        try:   # learned on the validation split even when nothing is tuned: never on test labels
            fixed_runs.append((REGRESSION_MODEL, regression_weights(
                validation if validation is not None else protocol.validation(events), protocol.target)))
        except ValueError as exc:
            log.warning("%s: no regression weights: %s", dataset, exc)
    if "causal" in weights and "whyrec" in models and protocol.target != "purchase":
        log.warning("%s: no causal weights — the causal tool estimates effects on purchase and "
                    "this log's target is %r", dataset, protocol.target)
    elif "causal" in weights and "whyrec" in models:
        # Only events before the validation cut (or the test cut, untuned): the weights never
        # see what they are scored on.
        source = validation.train if validation is not None else split.train
        fixed_runs.append((CAUSAL_MODEL, estimate_causal_weights(source, items, protocol.target, unsupported)))
    runs = [_Run(name, name, setting, None) for setting in settings
            for name in models if name != "whyrec" or "grid" in weights]
    runs += [_Run("whyrec", record_name, setting, found) for setting in settings for record_name, found in fixed_runs]
    runs.sort(key=lambda r: settings.index(r.exclude_seen))   # setting by setting, as the tables read
    log.info("%s: %s; %d test users, %d training events, %d items", dataset, split.description,
             split.n_test_users, len(split.train), len(items) if items is not None else -1)
    inputs = _Inputs(dataset, events, items, protocol, windows, do_tune, dict(model_params or {}),
                     budget_seconds, restarts)
    return _Plan(_Context(inputs, split, tuple(windows_used)), tuple(runs), settings)


def _finish(plan: _Plan, done: Sequence[EvalRecord]) -> list[EvalRecord]:
    """The records of ``plan``'s runs with whyrec's comparisons, setting by setting."""
    records = []
    for setting in plan.settings:
        batch = [r for r, run in zip(done, plan.runs, strict=True) if run.exclude_seen == setting]
        comparison = compare(batch)
        grid = [r for r in batch if r.model == "whyrec"]
        for n, r in enumerate(batch):
            if comparison is not None and r.model == comparison.model:
                batch[n] = replace(r, comparison=comparison.to_json())
            elif grid and r.model.startswith(WHYREC_VARIANT_PREFIX):
                batch[n] = replace(r, comparison=paired(r, grid[0]).to_json())
        records += batch
    return records


def format_params(record: EvalRecord) -> str:
    """The chosen parameters as ``name=value`` (searched axes only when tuned). A value at the
    edge of what was searched is marked **[low edge]** / **[high edge]**; † marks a value not
    re-checked around the final point because the budget ended the search."""
    if record.validation:
        point = record.validation.get("point", {})
        edges = record.validation.get("edges", {})
    else:
        point, edges = {k: v for k, v in record.params.items() if k != "item_vectors"}, {}
    source = record.model[len(WHYREC_VARIANT_PREFIX):]
    parts = [f"w:{b}={w:.3g} ({source})" for b, w in (record.fixed_weights or {}).get("weights", {}).items()]
    for key, value in point.items():
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        edge = edges.get(key)
        mark = "" if edge is None else "†" if edge == "unchecked" else f" **[{edge} edge]**"
        parts.append(f"{key}={shown}{mark}")
    return ", ".join(parts)


def _seen(record: EvalRecord) -> str:
    return "excluded" if record.protocol.get("exclude_seen") else "allowed"


def markdown_table(records: Sequence[EvalRecord]) -> str:
    """One row per record: validation and test NDCG@20 (± s.e.), other metrics, how it was tuned
    and the chosen parameters."""
    lines = ["| dataset | seen items | model | validation NDCG@20 | test NDCG@20 | NDCG@10 | "
             "Recall@20 | MRR | coverage@20 | users | trials | tune CPU s | chosen parameters |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        m, e, v = r.metrics, r.stderr, r.validation
        val = (f"{v['score']:.4f} ± {v['stderr']:.4f} ({v['n_users']})" if v else "not tuned")
        trials = (f"{v['n_trials']}{'' if v['converged'] else ' (not converged)'}" if v else "-")
        lines.append(
            f"| {r.dataset} | {_seen(r)} | {r.model} | {val} | "
            f"{m['ndcg@20']:.4f} ± {e['ndcg@20']:.4f} | {m['ndcg@10']:.4f} ± {e['ndcg@10']:.4f} | "
            f"{m['recall@20']:.4f} ± {e['recall@20']:.4f} | {m['mrr']:.4f} ± {e['mrr']:.4f} | "
            f"{m['coverage@20']:.3f} | {r.n_test_users} | {trials} | {r.tune_seconds:.0f} | "
            f"{format_params(r)} |")
    return "\n".join(lines)


def margins_table(records: Sequence[EvalRecord]) -> str:
    """whyrec against the strongest other model per dataset and protocol (paired s.e.)."""
    lines = ["| dataset | seen items | whyrec NDCG@20 | strongest other | its NDCG@20 | "
             "difference ± paired s.e. | ratio | users |",
             "|---|---|---|---|---|---|---|---|"]
    for r in records:
        c = r.comparison
        if not c or r.model != "whyrec":
            continue
        lines.append(
            f"| {r.dataset} | {_seen(r)} | {c['model_score']:.4f} ± {r.stderr['ndcg@20']:.4f} | "
            f"{c['baseline']} | {c['baseline_score']:.4f} | "
            f"{c['difference']:+.4f} ± {c['difference_stderr']:.4f} | {c['ratio']:.3f}x | "
            f"{c['n_users']} |")
    return "\n".join(lines)


def weights_table(records: Sequence[EvalRecord]) -> str:
    """whyrec with fixed behaviour weights (causal effects, regression) against whyrec with
    grid-tuned weights, on the same test users (paired s.e.)."""
    lines = ["| dataset | seen items | weights | NDCG@20 | grid weights NDCG@20 | "
             "difference ± paired s.e. | ratio | users | the fixed weights |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        c = r.comparison
        if not c or not r.model.startswith(WHYREC_VARIANT_PREFIX):
            continue
        lines.append(
            f"| {r.dataset} | {_seen(r)} | {r.model[len(WHYREC_VARIANT_PREFIX):]} | "
            f"{c['model_score']:.4f} ± {r.stderr['ndcg@20']:.4f} | "
            f"{c['baseline_score']:.4f} | {c['difference']:+.4f} ± {c['difference_stderr']:.4f} | "
            f"{c['ratio']:.3f}x | {c['n_users']} | {causal_sources(r)} |")
    return "\n".join(lines)


def causal_sources(record: EvalRecord) -> str:
    """``behaviour=weight (rule)`` for a ``whyrec-causal`` record (``behaviour=weight`` for
    regression weights)."""
    found = record.fixed_weights or {}
    sources = found.get("sources", {})
    parts = []
    for behaviour, weight in found.get("weights", {}).items():
        src = sources.get(behaviour, {})
        detail = src.get("rule", "")
        if src.get("estimate") is not None:
            detail = f"effect {src['estimate']:+.3f}, {src.get('verdict')}" + (
                "" if detail == src.get("verdict") else f" → {detail}")
        elif src.get("verdict"):
            detail = f"{src['verdict']}: {detail}"
        parts.append(f"{behaviour}={weight:.3g}" + (f" ({detail})" if detail else ""))
    return "; ".join(parts)


def summary_table(records: Sequence[EvalRecord]) -> str:
    """Test NDCG@20 ± s.e., one row per dataset and protocol, one column per model."""
    models = list(dict.fromkeys(r.model for r in records))
    lines = ["| dataset | seen | " + " | ".join(models) + " |",
             "|---|---|" + "---|" * len(models)]
    groups: dict[tuple[str, str], dict[str, EvalRecord]] = {}
    for r in records:
        groups.setdefault((r.dataset, _seen(r)), {})[r.model] = r
    for (dataset, seen), by_model in groups.items():
        best = max(x.metrics["ndcg@20"] for x in by_model.values())
        cells = []
        for model in models:
            found = by_model.get(model)
            if found is None:
                cells.append("-")
                continue
            text = f"{found.metrics['ndcg@20']:.4f} ± {found.stderr['ndcg@20']:.4f}"
            cells.append(f"**{text}**" if found.metrics["ndcg@20"] == best else text)
        lines.append(f"| {dataset} | {seen} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _key(record: EvalRecord) -> tuple[str, bool]:
    return record.model, bool(record.protocol.get("exclude_seen"))


def write_results(records: Sequence[EvalRecord], out_dir: Path) -> list[Path]:
    """``ranking_<dataset>.json`` per dataset (a list of records) and ``ranking_table.md`` (every
    ``ranking_<dataset>.json`` in ``out_dir``, so datasets evaluated separately end up in one
    table). Records already in the file for other (model, seen-items) pairs are kept, so one
    protocol or one model can be re-run alone."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for dataset in dict.fromkeys(r.dataset for r in records):
        path = out_dir / f"ranking_{dataset}.json"
        new = [r for r in records if r.dataset == dataset]
        old = []
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            old = [EvalRecord.from_json(d) for d in data if isinstance(d, dict) and "model" in d]
        replaced = {_key(r) for r in new}
        merged = [r for r in old if _key(r) not in replaced] + new
        merged.sort(key=lambda r: bool(r.protocol.get("exclude_seen")))
        path.write_text(json.dumps([r.to_json() for r in merged], indent=2) + "\n",
                        encoding="utf-8")
        written.append(path)
    written.append(write_table(out_dir))
    return written


def load_records(out_dir: Path) -> list[EvalRecord]:
    """Every record in ``out_dir/ranking_<dataset>.json``, datasets in :data:`DATASETS` order."""
    order = {name: n for n, name in enumerate(DATASETS)}
    paths = sorted(out_dir.glob("ranking_*.json"),
                   key=lambda p: (order.get(p.stem[len("ranking_"):], len(order)), p.name))
    records = []
    for path in paths:
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, list) and data and isinstance(data[0], dict) and "model" in data[0]:
            records += [EvalRecord.from_json(item) for item in data]
    return records


def write_table(out_dir: Path) -> Path:
    """``ranking_table.md``: the summary, the margins and the full table of every record."""
    records = load_records(out_dir)
    table = out_dir / "ranking_table.md"
    table.write_text(
        "## Test NDCG@20 (± s.e.; best per row in bold)\n\n" + summary_table(records)
        + "\n\n## whyrec against the strongest other model\n\n" + margins_table(records)
        + (("\n\n## whyrec with fixed behaviour weights (causal effects, regression) against "
            "grid-tuned weights\n\n" + weights_table(records))
           if any(r.model.startswith(WHYREC_VARIANT_PREFIX) for r in records) else "")
        + "\n\n## Every model: validation and test scores, chosen parameters\n\n"
        + markdown_table(records) + "\n", encoding="utf-8")
    return table


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="whyrec evaluate",
        description="Evaluate rankers with a temporal split and full ranking over all items; "
                    "every model is tuned by the same search on a validation split.")
    parser.add_argument("--dataset", default="all", choices=[*DATASETS, "all"])
    parser.add_argument("--models", default=",".join(MODELS),
                        help=f"comma-separated, from {','.join(MODELS)}")
    parser.add_argument("--data-dir", default="../shared/data", type=Path)
    parser.add_argument("--out", default=Path("bench/results"), type=Path)
    parser.add_argument("--no-tune", action="store_true", help="use default parameters")
    parser.add_argument("--seen", default="dataset", choices=["dataset", "allowed", "excluded"],
                        help="seen items allowed or excluded (default: the dataset's protocols)")
    parser.add_argument("--budget", default=600.0, type=float,
                        help="tuning CPU seconds per model and protocol (default 600)")
    parser.add_argument("--restarts", default=0, type=int,
                        help="random restarts of the search while the budget lasts")
    parser.add_argument("--weights", default="grid",
                        help="whyrec's behaviour weights, comma-separated: grid (tuned, the default), "
                             "causal (the causal tool's population effects, record whyrec-causal), "
                             "regression (logistic regression on validation, whyrec-regression); "
                             "'both' = grid,causal. Fixed weights are compared with grid ones.")
    parser.add_argument("--unsupported", default="estimate", choices=list(UNSUPPORTED_POLICIES),
                        help="with causal weights: a behaviour whose effect is not supported "
                             "weighs its estimate clipped at 0 (default) or 0")
    parser.add_argument("--windows", default=1, type=int,
                        help="rolling validation windows to tune on (default 1: the one validation split)")
    add_engine_arguments(parser, "where the models are tuned and scored: in this process (local, the default) or "
                                 "on Dask, one model and setting per call (a local cluster, or the one at --address)")
    parser.add_argument("--scratch", type=Path, default=None,
                        help="with --engine dask: a folder for the inputs handed to the workers (default: the "
                             "system's temporary folder; with --address, one the workers see too)")
    parser.add_argument("--table-only", action="store_true",
                        help="only rebuild ranking_table.md from the JSON records in --out")
    return parser


def evaluate_cli(argv: list[str]) -> int:
    """Entry point of ``whyrec evaluate``; returns the exit code."""
    args = build_parser().parse_args(argv)
    if args.table_only:
        path = write_table(args.out)
        print(path.read_text(encoding="utf-8"))  # CLI output
        return 0
    if args.windows < 1:
        print(f"--windows: at least 1, not {args.windows}")  # CLI output
        return 2
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        print(f"unknown model(s) {unknown}; choose from {', '.join(MODELS)}")  # CLI output
        return 2
    weight_sources = ("grid", "causal") if args.weights == "both" else tuple(
        w.strip() for w in args.weights.split(",") if w.strip())
    if any(w not in WEIGHT_SOURCES for w in weight_sources) or not weight_sources:
        print(f"--weights: choose from {', '.join(WEIGHT_SOURCES)} or both")  # CLI output
        return 2
    datasets = list(DATASETS) if args.dataset == "all" else [args.dataset]
    missing = [d for d in datasets if DATASETS[d].folder and not (args.data_dir / DATASETS[d].folder).is_dir()]
    for name in missing:   # found before an engine (perhaps a cluster) is started for nothing
        log.warning("skipping %s: no folder %s", name, args.data_dir / DATASETS[name].folder)
    datasets = [d for d in datasets if d not in missing]
    if not datasets:
        print(f"nothing was evaluated (no data for {', '.join(missing)} under {args.data_dir})")  # CLI output
        return 1
    records: list[EvalRecord] = []
    if args.scratch is not None and args.engine != "dask":
        print("error: --scratch needs --engine dask")  # CLI output
        return 2
    if args.scratch is not None and not args.scratch.is_dir():
        print(f"error: --scratch {args.scratch}: no such folder")  # CLI output
        return 2
    if args.address and args.engine == "dask" and args.scratch is None:
        print("error: with --address, --scratch must name a folder every worker sees")  # CLI output
        return 2
    try:
        engine = open_engine(args.engine, address=args.address, workers=args.workers)
    except EngineError as exc:
        print(f"error: {exc}")  # CLI output
        return 2
    with engine:
        result = evaluate_datasets(datasets, models, args.data_dir, engine=engine, scratch=args.scratch,
                                   exclude_seen=None if args.seen == "dataset" else [args.seen == "excluded"],
                                   tune_models=False if args.no_tune else None,
                                   budget_seconds=args.budget, restarts=args.restarts, weights=weight_sources,
                                   unsupported=args.unsupported, windows=args.windows)
    for name, why in result.skipped.items():
        log.warning("skipping %s: %s", name, why)
    records, failed = result.records, (f"error: {result.failed}" if result.failed else None)
    if failed:
        print(failed)  # CLI output
    if not records:
        if not failed:
            print("nothing was evaluated")  # CLI output
        return 2 if failed else 1
    paths = write_results(records, args.out)
    print(markdown_table(records))
    print("\n" + margins_table(records))
    if any(r.model.startswith(WHYREC_VARIANT_PREFIX) for r in records):
        print("\n" + weights_table(records))
    print("\nwrote " + ", ".join(str(p) for p in paths))
    return 2 if failed else 0
