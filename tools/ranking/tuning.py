"""Honest tuning: a small coordinate-wise grid per model, scored on a validation split only.

The search starts from the model's defaults and, parameter by parameter, keeps the value with the
best validation NDCG@20. Parameters named ``w:<behaviour>`` set one behaviour weight. Scoring-only
parameters of an additive ranker change without a refit (:meth:`Ranker.with_params`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .base import Ranker
from .harness import measure
from .registry import make_ranker
from .split import Split

log = logging.getLogger(__name__)

WEIGHT_VALUES = [-0.2, 0.0, 0.05, 0.2, 0.5, 1.0, 2.0]
HALF_LIVES = [0.5, 3.0, 14.0, 60.0, 365.0]

#: The search space per model (ordered: earlier parameters are tuned first).
GRIDS: dict[str, dict[str, list[Any]]] = {
    "popular": {"window_days": [None, 7.0, 30.0], "behaviour": ["target", "any"]},
    "itemknn": {"neighbours": [50, 200], "shrink": [0.0, 10.0, 50.0], "alpha": [0.5, 0.7]},
    "als": {"factors": [32, 64, 128], "regularization": [0.01, 0.1, 1.0],
            "alpha": [1.0, 10.0, 40.0]},
    "ease": {"l2": [20.0, 100.0, 500.0, 2000.0]},
    "repeat": {"half_life_days": HALF_LIVES, "recency_floor": [0.0, 0.05, 0.3],
               "w:view": WEIGHT_VALUES, "w:click": WEIGHT_VALUES, "w:favourite": WEIGHT_VALUES,
               "w:cart": WEIGHT_VALUES, "w:purchase": WEIGHT_VALUES},
    "whyrec": {"similarity": ["cosine", "ease"], "neighbours": [30, 100, 300],
               "alpha": [0.5, 0.7], "l2": [50.0, 200.0, 500.0],
               "half_life_days": HALF_LIVES, "recency_floor": [0.0, 0.05, 0.3],
               "similarity_weight": [0.1, 0.3, 1.0, 3.0, 10.0, 30.0], "repeat_weight": [0.0, 0.3, 1.0, 3.0],
               "repeat_conversion": [0.0, 0.5, 1.0],
               "popularity_weight": [0.0, 0.01, 0.05, 0.2, 0.5],
               "conversion_weight": [0.0, 0.05, 0.2],
               "w:view": WEIGHT_VALUES, "w:click": WEIGHT_VALUES, "w:favourite": WEIGHT_VALUES,
               "w:cart": WEIGHT_VALUES, "w:purchase": WEIGHT_VALUES},
}
PASSES: dict[str, int] = {"whyrec": 2, "repeat": 2}


@dataclass(frozen=True)
class TuneResult:
    """The chosen parameters, their validation NDCG@20, and every trial."""

    params: dict[str, Any]
    score: float
    trials: list[tuple[dict[str, Any], float]] = field(default_factory=list)
    seconds: float = 0.0


def _constructor_params(params: dict[str, Any]) -> dict[str, Any]:
    """Fold ``w:<behaviour>`` entries into a ``behaviour_weights`` mapping."""
    out = {k: v for k, v in params.items() if not k.startswith("w:")}
    weights = {k[2:]: v for k, v in params.items() if k.startswith("w:")}
    if weights:
        out["behaviour_weights"] = {**(out.get("behaviour_weights") or {}), **weights}
    return out


def relevant_grid(name: str, behaviours: set[str]) -> dict[str, list[Any]]:
    """The model's grid without weights of behaviours absent from the data."""
    return {k: v for k, v in GRIDS.get(name, {}).items()
            if not k.startswith("w:") or k[2:] in behaviours}


def tune(name: str, split: Split, items: pd.DataFrame | None, exclude_seen: bool,
         fixed: dict[str, Any] | None = None) -> TuneResult:
    """Coordinate-wise grid search for model ``name`` on the validation ``split``."""
    started = time.perf_counter()
    behaviours = set(split.train["behaviour"].astype(str).unique())
    grid = relevant_grid(name, behaviours)
    fixed = dict(fixed or {})
    current: dict[str, Any] = {}
    fitted: dict[tuple, Ranker] = {}
    trials: list[tuple[dict[str, Any], float]] = []
    cache: dict[str, float] = {}

    def evaluate(params: dict[str, Any]) -> float:
        key = repr(sorted(params.items(), key=lambda kv: kv[0]))
        if key in cache:
            return cache[key]
        ranker = _fit_or_reuse(name, {**fixed, **_constructor_params(params)}, split, items, fitted)
        score = measure(ranker, split, exclude_seen).metrics["ndcg@20"]
        cache[key] = score
        trials.append((dict(params), score))
        log.debug("tune %s %s -> %.4f", name, params, score)
        return score

    best = evaluate(current)
    for _ in range(PASSES.get(name, 1)):
        improved = False
        for param, values in grid.items():
            for value in values:
                candidate = {**current, param: value}
                score = evaluate(candidate)
                if score > best + 1e-9:
                    best, current, improved = score, candidate, True
        if not improved:
            break
    log.info("tuned %s in %.0f s over %d trials: %s (validation NDCG@20 %.4f)", name,
             time.perf_counter() - started, len(trials), current, best)
    return TuneResult({**fixed, **_constructor_params(current)}, best, trials,
                      time.perf_counter() - started)


def _fit_or_reuse(name: str, params: dict[str, Any], split: Split, items: pd.DataFrame | None,
                  fitted: dict[tuple, Ranker]) -> Ranker:
    """Refit only when a parameter outside the model's ``scoring_params`` changed."""
    template = make_ranker(name, **params)
    scoring = set(getattr(template, "scoring_params", ()))
    structural = tuple(sorted((k, repr(v) if k != "item_vectors" else id(v))
                              for k, v in template.get_params().items() if k not in scoring))
    if structural not in fitted:
        fitted[structural] = template.fit(split.train, items)
        return fitted[structural]
    base = fitted[structural]
    return base.with_params(**{k: v for k, v in template.get_params().items() if k in scoring})
