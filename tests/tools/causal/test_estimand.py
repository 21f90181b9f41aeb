"""The windows D and H: 7 days on long logs, cut to fit short ones; durations in words."""

from __future__ import annotations

import pandas as pd

from whyrec.tools.causal.estimand import choose_windows, duration_parts, human_duration
from whyrec.tools.schema import compute_event_keys, conform_events, empty_events


def _log(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "behaviour", "timestamp"])
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    frame = conform_events(frame)
    frame["event_key"] = compute_event_keys(frame)
    return frame


def test_long_logs_keep_seven_days():
    events = _log([("u1", "a", "view", "2019-10-01"), ("u1", "a", "view", "2019-12-01")])
    windows = choose_windows(events)
    assert windows.horizon == windows.window == pd.Timedelta(days=7)
    assert not windows.adapted and windows.span == pd.Timedelta(days=61)


def test_short_logs_get_a_horizon_that_fits():
    events = _log([("u1", "a", "view", "2019-10-01 00:00"), ("u1", "a", "view", "2019-10-01 04:00")])
    assert choose_windows(events).horizon == pd.Timedelta(hours=1)          # a quarter of the span
    events = _log([("u1", "a", "view", "2019-10-01 00:00"), ("u1", "a", "purchase", "2019-10-01 00:10"),
                   ("u2", "b", "view", "2019-10-01 04:00")])
    windows = choose_windows(events)
    assert windows.horizon == pd.Timedelta(minutes=15) and windows.adapted  # 1.5 x the purchase delay
    assert windows.window == windows.horizon


def test_explicit_days_win_and_the_window_can_differ():
    events = _log([("u1", "a", "view", "2019-10-01"), ("u1", "a", "view", "2019-10-09")])
    windows = choose_windows(events, window_days=2, horizon_days=1)
    assert windows.window == pd.Timedelta(days=2) and windows.horizon == pd.Timedelta(days=1)


def test_empty_log_and_words():
    assert choose_windows(empty_events()).horizon == pd.Timedelta(days=7)
    assert human_duration(pd.Timedelta(days=7)) == "7 days"
    assert human_duration(pd.Timedelta(minutes=40)) == "40 minutes"
    assert human_duration(pd.Timedelta(hours=36)) == "36 hours"
    assert duration_parts(pd.Timedelta(seconds=1285)) == (21.4, "minutes")


def test_the_window_is_counted_back_from_the_decision_point_in_both_languages():
    """Before: the Chinese sentence said the first view was at most 7 days before *today*
    ("首次浏览距今不超过7 天"); the window is counted back from the decision point."""
    from whyrec.tools.causal.words import estimand_sentence

    week = float(pd.Timedelta(days=7).total_seconds())
    english = estimand_sentence("cart", week, week, "en")
    chinese = estimand_sentence("cart", week, week, "zh")
    assert "first viewed at most 7 days earlier" in english and "At each decision point" in english
    assert "距今" not in chinese and "此时距首次浏览不超过7 天" in chinese
