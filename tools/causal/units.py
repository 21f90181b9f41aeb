"""The unit table: one row per (user, item) exposure, with treatments, outcome and confounders.

A unit starts at the user's first look (view or click) at an item, time ``t0``. What the user
did on the item from ``t0`` until they bought it (or until the horizon ran out) are the
treatments: looked again (``view``), ``favourite``, ``cart``. The outcome is a purchase of the
item within ``horizon`` of ``t0``. Units too close to the end of the log for a full horizon are
left out, and so are pairs whose history starts with a cart or purchase (their exposure was
before the log began).

Confounders are measured strictly before ``t0``, from the log itself:

==================  =====================================================================
user_activity       log(1 + items the user had looked at before)
user_purchase_rate  the user's earlier purchases / (1 + items looked at before)
item_popularity     log(1 + users who had looked at the item before)
item_conversion     the item's earlier purchases / (1 + users who looked at it before)
taste_share         share of the user's earlier looks in the item's top category
log_price           log of the catalog price (median where unknown)
category            the item's top-level category (``unknown`` where missing)
day                 days since the log began (trends, promotions)
==================  =====================================================================

Everything is vectorised pandas/numpy: a million events take a few seconds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

LOOKS: tuple[str, ...] = ("view", "click")
#: Treatments in funnel order; each may cause the ones after it.
BEHAVIOURS: tuple[str, ...] = ("view", "favourite", "cart")
OUTCOME = "purchase"
NUMERIC_CONFOUNDERS: tuple[str, ...] = (
    "user_activity", "user_purchase_rate", "item_popularity", "item_conversion", "taste_share",
    "log_price", "day",
)
CATEGORICAL_CONFOUNDERS: tuple[str, ...] = ("category",)
CONFOUNDERS: tuple[str, ...] = NUMERIC_CONFOUNDERS + CATEGORICAL_CONFOUNDERS
#: What each treatment column means, for people reading a report.
BEHAVIOUR_MEANING: dict[str, str] = {
    "view": "looked at the item again (two or more views/clicks vs one)",
    "favourite": "saved the item to favourites",
    "cart": "added the item to the cart",
}
_NS_PER_DAY = 86_400 * 10**9


@dataclass(frozen=True)
class UnitTable:
    """The units and how they were cut: horizon, last exposure time admitted, pairs dropped."""

    frame: pd.DataFrame
    horizon: pd.Timedelta
    cutoff: pd.Timestamp | None
    pairs_seen: int
    pairs_left_censored: int
    pairs_after_cutoff: int

    @property
    def description(self) -> str:
        return (f"(user, item) exposures from a user's first view/click of an item up to "
                f"{self.cutoff}; outcome: purchase of the item within {_human(self.horizon)}")


def _human(delta: pd.Timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours / 24:g} days" if hours >= 48 else f"{hours:.3g} hours"


def auto_horizon(events: pd.DataFrame, max_days: float = 7.0) -> pd.Timedelta:
    """Purchase horizon: ``max_days`` for logs of a few weeks or more.

    Short logs (under four times ``max_days``) get 1.5 × the 95th percentile of the observed
    first-look → purchase delays, capped at a quarter of the span, so most units keep a full
    follow-up window.
    """
    if events.empty:
        return pd.Timedelta(days=max_days)
    span = events["timestamp"].max() - events["timestamp"].min()
    if span >= pd.Timedelta(days=4 * max_days):
        return pd.Timedelta(days=max_days)
    quarter = max(span / 4, pd.Timedelta(minutes=1))
    looks = events[events["behaviour"].isin(LOOKS)].groupby(["user_id", "item_id"])["timestamp"].min()
    buys = events[events["behaviour"] == OUTCOME].groupby(["user_id", "item_id"])["timestamp"].min()
    delays = (buys - looks.reindex(buys.index)).dropna()
    delays = delays[delays >= pd.Timedelta(0)]
    if delays.empty:
        return quarter
    typical = delays.quantile(0.95) * 1.5
    return min(quarter, max(typical, pd.Timedelta(minutes=1))).round("s")


def build_units(events: pd.DataFrame, items: pd.DataFrame | None = None,
                horizon: pd.Timedelta | None = None) -> UnitTable:
    """Build the unit table from canonical events (and the catalog for price/category/brand).

    >>> table = build_units(workspace.events(), workspace.items())   # doctest: +SKIP
    >>> table.frame[["user_id", "item_id", "cart", "purchase", "user_activity"]].head()  # doctest: +SKIP
    """
    horizon = auto_horizon(events) if horizon is None else pd.Timedelta(horizon)
    ev = events.loc[events["behaviour"].isin(LOOKS + ("favourite", "cart", OUTCOME)),
                    ["user_id", "item_id", "behaviour", "timestamp"]]
    if ev.empty:
        return UnitTable(_empty_frame(), horizon, None, 0, 0, 0)
    user_code, users = pd.factorize(ev["user_id"], sort=True)
    item_code, item_ids = pd.factorize(ev["item_id"], sort=True)
    t = ev["timestamp"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    behaviour = ev["behaviour"].to_numpy(dtype=object)
    is_look = np.isin(behaviour, LOOKS)
    is_fav = behaviour == "favourite"
    is_cart = behaviour == "cart"
    is_buy = behaviour == OUTCOME
    pair_code, pair_index = pd.factorize(user_code.astype(np.int64) * len(item_ids) + item_code)
    n_pairs = len(pair_index)
    big = np.iinfo(np.int64).max

    t0 = np.full(n_pairs, big)
    np.minimum.at(t0, pair_code[is_look], t[is_look])
    first_other = np.full(n_pairs, big)
    other = ~is_look
    np.minimum.at(first_other, pair_code[other], t[other])
    exposed = t0 < big
    left_censored = exposed & (first_other < t0)
    log_end = int(t.max())
    cutoff_ns = log_end - int(horizon.value)
    after_cutoff = exposed & ~left_censored & (t0 > cutoff_ns)
    keep = exposed & ~left_censored & ~after_cutoff

    # Outcome: first purchase at or after t0, within the horizon.
    ev_t0 = t0[pair_code]
    buy_after = is_buy & (t >= ev_t0)
    t_buy = np.full(n_pairs, big)
    np.minimum.at(t_buy, pair_code[buy_after], t[buy_after])
    horizon_ns = int(horizon.value)
    purchased = keep & (t_buy <= t0 + horizon_ns)
    window_end = np.where(purchased, t_buy, t0 + horizon_ns)
    in_window = (t >= ev_t0) & (t <= window_end[pair_code])
    looks = np.bincount(pair_code[is_look & in_window], minlength=n_pairs)
    fav = np.bincount(pair_code[is_fav & in_window], minlength=n_pairs) > 0
    cart = np.bincount(pair_code[is_cart & in_window], minlength=n_pairs) > 0

    pair_user = (pair_index // len(item_ids)).astype(np.int64)
    pair_item = (pair_index % len(item_ids)).astype(np.int64)
    # Confounders come from all exposures (units or not) before each unit's t0.
    exposures = pd.DataFrame({"user": pair_user[exposed], "item": pair_item[exposed],
                              "t0": t0[exposed], "keep": keep[exposed],
                              "n_looks": looks[exposed], "favourite": fav[exposed],
                              "cart": cart[exposed], "purchase": purchased[exposed]})
    catalog = _catalog_columns(items, item_ids)
    exposures["top"] = catalog["category"].to_numpy()[exposures["item"].to_numpy()]
    user_prior = exposures.groupby("user")["t0"].rank(method="min").to_numpy() - 1
    item_prior = exposures.groupby("item")["t0"].rank(method="min").to_numpy() - 1
    cat_prior = exposures.groupby(["user", "top"])["t0"].rank(method="min").to_numpy() - 1
    buy_user = _count_before(user_code[is_buy], t[is_buy], exposures["user"].to_numpy(),
                             exposures["t0"].to_numpy())
    buy_item = _count_before(item_code[is_buy], t[is_buy], exposures["item"].to_numpy(),
                             exposures["t0"].to_numpy())
    log_start = int(t.min())
    frame = pd.DataFrame({
        "user_id": pd.Series(np.asarray(users)[exposures["user"].to_numpy()], dtype="string"),
        "item_id": pd.Series(np.asarray(item_ids)[exposures["item"].to_numpy()], dtype="string"),
        "t0": pd.to_datetime(exposures["t0"].to_numpy(), utc=True),
        "n_looks": exposures["n_looks"].to_numpy(dtype=np.int64),
        "view": (exposures["n_looks"].to_numpy() >= 2).astype(np.int64),
        "favourite": exposures["favourite"].to_numpy().astype(np.int64),
        "cart": exposures["cart"].to_numpy().astype(np.int64),
        OUTCOME: exposures["purchase"].to_numpy().astype(np.int64),
        "user_prior_items": user_prior.astype(np.int64),
        "item_prior_users": item_prior.astype(np.int64),
        "user_prior_purchases": buy_user,
        "item_prior_purchases": buy_item,
        "user_activity": np.log1p(user_prior),
        "user_purchase_rate": buy_user / (1.0 + user_prior),
        "item_popularity": np.log1p(item_prior),
        "item_conversion": buy_item / (1.0 + item_prior),
        "taste_share": cat_prior / np.maximum(user_prior, 1),
        "price": catalog["price"].to_numpy()[exposures["item"].to_numpy()],
        "log_price": np.log(catalog["price_filled"].to_numpy()[exposures["item"].to_numpy()]),
        "category": pd.Series(exposures["top"].to_numpy(), dtype="string"),
        "brand": pd.Series(catalog["brand"].to_numpy()[exposures["item"].to_numpy()], dtype="string"),
        "day": (exposures["t0"].to_numpy() - log_start) / _NS_PER_DAY,
    })
    frame = frame[exposures["keep"].to_numpy()].sort_values(["t0", "user_id", "item_id"])
    frame = frame.reset_index(drop=True)
    cutoff = pd.Timestamp(cutoff_ns, tz="UTC")
    log.info("unit table: %d units from %d pairs (%d left-censored, %d after cut-off %s)",
             len(frame), n_pairs, int(left_censored.sum()), int(after_cutoff.sum()), cutoff)
    return UnitTable(frame, horizon, cutoff, n_pairs, int(left_censored.sum()),
                     int(after_cutoff.sum()))


def _count_before(group: np.ndarray, times: np.ndarray, query_group: np.ndarray,
                  query_times: np.ndarray) -> np.ndarray:
    """For each query, how many (group, time) events share its group and are strictly earlier."""
    if len(group) == 0:
        return np.zeros(len(query_group), dtype=np.int64)
    # Times become ranks so that (group, rank) packs into one sortable int64 key.
    shift = np.int64(1) << np.int64(40)
    _, ranks = np.unique(np.concatenate([times, query_times]), return_inverse=True)
    ev_rank, q_rank = ranks[: len(times)], ranks[len(times):]
    ev_key = group.astype(np.int64) * shift + ev_rank
    q_key = query_group.astype(np.int64) * shift + q_rank
    ev_key.sort()
    return (np.searchsorted(ev_key, q_key, side="left")
            - np.searchsorted(ev_key, query_group.astype(np.int64) * shift, side="left")).astype(np.int64)


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
    fill = float(price.median()) if price.notna().any() else 1.0
    return pd.DataFrame({"category": top.astype(str).to_numpy(),
                         "brand": catalog["brand"].astype("string").fillna("unknown").to_numpy(),
                         "price": price.to_numpy(),
                         "price_filled": price.fillna(fill).to_numpy()}, index=ids)


def _empty_frame() -> pd.DataFrame:
    columns = {"user_id": "string", "item_id": "string", "t0": "datetime64[ns, UTC]",
               "n_looks": "int64", "view": "int64", "favourite": "int64", "cart": "int64",
               OUTCOME: "int64", "user_prior_items": "int64", "item_prior_users": "int64",
               "user_prior_purchases": "int64", "item_prior_purchases": "int64",
               "user_activity": "float64", "user_purchase_rate": "float64",
               "item_popularity": "float64", "item_conversion": "float64",
               "taste_share": "float64", "price": "float64", "log_price": "float64",
               "category": "string", "brand": "string", "day": "float64"}
    return pd.DataFrame({c: pd.Series(dtype=d) for c, d in columns.items()})
