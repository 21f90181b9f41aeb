"""Sensitivity to unmeasured confounding: how strong would a hidden factor have to be?

Two numbers per effect, both from the primary (doubly robust) fit:

* the **robustness value** of Chernozhukov, Cinelli, Newey, Sharma & Syrgkanis (2022, "Long
  story short: omitted variable bias in causal machine learning"), computed with econml's
  implementation but with the moments' covariance clustered by user and item: the share of the
  remaining variation in both the behaviour and buying (what the measured factors leave
  unexplained) that a hidden factor would have to explain to move the 95% interval to zero
  (and, separately, the estimate itself). It is computed around the interval the user is
  shown: the estimate and its standard error are the reported ones, so with no hidden factor
  the bounds are exactly the reported interval (robustness 0 if and only if that interval
  holds zero). The squared norm of the Riesz representer, ν², is the larger of the debiased
  moment and the plain mean of α²: extreme weights can make the debiased moment small or
  negative in a finite sample (DoubleML re-estimates it from α² when it is not positive), and a
  ν² near zero made every hidden factor look decisive; the larger value is the conservative
  choice and has no jump where the debiased moment crosses zero;
* the **E-value** (VanderWeele & Ding 2017) on the risk-ratio scale: how many times more
  likely a hidden factor would have to make both the behaviour and buying to explain the
  effect away (``e_value``) or to move the interval's nearer end to no effect (``e_value_ci``).
"""

from __future__ import annotations

import numpy as np

from .estimate import cluster_meat, interval
from .results import Sensitivity


def sensitivity(t: np.ndarray, y: np.ndarray, mu0: np.ndarray, mu1: np.ndarray, propensity: np.ndarray,
                clusters: np.ndarray, estimate: float, se: float, level: float = 0.95) -> Sensitivity:
    """Robustness values and E-values of a DR estimate (arrays over its kept decision points),
    around the reported ``estimate`` and its standard error ``se``."""
    from econml.validate.sensitivity_analysis import RV

    if not (np.isfinite(estimate) and np.isfinite(se) and se >= 0):
        raise ValueError(f"no sensitivity for estimate {estimate} with standard error {se}")

    e = propensity
    mu_t = np.where(t == 1, mu1, mu0)
    # The same moments as econml's dr_sensitivity_values (theta, sigma², nu²) ...
    alpha = t / e - (1 - t) / (1 - e)
    theta_score = mu1 - mu0 + alpha * (y - mu_t)
    sigma_score = (y - mu_t) ** 2
    nu_score = 2 * (1 / e + 1 / (1 - e)) - alpha**2
    if nu_score.mean() < np.mean(alpha**2):   # the larger of the two: conservative, no jump at zero
        nu_score = alpha**2
    scores = np.column_stack([theta_score, sigma_score, nu_score])
    means = scores.mean(axis=0)
    # ... with their covariance summed over clusters (user and item: see estimate.cluster_meat),
    # the estimate's own row and column rescaled to the reported standard error.
    n = len(t)
    cov = cluster_meat(scores, clusters) / n**2
    own = float(np.sqrt(cov[0, 0]))
    scale = np.array([se / own if own > 0 else 0.0, 1.0, 1.0])
    cov = cov * np.outer(scale, scale)
    cov[0, 0] = se**2
    _, sigma, nu = (float(v) for v in means)
    theta = float(estimate)
    sigma, nu = max(sigma, 1e-12), max(nu, 1e-12)
    rv_ci = float(RV(theta, sigma, nu, cov, 1 - level, interval_type="ci"))
    rv_theta = float(RV(theta, sigma, nu, cov, 1 - level, interval_type="theta"))
    low, high, _ = interval(theta, se, level)   # the interval the user is shown
    if not low <= 0 <= high:   # it excludes zero: never report a robustness of exactly 0
        rv_ci, rv_theta = max(rv_ci, 1e-6), max(rv_theta, 1e-6)
    baseline = float(np.mean(mu0))
    return Sensitivity(robustness_value=round(rv_ci, 6), robustness_value_estimate=round(rv_theta, 6),
                       e_value=_e_value(baseline, theta),
                       e_value_ci=_e_value_ci(baseline, (low, high)),
                       baseline=round(baseline, 6))


def _e_value(baseline: float, effect: float) -> float | None:
    """E-value of a risk difference at baseline risk ``baseline`` (None if undefined)."""
    if not 0 < baseline < 1 or not 0 < baseline + effect < 1:
        return None
    ratio = (baseline + effect) / baseline
    ratio = 1 / ratio if ratio < 1 else ratio
    return round(float(ratio + np.sqrt(ratio * (ratio - 1))), 4)


def _e_value_ci(baseline: float, ci: tuple[float, float]) -> float | None:
    """E-value of the interval's end nearer to no effect (1 when the interval holds zero)."""
    low, high = ci
    if low <= 0 <= high:
        return 1.0
    return _e_value(baseline, low if low > 0 else high)
