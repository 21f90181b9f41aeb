"""One behaviour, end to end: its trial → checks → DR estimate → comparisons, refutations,
sensitivity → verdict, for the whole population and per segment.

:func:`estimate_behaviour` returns :class:`~.results.BehaviourEffect` results, never raises
on data it cannot use: too few decision points, no treated ones, a log too short for the
horizon — each becomes a ``cannot_estimate`` verdict whose reason carries the counts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from .decisions import DecisionTable
from .estimand import OUTCOME
from .estimate import (
    DrFit,
    TrialFrame,
    cate_covariance,
    cluster_se,
    fit_dr,
    identify,
    interval,
    naive,
    prepare,
    quiet,
    regression,
    sample_users,
    thread_limits,
    weighting,
)
from .refute import refute
from .results import OK, POPULATION, BehaviourEffect, CateModel, MethodEstimate, Refutation
from .segments import SegmentSpec, label_values
from .sensitivity import sensitivity
from .settings import DR_LEARNER, LINEAR_REGRESSION, PROPENSITY_WEIGHTING, EffectSettings
from .verdict import judge
from .words import Reason

log = logging.getLogger(__name__)

#: The fitted range of each effect modifier: from its 1st to its 99th percentile.
SUPPORT_QUANTILES: tuple[float, float] = (0.01, 0.99)


@dataclass(frozen=True)
class Trial:
    """One behaviour's trial, ready to estimate on its own (in another process, say): the
    eligible decision points (a random sample of whole users beyond ``settings.max_rows``), or
    the reason they cannot carry an estimate."""

    behaviour: str
    estimand: dict[str, Any]
    rows: pd.DataFrame | None
    refusal: Reason | None = None
    followed_up: int = 0
    treated: int = 0
    notes: tuple[str, ...] = ()


def make_trial(table: DecisionTable, behaviour: str, settings: EffectSettings = EffectSettings()) -> Trial:
    """The trial of ``behaviour`` from the decision table: its rows (sampled by user beyond
    ``settings.max_rows``), or the reason with the counts why it cannot be estimated."""
    estimand = {**table.windows.to_json(), "behaviour": behaviour}
    counts = table.counts(behaviour)
    refusal = _check_counts(table, behaviour, settings)
    if refusal is not None:
        return Trial(behaviour, estimand, None, refusal, counts.followed_up, counts.treated)
    notes: tuple[str, ...] = ()
    if table.sample:
        notes = (f"decision points of a random sample of whole shoppers: {table.sample['users']:,} of "
                 f"{table.sample['of_users']:,} (their item baselines from the whole log)",)
    # The same users as sampling the prepared frame would keep (prepare codes users the same way);
    # drawn before the rows are built, so only the sampled rows are (a 10M-event table's
    # trials built every eligible row first: 12 CPU s each).
    groups = table.user_groups(table.eligible(behaviour))
    chosen = sample_users(groups, settings.max_rows, settings.seed)
    if len(chosen) < len(groups):
        notes += (f"estimated on a random sample of whole shoppers: {len(chosen):,} of {len(groups):,} "
                  "decision points",)
    rows = table.rows(behaviour, chosen)
    return Trial(behaviour, estimand, rows, None, counts.followed_up, counts.treated, notes)


def estimate_behaviour(table: DecisionTable, behaviour: str, settings: EffectSettings = EffectSettings(),
                       segment: SegmentSpec | None = None, refute_population: bool = True,
                       edges: tuple[float, float] | None = None,
                       known_refutations: tuple[Refutation, ...] | None = None) -> tuple[BehaviourEffect, ...]:
    """The effect of ``behaviour`` on buying: the population's, then one per segment value.

    ``known_refutations``: the population's refutation results from a stored report of the same
    data and settings (refuters are seeded, so re-running them would give the same results);
    they are reused instead of re-run.

    Any library warning raised on the way becomes a note of the result (and a debug log line).

    >>> effects = estimate_behaviour(build_decisions(events, items, windows), "cart")  # doctest: +SKIP
    >>> effects[0].estimate, effects[0].verdict                                          # doctest: +SKIP
    """
    return estimate_trial(make_trial(table, behaviour, settings), settings, segment, refute_population, edges,
                          known_refutations)


def estimate_trial(trial: Trial, settings: EffectSettings = EffectSettings(), segment: SegmentSpec | None = None,
                   refute_population: bool = True, edges: tuple[float, float] | None = None,
                   known_refutations: tuple[Refutation, ...] | None = None) -> tuple[BehaviourEffect, ...]:
    """:func:`estimate_behaviour` for a trial made by :func:`make_trial` (picklable both ways)."""
    stray: list[str] = []
    with quiet(stray), thread_limits(settings.threads):
        effects = _estimate_trial(trial, settings, segment, refute_population, edges, known_refutations)
    if not stray:
        return effects
    return tuple(replace(e, notes=e.notes + tuple(n for n in stray if n not in e.notes)) for e in effects)


def _estimate_trial(trial: Trial, settings: EffectSettings, segment: SegmentSpec | None,
                    refute_population: bool, edges: tuple[float, float] | None,
                    known_refutations: tuple[Refutation, ...] | None = None) -> tuple[BehaviourEffect, ...]:
    behaviour, estimand = trial.behaviour, trial.estimand
    if trial.rows is None:
        refusal = trial.refusal or Reason("too_few_rows", {"rows": 0, "needed": settings.min_rows})
        return (BehaviourEffect.cannot_estimate(behaviour, OUTCOME, POPULATION, refusal, trial.followed_up,
                                                trial.treated, estimand=estimand),)
    frame = prepare(trial.rows, behaviour)
    notes: list[str] = list(trial.notes)
    try:
        identified = identify(frame)
        fit = fit_dr(frame, settings, settings.seed, identified)
    except Exception as exc:  # DoWhy and econml raise many kinds of errors on degenerate data
        log.warning("the DR estimate of %s failed: %s", behaviour, exc)
        return (BehaviourEffect.cannot_estimate(behaviour, OUTCOME, POPULATION,
                                                Reason("estimator_failed", {"error": str(exc)[:200]}),
                                                len(frame), int(frame.data[behaviour].sum()), estimand=estimand),)
    notes += [n for n in fit.notes if n not in notes]
    everything = np.ones(len(frame), dtype=bool)
    problem = _check_kept(frame, fit, everything, settings)
    if problem:
        return (BehaviourEffect.cannot_estimate(behaviour, OUTCOME, POPULATION, problem[0], len(frame),
                                                int(frame.data[behaviour].sum()),
                                                naive(frame.data[behaviour].to_numpy(), frame.data[OUTCOME].to_numpy()),
                                                estimand, extra=problem[1:]),)
    if known_refutations is not None:
        refutations = known_refutations
    else:
        refutations = refute(frame, fit, settings, identified) if refute_population else ()
    population = _effect(frame, fit, everything, POPULATION, settings, estimand, refutations, (), notes,
                         with_cate=True, identified=identified)
    out = [population]
    if segment is not None:
        failed = tuple(r.name for r in refutations if not r.passed)
        labels = label_values(frame.segments[_segment_column(segment)], segment.dimension, edges)
        values = [segment.value] if segment.value is not None else list(
            labels.value_counts().index[: settings.max_segments])
        for value in values:
            mask = (labels == value).fillna(False).to_numpy()
            out.append(_effect(frame, fit, mask, f"{segment.dimension}={value}", settings, estimand, (), failed,
                               list(notes), with_cate=False, identified=identified))
    return tuple(out)


def _segment_column(segment: SegmentSpec) -> str:
    from .segments import DIMENSIONS

    return DIMENSIONS[segment.dimension]


def _check_counts(table: DecisionTable, behaviour: str, settings: EffectSettings) -> Reason | None:
    """A reason (with the counts) why this behaviour's trial cannot carry an estimate, or None."""
    c = table.counts(behaviour)
    windows = table.windows
    if c.exposures == 0:
        return Reason("no_exposures")
    if c.followed_up < settings.min_rows:
        if c.in_window >= settings.min_rows:
            return Reason("short_log", {"span_seconds": windows.span.total_seconds(),
                                        "horizon_seconds": windows.horizon.total_seconds(),
                                        "followed": c.followed_up, "rows": c.in_window, "needed": settings.min_rows})
        return Reason("too_few_rows", {"rows": c.followed_up, "needed": settings.min_rows})
    return _check_arms(c.followed_up, c.treated, c.purchases, behaviour, settings,
                       events=table.event_counts.get(behaviour, 0), horizon=windows.horizon.total_seconds())


def _check_arms(rows: int, treated: int, purchases: int, behaviour: str, settings: EffectSettings,
                events: int | None = None, horizon: float | None = None) -> Reason | None:
    if rows < settings.min_rows:
        return Reason("too_few_rows", {"rows": rows, "needed": settings.min_rows})
    if treated < settings.min_treated:
        fields: dict[str, Any] = {"behaviour": behaviour, "treated": treated, "rows": rows,
                                  "needed": settings.min_treated}
        if events == 0:
            return Reason("no_such_events", {"behaviour": behaviour})
        if events is not None:
            return Reason("too_few_treated_events", {**fields, "events": events})
        return Reason("too_few_treated", fields)
    if rows - treated < settings.min_treated:
        return Reason("too_few_untreated", {"behaviour": behaviour, "untreated": rows - treated, "rows": rows,
                                            "needed": settings.min_treated})
    if purchases < settings.min_outcomes:
        return Reason("too_few_purchases", {"purchases": purchases, "rows": rows, "needed": settings.min_outcomes,
                                            "horizon_seconds": horizon or 0.0})
    if purchases == rows:
        return Reason("all_purchase", {"rows": rows})
    return None


def _check_kept(frame: TrialFrame, fit: DrFit, mask: np.ndarray, settings: EffectSettings) -> list[Reason]:
    """Why the untrimmed rows in ``mask`` cannot carry an estimate (empty list if they can);
    when trimming is to blame, a second reason says how much was set aside."""
    rows_in = int(mask.sum())
    kept = fit.kept & mask
    t = frame.data[frame.treatment].to_numpy()[kept]
    y = frame.data[OUTCOME].to_numpy()[kept]
    problem = _check_arms(int(kept.sum()), int(t.sum()), int(y.sum()), frame.treatment, settings)
    if problem is None:
        return []
    if int(kept.sum()) < rows_in:
        return [problem, Reason("trimmed", {"rows": rows_in, "kept": int(kept.sum()),
                                            "trimmed_share": 1 - kept.sum() / max(rows_in, 1)})]
    return [problem]


def _effect(frame: TrialFrame, fit: DrFit, mask: np.ndarray, segment: str, settings: EffectSettings,
            estimand: dict[str, Any], refutations: tuple[Refutation, ...], population_failed: tuple[str, ...],
            notes: list[str], with_cate: bool, identified: Any = None) -> BehaviourEffect:
    """The effect over the rows in ``mask`` (all rows for the population) from the one fit."""
    behaviour = frame.treatment
    kept_mask = mask[fit.kept]
    t_all = frame.data[behaviour].to_numpy()
    y_all = frame.data[OUTCOME].to_numpy()
    rows_in, treated_in = int(mask.sum()), int(t_all[mask].sum())
    part = frame.take(np.flatnonzero(fit.kept & mask))
    t = part.data[behaviour].to_numpy(dtype=float)
    y = part.data[OUTCOME].to_numpy(dtype=float)
    problem = _check_kept(frame, fit, mask, settings)
    if problem:
        return BehaviourEffect.cannot_estimate(behaviour, OUTCOME, segment, problem[0], rows_in, treated_in,
                                               naive(t_all[mask], y_all[mask]), estimand, extra=problem[1:])
    psi = fit.psi[kept_mask]
    groups = part.groups
    clusters = part.clusters
    estimate = fit.estimate if segment == POPULATION else float(psi.mean())
    se = cluster_se(psi, clusters)
    low, high, p_value = interval(estimate, se, settings.confidence_level)
    comparisons: list[MethodEstimate] = []
    for method in settings.comparisons:
        value = None
        try:
            if method == PROPENSITY_WEIGHTING:
                value = weighting(t, y, fit.propensity[kept_mask], clusters, settings.confidence_level)
            elif method == LINEAR_REGRESSION:
                value = regression(part, settings, notes, identified)
        except Exception as exc:
            notes.append(f"{method} failed: {str(exc)[:160]}")
            log.info("%s failed for %s [%s]: %s", method, behaviour, segment, exc)
        if value is not None:
            comparisons.append(MethodEstimate(method, *value))
    sens = None
    try:
        sens = sensitivity(t, y, fit.mu0[kept_mask], fit.mu1[kept_mask], fit.propensity[kept_mask], clusters,
                           estimate, se, settings.confidence_level)
    except Exception as exc:
        notes.append(f"sensitivity analysis failed: {str(exc)[:160]}")
    trimmed_share = 1.0 - len(part) / max(rows_in, 1)
    verdict, reasons = judge(estimate, (low, high), trimmed_share, tuple(comparisons), refutations, sens,
                             settings, population_failed)
    cate = None
    if with_cate:
        x = part.data[list(part.modifiers)].to_numpy(dtype=float) if part.modifiers else np.zeros((len(part), 0))
        cov = cate_covariance(psi, x, fit.coef, clusters)
        # The range θ(x) was fitted on: personal numbers are given only inside it.
        support = tuple((float(lo), float(hi)) for lo, hi in np.quantile(x, SUPPORT_QUANTILES, axis=0).T) \
            if x.shape[1] else ()
        cate = CateModel(part.modifiers, tuple(float(c) for c in fit.coef),
                         tuple(tuple(float(v) for v in row) for row in cov), support)
    reason = "estimated" + (f" (adjusters without variation, left out: {', '.join(frame.dropped)})"
                            if frame.dropped else "")
    return BehaviourEffect(
        behaviour=behaviour, outcome=OUTCOME, segment=segment, status=OK, reason=reason, n=len(part),
        n_treated=int(t.sum()), estimate=estimate, ci_low=low, ci_high=high, method=DR_LEARNER,
        naive=naive(t, y), baseline=float(np.mean(fit.mu0[kept_mask])), refutations=refutations,
        alternatives=tuple(comparisons), verdict=verdict, verdict_reasons=reasons, estimand=estimand,
        p_value=p_value, trimmed_share=trimmed_share, sensitivity=sens, cate=cate,
        n_users=int(len(np.unique(groups))), notes=tuple(notes))
