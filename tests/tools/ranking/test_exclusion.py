"""Exclusion policies: what each leaves out, one user at a time and for a block of users."""

from __future__ import annotations

import numpy as np
import pytest

from whyrec.tools.ranking import WhyrecRanker
from whyrec.tools.ranking.topk import top_k

from .tiny import tiny_events, tiny_items


@pytest.fixture(scope="module")
def ranker() -> WhyrecRanker:
    return WhyrecRanker(neighbours=10).fit(tiny_events(), tiny_items())


def test_policies_leave_out_nothing_bought_items_or_everything_seen(ranker: WhyrecRanker) -> None:
    user = "ga0"                                   # clicked a1 and a2, bought a2
    none = set(ranker.recommend(user, k=50, exclude="none")[0])
    purchased = set(ranker.recommend(user, k=50, exclude="purchased")[0])
    seen = set(ranker.recommend(user, k=50, exclude="seen")[0])
    assert {"a1", "a2"} <= none
    assert "a2" not in purchased and "a1" in purchased
    assert not {"a1", "a2"} & seen
    assert seen == set(ranker.recommend(user, k=50)[0])                       # the default
    assert none == set(ranker.recommend(user, k=50, exclude_seen=False)[0])
    with pytest.raises(ValueError, match="exclusion policy"):
        ranker.recommend(user, exclude="bought")


@pytest.mark.parametrize("policy", ["none", "purchased", "seen"])
def test_recommend_rows_equals_one_user_at_a_time(ranker: WhyrecRanker, policy: str) -> None:
    rows = np.arange(ranker.log_.n_users)
    positions, scores = ranker.recommend_rows(rows, 4, exclude=policy, chunk=3)
    for row in rows:
        full = ranker._score_rows(np.array([row]))[0]
        allowed = np.ones(len(full), dtype=bool)
        allowed[ranker.excluded(int(row), exclude=policy)] = False
        expected = top_k(full, 4, allowed)
        assert positions[row][: len(expected)].tolist() == expected.tolist()
        np.testing.assert_allclose(scores[row][: len(expected)], full[expected])
    ids, _ = ranker.recommend_batch(list(ranker.user_ids), k=4, exclude=policy)
    assert [ids[n][0] for n in rows] == [ranker.recommend(u, k=4, exclude=policy)[0][0]
                                        for u in ranker.user_ids]


@pytest.mark.parametrize("cycle_weight", [0.0, 0.5])
def test_batch_lists_from_the_sparse_part_equal_the_dense_blocks(monkeypatch, cycle_weight: float) -> None:
    """Batch scoring ranks a block from its users' sparse part plus the prior's order when that
    is cheaper; the lists and scores must be exactly the dense block's."""
    from whyrec.tools.demo import DemoConfig, generate_shop
    from whyrec.tools.ranking import base
    from whyrec.tools.ranking.catalog import ItemFilter

    shop = generate_shop(DemoConfig(users=300, items=400, days=40, seed=5))
    fitted = WhyrecRanker(neighbours=20, cycle_weight=cycle_weight).fit(shop.events, shop.items)
    rows = np.arange(fitted.log_.n_users)
    some = ItemFilter.allow(list(fitted.item_ids)[::3])
    for policy in ("none", "purchased", "seen"):
        for filters in (None, some):
            monkeypatch.setattr(base, "SPARSE_SHARE", 10**12)        # never sparse: the dense blocks
            dense = fitted.recommend_rows(rows, 10, filters=filters, exclude=policy, chunk=64)
            monkeypatch.setattr(base, "SPARSE_SHARE", 0)             # always sparse
            sparse = fitted.recommend_rows(rows, 10, filters=filters, exclude=policy, chunk=64)
            assert np.array_equal(dense[0], sparse[0]) and np.array_equal(dense[1], sparse[1])
    assert fitted._split_scores(rows[:5])[0].nnz < 5 * len(fitted.item_ids)  # the part is sparse here
