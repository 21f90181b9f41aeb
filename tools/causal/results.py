"""Result objects of the causal tool: one effect per behaviour (and segment), and the report.

Every number the chatbot cites comes from a :class:`BehaviourEffect`: the estimate with its
interval, the method, how many units it rests on, the naive contrast it corrects, and whether
it survived refutation. A behaviour that cannot be estimated is still a result, with
``status="cannot_estimate"`` and a reason, never a crash or a meaningless number.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

OK = "ok"
CANNOT_ESTIMATE = "cannot_estimate"
POPULATION = "all"


@dataclass(frozen=True)
class Refutation:
    """One refutation test: the effect it produced, and whether the estimate survived."""

    name: str
    new_effect: float | None
    passed: bool
    reason: str


@dataclass(frozen=True)
class MethodEstimate:
    """The estimate of one estimator (a report keeps the secondary ones for comparison)."""

    method: str
    estimate: float
    ci_low: float | None
    ci_high: float | None


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

    @property
    def ok(self) -> bool:
        return self.status == OK

    @property
    def refuted(self) -> bool:
        """True when any refutation test failed."""
        return any(not r.passed for r in self.refutations)

    @classmethod
    def cannot_estimate(cls, behaviour: str, outcome: str, segment: str, reason: str, n: int,
                        n_treated: int, naive: float | None = None) -> BehaviourEffect:
        return cls(behaviour=behaviour, outcome=outcome, segment=segment, status=CANNOT_ESTIMATE,
                   reason=f"cannot estimate because {reason}", n=n, n_treated=n_treated, naive=naive)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["refutations"] = [asdict(r) for r in self.refutations]
        data["alternatives"] = [asdict(a) for a in self.alternatives]
        return _finite(data)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BehaviourEffect:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["refutations"] = tuple(Refutation(**r) for r in data.get("refutations", []))
        fields["alternatives"] = tuple(MethodEstimate(**a) for a in data.get("alternatives", []))
        return cls(**fields)

    def summary(self) -> str:
        """One line a person (or the agent) can quote."""
        where = "" if self.segment == POPULATION else f" [{self.segment}]"
        if not self.ok:
            return f"{self.behaviour} -> {self.outcome}{where}: {self.reason}"
        refuted = ("refutations passed" if not self.refuted else
                   "REFUTED by " + ", ".join(r.name for r in self.refutations if not r.passed))
        if not self.refutations:
            refuted = "not refuted (refutations not run)"
        return (f"{self.behaviour} -> {self.outcome}{where}: {self.estimate:+.3f} "
                f"(95% CI {self.ci_low:+.3f}..{self.ci_high:+.3f}; naive {self.naive:+.3f}; "
                f"{self.method}; n={self.n:,}; {refuted})")


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

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InfluenceReport:
        return cls(effects=tuple(BehaviourEffect.from_json(e) for e in data["effects"]),
                   data_version=int(data["data_version"]), unit=data.get("unit", ""),
                   settings=dict(data.get("settings", {})), segment_by=data.get("segment_by"),
                   seconds=float(data.get("seconds", 0.0)), created_at=data.get("created_at", ""))

    def to_text(self) -> str:
        """A readable table: one line per (segment, behaviour)."""
        header = (f"{'segment':<24} {'behaviour':<10} {'effect':>8} {'95% CI':>17} {'naive':>8} "
                  f"{'n':>8} {'refutations':<12} method")
        lines = [f"Causal effect of each behaviour on P({self._outcome()}) "
                 f"(data version {self.data_version})", f"unit: {self.unit}", header,
                 "-" * len(header)]
        for e in self.effects:
            segment = e.segment if len(e.segment) <= 24 else e.segment[:21] + "..."
            if not e.ok:
                lines.append(f"{segment:<24} {e.behaviour:<10} {'-':>8} {'':>17} "
                             f"{_fmt(e.naive):>8} {e.n:>8,} {'':<12} {e.reason}")
                continue
            refuted = ("-" if not e.refutations else
                       f"{sum(r.passed for r in e.refutations)}/{len(e.refutations)} pass")
            interval = f"{_fmt(e.ci_low)}..{_fmt(e.ci_high)}"
            lines.append(f"{segment:<24} {e.behaviour:<10} {_fmt(e.estimate):>8} {interval:>17} "
                         f"{_fmt(e.naive):>8} {e.n:>8,} {refuted:<12} {e.method}")
        failed = [(e, r) for e in self.effects for r in e.refutations if not r.passed]
        if failed:
            lines.append("")
            lines.append("failed refutations:")
            lines += [f"  {e.segment} {e.behaviour}: {r.name}: {r.reason}" for e, r in failed]
        return "\n".join(lines)

    def _outcome(self) -> str:
        return self.effects[0].outcome if self.effects else "purchase"


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:+.3f}"


def _finite(value: Any) -> Any:
    """Replace NaN/inf by None so the JSON is valid everywhere."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value
