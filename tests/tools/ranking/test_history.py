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
