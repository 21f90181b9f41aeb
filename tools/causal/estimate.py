"""DoWhy per behaviour: model → identify → estimate (several estimators) → refute.

:func:`estimate_behaviour` turns a unit table into one :class:`BehaviourEffect`. It checks the
data first (enough units, treated and untreated units, purchases) and returns a
"cannot estimate because …" result instead of a number when the data cannot carry one.

Estimators: backdoor linear regression (interval from the regression), inverse propensity
weighting (normalised weights, logistic propensity on standardised confounders, interval from
the influence function with the propensities held fixed) and, when econml is installed,
LinearDML. Refuters: placebo treatment, random common cause and data subset, each with a
bounded number of simulations on a bounded subsample.
"""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
from scipy import stats

from .graph import behaviour_graph, restrict
from .results import OK, POPULATION, BehaviourEffect, MethodEstimate, Refutation
from .settings import (
    DATA_SUBSET,
    LINEAR_DML,
    LINEAR_REGRESSION,
    PLACEBO,
    PROPENSITY_WEIGHTING,
    RANDOM_COMMON_CAUSE,
    EffectSettings,
)

log = logging.getLogger(__name__)

MAX_CATEGORY_LEVELS = 20


@dataclass(frozen=True)
class ModelFrame:
    """The numeric frame and graph DoWhy gets for one treatment (categoricals one-hot encoded)."""

    data: pd.DataFrame
    graph: nx.DiGraph
    treatment: str
    outcome: str
    dropped: tuple[str, ...]


@contextlib.contextmanager
def _blas_threads(limit: int | None) -> Iterator[None]:
    """Limit BLAS threads: small least-squares problems run ~10x faster single-threaded."""
    if limit is None:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=limit, user_api="blas"):
        yield


def prepare(units: pd.DataFrame, treatment: str, settings: EffectSettings) -> ModelFrame:
    """Select the graph's columns, drop those without variation, one-hot the categoricals."""
    graph = behaviour_graph(settings.graph)
    outcome = settings.graph.outcome
    present = [n for n in graph.nodes if n in units.columns]
    missing = [n for n in graph.nodes if n not in units.columns]
    if missing:
        log.warning("graph nodes without a column in the unit table are ignored: %s", missing)
    dropped = list(missing)
    columns: dict[str, pd.Series] = {}
    expanded: dict[str, list[str]] = {}
    for node in present:
        series = units[node]
        if node not in (treatment, outcome) and series.nunique(dropna=True) <= 1:
            dropped.append(node)
            continue
        if node in (treatment, outcome) or node in settings.graph.behaviours:
            columns[node] = series.astype(np.int64)
        elif _is_categorical(series):
            dummies = _one_hot(series, node)
            if dummies.empty:
                dropped.append(node)
                continue
            expanded[node] = list(dummies.columns)
            columns.update({c: dummies[c] for c in dummies.columns})
        else:
            numeric = pd.to_numeric(series, errors="coerce").astype(float)
            columns[node] = numeric.fillna(numeric.median())
    keep = [n for n in present if n not in dropped]
    sub = restrict(graph, keep)
    for node, dummy_columns in expanded.items():
        for column in dummy_columns:
            sub.add_node(column, role="confounder")
            sub.add_edges_from((column, t) for t in sub.successors(node))
            sub.add_edges_from((p, column) for p in sub.predecessors(node))
        sub.remove_node(node)
    data = pd.DataFrame(columns, index=units.index).reset_index(drop=True)
    return ModelFrame(data=data, graph=sub, treatment=treatment, outcome=outcome,
                      dropped=tuple(dropped))


def _is_categorical(series: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series))


def _one_hot(series: pd.Series, name: str) -> pd.DataFrame:
    """Dummies for the most frequent levels (the most frequent is the baseline)."""
    values = series.astype("string").fillna("unknown")
    top = values.value_counts().index[: MAX_CATEGORY_LEVELS + 1]
    values = values.where(values.isin(top), "other")
    levels = [lvl for lvl in values.value_counts().index[1:]]
    return pd.DataFrame({f"{name}_{_slug(str(lvl))}": (values == lvl).astype(float)
                         for lvl in levels}, index=series.index)


def _slug(text: str) -> str:
    return re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower() or "x"


def check_data(units: pd.DataFrame, treatment: str, outcome: str, settings: EffectSettings,
               segment: str = POPULATION) -> BehaviourEffect | None:
    """A "cannot estimate" result if the units cannot carry an estimate, else ``None``."""
    n = len(units)
    if treatment not in units.columns:
        return BehaviourEffect.cannot_estimate(treatment, outcome, segment,
                                               f"the unit table has no '{treatment}' column", n, 0)
    t = units[treatment].to_numpy()
    n_treated = int((t == 1).sum())
    naive = _naive(units, treatment, outcome)
    reason = None
    if n < settings.min_units:
        reason = f"only {n:,} units (at least {settings.min_units:,} needed)"
    elif n_treated == 0:
        reason = f"no unit has '{treatment}' (the log has no such behaviour here)"
    elif n_treated == n:
        reason = f"every unit has '{treatment}': the treatment does not vary"
    elif min(n_treated, n - n_treated) < settings.min_treated:
        reason = (f"only {min(n_treated, n - n_treated):,} units "
                  f"{'with' if n_treated < n - n_treated else 'without'} '{treatment}' "
                  f"(at least {settings.min_treated} needed on each side)")
    else:
        y = units[outcome].to_numpy()
        positives = int((y == 1).sum())
        if positives < settings.min_outcomes:
            reason = f"only {positives} units end in a {outcome} (at least {settings.min_outcomes} needed)"
        elif positives == n:
            reason = f"every unit ends in a {outcome}: the outcome does not vary"
    if reason is None:
        return None
    return BehaviourEffect.cannot_estimate(treatment, outcome, segment, reason, n, n_treated, naive)


def _naive(units: pd.DataFrame, treatment: str, outcome: str) -> float | None:
    t = units[treatment].to_numpy() == 1
    y = units[outcome].to_numpy(dtype=float)
    if t.all() or not t.any():
        return None
    return float(y[t].mean() - y[~t].mean())


def estimate_behaviour(units: pd.DataFrame, behaviour: str, settings: EffectSettings = EffectSettings(),
                       segment: str = POPULATION, refute: bool = True) -> BehaviourEffect:
    """The effect of ``behaviour`` on the outcome over ``units`` (one segment's or all).

    >>> effect = estimate_behaviour(build_units(events, items).frame, "cart")  # doctest: +SKIP
    >>> effect.estimate, effect.ci_low, effect.ci_high, effect.refuted          # doctest: +SKIP
    """
    outcome = settings.graph.outcome
    problem = check_data(units, behaviour, outcome, settings, segment)
    if problem is not None:
        return problem
    n = len(units)
    n_treated = int((units[behaviour] == 1).sum())
    naive = _naive(units, behaviour, outcome)
    baseline = float(units.loc[units[behaviour] == 0, outcome].mean())
    frame = prepare(units, behaviour, settings)
    results: list[MethodEstimate] = []
    failures: list[str] = []
    with _blas_threads(settings.blas_threads):
        identified = None
        try:
            model, identified = _identify(frame)
        except Exception as exc:  # DoWhy raises bare Exceptions
            log.warning("identification failed for %s [%s]: %s", behaviour, segment, exc)
            failures.append(f"identification failed: {exc}")
        if identified is not None:
            for method in settings.estimators:
                try:
                    results.append(_estimate(model, identified, frame, method, settings))
                except ImportError as exc:
                    failures.append(f"{method} skipped: {exc}")
                    log.info("%s skipped: %s", method, exc)
                except Exception as exc:
                    failures.append(f"{method} failed: {exc}")
                    log.warning("%s failed for %s [%s]: %s", method, behaviour, segment, exc)
        usable = [r for r in results if np.isfinite(r.estimate)]
        if not usable:
            return BehaviourEffect.cannot_estimate(
                behaviour, outcome, segment, "; ".join(failures) or "no estimator gave a number",
                n, n_treated, naive)
        primary = usable[0]
        refutations: tuple[Refutation, ...] = ()
        if refute and settings.refuters:
            refutations = _refute(frame, primary.method, settings)
    reason = "estimated" + (f" (dropped without variation: {', '.join(frame.dropped)})"
                            if frame.dropped else "")
    if failures:
        reason += "; " + "; ".join(failures)
    return BehaviourEffect(
        behaviour=behaviour, outcome=outcome, segment=segment, status=OK, reason=reason, n=n,
        n_treated=n_treated, estimate=primary.estimate, ci_low=primary.ci_low,
        ci_high=primary.ci_high, method=primary.method, naive=naive, baseline=baseline,
        refutations=refutations, alternatives=tuple(r for r in usable if r is not primary))


def _identify(frame: ModelFrame) -> tuple[Any, Any]:
    from dowhy import CausalModel

    model = CausalModel(data=frame.data, treatment=frame.treatment, outcome=frame.outcome,
                        graph=frame.graph)
    # "maximal-adjustment" is instant; the default search is exponential in the graph size.
    identified = model.identify_effect(proceed_when_unidentifiable=True,
                                       method_name="maximal-adjustment")
    return model, identified


def _estimate(model: Any, identified: Any, frame: ModelFrame, method: str,
              settings: EffectSettings) -> MethodEstimate:
    level = settings.confidence_level
    if method == LINEAR_REGRESSION:
        estimate = model.estimate_effect(identified, method_name=method, confidence_intervals=True,
                                         method_params={"init_params": {"confidence_level": level}})
        low, high = np.ravel(estimate.get_confidence_intervals(confidence_level=level))[:2]
        return MethodEstimate(method, float(estimate.value), float(low), float(high))
    if method == PROPENSITY_WEIGHTING:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        clip = settings.propensity_clip
        propensity = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        data = frame.data.copy()
        estimate = model.estimate_effect(identified, method_name=method, method_params={
            "init_params": {"min_ps_score": clip, "max_ps_score": 1 - clip,
                            "weighting_scheme": "ips_weight", "propensity_score_model": propensity}})
        low, high = _ipw_interval(data[frame.treatment].to_numpy(float),
                                  data[frame.outcome].to_numpy(float),
                                  np.asarray(estimate.propensity_scores, dtype=float), level)
        return MethodEstimate(method, float(estimate.value), low, high)
    if method == LINEAR_DML:
        _require_econml()
        from sklearn.linear_model import LinearRegression, LogisticRegression

        estimate = model.estimate_effect(identified, method_name=method, confidence_intervals=True,
                                         method_params={
            "init_params": {"model_y": LinearRegression(), "model_t": LogisticRegression(max_iter=1000),
                            "discrete_treatment": True, "cv": 3, "random_state": settings.seed},
            "fit_params": {}})
        interval = estimate.get_confidence_intervals(confidence_level=level)
        low, high = (float(v) for v in np.ravel(interval)[:2]) if interval is not None else (None, None)
        return MethodEstimate(method, float(estimate.value), low, high)
    raise ValueError(f"unknown estimator {method!r}; choose from "
                     f"{[LINEAR_REGRESSION, PROPENSITY_WEIGHTING, LINEAR_DML]}")


def _require_econml() -> None:
    try:
        import econml  # noqa: F401
    except ImportError as exc:
        raise ImportError("econml is not installed (pip install econml) — LinearDML is optional") from exc


def _ipw_interval(t: np.ndarray, y: np.ndarray, ps: np.ndarray, level: float) -> tuple[float, float]:
    """Interval of the normalised IPW difference from its influence function (ps held fixed)."""
    w1, w0 = t / ps, (1 - t) / (1 - ps)
    mu1 = np.sum(w1 * y) / np.sum(w1)
    mu0 = np.sum(w0 * y) / np.sum(w0)
    influence = w1 * (y - mu1) / np.mean(w1) - w0 * (y - mu0) / np.mean(w0)
    se = float(np.std(influence, ddof=1) / np.sqrt(len(y)))
    z = float(stats.norm.ppf(0.5 + level / 2))
    return float(mu1 - mu0 - z * se), float(mu1 - mu0 + z * se)


def _refute(frame: ModelFrame, method: str, settings: EffectSettings) -> tuple[Refutation, ...]:
    """Run the refuters on (a bounded subsample of) the units; judge each pass/fail."""
    data = frame.data
    note = ""
    if len(data) > settings.refute_max_units:
        data = data.sample(n=settings.refute_max_units, random_state=settings.seed).reset_index(drop=True)
        note = f" (on a random {len(data):,}-unit subsample)"
    sub = ModelFrame(data=data.copy(), graph=frame.graph, treatment=frame.treatment,
                     outcome=frame.outcome, dropped=frame.dropped)
    try:
        model, identified = _identify(sub)
        base = _estimate(model, identified, sub, method, settings)
        estimate = _dowhy_estimate(model, identified, method, settings)
    except Exception as exc:
        log.warning("refutation set-up failed: %s", exc)
        return tuple(Refutation(name, None, False, f"could not run: {exc}") for name in settings.refuters)
    value = base.estimate
    half_width = (base.ci_high - base.ci_low) / 2 if base.ci_low is not None and base.ci_high is not None else 0.0
    out = []
    for name in settings.refuters:
        try:
            kwargs: dict[str, Any] = {"num_simulations": settings.num_simulations,
                                      "random_state": settings.seed}
            if name == PLACEBO:
                kwargs["placebo_type"] = "permute"
            elif name == DATA_SUBSET:
                kwargs["subset_fraction"] = 0.8
            with warnings.catch_warnings():
                # DoWhy divides by the spread of the simulated effects, which is 0 when a
                # random common cause leaves a linear estimate exactly unchanged.
                warnings.filterwarnings("ignore", "divide by zero encountered", RuntimeWarning)
                warnings.filterwarnings("ignore", "invalid value encountered", RuntimeWarning)
                result = model.refute_estimate(identified, estimate, method_name=name, **kwargs)
            new = float(np.mean(result.new_effect))
            out.append(_judge(name, value, new, half_width, note))
        except Exception as exc:
            log.warning("refuter %s failed: %s", name, exc)
            out.append(Refutation(name, None, False, f"could not run: {exc}"))
    return tuple(out)


def _dowhy_estimate(model: Any, identified: Any, method: str, settings: EffectSettings) -> Any:
    """A DoWhy CausalEstimate for the refuters (they re-fit the same estimator)."""
    params: dict[str, Any] = {}
    if method == PROPENSITY_WEIGHTING:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        params = {"init_params": {"min_ps_score": settings.propensity_clip,
                                  "max_ps_score": 1 - settings.propensity_clip,
                                  "propensity_score_model": make_pipeline(StandardScaler(),
                                                                          LogisticRegression(max_iter=1000))}}
    return model.estimate_effect(identified, method_name=method, method_params=params or None)


def _judge(name: str, estimate: float, new: float, half_width: float, note: str) -> Refutation:
    """Pass/fail rules: a placebo must give ~0; the other refuters must leave the estimate put."""
    scale = abs(estimate)
    if name == PLACEBO:
        tolerance = max(0.25 * scale, half_width)
        passed = abs(new) <= tolerance
        reason = (f"placebo treatment gives {new:+.4f}, "
                  f"{'near' if passed else 'far from'} zero vs the estimate {estimate:+.4f} "
                  f"(tolerance {tolerance:.4f}){note}")
    else:
        tolerance = max(0.1 * scale, half_width if name == DATA_SUBSET else half_width / 2)
        passed = abs(new - estimate) <= tolerance
        what = ("adding a random common cause" if name == RANDOM_COMMON_CAUSE
                else "re-estimating on 80% subsets" if name == DATA_SUBSET else name)
        reason = (f"{what} gives {new:+.4f} vs {estimate:+.4f} "
                  f"({'within' if passed else 'outside'} tolerance {tolerance:.4f}){note}")
    return Refutation(name=name, new_effect=new, passed=bool(passed), reason=reason)
