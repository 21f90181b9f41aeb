"""Settings of the causal tool, in one frozen object (also the cache key of a stored report)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from .graph import GraphSpec
from .units import BEHAVIOURS

LINEAR_REGRESSION = "backdoor.linear_regression"
PROPENSITY_WEIGHTING = "backdoor.propensity_score_weighting"
LINEAR_DML = "backdoor.econml.dml.LinearDML"
PLACEBO = "placebo_treatment_refuter"
RANDOM_COMMON_CAUSE = "random_common_cause"
DATA_SUBSET = "data_subset_refuter"


@dataclass(frozen=True)
class EffectSettings:
    """How effects are estimated. The first estimator is the one a report quotes.

    ``horizon_days=None`` picks 7 days, or a quarter of the log's span for short logs.
    Refutations run on at most ``refute_max_units`` units (a random subsample beyond that)
    with ``num_simulations`` simulations each, so a report stays fast on big logs; segment
    effects are refuted only with ``refute_segments``. ``linear_dml`` (econml) is optional.
    """

    behaviours: tuple[str, ...] = BEHAVIOURS
    horizon_days: float | None = None
    estimators: tuple[str, ...] = (LINEAR_REGRESSION, PROPENSITY_WEIGHTING)
    refuters: tuple[str, ...] = (PLACEBO, RANDOM_COMMON_CAUSE, DATA_SUBSET)
    num_simulations: int = 10
    refute_max_units: int = 20_000
    refute_segments: bool = False
    min_units: int = 200
    min_treated: int = 20
    min_outcomes: int = 10
    max_segments: int = 12
    confidence_level: float = 0.95
    propensity_clip: float = 0.01
    seed: int = 0
    blas_threads: int | None = 1
    graph: GraphSpec = field(default_factory=GraphSpec)

    def __post_init__(self) -> None:
        if not self.estimators:
            raise ValueError("at least one estimator is needed")
        if self.num_simulations < 1:
            raise ValueError("num_simulations must be at least 1")
        if not 0 < self.confidence_level < 1:
            raise ValueError("confidence_level must be between 0 and 1")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def cache_key(self) -> str:
        """A short digest of everything that changes the numbers (not the BLAS threads)."""
        data = self.to_json()
        data.pop("blas_threads", None)
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:12]
