"""Sensitivity: robustness values (clustered) and E-values behave as their definitions say."""

from __future__ import annotations

import numpy as np
import pytest

from whyrec.tools.causal.sensitivity import _e_value, _e_value_ci, sensitivity


def _data(effect: float, n: int = 4_000, seed: int = 0):
    rng = np.random.default_rng(seed)
    e = rng.uniform(0.2, 0.8, n)
    t = (rng.random(n) < e).astype(float)
    mu0 = rng.uniform(0.1, 0.3, n)
    mu1 = mu0 + effect
    y = (rng.random(n) < np.where(t == 1, mu1, mu0)).astype(float)
    return t, y, mu0, mu1, e, np.arange(n) // 4


def test_robustness_grows_with_the_effect_and_is_zero_when_the_interval_holds_zero():
    weak = sensitivity(*_data(0.08), ci=(0.05, 0.11))
    strong = sensitivity(*_data(0.25), ci=(0.22, 0.28))
    null = sensitivity(*_data(0.0), ci=(-0.02, 0.02))
    assert 0 < weak.robustness_value < strong.robustness_value < 1
    assert weak.robustness_value < weak.robustness_value_estimate     # the interval gives way first
    assert null.robustness_value == 0.0
    assert strong.baseline == pytest.approx(0.2, abs=0.01)


def test_clustering_counts_a_shoppers_copies_once():
    t, y, mu0, mu1, e, _ = _data(0.1)
    alone = sensitivity(t, y, mu0, mu1, e, np.arange(len(t)), ci=(0.06, 0.14))
    copies = [np.repeat(a, 2) for a in (t, y, mu0, mu1, e)]
    # Every row twice, the copies in one cluster: no more information than before ...
    clustered = sensitivity(*copies, np.repeat(np.arange(len(t)), 2), ci=(0.06, 0.14))
    assert clustered.robustness_value == pytest.approx(alone.robustness_value, rel=0.02)
    # ... which independent errors would overstate.
    independent = sensitivity(*copies, np.arange(2 * len(t)), ci=(0.06, 0.14))
    assert independent.robustness_value > clustered.robustness_value


def test_e_values():
    assert _e_value(0.2, 0.2) == pytest.approx(2 + np.sqrt(2), rel=1e-4)     # risk ratio 2
    assert _e_value(0.4, -0.2) == pytest.approx(2 + np.sqrt(2), rel=1e-4)    # protective: 1 / 0.5
    assert _e_value_ci(0.2, (-0.01, 0.3)) == 1.0
    assert _e_value_ci(0.2, (0.1, 0.3)) == pytest.approx(_e_value(0.2, 0.1))
    assert _e_value(0.0, 0.1) is None
