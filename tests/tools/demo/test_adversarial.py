"""The adversarial scenario: each trap it sets is really there, and its truth is exact."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from whyrec.tools.demo import DemoConfig, build_demo_workspace, generate_shop, load_ground_truth
from whyrec.tools.schema import EVENT_COLUMNS


@pytest.fixture(scope="module")
def shop():
    return generate_shop(DemoConfig(scenario="adversarial", seed=21))


def test_same_output_shape_as_the_default(shop):
    assert tuple(shop.events.columns) == EVENT_COLUMNS
    assert shop.events["user_id"].nunique() == 400 and len(shop.items) == 300
    assert 8_000 < len(shop.events) < 30_000


def test_favourites_have_no_effect_but_look_like_they_do(shop):
    truth = shop.ground_truth
    assert abs(truth.effect("favourite")) < 0.003
    assert truth.naive["favourite"] > 0.05                      # a naive reading finds an "effect"
    bands = [truth.effect("favourite", f"price_band={b}") for b in ("low", "mid", "high")]
    assert max(abs(b) for b in bands) < 0.006


def test_effects_vary_with_price_and_category(shop):
    truth = shop.ground_truth
    cart = [truth.effect("cart", f"category={c}") for c in shop.units["category"].unique()]
    assert max(cart) - min(cart) > 0.05
    per_decision = shop.decisions[(shop.decisions["behaviour"] == "cart") & shop.decisions["followed_up"]]
    assert per_decision["effect"].std() > 0.05                  # not one constant effect
    gap = shop.units["latent_price_gap"].to_numpy()[per_decision["unit"].to_numpy()]
    assert np.corrcoef(gap, per_decision["effect"])[0, 1] < -0.1  # dearer than one can afford: smaller effect


def test_looks_after_the_cart_and_returns_days_later(shop):
    events = shop.events.sort_values("timestamp")
    first_cart = events[events["behaviour"] == "cart"].groupby(["user_id", "item_id"], observed=True)["timestamp"].min()
    looks = events[events["behaviour"].isin(["view", "click"])].join(first_cart.rename("cart_at"),
                                                                     on=["user_id", "item_id"])
    after = looks[looks["timestamp"] > looks["cart_at"]]
    share = after.groupby(["user_id", "item_id"], observed=True).ngroups / len(first_cart)
    assert share > 0.2
    first = events.groupby(["user_id", "item_id"], observed=True)["timestamp"].transform("min")
    assert ((events["timestamp"] - first) > pd.Timedelta(days=1)).mean() > 0.02


def test_behaviour_drifts_with_a_promotion(shop):
    rows = shop.decisions[shop.decisions["behaviour"] == "cart"]
    day = (shop.units["timestamp"] - shop.units["timestamp"].min()).dt.days.to_numpy()[rows["unit"].to_numpy()]
    promo = (day >= 25) & (day < 35)
    assert rows["treated"].to_numpy()[promo].mean() > 1.2 * rows["treated"].to_numpy()[~promo].mean()


def test_buying_depends_on_traits_the_log_shows_only_through_proxies(shop):
    units = shop.units
    assert 0.2 < np.corrcoef(units["latent_taste"], units["taste_share"])[0, 1] < 0.95
    for latent in ("latent_taste", "latent_appeal", "latent_price_gap"):
        assert latent not in set(shop.events.columns)


def test_the_workspace_writes_the_issue_shaped_truth(tmp_path):
    summary = build_demo_workspace(tmp_path / "ws", DemoConfig(scenario="adversarial", seed=4, users=150))
    data = json.loads((tmp_path / "ws" / "ground_truth.json").read_text())
    assert data["scenario"] == "adversarial" and data["seed"] == 4
    assert all(set(e) <= {"behaviour", "outcome", "effect", "segment"} for e in data["effects"])
    assert load_ground_truth(tmp_path / "ws") == summary.ground_truth
    assert "adversarial scenario, seed 4" in summary.to_text()


def test_unknown_scenario_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown demo scenario"):
        DemoConfig(scenario="hard")
