"""Auto-tuning per workspace: it beats the defaults where the better setting is known, picks
the validation protocol the timestamps allow, and learns the exclusion policy from the data."""

from __future__ import annotations

import numpy as np
import pandas as pd

from whyrec.tools.ranking.autotune import AutoTuneResult, auto_tune, fit_tuned
from whyrec.tools.ranking.split import FractionCut, RandomLeaveOneOut, choose_protocol
from whyrec.tools.ranking.whyrec import WhyrecRanker

DAY0 = pd.Timestamp("2024-01-01", tz="UTC")


def _frame(rows: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame({"user_id": [r[0] for r in rows], "item_id": [r[1] for r in rows],
                         "behaviour": [r[2] for r in rows],
                         "timestamp": [DAY0 + pd.Timedelta(days=r[3]) for r in rows]})


def last_view_log(users: int = 240, items: int = 120, seed: int = 0) -> pd.DataFrame:
    """Each user views 8 random items a day apart, then weeks later buys the one viewed last.

    The right setting is known: keep seen items and weigh the latest view most (a short
    recency half-life). The defaults (a 30-day half-life, similarity as strong as repeats)
    spread the score over all eight views and over unseen co-viewed items."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(users):
        start = rng.uniform(0, 60)
        viewed = rng.choice(items, size=8, replace=False)
        for n, item in enumerate(viewed):
            rows.append((f"u{u}", f"i{item}", "view", start + n))
        rows.append((f"u{u}", f"i{viewed[-1]}", "purchase", start + 30))
    return _frame(rows)


def next_purchase_log(repurchase: bool, users: int = 240, items: int = 80, seed: int = 1) -> pd.DataFrame:
    """Users view and buy a few items, then buy once more: with ``repurchase`` an item they
    bought before, without it an item they only viewed (nobody buys the same item twice)."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(users):
        start = rng.uniform(0, 200)
        chosen = rng.choice(items, size=6, replace=False)
        bought, viewed = chosen[:3], chosen[3:]
        for n, item in enumerate(chosen):
            rows.append((f"u{u}", f"i{item}", "view", start + n))
        for n, item in enumerate(bought):
            rows.append((f"u{u}", f"i{item}", "purchase", start + 6 + n))
        again = rng.choice(bought) if repurchase else rng.choice(viewed)
        rows.append((f"u{u}", f"i{again}", "purchase", start + 20))
    return _frame(rows)


def test_auto_tuning_beats_the_defaults_where_the_better_setting_is_known() -> None:
    events = last_view_log()
    result = auto_tune(events, budget_seconds=40)
    assert result.tuned and result.protocol["split"] == "fraction_cut"
    assert result.validation_users >= 20
    # Tuned on validation it must beat the defaults clearly (more than two standard errors) ...
    assert result.score.score > result.defaults.score + 2 * result.defaults.stderr
    # ... by finding what the data were built with: seen items kept, the latest view weighed most.
    assert result.policy != "seen"
    assert result.params["half_life_days"] < 30
    # Served weights stay non-negative: every model reason raises a score.
    assert all(w >= 0 for r in (result.params, *result.params_by_policy.values())
               for w in (r.get("behaviour_weights") or {}).values())
    assert result.score.score > result.baselines["popular"].score
    # The record survives JSON and fits the served ranker on all events.
    again = AutoTuneResult.from_json(result.to_json())
    assert again.params == result.to_json()["params"] and again.policy == result.policy
    ranker = fit_tuned(again, events)
    views = events[(events["user_id"] == "u0") & (events["behaviour"] == "view")]
    ids, _ = ranker.rank_history(views, k=1)              # u0 before their purchase
    assert ids[0] == views.iloc[-1]["item_id"]


def test_a_log_with_one_timestamp_gets_leave_one_out_validation() -> None:
    events = next_purchase_log(repurchase=False).assign(timestamp=DAY0)
    protocol = choose_protocol(events, "purchase")
    assert isinstance(protocol, RandomLeaveOneOut)
    split = protocol.split(events)
    # One held-out purchase per buyer (every user here), none of it left in training.
    assert split.n_test_users == events["user_id"].nunique()
    for user, held in list(split.test.items())[:20]:
        mine = split.train[(split.train["user_id"] == user) & (split.train["behaviour"] == "purchase")]
        assert len(held) == 1 and held[0] not in set(mine["item_id"])
    # Seeded: the same draw every time, another seed draws differently.
    assert protocol.split(events).test.keys() == split.test.keys()
    assert all((protocol.split(events).test[u] == split.test[u]).all() for u in split.test)
    other = RandomLeaveOneOut("purchase", seed=7).split(events)
    assert any((other.test[u] != split.test[u]).any() for u in split.test)
    result = auto_tune(events, budget_seconds=5)
    assert result.tuned and result.protocol == {"split": "random_leave_one_out", "target": "purchase",
                                                "seed": 0}
    # With timestamps spread, the same log gets a time cut.
    assert isinstance(choose_protocol(next_purchase_log(repurchase=False), "purchase"), FractionCut)


def test_the_exclusion_policy_learned_with_repurchases_differs_from_one_without() -> None:
    with_repurchases = auto_tune(next_purchase_log(repurchase=True), budget_seconds=10)
    without = auto_tune(next_purchase_log(repurchase=False), budget_seconds=10)
    assert with_repurchases.policy == "none"          # hiding bought items hides the answer
    assert without.policy == "purchased"              # bought items never recur; viewed ones do
    assert with_repurchases.policies["none"].score > with_repurchases.policies["purchased"].score
    assert without.policies["purchased"].score > without.policies["seen"].score


def test_too_few_users_to_validate_serves_the_defaults_and_says_why() -> None:
    events = _frame([("a", "x", "view", 0), ("a", "y", "purchase", 1), ("b", "x", "view", 0)])
    result = auto_tune(events, budget_seconds=1)
    assert not result.tuned and "too few users" in result.note
    assert fit_tuned(result, events).get_params() == WhyrecRanker(target="purchase").get_params()


def test_a_budget_used_up_by_the_defaults_serves_them_instead_of_failing() -> None:
    """At 100M events (1M catalog items) fitting and scoring the defaults can take the whole
    budget; the search then had no time for a trial and auto_tune raised. Now each policy keeps
    its default point, scored on the same split, and the record says the budget ran out."""
    events = next_purchase_log(repurchase=False)
    result = auto_tune(events, budget_seconds=0.0)
    assert result.budget_exhausted and result.trials == 0
    assert set(result.policies) == {"none", "purchased", "seen"}
    assert result.score == result.defaults
    assert fit_tuned(result, events).get_params() == WhyrecRanker(**result.params).get_params()
    assert result.params == {"target": "purchase"}


def test_auto_tuning_on_a_two_worker_dask_cluster_chooses_what_in_process_tuning_chooses(tmp_path) -> None:
    """Issue 18: ``whyrec tune --engine dask`` scores each search's points on the workers; a
    search that converges within its budget makes the same choice, trial for trial."""
    from whyrec.tools.demo import DemoConfig, generate_shop
    from whyrec.tools.engine import DaskEngine

    shop = generate_shop(DemoConfig(users=150, items=120, days=40, seed=3))
    here = auto_tune(shop.events, shop.items, budget_seconds=200)
    with DaskEngine(n_workers=2, memory_limit="2GB") as engine:
        there = auto_tune(shop.events, shop.items, budget_seconds=200, engine=engine, scratch=tmp_path)
    assert not here.budget_exhausted and here.trials > 100        # else the budget decides
    ignore = ("cpu_seconds", "finished_at")
    assert ({k: v for k, v in there.to_json().items() if k not in ignore}
            == {k: v for k, v in here.to_json().items() if k not in ignore})
    assert not list(tmp_path.iterdir())
