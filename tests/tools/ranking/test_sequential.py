"""The sequential baseline learns order: what follows an item, not just what co-occurs with it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from whyrec.tools.ranking import ItemKNN
from whyrec.tools.ranking.sequential import SequentialRules, transition_counts

from .tiny import history_frame

T0 = pd.Timestamp("2024-01-01", tz="UTC")


def chain_log(users: int = 20) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Everyone views a, then b, then c, an hour apart; some also view z days later."""
    rows = []
    for u in range(users):
        start = T0 + pd.Timedelta(days=u)
        rows += [(f"u{u}", item, "view", start + pd.Timedelta(hours=h))
                 for h, item in enumerate("abc")]
        if u % 2:
            rows.append((f"u{u}", "z", "view", start + pd.Timedelta(days=3)))
    events = pd.DataFrame(rows, columns=["user_id", "item_id", "behaviour", "timestamp"])
    events["timestamp"] = events["timestamp"].astype("datetime64[ns, UTC]")
    events["event_key"] = np.arange(len(events), dtype=np.uint64)
    items = pd.DataFrame({"item_id": list("abcz")})
    return events, items


def test_what_follows_ranks_above_what_precedes() -> None:
    events, items = chain_log()
    history = history_frame(["b"], ["view"], [40])
    ids, _ = SequentialRules(steps=1).fit(events, items).rank_history(history, k=2,
                                                                      exclude_items=["b"])
    assert ids[0] == "c"
    # a co-occurrence model cannot tell a (before b) from c (after b)
    knn = ItemKNN(neighbours=10, shrink=0.0).fit(events, items)
    scores = knn.score_history(history, ["a", "c"])
    assert scores[0] == pytest.approx(scores[1], rel=1e-3)


def test_pair_weights_by_distance_and_gap() -> None:
    events, items = chain_log(users=2)
    model = SequentialRules(steps=2).fit(events, items)
    a, b, c, z = model.catalog_.positions(list("abcz"))
    counts = transition_counts(model.log_, 4, steps=2, step_power=1.0)
    assert counts[a, b] == pytest.approx(2.0)          # two users, distance 1
    assert counts[a, c] == pytest.approx(2 * 0.5)      # distance 2 weighs 1/2
    assert counts[b, z] == pytest.approx(0.5)          # only u1 has z, two steps after b
    assert counts[c, a] == 0.0                         # u1's chain never goes back
    gapped = transition_counts(model.log_, 4, steps=2, max_gap_days=1.0)
    assert gapped[c, z] == 0.0 and gapped[a, b] == pytest.approx(2.0)


def test_last_n_and_half_life_change_only_the_scoring() -> None:
    events, items = chain_log()
    model = SequentialRules(steps=1, half_life_days=None).fit(events, items)
    history = history_frame(["a", "b"], ["view", "view"], [0, 10])
    recent = model.with_params(last_n=1)
    # with only the last event (b) counted, a's successor b gets nothing; c does
    assert recent.score_history(history, ["b"])[0] < model.score_history(history, ["b"])[0]
    faded = model.with_params(half_life_days=1.0)
    assert faded.score_history(history, ["b"])[0] < model.score_history(history, ["b"])[0]
    assert faded.transitions_ is model.transitions_        # no refit
