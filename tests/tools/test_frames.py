"""Id columns read alike as strings or categoricals (the lean frame of a large log)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from whyrec.tools.frames import distinct_strings, positions_in, sorted_codes

VALUES = ["u10", "u2", "u10", "用户", "u1", "u2"]


@pytest.mark.parametrize("categories", [None, ["用户", "u2", "u1", "u10", "unused"]])
def test_the_helpers_give_what_the_string_column_gives(categories: list[str] | None) -> None:
    strings = pd.Series(VALUES, dtype="string")
    column = strings if categories is None else pd.Series(pd.Categorical(VALUES, categories=categories))
    assert distinct_strings(column).tolist() == list(strings.astype(str).unique())
    index = pd.Index(["u2", "u1", "x"], dtype=object)
    assert positions_in(index, column).tolist() == index.get_indexer(strings.astype(str)).tolist()
    codes, uniques = sorted_codes(column)
    expected, inverse = np.unique(strings.to_numpy(dtype=object), return_inverse=True)
    assert list(uniques) == list(expected)  # only the values that occur, in sorted order
    assert codes.tolist() == inverse.tolist()


@pytest.mark.parametrize("categorical", [False, True])
def test_sample_users_caps_users_as_well_as_events(categorical) -> None:
    from whyrec.tools.frames import sample_users

    events = pd.DataFrame({"user_id": [f"u{i % 7}" for i in range(70)], "item_id": ["i"] * 70})
    if categorical:
        events["user_id"] = events["user_id"].astype("category")
    sample, drawn = sample_users(events, 1_000, seed=2, max_users=3)
    assert drawn["users"] == 3 == sample["user_id"].nunique() and len(sample) == 30 and drawn["max_users"] == 3
    whole, nothing = sample_users(events, 1_000, max_users=7)
    assert whole is events and nothing == {}
    with pytest.raises(ValueError, match="max_users"):
        sample_users(events, 10, max_users=0)
