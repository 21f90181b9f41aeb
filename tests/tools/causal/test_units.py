"""The unit table: exposures, treatments before the outcome, confounders strictly before t0."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from whyrec.tools.causal.units import auto_horizon, build_units
from whyrec.tools.demo import DemoConfig, generate_shop
from whyrec.tools.schema import compute_event_keys, conform_events, conform_items, empty_events


def _log(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "behaviour", "timestamp"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    frame = conform_events(frame)
    frame["event_key"] = compute_event_keys(frame)
    return frame


def test_confounders_and_treatments_match_the_simulator(small_shop):
    table = build_units(small_shop.events, small_shop.items, pd.Timedelta(days=7))
    merged = table.frame.merge(small_shop.units, on=["user_id", "item_id"], suffixes=("", "_sim"))
    assert len(merged) == len(table.frame) > 4_000
    for column in ("user_prior_items", "item_prior_users", "taste_share", "view", "favourite",
                   "cart", "purchase", "price"):
        np.testing.assert_allclose(merged[column].astype(float), merged[f"{column}_sim"].astype(float),
                                   err_msg=column)
    assert (merged["category"] == merged["top_category"]).all()
    # Units too close to the end of the log for a full horizon are left out.
    assert table.pairs_after_cutoff > 0
    assert table.frame["t0"].max() <= table.cutoff


def test_treatments_count_only_until_the_purchase_and_outcome_within_horizon():
    events = _log([
        ("u1", "a", "view", "2024-01-01 10:00"), ("u1", "a", "cart", "2024-01-01 10:05"),
        ("u1", "a", "purchase", "2024-01-01 10:10"), ("u1", "a", "favourite", "2024-01-01 10:20"),
        ("u1", "b", "click", "2024-01-02 10:00"), ("u1", "b", "view", "2024-01-02 11:00"),
        ("u1", "b", "purchase", "2024-01-20 10:00"),                      # after the horizon
        ("u2", "a", "cart", "2024-01-01 09:00"), ("u2", "a", "view", "2024-01-01 09:30"),  # censored
        ("u2", "c", "view", "2024-01-03 09:00"),
        ("u3", "z", "view", "2024-02-01 00:00"),                          # keeps the log long
    ])
    table = build_units(events, None, pd.Timedelta(days=7))
    units = table.frame.set_index(["user_id", "item_id"])
    assert table.pairs_left_censored == 1 and ("u2", "a") not in units.index
    assert ("u3", "z") not in units.index                                  # after the cut-off
    a = units.loc[("u1", "a")]
    assert a["cart"] == 1 and a["purchase"] == 1 and a["favourite"] == 0  # favourite came after
    b = units.loc[("u1", "b")]
    assert b["n_looks"] == 2 and b["view"] == 1 and b["purchase"] == 0
    assert b["user_prior_items"] == 1 and b["user_prior_purchases"] == 1
    assert b["taste_share"] == 1.0                                         # same (unknown) category
    c = units.loc[("u2", "c")]
    assert c["user_prior_items"] == 1          # the censored pair was still a look before t0
    assert units.loc[("u1", "a"), "item_prior_users"] == 1   # u2 looked at it at 09:30


def test_same_day_ties_count_the_cart_before_the_purchase():
    events = _log([("u1", "a", "click", "2013-06-04"), ("u1", "a", "cart", "2013-06-04"),
                   ("u1", "a", "purchase", "2013-06-04"), ("u9", "q", "click", "2013-08-01")])
    units = build_units(events, None, pd.Timedelta(days=7)).frame
    row = units[units["item_id"] == "a"].iloc[0]
    assert row["cart"] == 1 and row["purchase"] == 1


def test_catalog_gives_price_category_and_brand():
    events = _log([("u1", "a", "view", "2024-01-01"), ("u1", "b", "view", "2024-01-02"),
                   ("u2", "a", "view", "2024-01-03"), ("u9", "q", "view", "2024-03-01")])
    items = conform_items(pd.DataFrame({"item_id": ["a", "b"], "category": ["home.kitchen", None],
                                        "brand": ["Acme", None], "price": [10.0, None]}))
    units = build_units(events, items, pd.Timedelta(days=7)).frame.set_index(["user_id", "item_id"])
    assert units.loc[("u1", "a"), "category"] == "home"
    assert units.loc[("u1", "b"), "category"] == "unknown"
    assert units.loc[("u1", "b"), "brand"] == "unknown"
    assert np.isnan(units.loc[("u1", "b"), "price"])
    assert np.isclose(units.loc[("u1", "b"), "log_price"], np.log(10.0))  # median fill
    assert units.loc[("u2", "a"), "item_prior_users"] == 1


def test_empty_log_gives_an_empty_table():
    table = build_units(empty_events(), None)
    assert table.frame.empty and "purchase" in table.frame.columns


def test_short_logs_get_a_short_horizon():
    events = _log([("u1", "a", "view", "2019-10-01 00:00"), ("u1", "a", "view", "2019-10-01 04:00")])
    assert auto_horizon(events) == pd.Timedelta(hours=1)            # a quarter of the span
    events = _log([("u1", "a", "view", "2019-10-01 00:00"), ("u1", "a", "purchase", "2019-10-01 00:10"),
                   ("u2", "b", "view", "2019-10-01 04:00")])
    assert auto_horizon(events) == pd.Timedelta(minutes=15)         # 1.5 x the purchase delay
    long = _log([("u1", "a", "view", "2019-10-01"), ("u1", "a", "view", "2019-12-01")])
    assert auto_horizon(long) == pd.Timedelta(days=7)


@pytest.mark.slow
def test_a_million_events_take_seconds():
    shop = generate_shop(DemoConfig(users=25_000, items=2_000, days=60, seed=1))
    assert len(shop.events) >= 1_000_000
    started = time.perf_counter()
    table = build_units(shop.events, shop.items)
    assert time.perf_counter() - started < 20
    assert len(table.frame) > 200_000
