"""The funnel as a sequence of decisions, and the true effect of each behaviour at each decision.

Every exposure (a user's first look at an item, time 0) runs the same loop: after each event
on the item the shopper takes one next action — look again, favourite, add to cart, buy, or
leave — with probabilities a :class:`Policy` gives from the state so far (looks, favourite,
cart, time) and the exposure's traits. Buying or leaving ends the exposure.

That is also the causal tool's estimand (``docs/causal.md``): at a *decision point* (right
after an event, the item not yet bought and the behaviour not yet done), the effect of doing
the behaviour next versus anything else next, on buying within ``H`` of that moment. Because
the simulator knows every trait, :func:`decision_effects` computes that effect exactly in
expectation for any decision point: it replays the future from the point under both choices
with common random numbers, and sums purchase probabilities instead of sampling the purchase
(Rao-Blackwellisation), so a few replays per point give a precise average.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

#: The next actions, in a fixed order (columns of a policy's probability matrix).
ACTIONS: tuple[str, ...] = ("look", "favourite", "cart", "purchase", "leave")
LOOK, FAVOURITE, CART, BUY, LEAVE = range(5)
#: Behaviour name of each treatment action, as the causal tool names it.
TREATMENTS: dict[str, int] = {"view": LOOK, "favourite": FAVOURITE, "cart": CART}


@dataclass
class State:
    """The state of many exposures at once (one entry each); ``unit`` indexes the exposure."""

    unit: np.ndarray
    looks: np.ndarray
    favourite: np.ndarray
    cart: np.ndarray
    stage: np.ndarray
    elapsed: np.ndarray  # seconds since the first look

    @classmethod
    def start(cls, units: np.ndarray) -> State:
        n = len(units)
        return cls(unit=units.astype(np.int64), looks=np.ones(n, dtype=np.int64),
                   favourite=np.zeros(n, dtype=bool), cart=np.zeros(n, dtype=bool),
                   stage=np.zeros(n, dtype=np.int8), elapsed=np.zeros(n))

    def take(self, index: np.ndarray) -> State:
        return State(self.unit[index], self.looks[index], self.favourite[index], self.cart[index],
                     self.stage[index], self.elapsed[index])

    def copy(self) -> State:
        return self.take(np.arange(len(self.unit)))

    def apply(self, action: np.ndarray, gap: np.ndarray) -> None:
        """Advance every entry by one action (buy and leave do not change the state)."""
        self.elapsed = self.elapsed + gap
        self.looks = self.looks + (action == LOOK)
        self.favourite = self.favourite | (action == FAVOURITE)
        self.cart = self.cart | (action == CART)
        self.stage = np.where(action == LOOK, np.maximum(self.stage, 1),
                              np.where(action == FAVOURITE, np.maximum(self.stage, 2),
                                       np.where(action == CART, 3, self.stage))).astype(np.int8)


class Policy(Protocol):
    """What a scenario decides: next-action probabilities and the time each action takes."""

    def probabilities(self, state: State) -> np.ndarray:
        """An (n, 5) matrix over :data:`ACTIONS`; rows sum to 1."""
        ...

    def gaps(self, action: np.ndarray, state: State, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Seconds until ``action`` happens after the current event, from uniforms ``u`` and ``v``."""
        ...


@dataclass(frozen=True)
class FunnelLog:
    """Every event of every exposure, and every decision point with its state and next action."""

    event_unit: np.ndarray
    event_action: np.ndarray
    event_offset: np.ndarray  # seconds since the exposure's first look
    decisions: dict[str, np.ndarray] = field(default_factory=dict)


def run_funnel(rng: np.random.Generator, policy: Policy, n_units: int, max_steps: int = 40) -> FunnelLog:
    """Run every exposure's decision loop until it buys, leaves, or ``max_steps`` actions pass."""
    state = State.start(np.arange(n_units))
    ev_unit = [state.unit.copy()]
    ev_action = [np.full(n_units, LOOK, dtype=np.int8)]
    ev_offset = [np.zeros(n_units)]
    decisions: dict[str, list[np.ndarray]] = {k: [] for k in
                                              ("unit", "k", "looks", "favourite", "cart", "stage", "elapsed",
                                               "next")}
    k = 1
    while len(state.unit) and k <= max_steps:
        p = policy.probabilities(state)
        action = _draw(p, rng.random(len(state.unit)))
        if k == max_steps:
            action = np.full(len(state.unit), LEAVE, dtype=np.int8)
        for name in ("unit", "looks", "favourite", "cart", "stage", "elapsed"):
            decisions[name].append(getattr(state, name).copy())
        decisions["k"].append(np.full(len(state.unit), k, dtype=np.int64))
        decisions["next"].append(action.astype(np.int8))
        gap = policy.gaps(action, state, rng.random(len(state.unit)), rng.random(len(state.unit)))
        acted = action != LEAVE
        ev_unit.append(state.unit[acted])
        ev_action.append(action[acted].astype(np.int8))
        ev_offset.append((state.elapsed + gap)[acted])
        state.apply(action, gap)
        going = (action != LEAVE) & (action != BUY)
        state = state.take(np.flatnonzero(going))
        k += 1
    return FunnelLog(np.concatenate(ev_unit), np.concatenate(ev_action), np.concatenate(ev_offset),
                     {name: np.concatenate(parts) for name, parts in decisions.items()})


def _draw(p: np.ndarray, u: np.ndarray) -> np.ndarray:
    """One categorical draw per row of ``p`` from the uniforms ``u``."""
    cum = np.cumsum(p, axis=1)
    cum[:, -1] = 1.0 + 1e-12
    return (u[:, None] > cum).sum(axis=1).astype(np.int8)


def decision_effects(policy: Policy, start: State, treatment: int, horizon: float,
                     rng: np.random.Generator, replays: int = 8, max_steps: int = 40) -> np.ndarray:
    """The true effect of doing ``treatment`` next at each decision point in ``start``.

    Effect = P(buy within ``horizon`` seconds | treatment next) − P(buy within ``horizon`` |
    anything else next, drawn as the shopper would), both with the future played out by the
    policy. Averaged over ``replays`` replays with common random numbers for the two arms.
    """
    n = len(start.unit)
    total = np.zeros(n)
    for _ in range(replays):
        seeds = rng.integers(0, 2**63 - 1)
        treated = _value(policy, start, treatment, True, horizon, np.random.default_rng(seeds), max_steps)
        control = _value(policy, start, treatment, False, horizon, np.random.default_rng(seeds), max_steps)
        total += treated - control
    return total / replays


def _value(policy: Policy, start: State, treatment: int, forced: bool, horizon: float,
           rng: np.random.Generator, max_steps: int) -> np.ndarray:
    """P(buy within ``horizon``) from ``start`` with the first action forced to / kept off ``treatment``."""
    n = len(start.unit)
    state = start.copy()
    deadline = start.elapsed + horizon
    value = np.zeros(n)
    weight = np.ones(n)
    rows = np.arange(n)
    for step in range(max_steps):
        u_pick, u_gap, v_gap, u_buy, v_buy = (rng.random(n) for _ in range(5))
        if not len(rows):
            continue
        p = policy.probabilities(state)
        if step == 0:
            if forced:
                p = np.zeros_like(p)
                p[:, treatment] = 1.0
            else:
                p = p.copy()
                p[:, treatment] = 0.0
                p /= np.maximum(p.sum(axis=1, keepdims=True), 1e-300)
        # Rao-Blackwellised: the purchase probability of this step counts in full (if it lands
        # before the deadline); the walk goes on with one of look/favourite/cart.
        buy_gap = policy.gaps(np.full(len(rows), BUY, dtype=np.int8), state, u_buy[rows], v_buy[rows])
        in_time = state.elapsed + buy_gap <= deadline[rows]
        value[rows] += weight[rows] * p[:, BUY] * in_time
        go_on = p[:, LOOK] + p[:, FAVOURITE] + p[:, CART]
        weight[rows] *= go_on
        keep = go_on > 1e-12
        moves = p[:, :3] / np.where(keep, go_on, 1.0)[:, None]
        action = _draw(moves, u_pick[rows])
        gap = policy.gaps(action, state, u_gap[rows], v_gap[rows])
        state.apply(action, gap)
        keep &= (state.elapsed < deadline[rows]) & (weight[rows] > 1e-9)
        rows = rows[keep]
        state = state.take(np.flatnonzero(keep))
    return value
