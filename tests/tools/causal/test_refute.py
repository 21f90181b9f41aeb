"""Refuters that can fail: independent draws, DoWhy's significance test, a dummy outcome."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from whyrec.tools.causal.estimate import fit_dr, prepare
from whyrec.tools.causal.refute import refute
from whyrec.tools.causal.settings import DATA_SUBSET, DUMMY_OUTCOME, PLACEBO, RANDOM_COMMON_CAUSE


@pytest.fixture(scope="module")
def cart_fit(small_table, fast_settings):
    frame = prepare(small_table.rows("cart"), "cart")
    return frame, fit_dr(frame, fast_settings)


def test_a_sound_estimate_passes_with_independent_draws(cart_fit, fast_settings):
    frame, fit = cart_fit
    results = {r.name: r for r in refute(frame, fit, fast_settings)}
    assert list(results) == [PLACEBO, DATA_SUBSET, DUMMY_OUTCOME]
    for r in results.values():
        assert r.ran and r.passed, r.reason
        assert r.simulations == fast_settings.num_simulations and 0 <= r.p_value <= 1
        # Every draw is its own: the simulated estimates differ (an int random_state in DoWhy's
        # data-subset refuter made all draws the same subset).
        assert r.spread > 0, r.name
    assert abs(results[PLACEBO].new_effect) < 0.25 * fit.estimate
    assert abs(results[DUMMY_OUTCOME].new_effect) < 0.25 * fit.estimate
    assert "on a random sample" in results[PLACEBO].reason       # 4,000 of ~8,000 decision points


def test_the_dummy_outcome_fails_an_estimator_that_cannot_adjust(cart_fit, fast_settings):
    """Same data, but the estimator is denied its adjusters: confounding it cannot remove shows
    up as an effect on an outcome that has none, and the refuter says so."""
    frame, fit = cart_fit
    noise = np.random.default_rng(0).normal(size=len(frame))
    blind = replace(frame.with_column("noise", noise), adjusters=("noise",), modifiers=())
    settings = replace(fast_settings, refuters=(DUMMY_OUTCOME,), num_simulations=4)
    result = refute(blind, fit, settings)[0]
    assert result.ran and not result.passed, result.reason
    assert result.new_effect > 0.02 and result.p_value < settings.refute_alpha


def test_random_common_cause_is_available(cart_fit, fast_settings):
    frame, fit = cart_fit
    settings = replace(fast_settings, refuters=(RANDOM_COMMON_CAUSE,), refute_max_rows=1_000)
    result = refute(frame, fit, settings)[0]
    assert result.ran and result.passed and result.spread > 0


def test_a_refuter_that_cannot_run_says_so(cart_fit, fast_settings):
    frame, fit = cart_fit
    treated = frame.data["cart"].to_numpy() == 1
    # One carted decision point: cross-fitting folds without any cart cannot be fitted.
    tiny = frame.take(np.r_[np.flatnonzero(treated)[:1], np.flatnonzero(~treated)[:60]])
    kept = replace(fit, kept=np.ones(len(tiny), dtype=bool), mu0=np.full(len(tiny), 0.1))
    result = refute(tiny, kept, replace(fast_settings, refuters=(PLACEBO,)))[0]
    assert not result.ran and not result.passed and result.reason.startswith("could not run")
