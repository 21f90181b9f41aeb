"""Influence-aware behaviour weights: the causal tool's population effects as ranker weights.

The causal tool estimates, per behaviour, the change in the probability of buying an item when a
shopper takes that behaviour on it (``view`` is *looking again*, which covers views and clicks;
``favourite``; ``cart``). As weights of :class:`~.whyrec.WhyrecRanker` they read in one unit,
P(purchase):

* the target behaviour (a purchase) weighs 1 — it *is* the outcome;
* a behaviour with a ``supported`` effect weighs ``max(estimate, 0)``;
* a behaviour whose effect is not supported (inconclusive, cannot be estimated) weighs its
  point estimate clipped at 0 by default (``unsupported="estimate"``; 0 when there is no
  estimate), or 0 (``unsupported="zero"``: no supported influence, no weight). Measured
  (bench/RESULTS.md): "zero" leaves REES46, where no effect is supported, with purchases alone
  (0.16x grid-tuned weights); "estimate" is within a standard error of grid weights everywhere;
* a behaviour the causal tool does not treat (e.g. ``rating``) weighs 0.

Weights are never negative: a behaviour estimated to lower buying gets 0, and the reason says so.

>>> from whyrec.tools.causal.results import EffectWeight
>>> found = causal_weights({"view": EffectWeight("view", 0.13, 0.12, 0.14, "supported"),
...                         "cart": EffectWeight("cart", None, None, None, "cannot estimate")},
...                        ["view", "click", "cart", "purchase"])
>>> found.weights
{'cart': 0.0, 'click': 0.13, 'purchase': 1.0, 'view': 0.13}
>>> causal_weights({"view": EffectWeight("view", 0.06, -0.01, 0.13, "inconclusive")}, ["view"],
...                unsupported="zero").weights
{'view': 0.0}
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from ..causal.results import SUPPORTED, EffectWeight

log = logging.getLogger(__name__)

#: Which causal treatment speaks for each ranker behaviour (looking again covers view and click).
TREATMENT_OF: dict[str, str] = {"view": "view", "click": "view", "favourite": "favourite", "cart": "cart"}

#: What to do with an effect that is not ``supported``.
UNSUPPORTED_POLICIES: tuple[str, ...] = ("zero", "estimate")


@dataclass(frozen=True)
class CausalWeights:
    """Behaviour weights from causal effects, with where each one came from.

    ``sources[behaviour]`` is a short record: the treatment it was read from, its estimate and
    verdict, and the rule applied (``"target"``, ``"supported"``, ``"clipped at 0"``,
    ``"not supported: 0"``, ``"not supported: estimate"``, ``"no treatment: 0"``).
    """

    weights: dict[str, float]
    sources: dict[str, dict[str, Any]]
    unsupported: str
    target: str
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))


def causal_weights(effects: Mapping[str, EffectWeight], behaviours: Iterable[str],
                   target: str = "purchase", unsupported: str = "estimate") -> CausalWeights:
    """Weights for ``behaviours`` from population ``effects`` (:meth:`InfluenceReport.weights`).

    ``unsupported``: ``"estimate"`` (default) gives a behaviour whose effect is not supported its
    point estimate clipped at 0 (0 when there is none); ``"zero"`` gives it 0.
    """
    if unsupported not in UNSUPPORTED_POLICIES:
        raise ValueError(f"unsupported must be one of {UNSUPPORTED_POLICIES}, not {unsupported!r}")
    weights: dict[str, float] = {}
    sources: dict[str, dict[str, Any]] = {}
    for behaviour in sorted(set(behaviours)):
        if behaviour == target:
            weights[behaviour], sources[behaviour] = 1.0, {"rule": "target"}
            continue
        treatment = TREATMENT_OF.get(behaviour)
        effect = effects.get(treatment) if treatment else None
        if effect is None:
            weights[behaviour], sources[behaviour] = 0.0, {"rule": "no treatment: 0"}
            continue
        record: dict[str, Any] = {"treatment": treatment, "estimate": effect.estimate,
                                  "ci_low": effect.ci_low, "ci_high": effect.ci_high,
                                  "verdict": effect.verdict}
        estimate = effect.estimate
        if effect.verdict == SUPPORTED and estimate is not None:
            weight, rule = max(float(estimate), 0.0), "supported" if estimate >= 0 else "clipped at 0"
        elif unsupported == "estimate" and estimate is not None:
            weight, rule = max(float(estimate), 0.0), "not supported: estimate clipped at 0"
        else:
            weight, rule = 0.0, "not supported: 0"
        weights[behaviour], sources[behaviour] = weight, {**record, "rule": rule}
    return CausalWeights(weights, sources, unsupported, target)


def estimate_causal_weights(events: pd.DataFrame, items: pd.DataFrame | None = None,
                            target: str = "purchase", unsupported: str = "estimate",
                            settings: Any = None) -> CausalWeights:
    """Run the causal tool's population estimate on ``events`` (read-only use of
    :mod:`whyrec.tools.causal`, its default settings unless ``settings``) and turn the effects
    into weights. Pass only events before the evaluation's cut: the weights must not see test."""
    from ..causal import EffectSettings, build_decisions, choose_windows, estimate_report

    settings = settings if settings is not None else EffectSettings()
    if target != "purchase":
        raise ValueError(f"causal weights need purchase as the outcome; this log's target is {target!r}")
    started = time.perf_counter()
    table = build_decisions(events, items, choose_windows(events, settings.window_days, settings.horizon_days))
    report = estimate_report(table, settings)
    found = causal_weights(report.weights(), events["behaviour"].astype(str).unique(), target, unsupported)
    seconds = time.perf_counter() - started
    log.info("causal weights in %.0f s: %s", seconds, found.weights)
    return CausalWeights(found.weights, found.sources, found.unsupported, found.target, seconds)


__all__ = ["CausalWeights", "TREATMENT_OF", "UNSUPPORTED_POLICIES", "causal_weights", "estimate_causal_weights"]
