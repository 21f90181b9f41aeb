"""Event times as days: the same day whatever unit pandas stores the timestamps in."""

from __future__ import annotations

import pandas as pd
import pytest

from whyrec.tools.ranking.history import to_days


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_to_days_does_not_depend_on_the_timestamp_unit(unit: str) -> None:
    stamps = pd.Series(pd.to_datetime(["2024-01-01", "2024-01-08"], utc=True)).dt.as_unit(unit)
    days = to_days(stamps)
    assert days[0] == pytest.approx(19723.0)          # 2024-01-01 is day 19,723 of the epoch
    assert days[1] - days[0] == pytest.approx(7.0)
    assert to_days(pd.DatetimeIndex(stamps))[0] == pytest.approx(19723.0)


def test_the_event_log_of_categorical_ids_is_the_one_of_string_ids() -> None:
    import numpy as np

    from whyrec.tools.ranking.history import EventLog

    from .tiny import tiny_events

    events = tiny_events()
    lean = events.assign(**{c: pd.Categorical(events[c].astype(str), categories=sorted(
        set(events[c].astype(str)) | {"unused"}, reverse=True)) for c in ("user_id", "item_id", "behaviour")})
    index = pd.Index(["b2", "a2", "a1", "zz"], dtype=object)  # b1, c1, c2 are unknown items (-1)
    strings, categories = EventLog.from_events(events, index), EventLog.from_events(lean, index)
    assert list(strings.users) == list(categories.users) == sorted(set(events["user_id"]))
    assert np.array_equal(strings.indptr, categories.indptr)
    for field in ("items", "behaviours", "days", "keys", "values"):
        assert np.array_equal(getattr(strings.events, field), getattr(categories.events, field), equal_nan=True)
    assert (strings.events.items == -1).sum() == 12
