"""Causal-effect behaviour weights: supported effects weigh, others are handled as stated."""

from __future__ import annotations

import pytest

from whyrec.tools.causal.results import EffectWeight
from whyrec.tools.ranking.causal_weights import causal_weights
from whyrec.tools.ranking.evaluate import CAUSAL_MODEL, evaluate
from whyrec.tools.ranking.split import FractionCut

from .test_evaluate import record


def effects() -> dict[str, EffectWeight]:
    return {"view": EffectWeight("view", 0.12, 0.10, 0.14, "supported"),
            "favourite": EffectWeight("favourite", 0.04, -0.02, 0.10, "inconclusive"),
            "cart": EffectWeight("cart", None, None, None, "cannot_estimate")}


def test_supported_effects_weigh_their_estimate_and_the_rest_zero() -> None:
    found = causal_weights(effects(), ["view", "click", "favourite", "cart", "purchase", "rating"],
                           unsupported="zero")
    assert found.weights == {"view": 0.12, "click": 0.12, "favourite": 0.0, "cart": 0.0,
                             "purchase": 1.0, "rating": 0.0}
    assert found.sources["favourite"]["rule"] == "not supported: 0"
    assert found.sources["favourite"]["verdict"] == "inconclusive"
    assert found.sources["rating"]["rule"] == "no treatment: 0"
    assert found.sources["click"]["treatment"] == "view"


def test_estimate_policy_uses_unsupported_estimates_clipped_at_zero() -> None:
    given = {**effects(), "cart": EffectWeight("cart", -0.05, -0.09, -0.01, "inconclusive")}
    found = causal_weights(given, ["view", "favourite", "cart", "purchase"])   # the default policy
    assert found.weights == {"view": 0.12, "favourite": 0.04, "cart": 0.0, "purchase": 1.0}
    assert found.sources["cart"]["rule"] == "not supported: estimate clipped at 0"


def test_a_supported_negative_effect_weighs_zero_never_negative() -> None:
    given = {"cart": EffectWeight("cart", -0.2, -0.3, -0.1, "supported")}
    found = causal_weights(given, ["cart", "purchase"])
    assert found.weights["cart"] == 0.0
    assert found.sources["cart"]["rule"] == "clipped at 0"
    assert min(found.weights.values()) >= 0.0


def test_unknown_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported must be one of"):
        causal_weights(effects(), ["view"], unsupported="maybe")


def test_evaluate_runs_causal_weights_beside_grid_weights_on_the_same_users() -> None:
    from whyrec.tools.demo import DemoConfig, generate_shop

    shop = generate_shop(DemoConfig(users=150, items=120, days=40, seed=3))
    records = evaluate("shop", ["whyrec", "repeat"], events=shop.events, items=shop.items,
                       protocol=FractionCut(0.8, target="purchase"), exclude_seen=[False],
                       budget_seconds=3.0, weights=("grid", "causal"))
    by_model = {r.model: r for r in records}
    assert set(by_model) == {"whyrec", "repeat", CAUSAL_MODEL}
    causal = by_model[CAUSAL_MODEL]
    used = causal.params["behaviour_weights"]
    assert used == causal.fixed_weights["weights"]          # fixed: the tuner did not move them
    assert min(used.values()) >= 0.0 and used["purchase"] == 1.0
    assert not any(k.startswith("w:") for k in causal.validation["point"])
    # Compared with grid-tuned whyrec on the same test users; whyrec's own margin ignores it.
    assert causal.comparison["baseline"] == "whyrec"
    assert causal.comparison["n_users"] == by_model["whyrec"].n_test_users
    assert by_model["whyrec"].comparison["baseline"] == "repeat"


def test_compare_does_not_take_a_whyrec_variant_for_a_baseline() -> None:
    from whyrec.tools.ranking.evaluate import compare

    result = compare([record("whyrec", [0.5, 0.5]), record(CAUSAL_MODEL, [0.9, 0.9]),
                      record("repeat", [0.4, 0.4])])
    assert result is not None and result.baseline == "repeat"


def test_causal_weights_are_skipped_when_the_target_is_not_purchase() -> None:
    from whyrec.tools.demo import DemoConfig, generate_shop

    shop = generate_shop(DemoConfig(users=60, items=50, days=30, seed=2))
    records = evaluate("shop", ["whyrec"], events=shop.events, items=shop.items,
                       protocol=FractionCut(0.8, target="cart"), exclude_seen=[False],
                       tune_models=False, weights=("grid", "causal"))
    assert [r.model for r in records] == ["whyrec"]
