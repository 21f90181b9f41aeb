"""Exposures: one row per (user, item) from the user's first look at it, with what was known then.

An exposure starts at the user's first look (view or click) at an item, time ``t0``. Pairs
whose history starts with anything else (a cart or purchase with no look before it) are left
out: their exposure began before the log did. The columns below are measured strictly before
``t0`` from the log itself; they are the baseline confounders of every decision point of the
exposure (:mod:`.decisions` adds what happened on the item since ``t0``).

==================  =====================================================================
user_activity       log(1 + items the user had looked at before)
user_purchase_rate  the user's earlier purchases / (1 + items looked at before)
user_price_level    mean log price of the items the user had looked at before (the
                    overall mean for a user's first look)
item_popularity     log(1 + users who had looked at the item before)
item_conversion     the item's earlier purchases / (1 + users who looked at it before)
taste_share         share of the user's earlier looks in the item's top category
log_price           log of the catalog price (median where unknown)
category            the item's top-level category (``unknown`` where missing)
day                 days since the log began (trends, promotions)
==================  =====================================================================

The item columns (popularity, conversion) and ``day`` need the whole log, the user columns only
the user's own events: :class:`ItemHistory` holds what the whole log says about each item (every
(user, item) pair's first look and every purchase, with times), so the table of a sample of whole
users (:func:`build_units` with ``history=``) has exactly the rows the whole log's table has for
those users. A large log builds its history user partition by user partition.

Everything is vectorised pandas/numpy: a million events take a few seconds.
"""

from __future__ import annotations

import functools
import itertools
import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..frames import is_categorical, sorted_codes, utc_times
from .estimand import LOOKS, OUTCOME

log = logging.getLogger(__name__)

NUMERIC_CONFOUNDERS: tuple[str, ...] = (
    "user_activity", "user_purchase_rate", "user_price_level", "item_popularity", "item_conversion",
    "taste_share", "log_price", "day",
)
CATEGORICAL_CONFOUNDERS: tuple[str, ...] = ("category",)
CONFOUNDERS: tuple[str, ...] = NUMERIC_CONFOUNDERS + CATEGORICAL_CONFOUNDERS
_NS_PER_DAY = 86_400 * 10**9


@dataclass(frozen=True)
class UnitTable:
    """The exposures, and how many (user, item) pairs were seen and left out."""

    frame: pd.DataFrame
    pairs_seen: int
    pairs_left_censored: int

    @property
    def description(self) -> str:
        return "(user, item) exposures from a user's first view/click of an item"


@dataclass(frozen=True)
class ItemHistory:
    """What a log says about each item before any moment: the first look of every (user, item)
    pair and every purchase (item codes into ``item_ids``, times in ns), when the log began, and
    the mean log price over all pairs with a look (a user's first look takes it as price level)."""

    item_ids: pd.Index
    look_item: np.ndarray
    look_time: np.ndarray
    buy_item: np.ndarray
    buy_time: np.ndarray
    log_start: int
    mean_log_price: float

    @functools.cached_property
    def looks(self) -> EarlierCounts:
        """Users whose first look at an item came before a moment."""
        return EarlierCounts.of(self.look_item, self.look_time)

    @functools.cached_property
    def buys(self) -> EarlierCounts:
        """Purchases of an item before a moment."""
        return EarlierCounts.of(self.buy_item, self.buy_time)


def item_history(events: pd.DataFrame, items: pd.DataFrame | None = None,
                 part_events: int = 20_000_000) -> ItemHistory:
    """The :class:`ItemHistory` of a log (canonical events, ids as strings or categoricals).

    Pairs never cross users, so first looks are found for users in code ranges of at most about
    ``part_events`` looks at a time: the memory of that step is bounded by the partition, not
    the log."""
    behaviour = events["behaviour"]
    is_look = behaviour.isin(LOOKS).to_numpy(dtype=bool)
    is_buy = (behaviour == OUTCOME).to_numpy(dtype=bool)
    item_code, item_ids = sorted_codes(events["item_id"])
    user_code = _any_codes(events["user_id"])
    t = events["timestamp"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    n_items = np.int64(max(len(item_ids), 1))
    n_users = int(user_code.max()) + 1 if len(user_code) else 0
    looks_per_user = np.bincount(user_code[is_look], minlength=n_users)
    bounds = np.searchsorted(np.cumsum(looks_per_user), np.arange(part_events, int(looks_per_user.sum()), part_events))
    edges = np.unique(np.r_[0, bounds + 1, n_users])
    look_item, look_time = [], []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        chosen = is_look & (user_code >= lo) & (user_code < hi)
        keys, pairs = pd.factorize(user_code[chosen].astype(np.int64) * n_items + item_code[chosen])
        first = np.full(len(pairs), np.iinfo(np.int64).max)
        np.minimum.at(first, keys, t[chosen])
        look_item.append((np.asarray(pairs) % n_items).astype(np.int64))
        look_time.append(first)
    pair_item = np.concatenate(look_item) if look_item else np.zeros(0, dtype=np.int64)
    log_price = np.log(_catalog_columns(items, item_ids)["price_filled"].to_numpy(dtype=float))
    return ItemHistory(item_ids, pair_item,
                       np.concatenate(look_time) if look_time else np.zeros(0, dtype=np.int64),
                       item_code[is_buy], t[is_buy], _first_time(t), exact_mean(log_price[pair_item]))


def exact_mean(values: np.ndarray, chunk: int = 1 << 20) -> float:
    """The mean, correctly rounded whatever the values' order (one ``math.fsum`` over them all,
    fed a chunk at a time: no list of every value): a table built user partition by user
    partition gets the same bits as one built from the whole log."""
    if not len(values):
        return 0.0
    chunks = (values[start:start + chunk].tolist() for start in range(0, len(values), chunk))
    return math.fsum(itertools.chain.from_iterable(chunks)) / len(values)


def _first_time(times: np.ndarray) -> int:
    """When the log began (ns): the earliest of its events' times (every behaviour's)."""
    return int(times.min()) if len(times) else 0


def _any_codes(values: pd.Series) -> np.ndarray:
    """An integer code per row, equal for equal values (a categorical's own codes: no sort)."""
    if is_categorical(values):
        return values.cat.codes.to_numpy().astype(np.int64)
    return pd.factorize(values.astype(str).to_numpy(dtype=object))[0].astype(np.int64)


def build_units(events: pd.DataFrame, items: pd.DataFrame | None = None,
                history: ItemHistory | None = None) -> UnitTable:
    """The exposure table of canonical events (and the catalog for price, category, brand).

    ``history``: the whole log's :func:`item_history` when ``events`` are every event of a
    sample of users (the item columns and ``day`` then come from the whole log); by default the
    history of ``events`` themselves.

    >>> table = build_units(workspace.events(), workspace.items())   # doctest: +SKIP
    >>> table.frame[["user_id", "item_id", "t0", "user_activity", "taste_share"]].head()  # doctest: +SKIP
    """
    ev = events.loc[events["behaviour"].isin(LOOKS + ("favourite", "cart", OUTCOME)),
                    ["user_id", "item_id", "behaviour", "timestamp"]]
    if ev.empty:
        return UnitTable(empty_units(), 0, 0)
    user_code, users = sorted_codes(ev["user_id"])  # ids as strings or categoricals (the lean frame)
    item_code, item_ids = sorted_codes(ev["item_id"])
    t = ev["timestamp"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    is_look = ev["behaviour"].isin(LOOKS).to_numpy(dtype=bool)
    is_buy = (ev["behaviour"] == OUTCOME).to_numpy(dtype=bool)
    pair_code, pair_index = pd.factorize(user_code.astype(np.int64) * len(item_ids) + item_code)
    n_pairs = len(pair_index)
    big = np.iinfo(np.int64).max

    t0 = np.full(n_pairs, big)
    np.minimum.at(t0, pair_code[is_look], t[is_look])
    first_other = np.full(n_pairs, big)
    np.minimum.at(first_other, pair_code[~is_look], t[~is_look])
    exposed = t0 < big
    # Ties count the look first (day-level logs put a click and a cart on the same date).
    left_censored = exposed & (first_other < t0)
    keep = exposed & ~left_censored

    pair_user = (pair_index // len(item_ids)).astype(np.int64)
    pair_item = (pair_index % len(item_ids)).astype(np.int64)
    exposures = pd.DataFrame({"user": pair_user[exposed], "item": pair_item[exposed], "t0": t0[exposed],
                              "keep": keep[exposed]})
    catalog = _catalog_columns(items, item_ids)
    items_of = exposures["item"].to_numpy()
    exposures["top"] = catalog["category"].to_numpy()[items_of]
    exposures["lp"] = np.log(catalog["price_filled"].to_numpy()[items_of])
    if history is None:  # the events' own history, from what is already computed above
        every = events["timestamp"].to_numpy(dtype="datetime64[ns]").astype(np.int64)  # all behaviours
        history = ItemHistory(pd.Index(item_ids), items_of, exposures["t0"].to_numpy(), item_code[is_buy],
                              t[is_buy], _first_time(every), exact_mean(exposures["lp"].to_numpy()))
    known_item = history.item_ids.get_indexer(item_ids).astype(np.int64)[items_of]
    if (known_item < 0).any():
        raise ValueError("the item history does not hold every item of the events (build it from the whole log)")
    t0_of = exposures["t0"].to_numpy()
    user_prior = exposures.groupby("user")["t0"].rank(method="min").to_numpy() - 1
    # Users whose first look at the item came strictly earlier (left-censored pairs included).
    item_prior = history.looks.count(known_item, t0_of)
    cat_prior = exposures.groupby(["user", "top"])["t0"].rank(method="min").to_numpy() - 1
    price_level = _prior_mean(exposures, "lp")
    price_level = np.where(user_prior > 0, price_level, history.mean_log_price)
    buy_user = EarlierCounts.of(user_code[is_buy], t[is_buy]).count(exposures["user"].to_numpy(), t0_of)
    buy_item = history.buys.count(known_item, t0_of)
    log_start = history.log_start
    # The kept exposures ordered by (t0, user id, item id): codes sort as their ids do
    # (sorted_codes), so the strings are built once, for the kept rows, already in order.
    kept = np.flatnonzero(exposures["keep"].to_numpy())
    user_of = exposures["user"].to_numpy()
    rows = kept[np.lexsort((items_of[kept], user_of[kept], t0_of[kept]))]
    item_rows = items_of[rows]
    frame = pd.DataFrame({
        "user_id": pd.Series(np.asarray(users)[user_of[rows]], dtype="string"),
        "item_id": pd.Series(np.asarray(item_ids)[item_rows], dtype="string"),
        "t0": utc_times(t0_of[rows]),
        "user_prior_items": user_prior[rows].astype(np.int64),
        "item_prior_users": item_prior[rows],
        "user_prior_purchases": buy_user[rows],
        "item_prior_purchases": buy_item[rows],
        "user_activity": np.log1p(user_prior[rows]),
        "user_purchase_rate": buy_user[rows] / (1.0 + user_prior[rows]),
        "user_price_level": price_level[rows],
        "item_popularity": np.log1p(item_prior[rows]),
        "item_conversion": buy_item[rows] / (1.0 + item_prior[rows]),
        "taste_share": cat_prior[rows] / np.maximum(user_prior[rows], 1),
        "price": catalog["price"].to_numpy()[item_rows],
        "log_price": exposures["lp"].to_numpy()[rows],
        "category": pd.Series(exposures["top"].to_numpy()[rows], dtype="string"),
        "brand": pd.Series(catalog["brand"].to_numpy()[item_rows], dtype="string"),
        "day": (t0_of[rows] - log_start) / _NS_PER_DAY,
    })
    log.info("exposures: %d of %d (user, item) pairs (%d left-censored)", len(frame), n_pairs,
             int(left_censored.sum()))
    return UnitTable(frame, n_pairs, int(left_censored.sum()))


def _prior_mean(exposures: pd.DataFrame, column: str) -> np.ndarray:
    """Per exposure, the mean of ``column`` over the same user's exposures strictly before it."""
    order = np.lexsort((exposures["t0"].to_numpy(), exposures["user"].to_numpy()))
    user = exposures["user"].to_numpy()[order]
    t0 = exposures["t0"].to_numpy()[order]
    values = exposures[column].to_numpy(dtype=float)[order]
    n = len(values)
    new_user = np.r_[True, user[1:] != user[:-1]]
    user_start = np.maximum.accumulate(np.where(new_user, np.arange(n), 0))
    # Each user's running sum starts at 0 (one running sum over the whole log, differenced,
    # lost the last bits to cancellation and depended on the users sorted before).
    running = pd.Series(values).groupby(user_start, sort=False).cumsum().to_numpy()
    before = np.r_[0.0, running[:-1]]
    before[new_user] = 0.0                  # the sum of the user's values before each position
    # Exposures at the same time see only what came strictly before that time.
    first_of_time = np.r_[True, (user[1:] != user[:-1]) | (t0[1:] != t0[:-1])]
    idx = np.maximum.accumulate(np.where(first_of_time, np.arange(n), 0))
    before_sum = before[idx]
    before_n = idx - user_start
    out = np.zeros(len(values))
    has = before_n > 0
    out[has] = before_sum[has] / before_n[has]
    result = np.empty_like(out)
    result[order] = out
    return result


@dataclass(frozen=True)
class EarlierCounts:
    """(group, time) events sorted once: for any (group, time), how many events of that group
    came strictly earlier (:meth:`count`). Built once per item history, so a table built user
    partition by user partition does not sort the whole log's history for every partition."""

    keys: np.ndarray   # sorted: group * shift + the rank of the event's time among ``times``
    times: np.ndarray  # the distinct event times, sorted
    shift: int         # one more than the largest rank a query can have

    @classmethod
    def of(cls, group: np.ndarray, times: np.ndarray) -> EarlierCounts:
        grid, rank = np.unique(times, return_inverse=True)
        shift = len(grid) + 1
        groups = int(group.max()) + 1 if len(group) else 0
        if groups * shift >= np.iinfo(np.int64).max // 2:
            raise ValueError(f"{groups:,} groups x {shift:,} distinct times do not fit in one int64 key")
        keys = group.astype(np.int64) * shift + rank.astype(np.int64)
        keys.sort()
        return cls(keys, grid, shift)

    def count(self, query_group: np.ndarray, query_times: np.ndarray) -> np.ndarray:
        if len(self.keys) == 0:
            return np.zeros(len(query_group), dtype=np.int64)
        # Times before a query's are exactly those whose rank is below the number of event
        # times earlier than it; sorted queries make each search start where the last ended.
        by_time = np.argsort(query_times, kind="stable")
        rank = np.empty(len(query_times), dtype=np.int64)
        rank[by_time] = np.searchsorted(self.times, query_times[by_time], side="left")
        # A query group beyond the events' (no event of it) gets 0: its key is past every event's.
        q_key = np.minimum(query_group.astype(np.int64), int(self.keys[-1] // self.shift) + 1) * self.shift + rank
        order = np.argsort(q_key, kind="stable")
        q_sorted = q_key[order]
        counts = np.empty(len(q_key), dtype=np.int64)
        counts[order] = (np.searchsorted(self.keys, q_sorted, side="left")
                         - np.searchsorted(self.keys, q_sorted - q_sorted % self.shift, side="left"))
        return counts


def _catalog_columns(items: pd.DataFrame | None, item_ids: pd.Index | np.ndarray) -> pd.DataFrame:
    """Top category, brand and price per item code (aligned with ``item_ids``)."""
    ids = pd.Index(np.asarray(item_ids).astype(str))
    if items is None or items.empty:
        catalog = pd.DataFrame(index=ids, columns=["category", "brand", "price"])
    else:
        unique = items.drop_duplicates("item_id")
        catalog = (unique.set_axis(pd.Index(unique["item_id"].astype(str)), axis=0)
                   [["category", "brand", "price"]].reindex(ids))
    top = catalog["category"].astype("string").str.split(".").str[0].str.strip()
    top = top.where(top.notna() & (top != ""), "unknown").fillna("unknown")
    price = pd.to_numeric(catalog["price"], errors="coerce").astype(float)
    price = price.where(price > 0)
    # The fill is the whole catalog's median, so any subset of the log fills alike.
    everything = pd.Series(dtype=float) if items is None else pd.to_numeric(items["price"], errors="coerce")
    everything = everything[everything > 0]
    fill = float(everything.median()) if len(everything) else 1.0
    return pd.DataFrame({"category": top.astype(str).to_numpy(),
                         "brand": catalog["brand"].astype("string").fillna("unknown").to_numpy(),
                         "price": price.to_numpy(),
                         "price_filled": price.fillna(fill).to_numpy()}, index=ids)


def empty_units() -> pd.DataFrame:
    columns = {"user_id": "string", "item_id": "string", "t0": "datetime64[ns, UTC]",
               "user_prior_items": "int64", "item_prior_users": "int64",
               "user_prior_purchases": "int64", "item_prior_purchases": "int64",
               "user_activity": "float64", "user_purchase_rate": "float64", "user_price_level": "float64",
               "item_popularity": "float64", "item_conversion": "float64",
               "taste_share": "float64", "price": "float64", "log_price": "float64",
               "category": "string", "brand": "string", "day": "float64"}
    return pd.DataFrame({c: pd.Series(dtype=d) for c, d in columns.items()})
