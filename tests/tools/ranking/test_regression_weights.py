"""Regression-learned behaviour weights: the behaviour that predicts the next purchase weighs most."""

from __future__ import annotations

import pytest

from whyrec.tools.ranking.evaluate import REGRESSION_MODEL, evaluate
from whyrec.tools.ranking.regression_weights import regression_weights
from whyrec.tools.ranking.split import Split

from .test_evaluate import GivenSplits
from .test_tuning import cart_signal_split


def test_the_behaviour_that_predicts_purchases_gets_the_weight() -> None:
    split, _ = cart_signal_split(seed=0)        # carts point at what is bought next; clicks do not
    found = regression_weights(split)
    # Past purchases are random here, so the target's own coefficient cannot set the scale:
    # the strongest predictor (cart) weighs 1.
    assert found.coefficients["cart"] > found.coefficients["purchase"]
    assert found.weights["cart"] == pytest.approx(1.0)
    assert found.weights["click"] == 0.0          # a negative coefficient is clipped, never shown below 0
    assert min(found.weights.values()) >= 0.0 and found.positives > 0


def test_nothing_to_learn_is_a_clear_error() -> None:
    split, _ = cart_signal_split(seed=0)
    with pytest.raises(ValueError, match="nothing to learn"):
        regression_weights(Split(split.train, {"u0": split.test["u0"][:0]}, "no held-out items"))


def test_evaluate_compares_regression_weights_with_grid_weights() -> None:
    records = evaluate("given", ["whyrec"], events=cart_signal_split(0)[0].train, items=None,
                       protocol=GivenSplits(), exclude_seen=[False], budget_seconds=2.0,
                       weights=("grid", "regression"))
    by_model = {r.model: r for r in records}
    fixed = by_model[REGRESSION_MODEL]
    assert fixed.params["behaviour_weights"] == fixed.fixed_weights["weights"]
    assert fixed.comparison["baseline"] == "whyrec"



class NothingToLearn(GivenSplits):
    """A validation split whose held-out items no user touched before."""

    def validation(self, events):  # type: ignore[no-untyped-def]
        split = self.validation_split
        return Split(split.train, {u: items[:0] for u, items in split.test.items()}, "none held out")


def test_evaluate_skips_regression_weights_when_there_is_nothing_to_learn() -> None:
    records = evaluate("given", ["whyrec"], events=cart_signal_split(0)[0].train, items=None,
                       protocol=NothingToLearn(), exclude_seen=[False], budget_seconds=1.0,
                       weights=("grid", "regression"))
    assert [r.model for r in records] == ["whyrec"]


def test_untuned_evaluation_learns_regression_weights_on_validation_not_test(monkeypatch) -> None:
    from whyrec.tools.ranking import evaluate as evaluate_module

    seen = []

    def spy(split, target=None, c=1.0):  # type: ignore[no-untyped-def]
        seen.append(split)
        return regression_weights(split, target, c)

    monkeypatch.setattr(evaluate_module, "regression_weights", spy)
    protocol = GivenSplits()
    evaluate("given", ["whyrec"], events=protocol.test_split.train, items=None, protocol=protocol,
             exclude_seen=[False], tune_models=False, weights=("grid", "regression"))
    assert seen and seen[0] is protocol.validation_split
