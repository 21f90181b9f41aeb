"""Honest tuning: one search procedure for every model, scored on a validation split only.

A *search space* is an ordered tuple of :class:`Axis` — one per parameter, with the values to
try, where the search starts, and how far it may go. :func:`tune` runs coordinate descent from
the start point: axis by axis, it tries every value and keeps the best validation NDCG@20; when
the best value is the lowest or highest tried, it extends the axis one step further (×ratio on a
log axis) until the score stops improving or the axis reaches its limit. Passes repeat until one
changes nothing (converged) or the time budget runs out; with ``restarts`` it then starts again
from random points of the space and keeps the overall best.

Every model gets the same freedom: behaviour weights ``w:<behaviour>`` (folded into the
``behaviour_weights`` mapping), the aggregation of repeated events where the model has one, and
its own hyper-parameters over wide ranges. The result says which chosen values sit at the edge of
what was searched (:attr:`TuneResult.edges`), so a reader can tell a tuned value from a clipped one.

>>> result = tune("ease", validation, items, exclude_seen=False, budget_seconds=300)  # doctest: +SKIP
>>> result.params, result.score, result.edges                                        # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .base import DEFAULT_BEHAVIOUR_WEIGHTS, Ranker, resolve_target
from .harness import Measurement, measure
from .interactions import AGGREGATIONS
from .registry import MODELS, make_ranker
from .split import Split

log = logging.getLogger(__name__)

METRIC = "ndcg@20"


@dataclass(frozen=True)
class Axis:
    """One tuned parameter.

    ``values`` are tried in every pass. On a numeric axis (``scale`` ``"log"`` or ``"linear"``)
    the search may step past the lowest/highest value, by the ratio (log) or difference (linear)
    of the two outermost values, down to ``low`` / up to ``high``. An end marked ``closed`` is a
    natural bound (a weight cannot go below 0, a share above 1): a value chosen there is not an
    edge. ``special`` values (such as ``None`` = "off") are tried too but never extended.
    """

    name: str
    values: tuple[Any, ...]
    start: Any
    scale: str = "choice"
    low: float = -math.inf
    high: float = math.inf
    closed: tuple[bool, bool] = (False, False)
    integer: bool = False
    special: tuple[Any, ...] = ()

    @property
    def numeric(self) -> bool:
        return self.scale in ("log", "linear")

    def grid(self) -> list[Any]:
        """The values of one pass: numeric ones sorted, then the special ones, start included."""
        if not self.numeric:
            values = list(dict.fromkeys([*self.values, *self.special]))
            return values if self.start in values else [self.start, *values]
        numbers = sorted({*self.values, *([self.start] if self.start not in self.special else [])})
        return [*numbers, *self.special]

    def beyond(self, tried: Iterable[Any], side: str) -> Any | None:
        """The next value past the ``side`` ("low"/"high") end of ``tried``, or None at a limit."""
        numbers = sorted({float(v) for v in tried if _is_number(v)})
        if not self.numeric or not numbers:
            return None
        edge = numbers[0] if side == "low" else numbers[-1]
        limit = self.low if side == "low" else self.high
        if (side == "low" and edge <= limit) or (side == "high" and edge >= limit):
            return None
        if self.scale == "log":
            positive = [v for v in numbers if v > 0]
            ratio = positive[-1] / positive[-2] if len(positive) >= 2 else 10.0
            ratio = max(ratio, 1.5)
            if edge <= 0:
                return None
            value = edge / ratio if side == "low" else edge * ratio
        else:
            step = (numbers[-1] - numbers[-2]) if len(numbers) >= 2 else 1.0
            value = edge - step if side == "low" else edge + step
        value = max(value, limit) if side == "low" else min(value, limit)
        if self.integer:
            value = math.floor(value) if side == "low" else math.ceil(value)
            if (side == "low" and value >= edge) or (side == "high" and value <= edge):
                return None
        return int(value) if self.integer else float(value)

    def at_limit(self, value: float, side: str) -> bool:
        return value <= self.low if side == "low" else value >= self.high


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# -- search spaces ----------------------------------------------------------------------------
def log_axis(name: str, values: Iterable[float], start: Any, low: float, high: float,
             closed: tuple[bool, bool] = (False, False), integer: bool = False,
             special: tuple[Any, ...] = ()) -> Axis:
    """A numeric axis stepped multiplicatively (0 allowed as a closed lower end)."""
    return Axis(name, tuple(values), start, "log", low, high, closed, integer, special)


def linear_axis(name: str, values: Iterable[float], start: Any, low: float, high: float,
                closed: tuple[bool, bool] = (False, False), integer: bool = False) -> Axis:
    """A numeric axis stepped additively."""
    return Axis(name, tuple(values), start, "linear", low, high, closed, integer)


def choice_axis(name: str, values: Iterable[Any], start: Any) -> Axis:
    """An unordered choice (no edges)."""
    return Axis(name, tuple(values), start)


def weight_axes(behaviours: Iterable[str], start: Mapping[str, float], negative: bool = False
                ) -> list[Axis]:
    """``w:<behaviour>`` axes: 0 (drop the behaviour) up to 30 and beyond; optionally negative."""
    values = (0.0, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
    low = 0.0
    if negative:
        values = (-0.3, -0.1, *values)
        low = -0.3
    return [log_axis(f"w:{b}", values, float(start[b]), low, 1000.0, closed=(True, False))
            for b in behaviours]


def _interaction_axes(behaviours: list[str]) -> list[Axis]:
    return [choice_axis("aggregation", AGGREGATIONS, "max"),
            *weight_axes(behaviours, {b: 1.0 for b in behaviours}),
            log_axis("half_life_days", (1.0, 7.0, 30.0, 180.0), None, 0.01, 36500.0,
                     special=(None,))]


def _space_popular(behaviours: list[str], target: str) -> list[Axis]:
    start = {b: 1.0 if b == target else 0.0 for b in behaviours}
    return [log_axis("window_days", (1.0, 3.0, 7.0, 14.0, 30.0, 90.0), None, 0.1, 36500.0,
                     special=(None,)),
            choice_axis("aggregation", AGGREGATIONS, "max"),
            *weight_axes(behaviours, start)]


def _space_itemknn(behaviours: list[str], target: str) -> list[Axis]:
    return [log_axis("neighbours", (20, 50, 100, 200, 500, 1000), 100, 2, 20000, integer=True),
            log_axis("shrink", (0.0, 1.0, 3.0, 10.0, 30.0, 100.0), 10.0, 0.0, 100000.0,
                     closed=(True, False)),
            linear_axis("alpha", (0.0, 0.25, 0.5, 0.75, 1.0), 0.5, 0.0, 1.0, closed=(True, True)),
            *_interaction_axes(behaviours)]


def _space_ease(behaviours: list[str], target: str) -> list[Axis]:
    return [log_axis("l2", (10.0, 30.0, 100.0, 300.0, 1000.0, 3000.0, 10000.0), 500.0, 0.01, 1e7),
            linear_axis("min_users", (1, 2, 3, 5), 2, 1, 50, closed=(True, False), integer=True),
            *_interaction_axes(behaviours)]


def _space_als(behaviours: list[str], target: str) -> list[Axis]:
    return [log_axis("factors", (16, 32, 64, 128, 256, 512), 64, 2, 1024, integer=True),
            log_axis("regularization", (0.001, 0.01, 0.05, 0.1, 1.0, 10.0), 0.05, 1e-6, 1e5),
            log_axis("alpha", (0.3, 1.0, 3.0, 10.0, 30.0, 100.0), 10.0, 1e-3, 1e5),
            log_axis("iterations", (5, 15, 30), 15, 1, 60, integer=True),
            *_interaction_axes(behaviours)]


_HALF_LIVES = (0.25, 1.0, 3.0, 7.0, 14.0, 30.0, 60.0, 180.0, 365.0)


def _space_repeat(behaviours: list[str], target: str) -> list[Axis]:
    return [log_axis("half_life_days", _HALF_LIVES, 30.0, 0.001, 36500.0),
            log_axis("recency_floor", (0.0, 0.01, 0.03, 0.05, 0.1, 0.3, 1.0), 0.05, 0.0, 1.0,
                     closed=(True, True)),
            *weight_axes(behaviours, DEFAULT_BEHAVIOUR_WEIGHTS, negative=True)]


def _space_whyrec(behaviours: list[str], target: str) -> list[Axis]:
    return [choice_axis("similarity", ("cosine", "ease"), "cosine"),
            log_axis("neighbours", (10, 30, 100, 300, 1000), 100, 2, 20000, integer=True),
            linear_axis("alpha", (0.0, 0.25, 0.5, 0.75, 1.0), 0.5, 0.0, 1.0, closed=(True, True)),
            log_axis("shrink", (0.0, 1.0, 5.0, 20.0, 100.0), 5.0, 0.0, 1e5, closed=(True, False)),
            log_axis("l2", (10.0, 50.0, 200.0, 500.0, 2000.0), 200.0, 0.01, 1e7),
            log_axis("half_life_days", _HALF_LIVES, 30.0, 0.001, 36500.0),
            log_axis("recency_floor", (0.0, 0.01, 0.05, 0.1, 0.3, 1.0), 0.05, 0.0, 1.0,
                     closed=(True, True)),
            log_axis("similarity_weight", (0.1, 0.3, 1.0, 3.0, 10.0, 30.0), 1.0, 1e-4, 1e5),
            log_axis("repeat_weight", (0.0, 0.1, 0.3, 1.0, 3.0), 1.0, 0.0, 1e4,
                     closed=(True, False)),
            log_axis("repeat_conversion", (0.0, 0.5, 1.0, 2.0), 0.0, 0.0, 8.0,
                     closed=(True, False)),
            log_axis("popularity_weight", (0.0, 0.01, 0.05, 0.2, 0.5), 0.05, 0.0, 1e3,
                     closed=(True, False)),
            log_axis("conversion_weight", (0.0, 0.05, 0.2, 1.0), 0.0, 0.0, 1e3,
                     closed=(True, False)),
            *weight_axes(behaviours, DEFAULT_BEHAVIOUR_WEIGHTS, negative=True)]


def _space_sequential(behaviours: list[str], target: str) -> list[Axis]:
    return [log_axis("steps", (1, 2, 3, 5, 10, 20), 5, 1, 200, closed=(True, False),
                     integer=True),
            linear_axis("step_power", (0.0, 0.5, 1.0, 2.0), 1.0, 0.0, 6.0, closed=(True, False)),
            log_axis("max_gap_days", (0.04, 1.0, 7.0, 30.0), None, 0.001, 3650.0,
                     special=(None,)),
            linear_axis("alpha", (0.0, 0.25, 0.5, 0.75, 1.0), 0.5, 0.0, 1.0, closed=(True, True)),
            choice_axis("to_target", (False, True), False),
            choice_axis("self_transitions", (True, False), True),
            choice_axis("collapse_repeats", (True, False), True),
            log_axis("half_life_days", (0.25, 1.0, 7.0, 30.0, 180.0), 7.0, 0.001, 36500.0,
                     special=(None,)),
            log_axis("last_n", (1, 3, 10, 30, 100), None, 1, 10000, closed=(True, False),
                     integer=True, special=(None,)),
            log_axis("popularity_weight", (0.0, 0.01, 0.03, 0.1, 0.3, 1.0), 0.0, 0.0, 1e4,
                     closed=(True, False)),
            *weight_axes(behaviours, {b: 1.0 for b in behaviours})]


SpaceBuilder = Callable[[list[str], str], list[Axis]]

#: The search space of each registered model, built for the behaviours present and the target.
SPACES: dict[str, SpaceBuilder] = {
    "popular": _space_popular,
    "itemknn": _space_itemknn,
    "ease": _space_ease,
    "als": _space_als,
    "repeat": _space_repeat,
    "whyrec": _space_whyrec,
    "sequential": _space_sequential,
}


def search_space(model: str, behaviours: Iterable[str], target: str | None = None
                 ) -> tuple[Axis, ...]:
    """The model's axes for data with these behaviours (weights of absent ones are left out;
    with one behaviour, no weights at all: they could only rescale)."""
    if model not in SPACES:
        raise ValueError(f"no search space for model {model!r}; known: {sorted(SPACES)}")
    present = sorted(set(behaviours))
    axes = SPACES[model](present, resolve_target(present, target))
    if len(present) <= 1:
        axes = [a for a in axes if not a.name.startswith("w:")]
    return tuple(axes)


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
    time, ``cpu_seconds`` the process CPU time the search used (what the budget counts).
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

    def to_json(self, with_trials: bool = False) -> dict[str, Any]:
        data = {"model": self.model, "params": _jsonable(self.params),
                "point": _jsonable(self.point), "metric": self.metric, "score": self.score,
                "stderr": self.stderr, "n_users": self.n_users, "n_trials": len(self.trials),
                "seconds": round(self.seconds, 1), "cpu_seconds": round(self.cpu_seconds, 1),
                "converged": self.converged,
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
class _Search:
    """State of one tuning run: the cache of scored points and of fitted rankers."""

    def __init__(self, model: str, split: Split, items: pd.DataFrame | None, exclude_seen: bool,
                 fixed: dict[str, Any], metric: str, deadline: float, keep_fitted: int) -> None:
        self.model, self.split, self.items = model, split, items
        self.exclude_seen, self.fixed, self.metric = exclude_seen, fixed, metric
        self.deadline = deadline
        self.keep_fitted = keep_fitted
        self.scores: dict[str, Trial] = {}
        self.trials: list[Trial] = []
        self.fitted: OrderedDict[tuple, Ranker] = OrderedDict()
        self.prepared: Ranker | None = None
        self.state: set[str] = set()
        self.shortcut = True
        self.out_of_time = False

    @staticmethod
    def key(point: Mapping[str, Any]) -> str:
        return repr(sorted(point.items(), key=lambda kv: kv[0]))

    def evaluate(self, point: dict[str, Any]) -> float | None:
        """The point's validation score (cached); None when the budget is spent."""
        key = self.key(point)
        if key in self.scores:
            return self.scores[key].score
        if time.process_time() > self.deadline:
            self.out_of_time = True
            return None
        started = time.process_time()
        try:
            ranker = self._fit_or_reuse(constructor_params(point, self.fixed))
            result: Measurement | None = measure(ranker, self.split, self.exclude_seen)
        except (ValueError, ArithmeticError) as exc:   # e.g. a Cholesky failure at tiny l2
            log.warning("tune %s %s failed: %s", self.model, point, exc)
            result = None
        score = result.metrics[self.metric] if result is not None else -math.inf
        stderr = result.stderr[self.metric] if result is not None else math.nan
        if isinstance(score, float) and math.isnan(score):
            score = -math.inf
        trial = Trial(dict(point), float(score), float(stderr),
                      result.n_users if result is not None else 0, time.process_time() - started)
        self.scores[key] = trial
        self.trials.append(trial)
        log.debug("tune %s %s -> %.4f", self.model, point, score)
        return trial.score

    def _fit_or_reuse(self, params: dict[str, Any]) -> Ranker:
        """Refit only when a parameter outside the model's ``scoring_params`` changed."""
        template = make_ranker(self.model, **params)
        scoring = set(getattr(template, "scoring_params", ()))
        structural = tuple(sorted((k, repr(v) if k != "item_vectors" else id(v))
                                  for k, v in template.get_params().items() if k not in scoring))
        if structural in self.fitted:
            self.fitted.move_to_end(structural)
            base = self.fitted[structural]
            return base.with_params(**{k: v for k, v in template.get_params().items()
                                       if k in scoring})
        ranker = self._fit(template)
        self.fitted[structural] = ranker
        while len(self.fitted) > self.keep_fitted:
            self.fitted.popitem(last=False)
        return ranker

    def _fit(self, template: Ranker) -> Ranker:
        """Fit ``template`` on the split; after the first fit, share its catalog and event log
        (built from the same events) and call only the model's ``_fit`` hook. The shortcut is
        dropped if it leaves out any state a full ``fit`` sets."""
        prepared = self.prepared
        if prepared is None or not self.shortcut:
            self.prepared = template.fit(self.split.train, self.items)
            self.state = {k for k in vars(self.prepared) if k.endswith("_")}
            return self.prepared
        template.catalog_, template.log_ = prepared.catalog_, prepared.log_
        template.target_ = prepared.target_
        template._fit()
        if {k for k in vars(template) if k.endswith("_")} != self.state:
            log.warning("tune %s: a fit sets state the shortcut misses; fitting fully", self.model)
            self.shortcut = False
            return self._fit(type(template)(**template.get_params()))
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
                for value in grids[axis.name]:
                    score = self.evaluate({**current, axis.name: value})
                    if score is None:
                        return current, best, False
                    if score > best + 1e-12:
                        best, current, improved = score, {**current, axis.name: value}, True
                while axis.numeric and _is_number(current[axis.name]):
                    tried = [v for v in grids[axis.name] if _is_number(v)]
                    chosen = float(current[axis.name])
                    side = ("low" if chosen <= min(tried) else
                            "high" if chosen >= max(tried) else None)
                    step = axis.beyond(tried, side) if side else None
                    if step is None:
                        break
                    grids[axis.name] = sorted([*tried, step]) + [
                        v for v in grids[axis.name] if not _is_number(v)]
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
            if not axis.numeric or not _is_number(chosen):
                continue
            others = {k: v for k, v in point.items() if k != axis.name}
            tried = [float(t.point[axis.name]) for t in self.trials
                     if _is_number(t.point.get(axis.name))
                     and {k: v for k, v in t.point.items() if k != axis.name} == others]
            if len(set(tried)) < 2:
                out[axis.name] = "unchecked"
                continue
            for side, extreme, bound in (("low", min(tried), axis.closed[0]),
                                         ("high", max(tried), axis.closed[1])):
                if float(chosen) == extreme and not (bound and axis.at_limit(float(chosen), side)):
                    out[axis.name] = side
        return out


def tune(model: str, split: Split, items: pd.DataFrame | None = None, exclude_seen: bool = False,
         fixed: Mapping[str, Any] | None = None, space: tuple[Axis, ...] | None = None,
         start: Mapping[str, Any] | None = None, budget_seconds: float = 600.0,
         max_passes: int = 10, restarts: int = 0, seed: int = 0, metric: str = METRIC,
         keep_fitted: int = 2) -> TuneResult:
    """Tune registered model ``model`` on the validation ``split`` within ``budget_seconds``.

    The budget counts CPU seconds of this process (all its threads), not wall time, so models
    tuned while the machine is busy with other work get the same compute as the others.

    ``fixed`` are constructor keywords that are not searched (e.g. ``item_vectors``); ``space``
    defaults to :func:`search_space` for the behaviours in ``split.train``; ``start`` overrides
    the axes' start values. After the first descent converges, ``restarts`` more descents start
    from random points of the space while the budget lasts. Returns the best point found.
    """
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; choose from {sorted(MODELS)}")
    if not split.test:
        raise ValueError(f"tuning {model}: the validation split has no users to score "
                         f"({split.description}); use a longer log or another protocol")
    started, cpu_started = time.perf_counter(), time.process_time()
    fixed = dict(fixed or {})
    behaviours = split.train["behaviour"].astype(str).unique()
    axes = space if space is not None else search_space(model, behaviours, fixed.get("target"))
    search = _Search(model, split, items, exclude_seen, fixed, metric,
                     cpu_started + budget_seconds, keep_fitted)
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
        cpu_seconds=time.process_time() - cpu_started,
        converged=converged, budget_exhausted=search.out_of_time,
        edges=search.edges(axes, best_point))
    log.info("tuned %s in %.0f s (%.0f CPU s), %d trials%s: %s (validation %s %.4f ± %.4f)%s", model,
             result.seconds, result.cpu_seconds, len(result.trials), "" if converged else " (not converged)",
             result.point, metric, result.score, result.stderr,
             f"; at edge: {result.edges}" if result.edges else "")
    return result
