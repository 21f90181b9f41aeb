"""Contributions are exact: leave-one-out re-scoring equals the reported contribution."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from whyrec.tools.ranking import ItemKNN, RepeatRanker, WhyrecRanker

BEHAVIOURS = ["view", "click", "favourite", "cart", "purchase"]


def random_log(seed: int = 3, users: int = 120, items: int = 150, events: int = 3000):
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp("2024-01-01", tz="UTC")
    frame = pd.DataFrame({
        "user_id": [f"u{u}" for u in rng.integers(users, size=events)],
        # a popularity skew so co-occurrence is not flat
        "item_id": [f"i{int(i)}" for i in rng.zipf(1.3, size=events) % items],
        "behaviour": rng.choice(BEHAVIOURS, size=events, p=[0.5, 0.25, 0.1, 0.1, 0.05]),
        "timestamp": [t0 + pd.Timedelta(hours=float(h)) for h in rng.uniform(0, 24 * 60, events)],
        "value": np.nan,
    })
    frame["event_key"] = np.arange(events, dtype=np.uint64)
    catalog = pd.DataFrame({"item_id": [f"i{i}" for i in range(items)],
                            "title": [f"Item {i}" for i in range(items)]})
    vectors = (np.array([f"i{i}" for i in range(items)]), rng.normal(size=(items, 16)))
    return frame, catalog, vectors


def check_leave_one_out(ranker, rng, n_users: int = 8, n_items: int = 5) -> None:
    for user in rng.choice(np.asarray(ranker.user_ids), size=n_users, replace=False):
        history = ranker.history(user)
        now = ranker.as_of(user)
        for item in rng.choice(ranker.item_ids, size=n_items, replace=False):
            contributions = {c.event_key: c.contribution for c in ranker.contributions(user, item)}
            full = ranker.score_history(history, [item], now=now)[0]
            for position in rng.choice(len(history), size=min(5, len(history)), replace=False):
                key = int(history["event_key"].iloc[position])
                rest = history.drop(history.index[position])
                delta = full - ranker.score_history(rest, [item], now=now)[0]
                assert delta == pytest.approx(contributions[key], abs=1e-6)
            if ranker.additive:
                assert ranker.prior(item) + sum(contributions.values()) == pytest.approx(full, abs=1e-6)


def test_whyrec_contributions_are_exact_with_all_terms() -> None:
    events, catalog, vectors = random_log()
    ranker = WhyrecRanker(neighbours=40, repeat_conversion=0.5, conversion_weight=0.1,
                          text_weight=0.05, item_vectors=vectors, half_life_days=7).fit(events, catalog)
    check_leave_one_out(ranker, np.random.default_rng(0))


def test_whyrec_contributions_are_exact_with_the_repurchase_cycle_term() -> None:
    events, catalog, _ = random_log(seed=5)
    ranker = WhyrecRanker(neighbours=40, cycle_weight=2.0, half_life_days=7).fit(events, catalog)
    assert ranker.cycle_gap_ is not None                  # the random log has repurchases
    user = next(u for u in ranker.user_ids
                if ranker.cycle_terms(ranker.log_.history(ranker.log_.users.get_loc(u)).known(),
                                      ranker.log_.last_day(ranker.log_.users.get_loc(u))).any())
    without = ranker.with_params(cycle_weight=0.0)
    assert not np.allclose(ranker.score_history(ranker.history(user), ranker.item_ids, now=ranker.as_of(user)),
                           without.score_history(without.history(user), without.item_ids, now=without.as_of(user)))
    check_leave_one_out(ranker, np.random.default_rng(2))
    # The batch path (every training user at once) adds the same term as one user's history.
    rows = np.arange(ranker.log_.n_users)[:20]
    batch = ranker._score_rows(rows)
    for n, row in enumerate(rows):
        single = ranker._score(ranker.log_.history(row).known(), ranker.log_.last_day(row))
        assert np.allclose(batch[n], single)


def test_repurchase_gap_is_the_items_typical_days_between_purchases() -> None:
    t0 = pd.Timestamp("2024-01-01", tz="UTC")
    rows = []
    for u in range(6):       # item "a" bought every 10 days by six users; "b" bought once each
        rows += [(f"u{u}", "a", "purchase", t0 + pd.Timedelta(days=10 * k + u)) for k in range(3)]
        rows.append((f"u{u}", "b", "purchase", t0 + pd.Timedelta(days=u)))
    events = pd.DataFrame(rows, columns=["user_id", "item_id", "behaviour", "timestamp"])
    ranker = WhyrecRanker(cycle_weight=1.0).fit(events)
    gaps = dict(zip(ranker.item_ids, ranker.cycle_gap_, strict=True))
    assert gaps["a"] == pytest.approx(10.0) and gaps["b"] == pytest.approx(10.0)  # shrunk to all items
    # An "a" purchase 10 days old is due: its term is at the peak; a fresh one is not.
    history = pd.DataFrame({"item_id": ["a"], "behaviour": ["purchase"], "timestamp": [t0]})
    due = ranker.with_params(popularity_weight=0.0, repeat_weight=0.0, similarity_weight=0.0)
    at_gap = due.score_history(history, ["a"], now=t0 + pd.Timedelta(days=10))[0]
    fresh = due.score_history(history, ["a"], now=t0)[0]
    assert at_gap == pytest.approx(1.0, rel=0.05) and fresh < 0.01


def test_repeat_contributions_are_exact() -> None:
    events, catalog, _ = random_log(seed=4)
    check_leave_one_out(RepeatRanker(half_life_days=3).fit(events, catalog), np.random.default_rng(1))


@pytest.mark.slow
def test_counterfactual_contributions_of_a_non_additive_ranker() -> None:
    events, catalog, _ = random_log(seed=5, events=1500)
    check_leave_one_out(ItemKNN(neighbours=20).fit(events, catalog), np.random.default_rng(2),
                        n_users=3, n_items=3)


def test_contributions_match_the_scores_recommend_returns() -> None:
    events, catalog, vectors = random_log(seed=6)
    ranker = WhyrecRanker(text_weight=0.1, item_vectors=vectors).fit(events, catalog)
    user = ranker.user_ids[0]
    ids, scores = ranker.recommend(user, k=5)
    for item, score in zip(ids, scores):
        total = ranker.prior(item) + sum(c.contribution for c in ranker.contributions(user, item))
        assert total == pytest.approx(score, abs=1e-6)


def test_behaviour_weight_override_scales_contributions_without_refit() -> None:
    events, catalog, _ = random_log(seed=7)
    ranker = WhyrecRanker().fit(events, catalog)
    user = ranker.user_ids[3]
    item = ranker.recommend(user, k=1)[0][0]
    doubled = ranker.with_behaviour_weights({"click": 2 * ranker.behaviour_weight_map["click"]})
    assert doubled.similarity_ is ranker.similarity_            # shared, not refitted
    before = {c.event_key: c for c in ranker.contributions(user, item)}
    for c in doubled.contributions(user, item):
        factor = 2.0 if c.behaviour == "click" else 1.0
        assert c.contribution == pytest.approx(factor * before[c.event_key].contribution, abs=1e-9)
    zeroed = ranker.with_behaviour_weights({b: 0.0 for b in BEHAVIOURS})
    assert all(c.contribution == 0 for c in zeroed.contributions(user, item))


def test_what_if_adding_an_event_is_its_contribution() -> None:
    events, catalog, _ = random_log(seed=8)
    ranker = WhyrecRanker().fit(events, catalog)
    user = ranker.user_ids[5]
    history = ranker.history(user)
    now = ranker.as_of(user)
    added = pd.DataFrame({"item_id": ["i3"], "behaviour": ["cart"], "timestamp": [now],
                          "event_key": [np.uint64(10**12)]})
    extended = pd.concat([history, added], ignore_index=True)
    target = ranker.item_ids[7]
    delta = (ranker.score_history(extended, [target], now=now)[0]
             - ranker.score_history(history, [target], now=now)[0])
    contribution = {c.event_key: c.contribution
                    for c in ranker.history_contributions(extended, target, now=now)}[10**12]
    assert delta == pytest.approx(contribution, abs=1e-9)


def test_a_ranker_saved_before_the_cycle_term_loads_with_it_off(tmp_path) -> None:
    events, catalog, _ = random_log(seed=6, events=600)
    ranker = WhyrecRanker(neighbours=10).fit(events, catalog)
    expected = ranker.score_history(ranker.history("u1"), now=ranker.as_of("u1"))
    del ranker.__dict__["cycle_weight"], ranker.__dict__["cycle_gap_"]   # the older object's state
    ranker.save(tmp_path / "old.pkl")
    old = WhyrecRanker.load(tmp_path / "old.pkl")
    assert np.allclose(old.score_history(old.history("u1"), now=old.as_of("u1")), expected)
    assert old._score_rows(np.arange(3)).shape == (3, len(old.item_ids))
