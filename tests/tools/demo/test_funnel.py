"""The funnel engine's true effects against a closed form and against brute-force simulation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from whyrec.tools.demo.funnel import BUY, CART, LEAVE, LOOK, State, decision_effects, run_funnel

P_CART, P_BUY, P_BUY_CARTED = 0.3, 0.1, 0.6


@dataclass(frozen=True)
class Toy:
    """Cart with 0.3, else buy with 0.1, else leave; once carted, buy with 0.6 or leave."""

    def probabilities(self, state: State) -> np.ndarray:
        out = np.zeros((len(state.unit), 5))
        carted = state.cart
        out[:, CART] = np.where(carted, 0.0, P_CART)
        out[:, BUY] = np.where(carted, P_BUY_CARTED, P_BUY)
        out[:, LEAVE] = 1 - out[:, CART] - out[:, BUY]
        return out

    def gaps(self, action, state, u, v):
        return np.where(action == LOOK, 60.0, 10.0)


def test_effect_matches_the_closed_form():
    start = State.start(np.arange(2_000))
    effect = decision_effects(Toy(), start, CART, horizon=3_600.0, rng=np.random.default_rng(0), replays=2)
    # Carting next: buy with 0.6. Anything else next: buy with 0.1 / (1 - 0.3), then it is over.
    assert effect == pytest.approx(np.full(2_000, P_BUY_CARTED - P_BUY / (1 - P_CART)), abs=1e-9)


def test_effect_matches_brute_force_simulation():
    log = run_funnel(np.random.default_rng(1), Toy(), 200_000)
    first = log.decisions["k"] == 1
    nxt = log.decisions["next"][first]
    bought = np.zeros(200_000, dtype=bool)
    bought[log.event_unit[log.event_action == BUY]] = True
    observed = bought[nxt == CART].mean() - bought[nxt != CART].mean()
    assert observed == pytest.approx(P_BUY_CARTED - P_BUY / (1 - P_CART), abs=0.01)


def test_a_deadline_cuts_late_purchases():
    start = State.start(np.arange(10))
    effect = decision_effects(Toy(), start, CART, horizon=5.0, rng=np.random.default_rng(0), replays=1)
    assert effect == pytest.approx(np.zeros(10))               # every purchase takes 10 s: none in time
