"""Settings of the causal tool, in one frozen object (also the cache key of a stored report)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from .estimand import BEHAVIOURS

#: The primary estimator: cross-fitted doubly robust learner, reached through DoWhy.
DR_LEARNER = "backdoor.econml.dr.LinearDRLearner"
#: Comparisons shown beside it (never the basis of a verdict on their own).
LINEAR_REGRESSION = "backdoor.linear_regression"
PROPENSITY_WEIGHTING = "propensity_weighting"
NAIVE = "naive"
PLACEBO = "placebo_treatment_refuter"
DATA_SUBSET = "data_subset_refuter"
DUMMY_OUTCOME = "dummy_outcome_refuter"
RANDOM_COMMON_CAUSE = "random_common_cause"
REFUTERS: tuple[str, ...] = (PLACEBO, DATA_SUBSET, DUMMY_OUTCOME, RANDOM_COMMON_CAUSE)


@dataclass(frozen=True)
class EffectSettings:
    """How effects are estimated, checked and judged.

    Windows: ``window_days`` (D) and ``horizon_days`` (H) default to 7 days, cut to fit short
    logs (:func:`~.estimand.choose_windows`). Estimation: the DR learner's nuisance models are
    gradient-boosted trees (``nuisance_iterations`` rounds, ``folds``-fold cross-fitting grouped
    by user) on at most ``max_rows`` decision points (whole users sampled beyond that). A log of
    more than ``table_max_events`` events builds its decision table for a seeded sample of whole
    users of about that many events (item baselines still from the whole log), which holds far
    more than ``max_rows`` decision points: the memory stays that of a ``table_max_events`` log.
    Decision points whose propensity is outside [``trim``, 1 − ``trim``] are trimmed.
    Refuters run ``num_simulations`` independent draws each on at most ``refute_max_rows``
    decision points; one fails below ``refute_alpha`` / (number of refuters). ``threads`` limits
    BLAS and OpenMP threads (1: fastest on shared cores). Behaviours are estimated in up to
    ``jobs`` worker processes when the decision table has at least ``parallel_min_rows`` rows
    (below that, starting the workers costs more than it saves). Verdicts: see :mod:`.verdict`.
    """

    behaviours: tuple[str, ...] = BEHAVIOURS
    window_days: float | None = None
    horizon_days: float | None = None
    comparisons: tuple[str, ...] = (LINEAR_REGRESSION, PROPENSITY_WEIGHTING)
    refuters: tuple[str, ...] = (PLACEBO, DATA_SUBSET, DUMMY_OUTCOME)
    num_simulations: int = 5
    refute_max_rows: int = 4_000
    max_rows: int = 150_000
    table_max_events: int = 10_000_000
    folds: int = 3
    nuisance_iterations: int = 40
    trim: float = 0.005
    # verdict rules
    confidence_level: float = 0.95
    refute_alpha: float = 0.05
    max_trimmed_share: float = 0.10
    min_robustness: float = 0.02
    # data requirements
    min_rows: int = 200
    min_treated: int = 20
    min_outcomes: int = 10
    max_segments: int = 12
    seed: int = 0
    threads: int | None = 1
    jobs: int = 2
    parallel_min_rows: int = 50_000

    def __post_init__(self) -> None:
        unknown = [b for b in self.behaviours if b not in BEHAVIOURS]
        if unknown:
            raise ValueError(f"unknown behaviour(s) {unknown}; choose from {', '.join(BEHAVIOURS)}")
        bad = [r for r in self.refuters if r not in REFUTERS]
        if bad:
            raise ValueError(f"unknown refuter(s) {bad}; choose from {', '.join(REFUTERS)}")
        if self.num_simulations < 2:
            raise ValueError("num_simulations must be at least 2 (a refuter needs a spread)")
        if not 0 < self.confidence_level < 1:
            raise ValueError("confidence_level must be between 0 and 1")
        if not 0 < self.trim < 0.5:
            raise ValueError("trim must be between 0 and 0.5")
        if self.jobs < 1:
            raise ValueError("jobs must be at least 1")
        if self.folds < 2:
            raise ValueError("folds must be at least 2 (cross-fitting)")
        for name in ("window_days", "horizon_days"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def cache_key(self) -> str:
        """A short digest of everything that changes the numbers (not threads or processes)."""
        data = self.to_json()
        for name in ("threads", "jobs", "parallel_min_rows"):
            data.pop(name, None)
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]
