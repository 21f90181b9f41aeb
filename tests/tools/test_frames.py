"""Id columns read alike as strings or categoricals (the lean frame of a large log)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from whyrec.tools.frames import distinct_strings, positions_in, sorted_codes, utc_times

VALUES = ["u10", "u2", "u10", "用户", "u1", "u2"]
ODD = ["b", "", "Z", "é", "😀", "a", "ab", "a\u202eb", "😀", "é"]  # code point order: what sorted() gives


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


@pytest.mark.parametrize("storage", ["arrow", "arrow in chunks", "object"])
def test_arrow_string_columns_sort_and_look_up_as_python_strings(storage: str) -> None:
    """sorted_codes and positions_in take Arrow's dictionary and hash lookup for an Arrow-stored
    string column: the same codes, order and positions as Python strings (code point order)."""
    if storage == "object":
        column = pd.Series(ODD, dtype=object)
    else:
        halves = [pd.Series(ODD[:4], dtype="string"), pd.Series(ODD[4:], dtype="string")]
        chunked = storage == "arrow in chunks"
        column = pd.concat(halves, ignore_index=True) if chunked else pd.Series(ODD, dtype="string")
    codes, uniques = sorted_codes(column)
    assert list(uniques) == sorted(set(ODD))
    assert [uniques[c] for c in codes] == ODD
    index = pd.Index(["é", "😀", "nope", ""], dtype=object)
    assert positions_in(index, column).tolist() == [index.get_loc(v) if v in index else -1 for v in ODD]


def test_a_string_column_with_missing_values_keeps_the_python_path() -> None:
    column = pd.Series(["a", None, "b"], dtype="string")
    assert positions_in(pd.Index(["b", "a"]), column).tolist() == [1, -1, 0]


def test_utc_times_are_what_to_datetime_gives() -> None:
    ns = np.array([0, 1_700_000_000_123_456_789, -5], dtype=np.int64)
    assert utc_times(ns).equals(pd.DatetimeIndex(pd.to_datetime(ns, utc=True)))


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
