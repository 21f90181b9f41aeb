"""Honest tuning: one search procedure for every model, scored on a validation split only.

A *search space* is an ordered tuple of :class:`~.spaces.Axis` — one per parameter, with the
values to try, where the search starts, and how far it may go (:mod:`.spaces` holds each
model's). :func:`tune` runs coordinate descent from
the start point: axis by axis, it tries every value and keeps the best validation NDCG@20; when
the best value is the lowest or highest tried, it extends the axis one step further (×ratio on a
log axis) until the score stops improving or the axis reaches its limit. Passes repeat until one
changes nothing (converged) or the budget of CPU seconds runs out; with ``restarts`` it then starts again
from random points of the space and keeps the overall best.

Every model gets the same search, the same budget and the same validation split. The result says
which chosen values sit at the edge of what was searched (:attr:`TuneResult.edges`), so a reader
can tell a tuned value from a clipped one.

With an ``engine`` (issue 18, e.g. a Dask cluster: :func:`whyrec.tools.engine.open_engine`) the
points of one axis are scored on its workers, as many at a time as it has workers: each worker
reads the search's inputs once from a file under ``scratch`` and keeps its own fitted rankers.
The descent still walks the points in grid order and keeps the first best, so a search that
converges within its budget chooses what the in-process search chooses, trial for trial (up to
the last bits of float arithmetic: a worker's BLAS runs one thread, and a multi-threaded BLAS
may round EASE's inverse differently, which matters only between points scored within rounding). The
budget then counts this process's CPU plus the CPU the workers' calls used, checked before each
round: a search the budget stops may score up to one round more than in-process.

>>> result = tune("ease", validation, items, exclude_seen=False, budget_seconds=300)  # doctest: +SKIP
>>> result.params, result.score, result.edges                                        # doctest: +SKIP
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import pickle
import random
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..engine import Engine, read_inputs, scratch_folder, write_inputs
from ..frames import distinct_strings
from .base import Ranker
from .harness import Measurement, measure, pool
from .registry import MODELS, make_ranker
from .spaces import Axis, choice_axis, is_number, linear_axis, log_axis, search_space
from .split import Split

log = logging.getLogger(__name__)

METRIC = "ndcg@20"


# -- results ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Trial:
    """One evaluated point of the search (``seconds``: CPU seconds of the fit and scoring)."""

    point: dict[str, Any]
    score: float
    stderr: float
    n_users: int
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {"point": _jsonable(self.point), "score": self.score, "stderr": self.stderr,
                "n_users": self.n_users, "seconds": round(self.seconds, 3)}


@dataclass(frozen=True)
class TuneResult:
    """The chosen constructor parameters, their validation score, and how the search went.

    ``point`` is the chosen value of every axis; ``params`` the constructor keywords it maps to
    (``w:<behaviour>`` folded into ``behaviour_weights``, plus the fixed ones). ``edges`` names
    each axis whose chosen value is the lowest ("low") or highest ("high") value tried around
    the chosen point while the axis could have gone further (a value at a natural bound such as
    weight 0 is not an edge), or "unchecked" when no other value was tried around it (the search
    stopped first). ``converged`` is True when a full pass changed nothing. ``seconds`` is wall
    time, ``cpu_seconds`` the CPU time the search used (what the budget counts): this process's,
    plus ``worker_cpu_seconds``, what an engine's workers used for it.
    """

    model: str
    params: dict[str, Any]
    point: dict[str, Any]
    score: float
    stderr: float
    n_users: int
    metric: str = METRIC
    trials: tuple[Trial, ...] = ()
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    converged: bool = False
    budget_exhausted: bool = False
    edges: dict[str, str] = field(default_factory=dict)
    worker_cpu_seconds: float = 0.0

    def to_json(self, with_trials: bool = False) -> dict[str, Any]:
        data = {"model": self.model, "params": _jsonable(self.params),
                "point": _jsonable(self.point), "metric": self.metric, "score": self.score,
                "stderr": self.stderr, "n_users": self.n_users, "n_trials": len(self.trials),
                "seconds": round(self.seconds, 1), "cpu_seconds": round(self.cpu_seconds, 1),
                "worker_cpu_seconds": round(self.worker_cpu_seconds, 1), "converged": self.converged,
                "budget_exhausted": self.budget_exhausted, "edges": dict(self.edges)}
        if with_trials:
            data["trials"] = [t.to_json() for t in self.trials]
        return data


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items() if k != "item_vectors"}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def constructor_params(point: Mapping[str, Any], fixed: Mapping[str, Any] | None = None
                       ) -> dict[str, Any]:
    """Constructor keywords for a search point: ``w:<behaviour>`` entries are folded into a
    ``behaviour_weights`` mapping (over the fixed one, if any)."""
    fixed = dict(fixed or {})
    out = {**fixed, **{k: v for k, v in point.items() if not k.startswith("w:")}}
    weights = {k[2:]: float(v) for k, v in point.items() if k.startswith("w:")}
    if weights:
        out["behaviour_weights"] = {**dict(fixed.get("behaviour_weights") or {}), **weights}
    return out


# -- the search -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Inputs:
    """What a worker needs to score points of a search (pickled once per search)."""

    model: str
    splits: tuple[Split, ...]
    items: pd.DataFrame | None
    exclude_seen: bool
    fixed: dict[str, Any]
    metric: str
    keep_fitted: int
    policy: str | None


@dataclass
class _Remote:
    """A search's engine, the file its workers read the inputs from, and the CPU they used.

    The workers publish each ranker they fit in the inputs' folder, so that a worker scoring
    another point of the same fitted base reads it instead of fitting it again (a whole fit,
    e.g. EASE's inverse, on every worker, would spend the budget on copies)."""

    engine: Engine
    path: str
    token: str
    cpu: float = 0.0

    def keep_published(self, model: str, fixed: Mapping[str, Any], points: Sequence[Mapping[str, Any]],
                       windows: int) -> None:
        """Remove the published rankers none of ``points`` needs (the descent's next points all
        lie on one axis through the current point, so at most one grid's fits are on disk)."""
        needed = {_published_name(_structural(make_ranker(model, **constructor_params(p, fixed))), w)
                  for p in points for w in range(windows)}
        for path in Path(self.path).parent.glob("fitted-*.pickle"):
            if path.name not in needed:
                path.unlink(missing_ok=True)


def _structural(ranker: Ranker) -> tuple[tuple[str, Any], ...]:
    """The parameters whose change needs a refit (all but the model's ``scoring_params``); the
    item vectors, fixed for a search, by identity."""
    scoring = set(getattr(ranker, "scoring_params", ()))
    return tuple(sorted((k, repr(v) if k != "item_vectors" else id(v))
                        for k, v in ranker.get_params().items() if k not in scoring))


def _published_name(structural: tuple[tuple[str, Any], ...], window: int) -> str:
    """The file a fitted base is published under: the same name in the driver and every worker
    (item vectors are one object per process, fixed for the search: left out of the name)."""
    named = repr(tuple((k, v) for k, v in structural if k != "item_vectors")).encode()
    return f"fitted-{hashlib.sha1(named).hexdigest()[:20]}-{window}.pickle"


def _read_published(path: Path) -> Ranker | None:
    try:
        with open(path, "rb") as handle:
            ranker: Ranker = pickle.load(handle)  # written by a worker of this search
        return ranker
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError):
        return None


def _publish(path: Path, ranker: Ranker) -> None:
    """Write atomically (a reader sees a whole file or none); a failure only costs a refit."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    try:
        with open(tmp, "wb") as handle:
            pickle.dump(ranker, handle, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
    except (OSError, pickle.PicklingError) as exc:
        log.warning("cannot publish a fitted ranker at %s (%s); other workers will fit it themselves", path, exc)
        tmp.unlink(missing_ok=True)


class _Search:
    """State of one tuning run: the cache of scored points and of fitted rankers (with
    ``remote``, the workers keep the fitted rankers and this object the scores)."""

    def __init__(self, model: str, splits: tuple[Split, ...], items: pd.DataFrame | None, exclude_seen: bool,
                 fixed: dict[str, Any], metric: str, budget: float, keep_fitted: int,
                 policy: str | None = None, remote: _Remote | None = None,
                 cpu_started: float | None = None) -> None:
        self.model, self.splits, self.items = model, splits, items
        self.policy = policy
        self.exclude_seen, self.fixed, self.metric = exclude_seen, fixed, metric
        self.cpu_started = time.process_time() if cpu_started is None else cpu_started
        self.budget, self.remote = budget, remote
        self.keep_fitted = keep_fitted
        self.scores: dict[str, Trial] = {}
        self.trials: list[Trial] = []
        # Per validation window: the fitted rankers kept, and the catalog and log shared by its fits.
        self.fitted: list[OrderedDict[tuple, Ranker]] = [OrderedDict() for _ in splits]
        self.prepared: list[tuple[Any, Any, str] | None] = [None for _ in splits]
        self.state: set[str] = set()
        self.shortcut = True
        self.out_of_time = False
        self.shared: Path | None = None      # on a worker: where fitted rankers are published

    @staticmethod
    def key(point: Mapping[str, Any]) -> str:
        return repr(sorted(point.items(), key=lambda kv: kv[0]))

    def spent(self) -> float:
        """CPU seconds the search used: this process's, plus its workers' (with an engine)."""
        return time.process_time() - self.cpu_started + (self.remote.cpu if self.remote else 0.0)

    def evaluate(self, point: dict[str, Any]) -> float | None:
        """The point's validation score (cached); None when the budget is spent."""
        key = self.key(point)
        if key not in self.scores and self.remote is not None:
            self.prefetch([point])
        if key in self.scores:
            return self.scores[key].score
        if self.spent() > self.budget:
            self.out_of_time = True
            return None
        self.record(self.trial(point))
        return self.scores[key].score

    def prefetch(self, points: Sequence[dict[str, Any]], axis: bool = False) -> None:
        """With an engine: score the points not scored yet on its workers, as many at a time as
        it has workers, in the given order, while the budget lasts (without one: nothing; each
        point is scored when the descent asks for it). ``axis``: ``points`` are a whole axis
        through the current point, so published fits none of them needs can go."""
        remote = self.remote
        if remote is None:
            return
        pending = list({self.key(p): p for p in points if self.key(p) not in self.scores}.values())
        if pending and axis:
            remote.keep_published(self.model, self.fixed, points, len(self.splits))
        width = max(remote.engine.workers, 1)
        for start in range(0, len(pending), width):
            if self.spent() > self.budget:
                return
            calls = [(remote.path, remote.token, dict(p)) for p in pending[start:start + width]]
            for trial, cpu in remote.engine.map(_trial_from, calls):
                remote.cpu += cpu
                self.record(trial)

    def record(self, trial: Trial) -> None:
        self.scores[self.key(trial.point)] = trial
        self.trials.append(trial)
        log.debug("tune %s %s -> %.4f", self.model, trial.point, trial.score)

    def trial(self, point: dict[str, Any]) -> Trial:
        """Fit (or reuse a fitted ranker) and score ``point`` on every validation window."""
        started = time.process_time()
        try:
            params = constructor_params(point, self.fixed)
            result: Measurement | None = pool([
                measure(self._fit_or_reuse(params, n), split, self.exclude_seen, policy=self.policy)
                for n, split in enumerate(self.splits)])
        except (ValueError, ArithmeticError) as exc:   # e.g. a Cholesky failure at tiny l2
            log.warning("tune %s %s failed: %s", self.model, point, exc)
            result = None
        score = result.metrics[self.metric] if result is not None else -math.inf
        stderr = result.stderr[self.metric] if result is not None else math.nan
        if isinstance(score, float) and math.isnan(score):
            score = -math.inf
        return Trial(dict(point), float(score), float(stderr),
                     result.n_users if result is not None else 0, time.process_time() - started)

    def _fit_or_reuse(self, params: dict[str, Any], window: int = 0) -> Ranker:
        """Refit (on validation window ``window``) only when a parameter outside the model's
        ``scoring_params`` changed. A worker (``shared`` set) first looks for the fitted ranker
        another worker published, and publishes the ones it fits."""
        template = make_ranker(self.model, **params)
        scoring = set(getattr(template, "scoring_params", ()))
        scores_with = {k: v for k, v in template.get_params().items() if k in scoring}
        structural = _structural(template)
        fitted = self.fitted[window]
        if structural in fitted:
            fitted.move_to_end(structural)
            return fitted[structural].with_params(**scores_with)
        published = self.shared / _published_name(structural, window) if self.shared else None
        ranker = _read_published(published) if published else None
        if ranker is not None:
            ranker = ranker.with_params(**scores_with)
        else:
            ranker = self._fit(template, window)
            if published:
                _publish(published, ranker)
        fitted[structural] = ranker
        while len(fitted) > self.keep_fitted:
            fitted.popitem(last=False)
        return ranker

    def _fit(self, template: Ranker, window: int = 0) -> Ranker:
        """Fit ``template`` on the split; after the first fit, share its catalog and event log
        (built from the same events) and call only the model's ``_fit`` hook. The shortcut is
        dropped if it leaves out any state a full ``fit`` sets."""
        prepared = self.prepared[window]
        if prepared is None or not self.shortcut:
            ranker = template.fit(self.splits[window].train, self.items)
            self.prepared[window] = (ranker.catalog_, ranker.log_, ranker.target_)
            self.state = {k for k in vars(ranker) if k.endswith("_")}
            return ranker
        template.catalog_, template.log_, template.target_ = prepared
        template._fit()
        if {k for k in vars(template) if k.endswith("_")} != self.state:
            log.warning("tune %s: a fit sets state the shortcut misses; fitting fully", self.model)
            self.shortcut = False
            return self._fit(type(template)(**template.get_params()), window)
        return template

    def descend(self, axes: tuple[Axis, ...], start: dict[str, Any], max_passes: int
                ) -> tuple[dict[str, Any], float, bool]:
        """Coordinate descent with edge extension from ``start``; (point, score, converged)."""
        current = dict(start)
        best = self.evaluate(current)
        if best is None:
            return current, -math.inf, False
        grids = {a.name: a.grid() for a in axes}
        for _ in range(max_passes):
            improved = False
            for axis in axes:
                # The axis's points differ from `current` only on this axis, whatever it becomes
                # below: an engine may score them all at once.
                self.prefetch([{**current, axis.name: value} for value in grids[axis.name]], axis=True)
                for value in grids[axis.name]:
                    score = self.evaluate({**current, axis.name: value})
                    if score is None:
                        return current, best, False
                    if score > best + 1e-12:
                        best, current, improved = score, {**current, axis.name: value}, True
                while axis.numeric and is_number(current[axis.name]):
                    tried = [v for v in grids[axis.name] if is_number(v)]
                    chosen = float(current[axis.name])
                    side = ("low" if chosen <= min(tried) else
                            "high" if chosen >= max(tried) else None)
                    step = axis.beyond(tried, side) if side else None
                    if step is None:
                        break
                    grids[axis.name] = sorted([*tried, step]) + [
                        v for v in grids[axis.name] if not is_number(v)]
                    score = self.evaluate({**current, axis.name: step})
                    if score is None:
                        return current, best, False
                    if score > best + 1e-12:
                        best, current, improved = score, {**current, axis.name: step}, True
                    else:
                        break
            if not improved:
                return current, best, True
        return current, best, False

    def edges(self, axes: tuple[Axis, ...], point: dict[str, Any]) -> dict[str, str]:
        """Axes whose chosen value is the lowest/highest tried around ``point`` (not at a
        natural bound)."""
        out = {}
        for axis in axes:
            chosen = point.get(axis.name)
            if not axis.numeric or not is_number(chosen):
                continue
            others = {k: v for k, v in point.items() if k != axis.name}
            tried = [float(t.point[axis.name]) for t in self.trials
                     if is_number(t.point.get(axis.name))
                     and {k: v for k, v in t.point.items() if k != axis.name} == others]
            if len(set(tried)) < 2:
                out[axis.name] = "unchecked"
                continue
            for side, extreme, bound in (("low", min(tried), axis.closed[0]),
                                         ("high", max(tried), axis.closed[1])):
                if chosen is not None and float(chosen) == extreme and not (
                        bound and axis.at_limit(float(chosen), side)):
                    out[axis.name] = side
        return out


@functools.lru_cache(maxsize=1)
def _search_from(path: str, token: str) -> _Search:
    """A worker's search for the inputs at ``path``, read once per worker process and search
    (``token`` is new for every search, so a reused path is never served stale); it keeps the
    worker's fitted rankers from one call to the next."""
    inputs: _Inputs = read_inputs(path, "the tuning inputs",
                                  "on a remote cluster the workspace must be on a volume every worker sees")
    search = _Search(inputs.model, inputs.splits, inputs.items, inputs.exclude_seen, inputs.fixed,
                     inputs.metric, math.inf, inputs.keep_fitted, inputs.policy)
    search.shared = Path(path).parent
    return search


#: One call at a time in a worker process: a worker started with several threads would share one
#: search's fitted rankers between them, and each call's CPU (the process's) would count theirs.
_ONE_AT_A_TIME = threading.Lock()


def _trial_from(task: tuple[str, str, dict[str, Any]]) -> tuple[Trial, float]:
    """The engine's job function: one point scored against the inputs at ``task[0]``; returns
    the trial and the CPU seconds the call used (reading the inputs included)."""
    with _ONE_AT_A_TIME:
        started = time.process_time()
        path, token, point = task
        trial = _search_from(path, token).trial(point)
        return trial, time.process_time() - started


@contextmanager
def _remote(engine: Engine | None, scratch: str | Path | None, inputs: _Inputs) -> Iterator[_Remote | None]:
    """The search's inputs written for ``engine``'s workers under ``scratch`` (default: the
    system's temporary folder), removed afterwards; None in-process."""
    if engine is None or engine.name == "local":
        yield None
        return
    with scratch_folder("whyrec-tune-", scratch) as folder:
        write_inputs(folder / "inputs.pickle", inputs)
        yield _Remote(engine, str(folder / "inputs.pickle"), uuid.uuid4().hex)


def tune(model: str, split: Split | Sequence[Split], items: pd.DataFrame | None = None, exclude_seen: bool = False,
         fixed: Mapping[str, Any] | None = None, space: tuple[Axis, ...] | None = None,
         start: Mapping[str, Any] | None = None, budget_seconds: float = 600.0,
         max_passes: int = 10, restarts: int = 0, seed: int = 0, metric: str = METRIC,
         keep_fitted: int = 2, policy: str | None = None, engine: Engine | None = None,
         scratch: str | Path | None = None) -> TuneResult:
    """Tune registered model ``model`` on the validation ``split`` within ``budget_seconds``.

    The budget counts CPU seconds of this process (all its threads), not wall time, so models
    tuned while the machine is busy with other work get the same compute as the others.

    ``fixed`` are constructor keywords that are not searched (e.g. ``item_vectors``); ``space``
    defaults to :func:`search_space` for the behaviours in ``split.train``; ``start`` overrides
    the axes' start values. After the first descent converges, ``restarts`` more descents start
    from random points of the space while the budget lasts. Returns the best point found.
    ``policy`` scores every point under that exclusion policy (see :func:`.harness.measure`).
    ``split`` may be several validation windows (:meth:`.split.Protocol.validation_windows`,
    the latest first): each point is fitted on every window's training part and scored over
    all their users together (:func:`.harness.pool`). ``engine`` scores each axis's points on its
    workers (inputs written under ``scratch``; see the module docstring).
    """
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose from {sorted(MODELS)}")
    splits = (split,) if isinstance(split, Split) else tuple(split)
    if not splits:
        raise ValueError(f"tuning {model}: no validation split")
    split = splits[0]
    if not split.test:
        raise ValueError(f"tuning {model}: the validation split has no users to score "
                         f"({split.description}); use a longer log or another protocol")
    started, cpu_started = time.perf_counter(), time.process_time()
    fixed = dict(fixed or {})
    behaviours = distinct_strings(split.train["behaviour"])
    axes = space if space is not None else search_space(model, behaviours, fixed.get("target"),
                                                        with_text=fixed.get("item_vectors") is not None)
    with _remote(engine, scratch, _Inputs(model, splits, items, exclude_seen, fixed, metric, keep_fitted,
                                          policy)) as remote:
        search = _Search(model, splits, items, exclude_seen, fixed, metric, budget_seconds, keep_fitted,
                         policy, remote, cpu_started)
        point = {a.name: a.start for a in axes}
        point.update(dict(start or {}))
        best_point, best, converged = search.descend(axes, point, max_passes)
        rng = random.Random(seed)
        for _ in range(restarts):
            if search.out_of_time:
                break
            restart = {a.name: rng.choice(a.grid()) for a in axes}
            found, score, done = search.descend(axes, restart, max_passes)
            if score > best + 1e-12:
                best_point, best, converged = found, score, done
    if not search.trials:
        raise RuntimeError(f"tuning {model}: the budget of {budget_seconds} s allowed no trial")
    chosen = search.scores[search.key(best_point)]
    result = TuneResult(
        model=model, params=constructor_params(best_point, fixed), point=best_point,
        score=chosen.score, stderr=chosen.stderr, n_users=chosen.n_users,
        metric=metric, trials=tuple(search.trials), seconds=time.perf_counter() - started,
        cpu_seconds=search.spent(),
        converged=converged, budget_exhausted=search.out_of_time,
        edges=search.edges(axes, best_point), worker_cpu_seconds=remote.cpu if remote else 0.0)
    log.info("tuned %s in %.0f s (%.0f CPU s), %d trials%s: %s (validation %s %.4f ± %.4f)%s",
             model, result.seconds, result.cpu_seconds, len(result.trials),
             "" if converged else " (not converged)", result.point, metric, result.score,
             result.stderr, f"; at edge: {result.edges}" if result.edges else "")
    return result


__all__ = ["Axis", "TuneResult", "Trial", "choice_axis", "constructor_params", "linear_axis",
           "log_axis", "search_space", "tune"]
