"""The demo shop: deterministic, schema-conformant, realistic funnel, confounded by design."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from whyrec.tools.demo import DemoConfig, GroundTruth, build_demo_workspace, generate_shop, load_ground_truth
from whyrec.tools.schema import EVENT_COLUMNS, FUNNEL, ITEM_COLUMNS, compute_event_keys, empty_events
from whyrec.tools.workspace import Workspace

SMALL = DemoConfig(users=120, items=80, days=30, seed=3)


@pytest.fixture(scope="module")
def shop():
    return generate_shop(DemoConfig())


def test_same_seed_same_shop_and_other_seed_differs():
    first, second = generate_shop(SMALL), generate_shop(SMALL)
    pd.testing.assert_frame_equal(first.events, second.events)
    pd.testing.assert_frame_equal(first.items, second.items)
    assert first.ground_truth == second.ground_truth
    other = generate_shop(DemoConfig(users=120, items=80, days=30, seed=4))
    assert not other.events["event_key"].equals(first.events["event_key"])


def test_sizes_follow_the_config(shop):
    assert len(shop.items) == 300
    assert shop.events["user_id"].nunique() == 400
    assert shop.events["item_id"].isin(shop.items["item_id"]).all()
    span = shop.events["timestamp"].max() - shop.events["timestamp"].min()
    assert pd.Timedelta(days=50) < span <= pd.Timedelta(days=61)
    assert shop.events["timestamp"].max() <= pd.Timestamp("2026-11-01", tz="UTC")
    assert len(shop.events) > 5_000
    bigger = generate_shop(DemoConfig(users=800, items=300, days=60))
    assert len(bigger.events) > 1.6 * len(shop.events)


def test_events_and_items_conform_to_the_schema(shop):
    assert tuple(shop.events.columns) == EVENT_COLUMNS
    assert tuple(shop.items.columns) == ITEM_COLUMNS
    assert (shop.events.dtypes == empty_events().dtypes).all()
    assert set(shop.events["behaviour"].unique()) == set(FUNNEL)
    assert shop.events["session_id"].notna().all()
    keys = compute_event_keys(shop.events)
    assert (keys.to_numpy() == shop.events["event_key"].to_numpy()).all()
    assert shop.events["event_key"].is_unique


def test_titles_are_readable_and_unique(shop):
    titles = shop.items["title"]
    assert titles.is_unique
    assert titles.str.match(r"^[A-ZÆØÅ][\w&' ,.()-]+ [a-z]").all()
    assert not titles.str.contains(r"\bi\d+\b|item ").any()
    assert shop.items["category"].str.count(r"\.").eq(2).all()
    assert shop.items["category"].str.split(".").str[0].nunique() == 8
    assert shop.items["brand"].nunique() >= 25
    assert (shop.items["price"] > 0).all()
    assert shop.items["description"].str.endswith(".").all()
    by_top = shop.items.assign(top=shop.items["category"].str.split(".").str[0])
    medians = by_top.groupby("top")["price"].median()
    assert medians["electronics"] > 2 * medians["books"]


def test_purchases_follow_a_view_of_the_same_item_by_the_same_user(shop):
    events = shop.events
    first_view = (events[events["behaviour"] == "view"]
                  .groupby(["user_id", "item_id"])["timestamp"].min().rename("first_view"))
    for behaviour in ("favourite", "cart", "purchase"):
        later = events[events["behaviour"] == behaviour].join(first_view, on=["user_id", "item_id"])
        assert later["first_view"].notna().all(), behaviour
        assert (later["timestamp"] > later["first_view"]).all(), behaviour
    # Sessions belong to one user each.
    assert events.groupby("session_id")["user_id"].nunique().max() == 1


def test_ground_truth_effects_are_positive_and_ordered(shop):
    truth = shop.ground_truth
    overall = [e for e in truth.effects if e.segment is None]
    assert [e.behaviour for e in overall] == ["view", "favourite", "cart"]
    assert 0.08 <= truth.effect("cart") <= 0.25
    assert 0.02 <= truth.effect("favourite") <= 0.10
    assert 0 < truth.effect("view") < truth.effect("cart")
    # The overall truth is the mean of the per-decision-point truths it summarises.
    used = shop.decisions[shop.decisions["followed_up"]]
    for behaviour in ("view", "favourite", "cart"):
        mean = used.loc[used["behaviour"] == behaviour, "effect"].mean()
        assert mean == pytest.approx(truth.effect(behaviour), abs=1e-6)
    assert truth.estimand["horizon"] == "7 days" and truth.n_units == len(shop.units)


def test_naive_difference_is_confounded_by_design(shop):
    for behaviour, naive in shop.ground_truth.naive.items():
        effect = shop.ground_truth.effect(behaviour)
        assert naive > effect and (naive - effect) / effect >= 0.2, behaviour


def test_confounders_drive_both_behaviour_and_purchase(shop):
    rows = shop.decisions[(shop.decisions["behaviour"] == "cart") & shop.decisions["followed_up"]]
    units = shop.units.iloc[rows["unit"].to_numpy()].reset_index(drop=True)
    for column in ("user_prior_items", "item_prior_users"):
        high = (units[column] >= units[column].median()).to_numpy()
        assert rows["treated"].to_numpy()[high].mean() > rows["treated"].to_numpy()[~high].mean(), column
        assert rows["bought"].to_numpy()[high].mean() > rows["bought"].to_numpy()[~high].mean(), column


def test_build_demo_workspace_writes_events_catalog_and_truth(tmp_path):
    summary = build_demo_workspace(tmp_path / "ws", SMALL)
    workspace = Workspace.open(tmp_path / "ws")
    assert summary.data_version == workspace.data_version == 1
    assert len(workspace.events()) == summary.events
    assert len(workspace.items()) == SMALL.items
    truth = load_ground_truth(tmp_path / "ws")
    assert isinstance(truth, GroundTruth) and truth == summary.ground_truth
    data = json.loads((tmp_path / "ws" / "ground_truth.json").read_text())
    assert {e["behaviour"] for e in data["effects"]} == {"favourite", "cart", "view"}
    for entry in data["effects"]:
        assert set(entry) in ({"behaviour", "outcome", "effect"}, {"behaviour", "outcome", "effect", "segment"})
        assert entry["outcome"] == "purchase" and isinstance(entry["effect"], float)
    assert {e["segment"].split("=")[0] for e in data["effects"] if "segment" in e} == {
        "price_band", "category", "activity"}
    assert data["scenario"] == "default" and "decision points" in data["unit"]
    assert "cart" in summary.to_text()

    again = build_demo_workspace(tmp_path / "ws2", SMALL)
    assert (tmp_path / "ws2" / "ground_truth.json").read_bytes() == \
        (tmp_path / "ws" / "ground_truth.json").read_bytes()
    pd.testing.assert_frame_equal(Workspace.open(tmp_path / "ws2").events(), workspace.events())
    assert again.events == summary.events


def test_build_refuses_a_workspace_with_events_unless_replace(tmp_path):
    build_demo_workspace(tmp_path / "ws", SMALL)
    with pytest.raises(ValueError, match="already holds events"):
        build_demo_workspace(tmp_path / "ws", SMALL)
    summary = build_demo_workspace(tmp_path / "ws", DemoConfig(users=60, items=40, days=10), replace=True)
    assert len(Workspace.open(tmp_path / "ws").events()) == summary.events


def test_load_ground_truth_is_none_outside_a_demo(tmp_path):
    assert load_ground_truth(tmp_path) is None


def test_too_few_items_is_a_clear_error():
    with pytest.raises(ValueError, match="at least 8 items"):
        generate_shop(DemoConfig(users=10, items=3))


@pytest.mark.slow
def test_large_shop_is_vectorised():
    import time

    started = time.perf_counter()
    shop = generate_shop(DemoConfig(users=25_000, items=2_000, days=60, truth_replays=0))
    assert len(shop.events) > 1_000_000
    assert time.perf_counter() - started < 40
    assert shop.ground_truth.effects == ()
