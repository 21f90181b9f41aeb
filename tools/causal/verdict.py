"""The verdict on an estimated effect: ``supported`` only when nothing argues against it.

An effect is ``inconclusive`` — never presented as a finding — when any of these holds
(all that hold are listed):

* its 95% interval includes zero;
* poor overlap: more than ``max_trimmed_share`` of its decision points had a propensity
  outside [``trim``, 1 − ``trim``] and were set aside;
* the estimators disagree beyond their intervals: the doubly robust interval and the
  weighting interval (same cross-fitted propensities) do not overlap. Regression is shown for
  contrast only — its linear model is a known weak spot, not evidence against the DR estimate;
* a refutation test failed, or could not run (for a segment: a test of the whole population);
* too sensitive: the robustness value is below ``min_robustness`` — a hidden factor that
  explains that little of the remaining variation in both the behaviour and buying would move
  the interval to zero.

Otherwise it is ``supported``. (Effects without a number are ``cannot_estimate``, decided
where the data is checked.)
"""

from __future__ import annotations

from .results import MethodEstimate, Refutation, Sensitivity
from .settings import PROPENSITY_WEIGHTING, EffectSettings
from .words import INCONCLUSIVE, SUPPORTED, Reason


def judge(estimate: float, ci: tuple[float, float], trimmed_share: float,
          comparisons: tuple[MethodEstimate, ...], refutations: tuple[Refutation, ...],
          sensitivity: Sensitivity | None, settings: EffectSettings,
          population_refutations_failed: tuple[str, ...] = ()) -> tuple[str, tuple[Reason, ...]]:
    """(verdict, reasons) for an estimated effect; see the module docstring for the rules."""
    reasons: list[Reason] = []
    low, high = ci
    if low <= 0 <= high:
        reasons.append(Reason("interval_spans_zero", {"low_points": low, "high_points": high}))
    if trimmed_share > settings.max_trimmed_share:
        reasons.append(Reason("poor_overlap", {"trimmed_share": trimmed_share,
                                               "limit_share": settings.max_trimmed_share}))
    for other in comparisons:
        if other.method != PROPENSITY_WEIGHTING or other.ci_low is None or other.ci_high is None:
            continue
        if other.ci_low > high or other.ci_high < low:
            reasons.append(Reason("estimators_disagree", {"primary_points": estimate,
                                                          "other_points": other.estimate}))
    failed = [r.name for r in refutations if r.ran and not r.passed] + list(population_refutations_failed)
    if failed:
        reasons.append(Reason("refuter_failed", {"names": ", ".join(dict.fromkeys(failed))}))
    not_run = [r.name for r in refutations if not r.ran]
    if not_run:
        reasons.append(Reason("refuter_not_run", {"names": ", ".join(not_run)}))
    if sensitivity is not None and not low <= 0 <= high and sensitivity.robustness_value < settings.min_robustness:
        reasons.append(Reason("sensitivity_low", {"robustness_share": sensitivity.robustness_value,
                                                  "limit_share": settings.min_robustness}))
    return (INCONCLUSIVE if reasons else SUPPORTED), tuple(reasons)
