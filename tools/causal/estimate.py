"""Estimation for one behaviour's trial: DoWhy model → identify → the doubly robust estimate.

The primary estimator is econml's cross-fitted ``LinearDRLearner`` reached through DoWhy's
``estimate_effect`` (``backdoor.econml.dr.LinearDRLearner``): gradient-boosted propensity and
outcome models, cross-fitted in folds that keep each user's rows together, decision points
with extreme propensities trimmed. Its doubly robust scores ψ give the estimate (their mean),
the interval **clustered by user and item** (their cluster-summed influence), the per-segment effects (the
mean of ψ within a segment) and the heterogeneous effect θ(x) (ψ regressed on the effect
modifiers, clustered sandwich covariance) — one set of nuisance fits for all of them.

Comparisons, never verdicts on their own: the naive difference, DoWhy's backdoor linear
regression (cluster-robust errors) and normalised inverse-propensity weighting with the same
cross-fitted propensities. Library warnings are captured and become notes, never raw output.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
from scipy import stats

from .decisions import HISTORY, MODIFIERS, OWN_HISTORY
from .estimand import OUTCOME
from .settings import EffectSettings
from .units import CATEGORICAL_CONFOUNDERS, NUMERIC_CONFOUNDERS

log = logging.getLogger(__name__)

MAX_CATEGORY_LEVELS = 20
#: Warning classes that are about a library's API, not about the data or the estimate.
_API_NOTICES = frozenset({"DataConversionWarning", "Pandas4Warning", "PendingDeprecationWarning"})
#: Columns of a trial's rows that describe segments (not adjusters).
SEGMENT_COLUMNS: tuple[str, ...] = ("price", "category", "brand", "user_prior_items")


@dataclass(frozen=True)
class TrialFrame:
    """One behaviour's trial as DoWhy gets it: numeric columns, the graph, the user clusters."""

    data: pd.DataFrame
    treatment: str
    outcome: str
    adjusters: tuple[str, ...]
    modifiers: tuple[str, ...]
    groups: np.ndarray  # int code of each row's user (the cluster)
    segments: pd.DataFrame  # the segment columns, aligned with ``data``
    keys: pd.DataFrame  # user_id, item_id, k of each row
    dropped: tuple[str, ...]
    items: np.ndarray | None = None  # int code of each row's item (the second cluster)

    def __len__(self) -> int:
        return len(self.data)

    @property
    def clusters(self) -> np.ndarray:
        """What the intervals are clustered by: user and item (n × 2), or the user alone."""
        return self.groups if self.items is None else np.column_stack([self.groups, self.items])

    def take(self, index: np.ndarray) -> TrialFrame:
        return replace(self, data=self.data.iloc[index].reset_index(drop=True), groups=self.groups[index],
                       segments=self.segments.iloc[index].reset_index(drop=True),
                       keys=self.keys.iloc[index].reset_index(drop=True),
                       items=None if self.items is None else self.items[index])

    def with_column(self, name: str, values: np.ndarray) -> TrialFrame:
        return replace(self, data=self.data.assign(**{name: values}))

    def graph(self) -> nx.DiGraph:
        """Adjusters → treatment, adjusters → outcome, treatment → outcome."""
        graph = nx.DiGraph()
        graph.add_edge(self.treatment, self.outcome)
        for column in self.adjusters:
            graph.add_edge(column, self.treatment)
            graph.add_edge(column, self.outcome)
        return graph


@dataclass(frozen=True)
class DrFit:
    """The primary fit: estimate (DoWhy's value), scores and nuisances on the kept rows."""

    estimate: float
    kept: np.ndarray  # bool over the frame's rows
    psi: np.ndarray  # doubly robust scores of the kept rows
    mu0: np.ndarray
    mu1: np.ndarray
    propensity: np.ndarray  # cross-fitted P(treated | adjusters), clipped to [trim, 1 − trim]
    coef: np.ndarray  # [intercept, modifiers...] of the final linear model
    notes: tuple[str, ...]

    @property
    def trimmed_share(self) -> float:
        return float(1.0 - self.kept.mean()) if len(self.kept) else 0.0


@contextlib.contextmanager
def quiet(notes: list[str]) -> Iterator[None]:
    """Capture library warnings into ``notes`` and hush DoWhy's chatty loggers meanwhile."""
    loggers = [logging.getLogger(name) for name in ("dowhy", "econml")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
        for w in caught:
            text = f"{w.category.__name__}: {str(w.message).splitlines()[0][:160]}"
            log.debug("library warning: %s", text)
            # Notices about the libraries' own APIs say nothing about the estimate.
            if w.category.__name__ in _API_NOTICES or issubclass(w.category, (DeprecationWarning, FutureWarning)):
                continue
            if text not in notes:
                notes.append(text)
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


_THREADS: contextvars.ContextVar[int | None] = contextvars.ContextVar("whyrec_causal_threads", default=None)


@contextlib.contextmanager
def thread_limits(limit: int | None) -> Iterator[None]:
    """Limit BLAS and OpenMP threads. On shared cores the boosted trees' OpenMP threads spin
    waiting for each other: one thread was 10x faster than two under load (measured here).
    Re-entrant: inside an active limit it costs nothing (threadpoolctl scans libraries)."""
    if limit is None or _THREADS.get() == limit:
        yield
        return
    # threadpoolctl limits only libraries already loaded: load the trees' OpenMP runtime first.
    import sklearn.ensemble  # noqa: F401
    from threadpoolctl import threadpool_limits

    token = _THREADS.set(limit)
    try:
        with threadpool_limits(limits=limit, user_api="blas"), threadpool_limits(limits=limit, user_api="openmp"):
            yield
    finally:
        _THREADS.reset(token)


def prepare(rows: pd.DataFrame, behaviour: str) -> TrialFrame:
    """Numeric adjusters (categoricals one-hot), modifiers, clusters; constant columns dropped."""
    own = OWN_HISTORY[behaviour]
    candidates = [c for c in NUMERIC_CONFOUNDERS + HISTORY if c != own] + list(CATEGORICAL_CONFOUNDERS)
    columns: dict[str, pd.Series] = {behaviour: rows[behaviour].astype(np.int64),
                                     OUTCOME: rows[OUTCOME].astype(np.int64)}
    adjusters: list[str] = []
    dropped: list[str] = []
    for name in candidates:
        series = rows[name]
        if series.nunique(dropna=True) <= 1:
            dropped.append(name)
            continue
        if not pd.api.types.is_numeric_dtype(series):
            dummies = _one_hot(series, name)
            if dummies.empty:
                dropped.append(name)
                continue
            columns.update({c: dummies[c] for c in dummies.columns})
            adjusters += list(dummies.columns)
        else:
            numeric = pd.to_numeric(series, errors="coerce").astype(float)
            columns[name] = numeric.fillna(numeric.median())
            adjusters.append(name)
    modifiers = tuple(m for m in MODIFIERS if m in adjusters)
    data = pd.DataFrame(columns).reset_index(drop=True)
    groups = pd.factorize(rows["user_id"].astype(str))[0].astype(np.int64)
    segments = rows[list(SEGMENT_COLUMNS)].reset_index(drop=True)
    keys = rows[["user_id", "item_id", "k"]].reset_index(drop=True)
    items = pd.factorize(rows["item_id"].astype(str))[0].astype(np.int64)
    return TrialFrame(data, behaviour, OUTCOME, tuple(adjusters), modifiers, groups, segments, keys,
                      tuple(dropped), items)


def _one_hot(series: pd.Series, name: str) -> pd.DataFrame:
    """Dummies for the most frequent levels (the most frequent is the baseline)."""
    values = series.astype("string").fillna("unknown")
    top = values.value_counts().index[: MAX_CATEGORY_LEVELS + 1]
    values = values.where(values.isin(top), "other")
    levels = list(values.value_counts().index[1:])
    return pd.DataFrame({f"{name}_{_slug(str(lvl))}": (values == lvl).astype(float)
                         for lvl in levels}, index=series.index)


def _slug(text: str) -> str:
    return re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower() or "x"


def sample_users(groups: np.ndarray, max_rows: int, seed: int) -> np.ndarray:
    """Row indices of about ``max_rows`` rows, keeping whole users (the clusters), drawn at
    random; every row when there are no more than ``max_rows``."""
    if len(groups) <= max_rows:
        return np.arange(len(groups))
    rng = np.random.default_rng(seed)
    n_users = int(groups.max()) + 1
    order = rng.permutation(n_users)
    sizes = np.bincount(groups, minlength=n_users)[order]
    chosen = order[: int(np.searchsorted(np.cumsum(sizes), max_rows)) + 1]
    return np.flatnonzero(np.isin(groups, chosen))


def group_folds(groups: np.ndarray, treated: np.ndarray, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Cross-fitting folds that keep each user's rows together and spread the treated rows
    evenly: users sorted by their treated rows (ties at random) are dealt to the folds in turn.
    Vectorised (scikit-learn's StratifiedGroupKFold loops over users in Python: 8 s of a 1M-event
    report). Returns (train, test) row indices per fold."""
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    per_group = np.bincount(groups, weights=treated.astype(float), minlength=n_groups)
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.random(n_groups), -per_group))
    fold_of_group = np.empty(n_groups, dtype=np.int64)
    fold_of_group[order] = np.arange(n_groups) % folds
    fold = fold_of_group[groups]
    return [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(folds)]


def _hgb(settings: EffectSettings, seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(max_iter=settings.nuisance_iterations, learning_rate=0.15,
                                          max_leaf_nodes=15, min_samples_leaf=40, l2_regularization=1.0,
                                          max_bins=64, early_stopping=False, random_state=seed)


def identify(frame: TrialFrame) -> Any:
    """DoWhy's identified estimand (backdoor: the adjusters; the graph has no unmeasured node)."""
    from dowhy import CausalModel

    model = CausalModel(data=frame.data.head(0), treatment=frame.treatment, outcome=frame.outcome,
                        graph=frame.graph())
    # No unmeasured node, so identification needs no leap; "maximal-adjustment" takes every
    # parent of the treatment without an exponential search.
    identified = model.identify_effect(proceed_when_unidentifiable=False, method_name="maximal-adjustment")
    identified.set_identifier_method("backdoor")
    return identified


def fit_dr(frame: TrialFrame, settings: EffectSettings, seed: int = 0, identified: Any = None) -> DrFit:
    """The cross-fitted DR estimate through DoWhy's econml estimator, trimmed, with its scores
    and nuisances. ``identified`` (from :func:`identify`) can be reused across refits of the
    same adjusters."""
    from dowhy.causal_estimators.econml import Econml
    from econml.dr import LinearDRLearner

    notes: list[str] = []
    with quiet(notes), thread_limits(settings.threads):
        identified = identified if identified is not None else identify(frame)
        # Cross-fitting in group folds: a shopper's decision points stay together and every fold
        # sees treated ones.
        folds = group_folds(frame.groups, frame.data[frame.treatment].to_numpy(), settings.folds, seed)
        learner = LinearDRLearner(model_propensity=_hgb(settings, seed), model_regression=_hgb(settings, seed),
                                  discrete_outcome=True, cv=folds, random_state=seed,
                                  min_propensity=settings.trim, trimming_threshold=settings.trim)
        modifiers = list(frame.modifiers)
        estimator = Econml(identified, econml_estimator=learner)
        estimator.fit(frame.data, effect_modifier_names=modifiers, groups=frame.groups, cache_values=True)
        y_pred, t_pred, t_raw = learner._cached_values.nuisances
        y_pred = np.asarray(y_pred).reshape(len(frame), -1)
        t_pred = np.asarray(t_pred)
        e_raw = np.asarray(t_raw)[:, 1]
        kept = (e_raw >= settings.trim) & (e_raw <= 1 - settings.trim)
        # DoWhy's estimate over the kept decision points (the final model was fitted on them).
        target = frame.data.loc[kept, modifiers] if modifiers and not kept.all() else "ate"
        estimate = estimator.estimate_effect(frame.data, treatment_value=1, control_value=0, target_units=target)
        value = float(np.ravel(estimate.value)[0])
        coef = np.r_[np.ravel(learner.intercept_(T=1)), np.ravel(learner.coef_(T=1)) if modifiers else []]
    t = frame.data[frame.treatment].to_numpy(dtype=float)
    y = frame.data[frame.outcome].to_numpy(dtype=float)
    mu = np.empty_like(y_pred)
    for arm in (0, 1):
        # econml stores the DR-corrected predictions; undo the correction to recover μ_arm.
        npp = (t == arm) / t_pred[:, arm]
        mu[:, arm] = (y_pred[:, arm] - npp * y) / (1 - npp)
        mu[t != arm, arm] = y_pred[t != arm, arm]
    psi = y_pred[kept, 1] - y_pred[kept, 0]
    if abs(value - psi.mean()) > 1e-6 * (1 + abs(value)):
        notes.append(f"DoWhy's estimate {value:.6f} differs from the mean DR score {psi.mean():.6f}")
        log.warning("DR estimate %.6f differs from the mean of its scores %.6f", value, psi.mean())
    return DrFit(estimate=value, kept=kept, psi=psi, mu0=mu[kept, 0], mu1=mu[kept, 1],
                 propensity=t_pred[kept, 1], coef=coef, notes=tuple(notes))


# -- clustered inference -------------------------------------------------------------------------
def cluster_meat(scores: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """Σ over clusters of (Σ of the rows' centred ``scores`` in the cluster)(…)ᵀ, k × k.

    ``clusters``: one int code per row (one-way), or an (n, 2) array — the user and the item —
    for two-way clustering (Cameron, Gelbach & Miller 2011): V_user + V_item − V_(user, item),
    with negative eigenvalues set to zero and never below either one-way matrix in the scalar
    case. A shopper's decision points share the shopper; different shoppers' decision points on
    one item share the item (its appeal, which the log shows only through proxies)."""
    s = np.asarray(scores, dtype=float).reshape(len(scores), -1)
    s = s - s.mean(axis=0) if len(s) else s
    if clusters.ndim == 1:
        return _meat(s, clusters)
    users, items = clusters[:, 0], clusters[:, 1]
    pairs = pd.factorize(users * (int(items.max()) + 1 if len(items) else 1) + items)[0]
    by_user, by_item = _meat(s, users), _meat(s, items)
    both = by_user + by_item - _meat(s, pairs)
    if both.shape == (1, 1):
        return np.maximum(both, np.maximum(by_user, by_item))
    values, vectors = np.linalg.eigh(both)
    return (vectors * np.clip(values, 0.0, None)) @ vectors.T


def _meat(s: np.ndarray, codes: np.ndarray) -> np.ndarray:
    n_codes = int(codes.max()) + 1 if len(codes) else 0
    sums = np.column_stack([np.bincount(codes, weights=s[:, j], minlength=n_codes) for j in range(s.shape[1])])
    return sums.T @ sums


def cluster_se(influence: np.ndarray, clusters: np.ndarray) -> float:
    """Standard error of a mean whose per-row influence is ``influence``, clustered by
    ``clusters`` (user codes, or user and item codes: see :func:`cluster_meat`)."""
    n = len(influence)
    if n == 0:
        return float("nan")
    return float(np.sqrt(cluster_meat(influence, clusters)[0, 0]) / n)


def interval(estimate: float, se: float, level: float) -> tuple[float, float, float]:
    """(low, high, two-sided p-value for zero) of a normal interval."""
    z = float(stats.norm.ppf(0.5 + level / 2))
    p = float(2 * stats.norm.sf(abs(estimate) / se)) if se > 0 else (0.0 if estimate else 1.0)
    return estimate - z * se, estimate + z * se, p


def cate_covariance(psi: np.ndarray, x: np.ndarray, coef: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """Clustered sandwich covariance of the linear θ(x) = coef · [1, x] fitted to ψ."""
    design = np.column_stack([np.ones(len(psi)), x]) if x.size else np.ones((len(psi), 1))
    residual = psi - design @ coef
    bread = np.linalg.pinv(design.T @ design)
    scores = design * residual[:, None]
    # The OLS scores sum to zero already; centring them again changes nothing.
    return bread @ cluster_meat(scores, clusters) @ bread


# -- comparisons ---------------------------------------------------------------------------------
def weighting(t: np.ndarray, y: np.ndarray, propensity: np.ndarray, clusters: np.ndarray,
              level: float) -> tuple[float, float, float] | None:
    """Normalised IPW with the cross-fitted propensities: (estimate, low, high)."""
    if not (t == 1).any() or not (t == 0).any():
        return None
    w1, w0 = t / propensity, (1 - t) / (1 - propensity)
    mu1 = np.sum(w1 * y) / np.sum(w1)
    mu0 = np.sum(w0 * y) / np.sum(w0)
    influence = w1 * (y - mu1) / np.mean(w1) - w0 * (y - mu0) / np.mean(w0)
    estimate = float(mu1 - mu0)
    low, high, _ = interval(estimate, cluster_se(influence, clusters), level)
    return estimate, low, high


def regression(frame: TrialFrame, settings: EffectSettings, notes: list[str],
               identified: Any = None) -> tuple[float, float, float] | None:
    """DoWhy's backdoor linear regression, with an interval clustered by user and item."""
    from dowhy.causal_estimators.linear_regression_estimator import LinearRegressionEstimator

    with quiet(notes), thread_limits(settings.threads):
        identified = identified if identified is not None else identify(frame)
        estimator = LinearRegressionEstimator(identified)
        estimator.fit(frame.data)
        estimate = estimator.estimate_effect(frame.data, treatment_value=1, control_value=0)
        fitted = estimator.model
        names = list(getattr(fitted.model, "exog_names", []))
        index = 1 if not names else next((i for i, n in enumerate(names) if n.startswith(frame.treatment)), 1)
        robust = fitted.get_robustcov_results(cov_type="cluster", groups=frame.clusters)
        se = float(np.asarray(robust.bse)[index])
    value = float(np.ravel(estimate.value)[0])
    low, high, _ = interval(value, se, settings.confidence_level)
    return value, low, high


def naive(t: np.ndarray, y: np.ndarray) -> float | None:
    if (t == 1).all() or not (t == 1).any():
        return None
    return float(y[t == 1].mean() - y[t == 0].mean())
