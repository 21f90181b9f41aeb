"""Splits: rolling validation windows — each further back, each trained only on its past."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from whyrec.tools.ranking.split import FractionCut, LastPositive, RandomLeaveOneOut, TimeCut

START = pd.Timestamp("2024-01-01", tz="UTC")


def weekly_log(weeks: int = 8, users: int = 40, seed: int = 0) -> pd.DataFrame:
    """Every user views and buys something every week."""
    rng = np.random.default_rng(seed)
    rows = []
    for week in range(weeks):
        for u in range(users):
            day = START + pd.Timedelta(days=7 * week + float(rng.uniform(0, 6)))
            rows.append((f"u{u}", f"i{rng.integers(50)}", "view", day))
            rows.append((f"u{u}", f"i{rng.integers(50)}", "purchase", day + pd.Timedelta(hours=1)))
    events = pd.DataFrame(rows, columns=["user_id", "item_id", "behaviour", "timestamp"])
    events["event_key"] = np.arange(len(events), dtype=np.uint64)
    return events


def _held_out_times(events: pd.DataFrame, split) -> pd.Series:  # type: ignore[no-untyped-def]
    """When the held-out purchases happened: each held-out pair's purchases after the training part."""
    keys = {(u, i) for u, items in split.test.items() for i in items}
    bought = events[(events["behaviour"] == "purchase") & (events["timestamp"] > split.train["timestamp"].max())]
    mask = [(u, i) in keys for u, i in zip(bought["user_id"], bought["item_id"], strict=True)]
    held = bought.loc[mask]
    assert {(u, i) for u, i in zip(held["user_id"], held["item_id"], strict=True)} == keys   # none from the past
    return held["timestamp"]


def test_one_window_is_the_validation_split() -> None:
    events = weekly_log()
    for protocol in (FractionCut(0.8), TimeCut(START + pd.Timedelta(days=42), START + pd.Timedelta(days=56)),
                     LastPositive("purchase"), RandomLeaveOneOut("purchase", seed=3)):
        (only,) = protocol.validation_windows(events, 1)
        expected = protocol.validation(events)
        assert only.description == expected.description
        assert only.train.equals(expected.train)
        assert {u: list(v) for u, v in only.test.items()} == {u: list(v) for u, v in expected.test.items()}


def test_rolling_time_windows_step_back_and_never_train_on_their_future() -> None:
    events = weekly_log(weeks=10)
    windows = TimeCut(START + pd.Timedelta(days=56), START + pd.Timedelta(days=70)).validation_windows(events, 3)
    assert len(windows) == 3
    ends = []
    for window in windows:
        held = _held_out_times(events, window)
        assert window.n_test_users > 0 and len(held)
        assert window.train["timestamp"].max() < held.min()     # trained only on the past
        ends.append(held.max())
    assert ends[0] > ends[1] > ends[2]                           # each further back in time
    assert windows[0].train["timestamp"].max() < START + pd.Timedelta(days=42)   # validation: before the test window
    for later, earlier in zip(windows, windows[1:], strict=False):
        assert len(earlier.train) < len(later.train)


def test_rolling_fraction_windows_cut_again_on_each_training_part() -> None:
    events = weekly_log()
    windows = FractionCut(0.8).windows(events, 3)
    assert len(windows) == 3
    for later, earlier in zip(windows, windows[1:], strict=False):
        held = _held_out_times(later.train, earlier)       # carved from the later window's training part
        assert held.max() <= later.train["timestamp"].max()
        assert earlier.train["timestamp"].max() < later.train["timestamp"].max()


def test_windows_stop_when_the_past_runs_out() -> None:
    events = weekly_log(weeks=2)
    assert 1 <= len(FractionCut(0.8).windows(events, 10)) < 10


def test_random_leave_one_out_windows_are_independent_draws() -> None:
    events = weekly_log()
    one, two = RandomLeaveOneOut("purchase", seed=0).windows(events, 2)
    assert one.n_test_users == two.n_test_users
    assert any(list(one.test[u]) != list(two.test[u]) for u in one.test)


def test_zero_windows_is_refused_not_an_empty_tuning() -> None:
    """A time-cut protocol asked for 0 windows gave no split at all, and the tuner failed deep
    inside; evaluate, auto_tune and the CLI refuse it up front."""
    from whyrec.tools.ranking.autotune import auto_tune
    from whyrec.tools.ranking.evaluate import evaluate, evaluate_cli

    events = weekly_log(weeks=10)
    protocol = TimeCut(START + pd.Timedelta(days=56), START + pd.Timedelta(days=70))
    assert protocol.validation_windows(events, 0) == ()
    with pytest.raises(ValueError, match="windows must be at least 1"):
        evaluate("given", ["repeat"], events=events, items=None, protocol=protocol, windows=0)
    with pytest.raises(ValueError, match="windows must be at least 1"):
        auto_tune(events, windows=0)
    assert evaluate_cli(["--dataset", "demo", "--windows", "-1"]) == 2
