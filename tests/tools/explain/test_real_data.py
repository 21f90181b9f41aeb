"""Validity on real users: every counterfactual really drops the item (Tmall 2014, small sample)."""

from __future__ import annotations

import numpy as np
import pytest

from whyrec.tools.explain import Explainer
from whyrec.tools.ingest.pipeline import read_preset
from whyrec.tools.ranking import WhyrecRanker


@pytest.fixture(scope="module")
def tmall(tmall_dir):
    events, items = read_preset("tmall2014", tmall_dir)
    return WhyrecRanker().fit(events, items), items


def test_counterfactuals_are_valid_on_tmall_users(tmall) -> None:
    ranker, items = tmall
    explainer = Explainer(ranker, items)
    rng = np.random.default_rng(5)
    users = rng.choice(np.asarray(ranker.user_ids), size=12, replace=False)
    checked = 0
    for user in users:
        ids, scores = ranker.recommend(user, 10)
        item = str(ids[rng.integers(len(ids))])
        explanation = explainer.explain(user, item, 10)
        assert explanation.rank is not None
        assert explanation.score == pytest.approx(float(scores[list(ids).index(item)]), rel=1e-9)
        cf = explanation.counterfactual
        if cf is None:
            assert explanation.reason in ("popularity", "no_support")
            continue
        history = ranker.history(user)
        rest = history[~history["event_key"].isin(np.array(cf.event_keys, dtype=np.uint64))]
        new_ids, _ = ranker.rank_history(rest, 10, exclude_items=rest["item_id"].unique(),
                                         now=ranker.as_of(user))
        assert item not in set(new_ids), f"{user}/{item}: set {cf.event_keys} does not drop it"
        if cf.robust:  # and it does so without counting the items it frees
            assert _drops(ranker, user, item, cf.event_keys, 10, exclude_all_seen=True)
        checked += 1
    assert checked >= 6


def _drops(ranker, user: str, item: str, keys: tuple[int, ...], k: int, exclude_all_seen: bool) -> bool:
    """Public-API re-rank without ``keys``; with ``exclude_all_seen`` the items the removal frees
    stay out of the list too (the robust rule: the item falls behind items never touched)."""
    history = ranker.history(user)
    rest = history[~history["event_key"].isin(np.array(keys, dtype=np.uint64))]
    exclude = history["item_id"].unique() if exclude_all_seen else rest["item_id"].unique()
    ids, _ = ranker.rank_history(rest, k, exclude_items=exclude, now=ranker.as_of(user))
    return item not in set(ids)


def test_long_histories_keep_exact_verified_robust_sets(tmall) -> None:
    ranker, items = tmall
    explainer = Explainer(ranker, items)
    user = str(max(np.asarray(ranker.user_ids), key=lambda u: len(ranker.user_history(str(u)))))
    assert len(ranker.user_history(user)) >= 2000
    ids = [str(i) for i in ranker.recommend(user, 10)[0]]
    headlines = explainer.headlines(user, ids[:3], k=10)
    for item, headline in zip(ids[:3], headlines, strict=True):
        explanation = explainer.explain(user, item, 10)
        assert headline == explanation.headline
        cf = explanation.counterfactual
        assert cf is not None and cf.verified and headline.events == cf.events
        assert _drops(ranker, user, item, cf.event_keys, 10, exclude_all_seen=False)
        if cf.robust:
            assert _drops(ranker, user, item, cf.event_keys, 10, exclude_all_seen=True)


@pytest.mark.parametrize("policy", ["none", "purchased"])
def test_counterfactuals_are_valid_under_each_exclusion_policy(tmall, policy) -> None:
    """Under the policy a list was made with, its explanations name the list's rank, and their
    sets drop the item when the ranker re-ranks without them leaving out what that policy
    leaves out of the reduced history (issue 14)."""
    ranker, items = tmall
    explainer = Explainer(ranker, items)
    rng = np.random.default_rng(7)
    checked = 0
    for user in rng.choice(np.asarray(ranker.user_ids), size=10, replace=False):
        ids, _ = ranker.recommend(user, 10, exclude=policy)
        item = str(ids[rng.integers(len(ids))])
        explanation = explainer.explain(user, item, 10, exclude=policy)
        assert explanation.rank == list(ids).index(item) + 1 and explanation.exclusion == policy
        cf = explanation.counterfactual
        if cf is None:
            continue
        history = ranker.history(user)
        rest = history[~history["event_key"].isin(np.array(cf.event_keys, dtype=np.uint64))]
        left_out = rest if policy != "purchased" else rest[rest["behaviour"] == ranker.target_]
        new_ids, _ = ranker.rank_history(rest, 10, exclude_items=left_out["item_id"].unique() if policy != "none"
                                         else (), now=ranker.as_of(user))
        assert item not in set(new_ids), f"{user}/{item}: set {cf.event_keys} does not drop it under {policy}"
        checked += 1
    assert checked >= 5
