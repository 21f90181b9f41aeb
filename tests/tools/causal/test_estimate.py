"""DoWhy per behaviour: recovers the demo's known effects; refuses data that cannot carry one."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from whyrec.tools.causal import CANNOT_ESTIMATE, EffectSettings
from whyrec.tools.causal.estimate import _judge, check_data, estimate_behaviour, prepare
from whyrec.tools.causal.settings import LINEAR_DML, PLACEBO, RANDOM_COMMON_CAUSE
from whyrec.tools.causal.units import build_units
from whyrec.tools.demo import DemoConfig, generate_shop


@pytest.fixture(scope="module")
def units(small_shop) -> pd.DataFrame:
    return build_units(small_shop.events, small_shop.items).frame


@pytest.mark.slow
def test_adjusted_estimates_recover_the_truth_and_naive_does_not():
    """Ground-truth validation: every estimator within 10% (or its 95% CI holds the truth)."""
    shop = generate_shop(DemoConfig(users=2_000, seed=11))
    units = build_units(shop.events, shop.items).frame
    settings = EffectSettings(refuters=())
    for behaviour in ("view", "favourite", "cart"):
        truth = shop.ground_truth.effect(behaviour)
        effect = estimate_behaviour(units, behaviour, settings)
        assert effect.ok, effect.reason
        estimates = [(effect.method, effect.estimate, effect.ci_low, effect.ci_high)]
        estimates += [(a.method, a.estimate, a.ci_low, a.ci_high) for a in effect.alternatives]
        assert {m for m, *_ in estimates} == set(settings.estimators)
        for method, value, low, high in estimates:
            close = abs(value - truth) <= 0.10 * truth or low <= truth <= high
            assert close, (behaviour, method, value, (low, high), truth)
            assert abs(effect.naive - truth) > abs(value - truth), (behaviour, method)
        assert abs(effect.naive - truth) / truth >= 0.30


def test_default_demo_effects_with_refutations(units, small_shop, fast_settings):
    effect = estimate_behaviour(units, "cart", fast_settings)
    assert effect.ok and effect.n == len(units)
    assert effect.ci_low < effect.estimate < effect.ci_high
    assert effect.ci_low <= small_shop.ground_truth.effect("cart") <= effect.ci_high
    assert effect.naive > effect.ci_high                     # the naive contrast is confounded
    assert [r.name for r in effect.refutations] == list(fast_settings.refuters)
    assert all(r.passed for r in effect.refutations), [r.reason for r in effect.refutations]
    placebo = next(r for r in effect.refutations if r.name == PLACEBO)
    assert abs(placebo.new_effect) < 0.25 * effect.estimate
    assert 0 < effect.baseline < 1


def test_no_carts_cannot_be_estimated(units, fast_settings):
    effect = estimate_behaviour(units.assign(cart=0), "cart", fast_settings)
    assert effect.status == CANNOT_ESTIMATE and effect.estimate is None
    assert effect.reason.startswith("cannot estimate because") and "no unit has 'cart'" in effect.reason


def test_treatment_without_variation_cannot_be_estimated(units, fast_settings):
    effect = estimate_behaviour(units.assign(favourite=1), "favourite", fast_settings)
    assert effect.status == CANNOT_ESTIMATE and "does not vary" in effect.reason


def test_too_few_units_cannot_be_estimated(units, fast_settings):
    effect = estimate_behaviour(units.head(50), "cart", fast_settings, segment="brand=Tiny")
    assert effect.status == CANNOT_ESTIMATE and "only 50 units" in effect.reason
    assert effect.segment == "brand=Tiny" and effect.n == 50


def test_too_few_treated_or_purchases_cannot_be_estimated(units, fast_settings):
    few = units.assign(cart=0)
    few.loc[few.index[:5], "cart"] = 1
    assert "only 5 units with 'cart'" in estimate_behaviour(few, "cart", fast_settings).reason
    assert "end in a purchase" in check_data(units.assign(purchase=0), "cart", "purchase",
                                             fast_settings).reason


def test_a_constant_confounder_is_dropped_not_fatal(units, fast_settings):
    one_category = units[units["category"] == "books"]
    frame = prepare(one_category, "cart", fast_settings)
    assert "category" in frame.dropped
    assert not any(c.startswith("category_") for c in frame.data.columns)
    effect = estimate_behaviour(one_category, "cart", replace(fast_settings, refuters=()))
    assert effect.ok and "category" in effect.reason


def test_categoricals_become_dummies_in_the_graph(units, fast_settings):
    frame = prepare(units, "cart", fast_settings)
    dummies = [c for c in frame.data.columns if c.startswith("category_")]
    assert len(dummies) == units["category"].nunique() - 1
    assert all(frame.graph.has_edge(d, "cart") and frame.graph.has_edge(d, "purchase") for d in dummies)
    assert "category" not in frame.graph


def test_optional_dml_is_skipped_cleanly_without_econml(units, fast_settings):
    pytest.importorskip("dowhy")
    try:
        import econml  # noqa: F401
        pytest.skip("econml is installed here")
    except ImportError:
        pass
    settings = replace(fast_settings, estimators=(LINEAR_DML, "backdoor.linear_regression"), refuters=())
    effect = estimate_behaviour(units, "cart", settings)
    assert effect.ok and effect.method == "backdoor.linear_regression"
    assert "econml is not installed" in effect.reason


def test_refutation_rules():
    assert _judge(PLACEBO, 0.2, 0.01, 0.02, "").passed
    assert not _judge(PLACEBO, 0.2, 0.15, 0.02, "").passed
    assert _judge(RANDOM_COMMON_CAUSE, 0.2, 0.205, 0.02, "").passed
    failed = _judge(RANDOM_COMMON_CAUSE, 0.2, 0.3, 0.02, "")
    assert not failed.passed and "outside" in failed.reason
    assert np.isclose(failed.new_effect, 0.3)
