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
