"""Result objects of the causal tool: one effect per behaviour (and segment), and the report.

Every number the chatbot cites comes from a :class:`BehaviourEffect`: the primary (doubly
robust) estimate with its interval clustered by user and item, the estimand it answers, the comparisons
(naive, regression, weighting), the refutations with their p-values, the sensitivity, and a
verdict — ``supported``, ``inconclusive`` (with reasons) or ``cannot_estimate`` (with the
reason and counts). A behaviour that cannot be estimated is still a result, never a crash or a
meaningless number.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from .words import (
    CANNOT_ESTIMATE,
    INCONCLUSIVE,
    SUPPORTED,
    Reason,
    estimand_sentence,
    sensitivity_sentence,
    verdict_name,
)

OK = "ok"
POPULATION = "all"
__all__ = ["CANNOT_ESTIMATE", "INCONCLUSIVE", "OK", "POPULATION", "SUPPORTED", "BehaviourEffect", "CateModel",
           "EffectWeight", "InfluenceReport", "MethodEstimate", "Refutation", "Sensitivity"]


@dataclass(frozen=True)
class Refutation:
    """One refutation test: its simulations' mean effect, p-value (DoWhy's significance test)
    and whether the estimate survived it."""

    name: str
    new_effect: float | None
    passed: bool
    reason: str
    p_value: float | None = None
    simulations: int = 0
    spread: float | None = None  # standard deviation of the simulated estimates
    ran: bool = True  # False when the test could not run (then it also did not pass)


@dataclass(frozen=True)
class MethodEstimate:
    """The estimate of one estimator (a report keeps the comparisons beside the primary)."""

    method: str
    estimate: float
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True)
class Sensitivity:
    """How strong unmeasured confounding would have to be to explain the effect away.

    ``robustness_value``: the share of the variation in both the behaviour and buying, left
    unexplained by the measured factors, that an unmeasured factor would have to explain to
    move the 95% interval to zero (Chernozhukov et al. 2022, via econml, with clustered
    errors); ``robustness_value_estimate``: the same for the estimate itself. ``e_value``: the
    risk ratio (VanderWeele & Ding 2017) with both behaviour and buying that would do it.
    """

    robustness_value: float
    robustness_value_estimate: float
    e_value: float | None
    e_value_ci: float | None
    baseline: float

    def to_json(self) -> dict[str, Any]:
        return _finite(asdict(self))


@dataclass(frozen=True)
class CateModel:
    """The heterogeneous effect θ(x) = coef · [1, x], with its covariance clustered by user and item.

    ``support``: per modifier, the (low, high) range of the decision points it was fitted on
    (their 1st and 99th percentiles). θ(x) is a straight line: beyond that range it extrapolates
    and no personal number is given there (:mod:`.personal`). Empty for models stored without it.
    """

    modifiers: tuple[str, ...]
    coef: tuple[float, ...]
    cov: tuple[tuple[float, ...], ...]
    support: tuple[tuple[float, float], ...] = ()

    def outside_support(self, values: dict[str, float]) -> tuple[str, float, float, float] | None:
        """The first modifier whose value lies outside the fitted range, as (name, value, low,
        high); None when every value is inside (or the model has no range, or a value is missing)."""
        for name, (low, high) in zip(self.modifiers, self.support):
            value = values.get(name)
            if value is None or not math.isfinite(value) or not low <= value <= high:
                return name, float("nan") if value is None else float(value), low, high
        return None

    def to_json(self) -> dict[str, Any]:
        return {"modifiers": list(self.modifiers), "coef": list(self.coef), "cov": [list(r) for r in self.cov],
                "support": [list(r) for r in self.support]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CateModel:
        return cls(tuple(data["modifiers"]), tuple(float(c) for c in data["coef"]),
                   tuple(tuple(float(v) for v in row) for row in data["cov"]),
                   tuple((float(r[0]), float(r[1])) for r in data.get("support", ())))


@dataclass(frozen=True)
class EffectWeight:
    """What a ranker needs to weigh a behaviour by its effect: the number and its verdict."""

    behaviour: str
    estimate: float | None
    ci_low: float | None
    ci_high: float | None
    verdict: str


@dataclass(frozen=True)
class BehaviourEffect:
    """The causal effect of one behaviour on the outcome, for the population or a segment."""

    behaviour: str
    outcome: str
    segment: str
    status: str
    reason: str
    n: int
    n_treated: int
    estimate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    method: str | None = None
    naive: float | None = None
    baseline: float | None = None
    refutations: tuple[Refutation, ...] = ()
    alternatives: tuple[MethodEstimate, ...] = ()
    verdict: str = CANNOT_ESTIMATE
    verdict_reasons: tuple[Reason, ...] = ()
    estimand: dict[str, Any] = field(default_factory=dict)
    p_value: float | None = None
    trimmed_share: float | None = None
    sensitivity: Sensitivity | None = None
    cate: CateModel | None = None
    n_users: int = 0
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def supported(self) -> bool:
        return self.verdict == SUPPORTED

    @property
    def refuted(self) -> bool:
        """True when any refutation test failed."""
        return any(not r.passed for r in self.refutations)

    @classmethod
    def cannot_estimate(cls, behaviour: str, outcome: str, segment: str, reason: Reason | str, n: int,
                        n_treated: int, naive: float | None = None, estimand: dict[str, Any] | None = None,
                        extra: tuple[Reason, ...] | list[Reason] = ()) -> BehaviourEffect:
        """A result without a number; ``reason`` is a catalogue reason (or, from callers outside
        the tool, plain text)."""
        first = reason if isinstance(reason, Reason) else Reason("other", {"text": str(reason)})
        reasons = (first, *extra)
        return cls(behaviour=behaviour, outcome=outcome, segment=segment, status=CANNOT_ESTIMATE,
                   reason="cannot estimate because " + "; ".join(r.text("en") for r in reasons), n=n,
                   n_treated=n_treated, naive=naive, verdict=CANNOT_ESTIMATE, verdict_reasons=reasons,
                   estimand=dict(estimand or {}))

    # -- words -------------------------------------------------------------------------------
    def estimand_text(self, language: str = "en") -> str:
        """The estimand in plain words (empty when the windows are unknown)."""
        if not self.estimand:
            return ""
        return estimand_sentence(self.behaviour, self.estimand["window_seconds"], self.estimand["horizon_seconds"],
                                 language)

    def verdict_text(self, language: str = "en") -> str:
        """'supported', or the verdict with its reasons: 'inconclusive (the 95% interval …)'."""
        name = verdict_name(self.verdict, language)
        if not self.verdict_reasons:
            return name
        joiner = "；" if language == "zh" else "; "
        reasons = joiner.join(r.text(language) for r in self.verdict_reasons)
        return f"{name}（{reasons}）" if language == "zh" else f"{name} ({reasons})"

    def sensitivity_text(self, language: str = "en") -> str:
        if self.sensitivity is None:
            return ""
        holds_zero = self.ci_low is not None and self.ci_high is not None and self.ci_low <= 0 <= self.ci_high
        return sensitivity_sentence(self.behaviour, self.sensitivity.robustness_value, holds_zero, language)

    def summary(self, language: str = "en") -> str:
        """One line a person (or the agent) can quote."""
        where = "" if self.segment == POPULATION else f" [{self.segment}]"
        if not self.ok or self.estimate is None:
            return f"{self.behaviour} -> {self.outcome}{where}: {self.verdict_text(language)}"
        naive = "" if self.naive is None else f"; naive {self.naive:+.3f}"
        return (f"{self.behaviour} -> {self.outcome}{where}: {self.estimate:+.3f} "
                f"(95% CI {self.ci_low:+.3f}..{self.ci_high:+.3f}{naive}; {self.method}; n={self.n:,}; "
                f"verdict: {self.verdict_text(language)})")

    # -- JSON --------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """Everything, for caching and for callers that read fields (UI, explainer)."""
        data = asdict(self)
        data["refutations"] = [asdict(r) for r in self.refutations]
        data["alternatives"] = [asdict(a) for a in self.alternatives]
        data["verdict_reasons"] = [r.to_json() for r in self.verdict_reasons]
        data["verdict_text"] = self.verdict_text("en")
        data["estimand_text"] = self.estimand_text("en")
        data["sensitivity"] = None if self.sensitivity is None else self.sensitivity.to_json()
        data["cate"] = None if self.cate is None else self.cate.to_json()
        data["notes"] = list(self.notes)
        return _finite(data)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BehaviourEffect:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["refutations"] = tuple(Refutation(**r) for r in data.get("refutations", []))
        fields["alternatives"] = tuple(MethodEstimate(**a) for a in data.get("alternatives", []))
        fields["verdict_reasons"] = tuple(Reason.from_json(r) for r in data.get("verdict_reasons", []))
        fields["sensitivity"] = None if not data.get("sensitivity") else Sensitivity(**data["sensitivity"])
        fields["cate"] = None if not data.get("cate") else CateModel.from_json(data["cate"])
        fields["notes"] = tuple(data.get("notes", ()))
        return cls(**fields)

    def interface_rows(self) -> list[dict[str, Any]]:
        """The rows of ``whyrec effects --json``: the primary one, then each comparison."""
        base = {"behaviour": self.behaviour, "outcome": self.outcome, "estimand": self.estimand_text("en"),
                "naive": self.naive, "n": self.n, "verdict": self.verdict_text("en")}
        sensitivity: dict[str, Any] = {} if self.sensitivity is None else {
            **self.sensitivity.to_json(), "text": self.sensitivity_text("en")}
        primary = {**base, "estimate": self.estimate, "ci_low": self.ci_low, "ci_high": self.ci_high,
                   "method": self.method, "primary": True,
                   "refutations": [{"name": r.name, "passed": r.passed, "p_value": r.p_value}
                                   for r in self.refutations],
                   "sensitivity": sensitivity}
        rows = [primary]
        for alt in self.alternatives:
            rows.append({**base, "estimate": alt.estimate, "ci_low": alt.ci_low, "ci_high": alt.ci_high,
                         "method": alt.method, "primary": False, "refutations": [], "sensitivity": {},
                         "verdict": "comparison only: no verdict"})
        order = ("behaviour", "outcome", "estimand", "estimate", "ci_low", "ci_high", "naive", "method", "primary",
                 "n", "verdict", "refutations", "sensitivity")
        out = []
        for row in rows:
            ordered = {k: row[k] for k in order}
            if self.segment != POPULATION:
                ordered["segment"] = self.segment
            out.append(_finite(ordered))
        return out


@dataclass(frozen=True)
class InfluenceReport:
    """Effects of every behaviour, for the population and optionally per segment value."""

    effects: tuple[BehaviourEffect, ...]
    data_version: int
    unit: str
    settings: dict[str, Any] = field(default_factory=dict)
    segment_by: str | None = None
    seconds: float = 0.0
    created_at: str = ""

    def effect(self, behaviour: str, segment: str = POPULATION) -> BehaviourEffect | None:
        for e in self.effects:
            if e.behaviour == behaviour and e.segment == segment:
                return e
        return None

    def population(self) -> tuple[BehaviourEffect, ...]:
        return tuple(e for e in self.effects if e.segment == POPULATION)

    def segments(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for e in self.effects:
            seen.setdefault(e.segment, None)
        return tuple(seen)

    def weights(self, segment: str = POPULATION) -> dict[str, EffectWeight]:
        """Each behaviour's effect and verdict, for a ranker that weighs behaviours by effect.
        Use only ``supported`` ones as weights; the others say why not."""
        return {e.behaviour: EffectWeight(e.behaviour, e.estimate, e.ci_low, e.ci_high, e.verdict)
                for e in self.effects if e.segment == segment}

    def filter(self, behaviour: str | None = None, segment: str | None = None) -> InfluenceReport:
        """The same report with only the matching effects (segment may be 'category=books')."""
        chosen = tuple(e for e in self.effects
                       if (behaviour is None or e.behaviour == behaviour)
                       and (segment is None or e.segment == segment))
        return InfluenceReport(chosen, self.data_version, self.unit, self.settings,
                               self.segment_by, self.seconds, self.created_at)

    def to_json(self) -> dict[str, Any]:
        return {"effects": [e.to_json() for e in self.effects], "data_version": self.data_version,
                "unit": self.unit, "settings": self.settings, "segment_by": self.segment_by,
                "seconds": round(self.seconds, 3), "created_at": self.created_at}

    def interface_json(self) -> dict[str, Any]:
        """``whyrec effects --json``: ``{"effects": [...]}``, one primary row per behaviour and
        segment, the comparisons beside it."""
        return {"effects": [row for e in self.effects for row in e.interface_rows()]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InfluenceReport:
        return cls(effects=tuple(BehaviourEffect.from_json(e) for e in data["effects"]),
                   data_version=int(data["data_version"]), unit=data.get("unit", ""),
                   settings=data.get("settings", {}), segment_by=data.get("segment_by"),
                   seconds=float(data.get("seconds", 0.0)), created_at=data.get("created_at", ""))

    def to_text(self, language: str = "en") -> str:
        """A readable table: one line per (segment, behaviour), then each estimand and verdict."""
        header = (f"{'segment':<22} {'behaviour':<10} {'effect':>8} {'95% CI':>17} {'naive':>8} "
                  f"{'regress.':>8} {'weight.':>8} {'n':>8}  verdict")
        lines = [f"Causal effect of each behaviour on P({self._outcome()}) (data version {self.data_version})",
                 header, "-" * len(header)]
        for e in self.effects:
            segment = e.segment if len(e.segment) <= 22 else e.segment[:19] + "..."
            alts = {a.method: a.estimate for a in e.alternatives}
            interval = "" if e.ci_low is None else f"{_fmt(e.ci_low)}..{_fmt(e.ci_high)}"
            lines.append(f"{segment:<22} {e.behaviour:<10} {_fmt(e.estimate):>8} {interval:>17} "
                         f"{_fmt(e.naive):>8} {_fmt(alts.get('backdoor.linear_regression')):>8} "
                         f"{_fmt(alts.get('propensity_weighting')):>8} {e.n:>8,}  {e.verdict_text(language)}")
        lines.append("")
        for e in self.population():
            if e.estimand:
                lines.append(f"{e.behaviour}: {e.estimand_text(language)}")
            if e.refutations:
                tests = ", ".join(f"{r.name} {'passed' if r.passed else 'FAILED'} (p={_p(r.p_value)})"
                                  for r in e.refutations)
                lines.append(f"  refutations: {tests}")
            if e.sensitivity is not None:
                lines.append(f"  sensitivity: {e.sensitivity_text(language)}")
            if e.trimmed_share:
                lines.append(f"  overlap: {e.trimmed_share:.1%} of decision points trimmed")
        return "\n".join(lines)

    def _outcome(self) -> str:
        return self.effects[0].outcome if self.effects else "purchase"


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:+.3f}"


def _p(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _finite(value: Any) -> Any:
    """Replace NaN/inf by None so the JSON is valid everywhere."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
