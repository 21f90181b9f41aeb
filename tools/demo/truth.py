"""The demo's ground truth: the true effect of each behaviour for the documented estimand.

For every decision point of the simulated log (:mod:`.funnel`) where a behaviour had not
happened yet, the simulator computes the true effect of doing it next (both futures replayed
from the full state, latent traits included). The ground truth of the estimand averages those
effects over the decision points the causal tool uses — the first look at most ``D`` ago, a
full ``H`` of log after them — overall and per segment (price band, category, activity; the
bands cut exactly as the causal tool cuts them).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..causal.estimand import BEHAVIOURS, Windows
from ..causal.segments import segment_labels
from .funnel import TREATMENTS, FunnelLog, Policy, State, decision_effects

#: Segments the ground truth reports (the causal tool's ``--segment`` dimensions).
TRUTH_SEGMENTS: tuple[str, ...] = ("price_band", "category", "activity")


@dataclass(frozen=True)
class TrueEffect:
    """The true average effect of one behaviour on one outcome, overall or in one segment."""

    behaviour: str
    outcome: str
    effect: float
    segment: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if self.segment is None:
            data.pop("segment")
        return data


@dataclass(frozen=True)
class GroundTruth:
    """What the simulator knows: the true effects for the estimand it states."""

    effects: tuple[TrueEffect, ...]
    unit: str
    n_units: int
    estimand: dict[str, Any] = field(default_factory=dict)
    scenario: str = "default"
    seed: int = 0
    naive: dict[str, float] = field(default_factory=dict)

    def effect(self, behaviour: str, segment: str | None = None) -> float:
        """The true effect of ``behaviour`` on purchase (in ``segment``); KeyError if absent."""
        for e in self.effects:
            if e.behaviour == behaviour and e.segment == segment:
                return e.effect
        raise KeyError(f"no ground truth for behaviour {behaviour!r}" + (f" in {segment}" if segment else ""))

    def to_json(self) -> dict[str, Any]:
        return {"effects": [e.to_json() for e in self.effects], "scenario": self.scenario, "seed": self.seed,
                "estimand": self.estimand, "unit": self.unit, "n_units": self.n_units, "naive": self.naive}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GroundTruth:
        effects = tuple(TrueEffect(e["behaviour"], e["outcome"], float(e["effect"]), e.get("segment"))
                        for e in data["effects"])
        return cls(effects=effects, unit=data.get("unit", ""), n_units=int(data.get("n_units", 0)),
                   estimand=data.get("estimand", {}), scenario=data.get("scenario", "default"),
                   seed=int(data.get("seed", 0)), naive=data.get("naive", {}))


def decision_truth(funnel: FunnelLog, policy: Policy, t0: np.ndarray, purchase_time: np.ndarray,
                   log_end: float, windows: Windows, rng: np.random.Generator, replays: int = 8) -> pd.DataFrame:
    """One row per (decision point, behaviour at risk) in the log: treatment, observed outcome,
    follow-up and the true effect. ``t0`` and ``purchase_time`` are per exposure, in epoch
    seconds (``inf`` where never bought)."""
    d = funnel.decisions
    time = t0[d["unit"]] + d["elapsed"]
    in_log = time <= log_end
    horizon = windows.horizon.total_seconds()
    frames = []
    for behaviour in BEHAVIOURS:
        action = TREATMENTS[behaviour]
        at_risk = (d["looks"] == 1) if behaviour == "view" else ~d[behaviour].astype(bool)
        chosen = np.flatnonzero(in_log & at_risk & (d["elapsed"] <= windows.window.total_seconds()))
        state = State(d["unit"][chosen], d["looks"][chosen], d["favourite"][chosen].astype(bool),
                      d["cart"][chosen].astype(bool), d["stage"][chosen], d["elapsed"][chosen])
        effect = decision_effects(policy, state, action, horizon, rng, replays=replays)
        frames.append(pd.DataFrame({
            "unit": d["unit"][chosen], "k": d["k"][chosen], "behaviour": behaviour,
            "treated": (d["next"][chosen] == action).astype(np.int64),
            "bought": (purchase_time[d["unit"][chosen]] <= time[chosen] + horizon).astype(np.int64),
            "followed_up": time[chosen] + horizon <= log_end,
            "effect": effect,
        }))
    return pd.concat(frames, ignore_index=True)


def summarise(rows: pd.DataFrame, units: pd.DataFrame) -> tuple[tuple[TrueEffect, ...], dict[str, float]]:
    """Average the per-decision truth over the followed-up rows, overall and per segment, and
    the naive contrast (bought-within-H rate of treated minus untreated rows). ``units`` holds
    the exposure columns the segments are cut from (price, category, user_prior_items)."""
    used = rows[rows["followed_up"]]
    effects: list[TrueEffect] = []
    naive: dict[str, float] = {}
    labels = {dim: segment_labels(units, dim)[0].to_numpy() for dim in TRUTH_SEGMENTS}
    for behaviour in BEHAVIOURS:
        part = used[used["behaviour"] == behaviour]
        if part.empty:
            continue
        effects.append(TrueEffect(behaviour, "purchase", round(float(part["effect"].mean()), 6)))
        treated = part["treated"].to_numpy() == 1
        y = part["bought"].to_numpy()
        if treated.any() and (~treated).any():
            naive[behaviour] = round(float(y[treated].mean() - y[~treated].mean()), 6)
        for dim in TRUTH_SEGMENTS:
            seg = labels[dim][part["unit"].to_numpy()]
            for value, group in part.groupby(seg, sort=True):
                effects.append(TrueEffect(behaviour, "purchase", round(float(group["effect"].mean()), 6),
                                          f"{dim}={value}"))
    return tuple(effects), naive
