"""Decision points: time-ordered treatments, adjusters measured before them, honest outcomes."""

from __future__ import annotations

import pandas as pd

from whyrec.tools.causal.decisions import build_decisions
from whyrec.tools.causal.estimand import choose_windows
from whyrec.tools.schema import compute_event_keys, conform_events


def _log(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "behaviour", "timestamp"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    frame = conform_events(frame)
    frame["event_key"] = compute_event_keys(frame)
    return frame


LOG = _log([
    ("u1", "a", "view", "2024-01-01 10:00"), ("u1", "a", "cart", "2024-01-01 10:05"),
    ("u1", "a", "view", "2024-01-01 10:07"),  # a look after the cart
    ("u1", "a", "purchase", "2024-01-02 10:00"), ("u1", "a", "view", "2024-01-03 10:00"),  # after the purchase
    ("u2", "b", "view", "2024-01-01 12:00"), ("u2", "b", "favourite", "2024-01-01 12:01"),
    ("u2", "b", "view", "2024-01-20 12:00"),  # outside the 7-day window
    ("u3", "c", "view", "2024-02-01 00:00"),  # too late for a full follow-up
    ("u9", "z", "view", "2024-02-05 00:00"),
])


def _table():
    return build_decisions(LOG, None, choose_windows(LOG))


def test_a_look_after_the_cart_never_adjusts_the_cart():
    cart = _table().rows("cart").set_index(["user_id", "item_id", "k"])
    row = cart.loc[("u1", "a", 1)]
    assert row["cart"] == 1 and row["purchase"] == 1
    assert row["looks_so_far"] == 1           # the look at 10:07 came after the cart
    assert ("u1", "a", 2) not in cart.index   # once carted, no more cart decision points


def test_the_view_trial_and_its_treatment():
    view = _table().rows("view").set_index(["user_id", "item_id", "k"])
    assert view.loc[("u1", "a", 1), "view"] == 0            # the next event was the cart
    after_cart = view.loc[("u1", "a", 2)]
    assert after_cart["view"] == 1 and after_cart["cart_so_far"] == 1   # then a look: treated
    assert ("u1", "a", 3) not in view.index                 # two looks: no longer at risk


def test_purchase_ends_the_decisions_and_windows_cut_rows():
    table = _table()
    frame = table.frame.merge(table.units.frame[["user_id", "item_id"]].reset_index(names="unit"), on="unit")
    u1 = frame[frame["user_id"] == "u1"]
    assert list(u1["k"]) == [1, 2, 3]                        # the purchase and what follows are not decisions
    u2 = frame[frame["user_id"] == "u2"].set_index("k")
    assert u2.loc[1, "in_window"] and not u2.loc[3, "in_window"]
    assert u2.loc[1, "next"] == "favourite" and u2.loc[2, "next"] == "view" and u2.loc[3, "next"] == "none"
    u3 = frame[frame["user_id"] == "u3"].iloc[0]
    assert not u3["followed_up"]
    fav = table.rows("favourite").set_index(["user_id", "item_id", "k"])
    assert fav.loc[("u2", "b", 1), "favourite"] == 1 and ("u3", "c", 1) not in fav.index


def test_outcome_counts_only_purchases_within_the_horizon():
    events = _log([("u1", "a", "view", "2024-01-01"), ("u1", "a", "purchase", "2024-01-10"),
                   ("u2", "b", "view", "2024-01-01"), ("u2", "b", "purchase", "2024-01-05"),
                   ("u9", "z", "view", "2024-03-01")])
    rows = build_decisions(events, None, choose_windows(events)).rows("cart").set_index("user_id")
    assert rows.loc["u1", "purchase"] == 0 and rows.loc["u2", "purchase"] == 1


def test_same_day_ties_follow_the_funnel():
    events = _log([("u1", "a", "click", "2013-06-04"), ("u1", "a", "purchase", "2013-06-04"),
                   ("u1", "a", "cart", "2013-06-04"), ("u9", "q", "click", "2013-08-01")])
    rows = build_decisions(events, None, choose_windows(events)).rows("cart")
    row = rows[rows["item_id"] == "a"].iloc[0]
    assert row["cart"] == 1 and row["purchase"] == 1


def test_counts_explain_the_cuts(small_table):
    counts = small_table.counts("cart")
    assert counts.exposures == len(small_table.units.frame)
    assert counts.at_risk >= counts.in_window >= counts.followed_up > counts.treated > 0
    assert counts.followed_up == len(small_table.rows("cart"))
    assert small_table.event_counts["cart"] >= counts.treated


def test_rows_match_the_simulators_decision_points(adversarial_shop, adversarial_table):
    """Every decision point the tool builds is one the simulator knows the true effect of."""
    rows = adversarial_table.rows("cart")[["user_id", "item_id", "k", "cart"]]
    truth = adversarial_shop.decisions
    truth = truth[(truth["behaviour"] == "cart") & truth["followed_up"]][["user_id", "item_id", "k", "treated"]]
    merged = rows.merge(truth, on=["user_id", "item_id", "k"], how="outer", indicator=True)
    assert (merged["_merge"] == "both").mean() > 0.995
    both = merged[merged["_merge"] == "both"]
    assert (both["cart"] == both["treated"]).mean() > 0.995


def test_the_lean_frame_of_a_workspace_gives_the_same_decision_table(demo_workspace, tmp_path):
    """decision_table reads the lean frame (ids as categoricals): the table, its units, counts
    and every trial's rows are the ones the string frame gives — on the demo shop (a long log)
    and on a short log whose horizon is fitted to the purchase delays."""
    from whyrec.tools.causal.report import decision_table
    from whyrec.tools.workspace import Workspace

    short = Workspace.create(tmp_path / "short")
    with short.lock():
        short.commit(_log([
            ("u1", "a", "view", "2024-01-01 10:00"), ("u1", "a", "cart", "2024-01-01 10:05"),
            ("u1", "a", "purchase", "2024-01-01 11:00"), ("u2", "b", "view", "2024-01-01 12:00"),
            ("u2", "b", "favourite", "2024-01-01 12:01"), ("u2", "a", "view", "2024-01-02 09:00"),
            ("u2", "a", "purchase", "2024-01-02 09:30"), ("u3", "c", "view", "2024-01-02 12:00"),
            ("u3", "c", "view", "2024-01-02 12:30")]), None, [])
    for workspace in (demo_workspace, short):
        events = workspace.events()
        reference = build_decisions(events, workspace.items(), choose_windows(events))
        table = decision_table(workspace)
        assert table.windows == reference.windows
        assert table.frame.equals(reference.frame) and len(table.frame) > 0
        assert table.units.frame.equals(reference.units.frame)
        assert table.event_counts == reference.event_counts
        for behaviour in ("view", "favourite", "cart"):
            assert table.rows(behaviour).equals(reference.rows(behaviour))
    assert table.windows.adapted  # the short log's horizon was fitted to its purchases


def test_decision_table_does_not_read_the_string_frame(demo_workspace, monkeypatch):
    from whyrec.tools.causal.report import decision_table
    from whyrec.tools.workspace import Workspace

    def refuse(self):
        raise AssertionError("decision_table read Workspace.events()")

    monkeypatch.setattr(Workspace, "events", refuse)
    assert len(decision_table(demo_workspace).frame) > 0


def test_tables_of_groups_of_whole_users_put_together_are_the_whole_logs_table(small_shop):
    """Issue 18: the table built user partition by user partition (each with the whole log's item
    history) and put together is the whole log's table, bit for bit — exposures in the same order,
    decision points in the same order, the same first-look price level (an exact mean: summed in
    another order, it differed in the last bit)."""
    import numpy as np

    from whyrec.tools.causal.decisions import concat_decisions
    from whyrec.tools.causal.units import build_units, item_history

    events, items = small_shop.events, small_shop.items
    windows = choose_windows(events)
    whole = build_decisions(events, items, windows)
    history = item_history(events, items)
    users = np.sort(events["user_id"].astype(str).unique())
    parts = []
    for group in (users[0::3], users[1::3], users[2::3]):  # interleaved: their first looks mix in time
        mine = events[events["user_id"].astype(str).isin(group)]
        parts.append(build_decisions(mine, items, windows, build_units(mine, items, history)))
    parts.insert(1, build_decisions(events.iloc[:0], items, windows))  # a partition with no events
    table = concat_decisions(parts, windows)
    assert len(table.frame) > 1_000 and table.units.frame["user_prior_items"].eq(0).sum() > 100
    assert table.units.frame.equals(whole.units.frame)
    assert table.frame.equals(whole.frame)
    assert (table.units.pairs_seen, table.units.pairs_left_censored) == (whole.units.pairs_seen,
                                                                         whole.units.pairs_left_censored)
    assert table.event_counts == whole.event_counts
    for behaviour in ("view", "favourite", "cart"):
        assert table.rows(behaviour).equals(whole.rows(behaviour))
    empty = concat_decisions([parts[1]], windows)
    assert empty.frame.empty and empty.units.frame.empty


def test_a_trial_sampled_before_its_rows_are_built_has_the_rows_sampled_after(small_table):
    """make_trial draws its shoppers from integer codes, then builds only their rows (a 10M-event
    table's trials built every eligible row first: 12 CPU s each, now under 2): the same shoppers
    and rows as drawing from the built rows' user ids."""
    from dataclasses import replace

    import numpy as np

    from whyrec.tools.causal import EffectSettings
    from whyrec.tools.causal.effect import make_trial
    from whyrec.tools.causal.estimate import sample_users

    settings = replace(EffectSettings(), max_rows=1_000)
    for behaviour in ("view", "favourite", "cart"):
        rows = small_table.rows(behaviour)
        groups = pd.factorize(rows["user_id"].astype(str))[0].astype(np.int64)
        assert small_table.user_groups(small_table.eligible(behaviour)).tolist() == groups.tolist()
        chosen = sample_users(groups, settings.max_rows, settings.seed)
        assert 0 < len(chosen) < len(rows)
        trial = make_trial(small_table, behaviour, settings)
        assert trial.rows.equals(rows.iloc[chosen].reset_index(drop=True))
        assert f"{len(chosen):,} of {len(rows):,}" in trial.notes[-1]
