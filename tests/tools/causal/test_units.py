"""Exposures: one per (user, item) from the first look, confounders strictly before it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from whyrec.tools.causal.units import build_units
from whyrec.tools.schema import compute_event_keys, conform_events, conform_items, empty_events


def _log(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "behaviour", "timestamp"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    frame = conform_events(frame)
    frame["event_key"] = compute_event_keys(frame)
    return frame


def test_confounders_match_the_simulator(small_shop):
    table = build_units(small_shop.events, small_shop.items)
    merged = table.frame.merge(small_shop.units, on=["user_id", "item_id"], suffixes=("", "_sim"))
    assert len(merged) == len(table.frame) == len(small_shop.units)
    for column in ("user_prior_items", "item_prior_users", "taste_share", "price"):
        np.testing.assert_allclose(merged[column].astype(float), merged[f"{column}_sim"].astype(float),
                                   err_msg=column)
    assert (merged["category"] == merged["category_sim"]).all()
    assert table.pairs_left_censored == 0


def test_confounders_are_measured_strictly_before_the_first_look():
    events = _log([
        ("u1", "a", "view", "2024-01-01 10:00"), ("u1", "a", "purchase", "2024-01-01 10:10"),
        ("u1", "b", "click", "2024-01-02 10:00"),
        ("u2", "a", "cart", "2024-01-01 09:00"), ("u2", "a", "view", "2024-01-01 09:30"),  # left-censored
        ("u2", "c", "view", "2024-01-03 09:00"),
        ("u3", "a", "view", "2024-01-05 09:00"),
    ])
    table = build_units(events)
    units = table.frame.set_index(["user_id", "item_id"])
    assert table.pairs_left_censored == 1 and ("u2", "a") not in units.index
    b = units.loc[("u1", "b")]
    assert b["user_prior_items"] == 1 and b["user_prior_purchases"] == 1 and b["user_purchase_rate"] == 0.5
    assert units.loc[("u2", "c"), "user_prior_items"] == 1       # the censored pair was still a look
    assert units.loc[("u1", "a"), "item_prior_users"] == 1       # u2 looked at it at 09:30
    later = units.loc[("u3", "a")]
    assert later["item_prior_users"] == 2 and later["item_prior_purchases"] == 1
    assert later["item_conversion"] == pytest.approx(1 / 3)


def test_price_level_and_catalog_fill():
    events = _log([("u1", "a", "view", "2024-01-01"), ("u1", "b", "view", "2024-01-01"),
                   ("u1", "c", "view", "2024-01-02"), ("u2", "c", "view", "2024-01-03")])
    items = conform_items(pd.DataFrame({"item_id": ["a", "b", "c", "z"], "category": ["home.k", None, "toys", "x"],
                                        "brand": ["Acme", None, None, None], "price": [10.0, 40.0, None, 1000.0]}))
    units = build_units(events, items).frame.set_index(["user_id", "item_id"])
    # Same-day looks do not see each other; the next day sees both.
    assert units.loc[("u1", "a"), "user_price_level"] == units.loc[("u1", "b"), "user_price_level"]
    assert units.loc[("u1", "c"), "user_price_level"] == pytest.approx((np.log(10) + np.log(40)) / 2)
    # A missing price is the whole catalog's median (40), not the median of the items in the log.
    assert units.loc[("u1", "c"), "log_price"] == pytest.approx(np.log(40.0))
    assert units.loc[("u1", "b"), "category"] == "unknown" and units.loc[("u1", "a"), "category"] == "home"
    assert units.loc[("u1", "c"), "taste_share"] == 0.0


def test_empty_log_gives_an_empty_table():
    table = build_units(empty_events(), None)
    assert table.frame.empty and "taste_share" in table.frame.columns


def test_a_sample_of_users_with_the_whole_logs_history_has_the_whole_tables_rows(small_shop):
    from whyrec.tools.causal.units import item_history
    from whyrec.tools.frames import sample_users

    events, items = small_shop.events, small_shop.items
    whole = build_units(events, items).frame
    sample, drawn = sample_users(events, len(events) // 3, seed=1)
    assert 0 < drawn["users"] < drawn["of_users"]
    # Several user partitions give the same history as one.
    history = item_history(events, items, part_events=len(events) // 7)
    one = item_history(events, items)
    assert sorted(zip(history.look_item, history.look_time, strict=True)) == sorted(
        zip(one.look_item, one.look_time, strict=True))
    sampled = build_units(sample, items, history).frame
    mine = whole[whole["user_id"].isin(set(sample["user_id"].astype(str)))].reset_index(drop=True)
    pd.testing.assert_frame_equal(sampled, mine)
    # Without the whole log's history the item columns would be the sample's own (the defect).
    alone = build_units(sample, items).frame
    assert (alone["item_prior_users"] < sampled["item_prior_users"]).any()
    with pytest.raises(ValueError, match="every item"):
        build_units(events, items, item_history(sample, items))


def test_day_counts_from_the_logs_first_event_of_any_behaviour():
    """``day`` is days since the log began — its first event, a rating included — as ``day_now``
    of the decision points and the windows count; it counted from the first look, cart or
    purchase (a log opening with a rating had its first look on day 0)."""
    from whyrec.tools.causal.decisions import build_decisions
    from whyrec.tools.causal.estimand import choose_windows

    events = _log([("u1", "a", "rating", "2024-01-01"), ("u1", "b", "view", "2024-01-04"),
                   ("u2", "b", "view", "2024-01-06")])
    table = build_decisions(events, None, choose_windows(events))
    units = table.units.frame.set_index("user_id")
    assert units.loc["u1", "day"] == 3.0 and units.loc["u2", "day"] == 5.0
    assert table.frame.groupby("unit")["day_now"].min().tolist() == table.units.frame["day"].tolist()


def test_earlier_counts_stay_exact_for_millions_of_groups():
    """Group codes and time ranks share one int64 key: with a fixed 2**40 for the ranks, group
    codes 2**24 (16.8M) apart wrapped onto the same keys, and one item's earlier looks counted
    for another without a word."""
    from whyrec.tools.causal.units import EarlierCounts

    far = 3 + 2**24
    groups = np.array([3, 3, 9_000_000, 9_000_000, 20_000_000])
    times = np.array([10, 12, 10, 20, 5])
    counts = EarlierCounts.of(groups, times)
    queries = np.array([far, far, 3, 9_000_000, 9_000_000, 8_999_999, 20_000_000, 30_000_000])
    at = np.array([11, 100, 11, 11, 21, 100, 6, 100])
    assert counts.count(queries, at).tolist() == [0, 0, 1, 1, 2, 0, 1, 0]
    assert EarlierCounts.of(groups[:0], times[:0]).count(queries, at).tolist() == [0] * 8
