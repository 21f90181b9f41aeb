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
        checked += 1
    assert checked >= 6
