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
