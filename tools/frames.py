"""Id and behaviour columns read the same way whether they hold strings or categoricals.

The offline jobs read a large log with its ids as pandas categoricals
(:meth:`whyrec.tools.workspace.Workspace.lean_events`): 100M string ids take about 6 GB as
Python strings, as categorical codes 0.4 GB. These helpers give what the string code paths
computed (``column.astype(str)`` and friends) without turning every row into a string, so a job
gets the same answer from either frame.

>>> ids = pd.Series(["b", "a", "b"], dtype="category")
>>> distinct_strings(ids).tolist(), positions_in(pd.Index(["a", "b"]), ids).tolist()
(['b', 'a'], [1, 0, 1])
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def is_categorical(values: pd.Series) -> bool:
    """True when ``values`` is a pandas categorical column."""
    return isinstance(values.dtype, pd.CategoricalDtype)


def distinct_strings(values: pd.Series) -> np.ndarray:
    """``values.astype(str).unique()`` as an object array of ``str``, in first-seen order; a
    categorical column is not converted row by row (its observed categories, in the order
    they first occur)."""
    if is_categorical(values):
        return np.asarray([str(v) for v in values.unique()], dtype=object)
    return np.asarray(values.astype(str).unique(), dtype=object)


def _arrow_strings(values: pd.Series) -> bool:
    """True for a string column stored by Arrow with no missing value."""
    return (isinstance(values.dtype, pd.StringDtype) and values.dtype.storage == "pyarrow"
            and not values.hasnans)


def _arrow(values: pd.Series) -> pa.Array:
    """An Arrow-stored string column as one Arrow array of large strings."""
    array = pa.array(values.array)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array.cast(pa.large_string())


def positions_in(index: pd.Index, values: pd.Series) -> np.ndarray:
    """``index.get_indexer(values.astype(str))`` (int64, -1 where absent); for a categorical
    column, each category is looked up once and the codes pick their positions."""
    if is_categorical(values):
        found = index.get_indexer(pd.Index([str(c) for c in values.cat.categories], dtype=object))
        codes = values.cat.codes.to_numpy()
        return np.where(codes >= 0, np.append(found, -1)[codes], -1).astype(np.int64)
    if _arrow_strings(values) and index.inferred_type in ("string", "empty"):
        # Arrow's hash lookup: a sixth of the time of building and hashing Python strings.
        wanted = pa.array(np.asarray(index, dtype=object), pa.large_string())
        found = pc.index_in(_arrow(values), value_set=wanted)
        return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    return index.get_indexer(values.astype(str)).astype(np.int64)


def sorted_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """``(codes, uniques)``: the distinct values as strings in sorted order (``uniques``, only
    those that occur) and each row's position in them — what ``np.unique`` of the string column
    gives, without building the strings of every row when the column is categorical."""
    if _arrow_strings(values):   # Arrow's dictionary, sorted by its bytes: code point order, as ``sorted``
        encoded = _arrow(values).dictionary_encode()
        order = pc.sort_indices(encoded.dictionary).to_numpy()
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        return (rank[encoded.indices.to_numpy(zero_copy_only=False)],
                pd.Index(np.asarray(encoded.dictionary.take(order).to_pylist(), dtype=object), dtype=object))
    if not is_categorical(values):
        codes, uniques = pd.factorize(values.astype(str).to_numpy(dtype=object), sort=True)
        return codes.astype(np.int64), pd.Index(np.asarray(uniques, dtype=object), dtype=object)
    names = np.asarray([str(c) for c in values.cat.categories], dtype=object)
    raw = values.cat.codes.to_numpy().astype(np.int64)
    if (raw < 0).any():
        raise ValueError("a categorical id column holds missing values")
    present = np.bincount(raw, minlength=len(names)) > 0
    order = np.argsort(names, kind="stable")
    order = order[present[order]]                       # sorted, occurring categories only
    rank = np.full(len(names), -1, dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[raw], pd.Index(names[order], dtype=object)


def utc_times(ns: np.ndarray) -> pd.DatetimeIndex:
    """UTC timestamps from nanoseconds since the epoch (int64), without parsing each value:
    ``pd.to_datetime(ns, utc=True)`` in a hundredth of its time."""
    return pd.to_datetime(np.asarray(ns, dtype=np.int64).view("datetime64[ns]"), utc=True)


def sample_users(events: pd.DataFrame, max_events: int, seed: int = 0,
                 max_users: int | None = None) -> tuple[pd.DataFrame, dict[str, int]]:
    """Every event of a seeded random sample of users, as many users as fit in ``max_events``
    events and, if given, ``max_users`` users (at least one user); the whole log when it holds
    no more than that.

    Returns the events (in the log's order) and what was sampled (empty when nothing was):
    ``{"users", "of_users", "events", "seed", "max_events"}`` (and ``"max_users"`` when given).
    Users are drawn from the sorted user ids with ``seed``, so the same log always gives the
    same sample.
    """
    if max_users is not None and max_users < 1:
        raise ValueError(f"max_users must be at least 1, got {max_users}")
    if len(events) <= max_events and (max_users is None or not _more_users_than(events["user_id"], max_users)):
        return events, {}
    codes, users = sorted_codes(events["user_id"])
    sizes = np.bincount(codes, minlength=len(users))
    order = np.random.default_rng(seed).permutation(len(users))
    taken = max(int(np.searchsorted(np.cumsum(sizes[order]), max_events, side="right")), 1)
    if max_users is not None:
        taken = min(taken, max_users)
    chosen = np.zeros(len(users), dtype=bool)
    chosen[order[:taken]] = True
    sample = events[chosen[codes]].reset_index(drop=True)
    drawn = {"users": taken, "of_users": len(users), "events": len(sample), "seed": seed,
             "max_events": int(max_events)}
    return sample, drawn if max_users is None else {**drawn, "max_users": int(max_users)}


def _more_users_than(values: pd.Series, limit: int) -> bool:
    if is_categorical(values):
        return int((np.bincount(values.cat.codes.to_numpy().astype(np.int64) + 1)[1:] > 0).sum()) > limit
    return int(values.nunique()) > limit


__all__ = ["distinct_strings", "is_categorical", "positions_in", "sample_users", "sorted_codes", "utc_times"]
