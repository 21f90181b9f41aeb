"""Refutation tests that can fail: independent draws, a null distribution, a two-sided p-value.

Each test re-runs the primary estimator (the DR learner through DoWhy, same settings) on
``num_simulations`` modified copies of the trial — every copy from its own random draw — and
asks how typical a value is of the simulated distribution:

``placebo_treatment_refuter``
    The treatment is randomly reassigned across decision points (a permutation). Its effect
    must be typical of zero: a pipeline that finds "effects" of a random treatment fails.
``data_subset_refuter``
    Re-estimated on random 80% subsets of the *users* (clusters). The estimate must be typical
    of the subset estimates: an estimate that hinges on a few shoppers fails.
``dummy_outcome_refuter``
    The outcome is replaced by a draw from the fitted no-treatment model P(buy | adjusters), so
    it keeps every confounding path but has no treatment effect. The estimate must be typical
    of zero: an estimator that cannot adjust for the confounders it was given fails.
``random_common_cause`` (off by default)
    A random column joins the adjusters; the flexible nuisance models can respond to it. The
    estimate must stay typical.

The p-values follow DoWhy's significance test — the draws form a null distribution — with two
corrections: DoWhy's normal test uses the draws' population standard deviation and a one-sided
tail, which with a handful of draws failed sound estimates far more often than its level says
(in 1 of 6 demo reports of true effects). Here, where the truth is known to be zero (placebo,
dummy outcome), a one-sample Student-t test asks whether the draws are centred on zero; where
the estimate should be typical of the draws (subsets, random common cause), a Student-t
prediction interval asks whether it is (both two-sided, k − 1 degrees of freedom). A test fails
below ``refute_alpha`` divided by the number of tests, so the battery keeps its level.

Tests run on the kept (untrimmed) decision points, or on a random sample of whole users when
there are more than ``refute_max_rows``; the comparison value is then the estimate on that
sample, and the reason says so.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
from scipy import stats

from .estimate import DrFit, TrialFrame, fit_dr, identify, sample_users, thread_limits
from .results import Refutation
from .settings import DATA_SUBSET, DUMMY_OUTCOME, PLACEBO, RANDOM_COMMON_CAUSE, EffectSettings

log = logging.getLogger(__name__)


def refute(frame: TrialFrame, fit: DrFit, settings: EffectSettings,
           identified: object = None) -> tuple[Refutation, ...]:
    """Run ``settings.refuters`` against the primary fit ``fit`` of ``frame``. ``identified``:
    DoWhy's identified estimand of ``frame`` (the refutation samples share its adjusters)."""
    if not settings.refuters:
        return ()
    with thread_limits(settings.threads):
        return _refute(frame, fit, settings, identified)


def _refute(frame: TrialFrame, fit: DrFit, settings: EffectSettings, identified: object = None
            ) -> tuple[Refutation, ...]:
    kept_rows = np.flatnonzero(fit.kept)
    mu0 = np.full(len(frame), np.nan)
    mu0[kept_rows] = fit.mu0
    sample = frame.take(kept_rows)
    sample_mu0 = mu0[kept_rows]
    base = fit.estimate
    note = ""
    if len(sample) > settings.refute_max_rows:
        chosen = sample_users(sample.groups, settings.refute_max_rows, settings.seed + 1)
        sample, sample_mu0 = sample.take(chosen), sample_mu0[chosen]
        try:
            base = fit_dr(sample, settings, settings.seed, identified).estimate
        except Exception as exc:  # the estimator raises many kinds of errors on odd data
            log.warning("refutation sample could not be estimated: %s", exc)
            return tuple(Refutation(name, None, False, f"could not run: {exc}", ran=False)
                         for name in settings.refuters)
        note = (f" (on a random sample of {len(sample):,} decision points, whose own estimate is "
                f"{base:+.4f})")
    seeds = np.random.SeedSequence([settings.seed, 7_919]).spawn(len(settings.refuters))
    out = []
    for name, seed in zip(settings.refuters, seeds):
        try:
            identified = identified if identified is not None else identify(sample)
            out.append(_run(name, sample, sample_mu0, base, settings, np.random.default_rng(seed), note, identified))
        except Exception as exc:
            log.warning("refuter %s failed to run: %s", name, exc)
            out.append(Refutation(name, None, False, f"could not run: {exc}", ran=False))
    return tuple(out)


def _run(name: str, sample: TrialFrame, mu0: np.ndarray, base: float, settings: EffectSettings,
         rng: np.random.Generator, note: str, identified: object) -> Refutation:
    sims = []
    for _ in range(settings.num_simulations):
        seed = int(rng.integers(0, 2**31 - 1))
        if name == PLACEBO:
            changed = sample.with_column(sample.treatment, rng.permutation(sample.data[sample.treatment].to_numpy()))
        elif name == DUMMY_OUTCOME:
            changed = sample.with_column(sample.outcome, (rng.random(len(sample)) < mu0).astype(np.int64))
        elif name == DATA_SUBSET:
            users = np.unique(sample.groups)
            chosen = rng.choice(users, size=max(1, int(round(0.8 * len(users)))), replace=False)
            changed = sample.take(np.flatnonzero(np.isin(sample.groups, chosen)))
        elif name == RANDOM_COMMON_CAUSE:
            changed = sample.with_column("random_common_cause", rng.normal(size=len(sample)))
            changed = replace(changed, adjusters=changed.adjusters + ("random_common_cause",))
        else:
            raise ValueError(f"unknown refuter {name!r}")
        same_adjusters = changed.adjusters == sample.adjusters
        sims.append(fit_dr(changed, settings, seed, identified if same_adjusters else None).estimate)
    values = np.asarray(sims, dtype=float)
    known_zero = name in (PLACEBO, DUMMY_OUTCOME)
    target = 0.0 if known_zero else base
    p_value = _significance(target, values, mean_test=known_zero)
    passed = bool(p_value >= settings.refute_alpha / len(settings.refuters))
    return Refutation(name=name, new_effect=float(values.mean()), passed=passed,
                      reason=_reason(name, values, target, p_value, passed, settings) + note,
                      p_value=p_value, simulations=len(values), spread=float(values.std(ddof=1)))


def _significance(value: float, simulations: np.ndarray, mean_test: bool) -> float:
    """Two-sided p-value from a Student-t test with k − 1 degrees of freedom: whether the draws'
    mean is ``value`` (``mean_test``: is the estimator biased where the truth is known), or
    whether ``value`` is typical of one more draw (a prediction interval)."""
    k = len(simulations)
    spread = float(np.std(simulations, ddof=1)) if k > 1 else 0.0
    if spread == 0:
        return 1.0 if np.all(simulations == value) else 0.0
    scale = spread / np.sqrt(k) if mean_test else spread * np.sqrt(1 + 1 / k)
    t = abs(value - float(np.mean(simulations))) / scale
    return float(2 * stats.t.sf(t, df=k - 1))


def _reason(name: str, values: np.ndarray, target: float, p_value: float, passed: bool,
            settings: EffectSettings) -> str:
    spread = f"{values.mean():+.4f} ± {values.std(ddof=1):.4f} over {len(values)} draws"
    threshold = f"{settings.refute_alpha / len(settings.refuters):.3g}"
    verdict = "typical" if passed else "NOT typical"
    centred = "centred on zero" if passed else "NOT centred on zero"
    if name == PLACEBO:
        return (f"randomly reassigned treatments give {spread}: {centred} "
                f"(p={p_value:.3f}, threshold {threshold})")
    if name == DUMMY_OUTCOME:
        return (f"an outcome with every confounding path but no treatment effect gives {spread}: {centred} "
                f"(p={p_value:.3f}, threshold {threshold})")
    if name == DATA_SUBSET:
        return (f"80% subsets of the shoppers give {spread}; the estimate {target:+.4f} is {verdict} of them "
                f"(p={p_value:.3f}, threshold {threshold})")
    return (f"adding a random common cause gives {spread}; the estimate {target:+.4f} is {verdict} of them "
            f"(p={p_value:.3f}, threshold {threshold})")
