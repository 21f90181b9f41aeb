"""Auto-tuning per workspace: the served ranker is the one tuned on the workspace's own data.

:func:`auto_tune` carves a validation split from the workspace's events with the protocol the
data allow (:func:`~.split.choose_protocol`: a time cut when timestamps spread, else a seeded
random leave-one-out of the target behaviour per user), tunes whyrec's parameters on it with
the project's one search (:func:`~.tuning.tune`) under a CPU-time budget — once per exclusion
policy (:mod:`.exclusion`), each search starting from the best point so far, behaviour weights
kept non-negative (:func:`served_space`) — and keeps the
policy and parameters with the best validation NDCG@20. The repeat rule and popularity (their
default parameters) and whyrec's defaults are scored on the same split under the chosen policy,
so the record says what tuning bought. :func:`fit_tuned` then fits the chosen configuration
on *all* the events.

>>> result = auto_tune(events, items, budget_seconds=60)          # doctest: +SKIP
>>> ranker = fit_tuned(result, events, items)                     # doctest: +SKIP
>>> result.policy, result.score, result.baselines["repeat"]       # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from ..engine import Engine
from ..frames import distinct_strings
from .base import resolve_target
from .exclusion import POLICIES, check_policy
from .harness import measure, pool
from .registry import make_ranker
from .spaces import Axis, search_space
from .split import Split, choose_protocol
from .tuning import METRIC, TuneResult, _jsonable, tune
from .whyrec import WhyrecRanker

log = logging.getLogger(__name__)

def served_space(behaviours: Any, target: str) -> tuple[Axis, ...]:
    """whyrec's search space for the served ranker: behaviour weights kept at 0 or above, so
    every behaviour's exact contribution raises a score (a model reason never has to be "this
    lowered it"); the evaluation's space also tries small negative weights."""
    return tuple(replace(a, values=tuple(v for v in a.values if v >= 0), low=0.0) if a.name.startswith("w:")
                 else a for a in search_space("whyrec", behaviours, target))


#: Share of the budget the first policy's search gets (it starts from the defaults; the others
#: start from its best point and usually converge in fewer trials).
FIRST_SHARE = 0.5


@dataclass(frozen=True)
class Score:
    """A validation NDCG@20 with its standard error over validation users."""

    score: float
    stderr: float

    def to_json(self) -> dict[str, float | None]:
        return {"ndcg@20": _finite(self.score), "stderr": _finite(self.stderr)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Score:
        return cls(_number(data.get("ndcg@20")), _number(data.get("stderr")))


@dataclass(frozen=True)
class AutoTuneResult:
    """What the auto-tuner chose for a workspace, and the validation evidence behind it.

    ``params`` are whyrec's constructor keywords (JSON values); ``policy`` the exclusion policy;
    ``tuned`` the chosen configuration's validation score; ``defaults`` whyrec's default
    parameters and ``baselines`` (``repeat``, ``popular``, default parameters) under the chosen
    policy on the same users; ``policies`` the best tuned score under each policy. ``tuned`` is
    False when there was nothing to validate on (``note`` says why) and the defaults are served.
    ``validation_users`` counts (window, user) pairs when tuned on several rolling windows
    (``protocol["windows"]``): a user held out in two windows counts twice.
    """

    params: dict[str, Any]
    policy: str
    protocol: dict[str, Any]
    validation_users: int
    score: Score
    defaults: Score
    baselines: dict[str, Score]
    policies: dict[str, Score]
    trials: int
    cpu_seconds: float
    budget_seconds: float
    budget_exhausted: bool
    events: int
    tuned: bool = True
    note: str = ""
    data_version: int | None = None
    finished_at: str = ""
    metric: str = METRIC
    model: str = "whyrec"
    edges: dict[str, str] = field(default_factory=dict)
    params_by_policy: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Set when the tuning ran on a seeded sample of users (:func:`~whyrec.tools.frames.sample_users`): ``users`` and
    #: ``events`` in the sample, ``of_users`` in the log, ``seed``, ``max_events``. ``events``
    #: (above) is then the whole log's count, so retuning still follows the log's growth.
    sample: dict[str, int] = field(default_factory=dict)

    def params_for(self, policy: str | None = None) -> dict[str, Any]:
        """The parameters tuned for ``policy`` (default: the chosen one)."""
        if policy is None or policy == self.policy:
            return dict(self.params)
        return dict(self.params_by_policy.get(check_policy(policy)) or self.params)

    def ratio(self, baseline: str) -> float | None:
        """The tuned validation score over a baseline's (None when the baseline scores 0)."""
        other = self.baselines.get(baseline)
        if other is None or not other.score or not math.isfinite(other.score):
            return None
        return self.score.score / other.score

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model, "tuned": self.tuned, "note": self.note,
            "params": _jsonable(self.params), "exclusion_policy": self.policy,
            "protocol": dict(self.protocol), "validation_users": self.validation_users,
            "metric": self.metric, "validation": self.score.to_json(),
            "defaults": self.defaults.to_json(),
            "baselines": {name: s.to_json() for name, s in self.baselines.items()},
            "ratio_vs_repeat": _round(self.ratio("repeat")),
            "ratio_vs_popular": _round(self.ratio("popular")),
            "policies": {name: s.to_json() for name, s in self.policies.items()},
            "trials": self.trials, "cpu_seconds": round(self.cpu_seconds, 1),
            "budget_seconds": self.budget_seconds, "budget_exhausted": self.budget_exhausted,
            "params_by_policy": {p: _jsonable(v) for p, v in self.params_by_policy.items()},
            "edges": dict(self.edges), "events": self.events, "data_version": self.data_version,
            "finished_at": self.finished_at, "sample": dict(self.sample) or None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AutoTuneResult:
        return cls(
            params=dict(data.get("params") or {}), policy=check_policy(str(data["exclusion_policy"])),
            protocol=dict(data.get("protocol") or {}), validation_users=int(data.get("validation_users") or 0),
            score=Score.from_json(data.get("validation") or {}),
            defaults=Score.from_json(data.get("defaults") or {}),
            baselines={k: Score.from_json(v) for k, v in (data.get("baselines") or {}).items()},
            policies={k: Score.from_json(v) for k, v in (data.get("policies") or {}).items()},
            trials=int(data.get("trials") or 0), cpu_seconds=float(data.get("cpu_seconds") or 0.0),
            budget_seconds=float(data.get("budget_seconds") or 0.0),
            budget_exhausted=bool(data.get("budget_exhausted")), events=int(data.get("events") or 0),
            tuned=bool(data.get("tuned", True)), note=str(data.get("note") or ""),
            data_version=data.get("data_version"), finished_at=str(data.get("finished_at") or ""),
            metric=str(data.get("metric") or METRIC), model=str(data.get("model") or "whyrec"),
            edges=dict(data.get("edges") or {}),
            params_by_policy={str(k): dict(v) for k, v in (data.get("params_by_policy") or {}).items()},
            sample={str(k): int(v) for k, v in (data.get("sample") or {}).items()})

    def to_text(self) -> str:
        """The lines ``whyrec stats`` prints."""
        if not self.tuned:
            return f"ranker         whyrec, default parameters ({self.note})"
        base = ", ".join(f"{name} {s.score:.4f}" for name, s in self.baselines.items())
        ratio = self.ratio("repeat")
        return "\n".join([
            f"ranker         whyrec tuned on {self.validation_users:,} validation users "
            f"({self.protocol.get('split', '?')}), {self.trials} trials, {self.cpu_seconds:.0f} CPU s"
            + (" (budget used up)" if self.budget_exhausted else "")
            + (f"; on a sample of {self.sample['users']:,} of {self.sample['of_users']:,} users "
               f"({self.sample['events']:,} events)" if self.sample else ""),
            f"validation     NDCG@20 {self.score.score:.4f} ± {self.score.stderr:.4f}; defaults "
            f"{self.defaults.score:.4f}; {base}" + (f" ({ratio:.2f}x repeat)" if ratio else ""),
            f"exclusion      {self.policy} (" + ", ".join(
                f"{name} {s.score:.4f}" for name, s in self.policies.items()) + ")",
        ])


def _finite(value: float) -> float | None:
    return round(float(value), 5) if math.isfinite(value) else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def _score(rankers: Sequence[Any], splits: Sequence[Split], policy: str) -> Score:
    """The pooled score of ``rankers`` (one fitted per validation window) on ``splits``."""
    result = pool([measure(r, s, False, policy=policy) for r, s in zip(rankers, splits, strict=True)])
    return Score(float(result.metrics[METRIC]), float(result.stderr[METRIC]))


def auto_tune(events: pd.DataFrame, items: pd.DataFrame | None = None, budget_seconds: float = 600.0,
              seed: int = 0, min_users: int = 20, target: str | None = None,
              policies: tuple[str, ...] = POLICIES, data_version: int | None = None,
              windows: int = 1, engine: Engine | None = None, scratch: str | Path | None = None) -> AutoTuneResult:
    """Tune whyrec and the exclusion policy on a validation split of ``events`` within
    ``budget_seconds`` of CPU time (see the module docstring); with ``windows`` > 1, on that many
    rolling validation windows (each cut made again on the previous one's training part; every
    point scored over all their users together). ``engine``: each search scores its points on
    that engine's workers (:func:`~.tuning.tune`; the budget then counts their CPU too), with
    its inputs written under ``scratch``."""
    for policy in policies:
        check_policy(policy)
    if windows < 1:
        raise ValueError(f"windows must be at least 1, not {windows}")
    started = time.process_time()
    target = resolve_target(distinct_strings(events["behaviour"]), target)
    protocol = choose_protocol(events, target, min_users=min_users, seed=seed)
    splits = protocol.windows(events, windows)
    split = splits[0]
    described = {**protocol.to_json(), **({"windows": len(splits)} if len(splits) > 1 else {})}
    common: dict[str, Any] = dict(protocol=described,
                                  validation_users=sum(s.n_test_users for s in splits),
                                  budget_seconds=float(budget_seconds), events=len(events), data_version=data_version)
    if split.n_test_users < 2 or split.train.empty:
        note = (f"too few users to validate on ({split.n_test_users} with a held-out {target}); "
                "default parameters")
        log.info("auto-tune: %s", note)
        nan = Score(math.nan, math.nan)
        return AutoTuneResult(params={"target": target}, policy="seen", score=nan, defaults=nan,
                              baselines={}, policies={}, trials=0, cpu_seconds=time.process_time() - started,
                              budget_exhausted=False, tuned=False, note=note, finished_at=_now(), **common)
    fixed = {"target": target}
    space = served_space(distinct_strings(split.train["behaviour"]), target)
    defaults_rankers = [WhyrecRanker(target=target).fit(s.train, items) for s in splits]
    default_scores = {p: _score(defaults_rankers, splits, p) for p in policies}
    results: dict[str, TuneResult] = {}

    def spent() -> float:   # this process's CPU, and what the engine's workers used for the searches
        return time.process_time() - started + sum(r.worker_cpu_seconds for r in results.values())

    start: dict[str, Any] | None = None
    for n, policy in enumerate(policies):
        remaining = budget_seconds - spent()
        if remaining <= 0:
            # The defaults' fit and scores used the whole budget (a large catalog): this policy
            # keeps the default point, scored above, instead of a search that could run no trial.
            log.info("auto-tune: budget used up before the %s search; its default parameters stand", policy)
            results[policy] = TuneResult("whyrec", dict(fixed), {}, default_scores[policy].score,
                                         default_scores[policy].stderr, common["validation_users"],
                                         budget_exhausted=True)
            continue
        share = remaining * (FIRST_SHARE if n == 0 else 1.0 / (len(policies) - n))
        result = tune("whyrec", splits, items, fixed=fixed, space=space, start=start,
                      budget_seconds=max(share, 0.0), seed=seed, policy=policy, engine=engine, scratch=scratch)
        results[policy] = result
        best = max(results.values(), key=lambda r: r.score)
        start = dict(best.point)
    # Equal scores (within rounding) go to the stricter policy: the same quality, fewer repeats.
    chosen_policy = max(policies, key=lambda p: (round(results[p].score, 9), policies.index(p)))
    chosen = results[chosen_policy]
    params, score = dict(chosen.params), Score(chosen.score, chosen.stderr)
    if default_scores[chosen_policy].score > chosen.score:  # the search cannot lose to its start
        params, score = dict(fixed), default_scores[chosen_policy]
    baselines = {}
    for name in ("repeat", "popular"):
        fitted = [(make_ranker(name, target=target) if name == "repeat" else make_ranker(name)).fit(s.train, items)
                  for s in splits]
        baselines[name] = _score(fitted, splits, chosen_policy)
    out = AutoTuneResult(
        params=params, policy=chosen_policy, score=score, defaults=default_scores[chosen_policy],
        baselines=baselines, policies={p: Score(r.score, r.stderr) for p, r in results.items()},
        trials=sum(len(r.trials) for r in results.values()),
        cpu_seconds=spent(),
        budget_exhausted=any(r.budget_exhausted for r in results.values()),
        edges=dict(chosen.edges), finished_at=_now(),
        params_by_policy={p: (dict(r.params) if r.score >= default_scores[p].score else dict(fixed))
                          for p, r in results.items()}, **common)
    log.info("auto-tuned whyrec on %d validation users (%s): policy %s, NDCG@20 %.4f (defaults %.4f, "
             "repeat %.4f, popular %.4f) in %.0f CPU s", out.validation_users, protocol.to_json()["split"],
             out.policy, out.score.score, out.defaults.score, baselines["repeat"].score,
             baselines["popular"].score, out.cpu_seconds)
    return out


def fit_tuned(result: AutoTuneResult, events: pd.DataFrame, items: pd.DataFrame | None = None,
              policy: str | None = None, engine: Engine | None = None,
              scratch: str | Path | None = None) -> WhyrecRanker:
    """Whyrec with the parameters tuned for ``policy`` (default: the chosen policy), fitted on
    all ``events`` (its similarity on ``engine``'s workers, when given: :meth:`Ranker.fit`)."""
    return WhyrecRanker(**result.params_for(policy)).fit(events, items, engine=engine, scratch=scratch)


def _now() -> str:
    return pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds")


__all__ = ["AutoTuneResult", "Score", "auto_tune", "fit_tuned"]
