"""Decision points: one row per event of an exposure, with what was known at that moment.

Every event of a shopper on an item — from the first look, until the item is bought — is a
*decision point*: right after it the shopper chooses what to do next on the item. For one
behaviour ``b`` (``view`` = look again, ``favourite``, ``cart``) the rows of its target trial
are the decision points where

* ``b`` has not happened yet on the item (for ``view``: only the first look so far),
* the first look is at most ``D`` ago, and
* the log runs on for a full ``H`` after the decision point;

the treatment is "the next event on the item is ``b``", and the outcome "bought within ``H``".
The adjusters are the exposure's baseline (:mod:`.units`, measured before the first look) and
the item's history up to and including the decision point: looks, favourite, cart so far,
time since the first look. Nothing after the decision point ever enters them, so a look after
the cart can never adjust the cart's effect.

Ties in time (day-level logs) are ordered as the funnel is: looks, favourite, cart, purchase.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..frames import is_categorical, positions_in, sorted_codes, utc_times
from .estimand import BEHAVIOURS, LOOKS, OUTCOME, Windows
from .units import CATEGORICAL_CONFOUNDERS, NUMERIC_CONFOUNDERS, UnitTable, build_units, empty_units

log = logging.getLogger(__name__)

#: The item's history at the decision point (adjusters for every behaviour but itself).
HISTORY: tuple[str, ...] = ("looks_so_far", "favourite_so_far", "cart_so_far", "log_elapsed", "day_now")
#: Which history column records the behaviour itself (constant in its own trial, so left out).
OWN_HISTORY: dict[str, str] = {"view": "looks_so_far", "favourite": "favourite_so_far", "cart": "cart_so_far"}
#: Effect modifiers of the heterogeneous (per-segment, per-shopper) effect.
MODIFIERS: tuple[str, ...] = ("taste_share", "log_price", "user_activity", "looks_so_far")
_RANK = {"view": 0, "click": 0, "favourite": 1, "cart": 2, "purchase": 3}
_NS = 10**9


@dataclass(frozen=True)
class Counts:
    """How many rows survive each cut, for one behaviour: the numbers behind "cannot estimate"."""

    exposures: int
    at_risk: int  # decision points where the behaviour had not happened yet, item not bought
    in_window: int  # ... and the first look at most D ago
    followed_up: int  # ... and a full H of log after them
    treated: int
    purchases: int

    def to_json(self) -> dict[str, int]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class DecisionTable:
    """All decision points of a log, the exposures they belong to, and the windows used."""

    frame: pd.DataFrame
    units: UnitTable
    windows: Windows
    event_counts: dict[str, int] = field(default_factory=dict)  # events of each behaviour in the log
    #: Set when the table holds every event of a seeded sample of users (a log larger than
    #: ``EffectSettings.table_max_events``): ``users``, ``of_users``, ``events``, ``seed``, ``max_events``.
    sample: dict[str, int] = field(default_factory=dict)

    def counts(self, behaviour: str) -> Counts:
        at_risk = self._at_risk(behaviour)
        window = at_risk & self.frame["in_window"].to_numpy()
        follow = window & self.frame["followed_up"].to_numpy()
        treated = follow & _is(self.frame["next"], behaviour)
        purchases = follow & (self.frame[OUTCOME].to_numpy() == 1)
        return Counts(len(self.units.frame), int(at_risk.sum()), int(window.sum()), int(follow.sum()),
                      int(treated.sum()), int(purchases.sum()))

    def _at_risk(self, behaviour: str) -> np.ndarray:
        if behaviour == "view":
            return self.frame["looks_so_far"].to_numpy() == 1
        if behaviour in ("favourite", "cart"):
            return self.frame[f"{behaviour}_so_far"].to_numpy() == 0
        raise ValueError(f"unknown behaviour {behaviour!r}; choose one of {', '.join(BEHAVIOURS)}")

    def eligible(self, behaviour: str) -> np.ndarray:
        """Positions in :attr:`frame` of the decision points of ``behaviour``'s trial, in order."""
        return np.flatnonzero(self._at_risk(behaviour) & self.frame["in_window"].to_numpy()
                              & self.frame["followed_up"].to_numpy())

    def user_groups(self, positions: np.ndarray) -> np.ndarray:
        """The shopper of each decision point at ``positions``, numbered by first appearance:
        what ``pd.factorize`` of their user ids gives, without a string per row."""
        return pd.factorize(self._unit_users[self.frame["unit"].to_numpy()[positions]])[0].astype(np.int64)

    @functools.cached_property
    def _unit_users(self) -> np.ndarray:
        """An integer code per exposure, equal for equal user ids."""
        return sorted_codes(self.units.frame["user_id"])[0]

    def rows(self, behaviour: str, subset: np.ndarray | None = None) -> pd.DataFrame:
        """The trial of ``behaviour``: its eligible decision points with treatment, outcome,
        the user (cluster) and every adjuster (exposure baseline joined in); ``subset``: only
        these of them (positions among the eligible ones, e.g. a sample of shoppers)."""
        positions = self.eligible(behaviour)
        if subset is not None:
            positions = positions[subset]
        rows = self.frame.iloc[positions]
        units = self.units.frame
        unit_index = rows["unit"].to_numpy()
        # Only the rows taken become Python objects (an Arrow column's to_numpy() converts all of it).
        out = pd.DataFrame({
            "user_id": units["user_id"].iloc[unit_index].to_numpy(),
            "item_id": units["item_id"].iloc[unit_index].to_numpy(),
            "k": rows["k"].to_numpy(),
            behaviour: _is(rows["next"], behaviour).astype(np.int64),
            OUTCOME: rows[OUTCOME].to_numpy().astype(np.int64),
        })
        for column in NUMERIC_CONFOUNDERS + CATEGORICAL_CONFOUNDERS + ("price", "user_prior_items", "brand"):
            out[column] = units[column].iloc[unit_index].to_numpy()
        for column in HISTORY:
            out[column] = rows[column].to_numpy()
        return out.reset_index(drop=True)


def _is(values: pd.Series, name: str) -> np.ndarray:
    """``values == name`` as a bool array, compared where the column is stored (Arrow or NumPy)."""
    return values.eq(name).to_numpy(dtype=bool, na_value=False)


def build_decisions(events: pd.DataFrame, items: pd.DataFrame | None, windows: Windows,
                    units: UnitTable | None = None) -> DecisionTable:
    """Every decision point of every exposure (see the module docstring).

    >>> table = build_decisions(events, items, choose_windows(events))   # doctest: +SKIP
    >>> table.rows("cart")[["cart", "purchase", "looks_so_far"]].mean()  # doctest: +SKIP
    """
    units = units if units is not None else build_units(events, items)
    exposures = units.frame
    ev = events.loc[events["behaviour"].isin(LOOKS + ("favourite", "cart", OUTCOME)),
                    ["user_id", "item_id", "behaviour", "timestamp"]]
    counts = event_counts(ev)
    if ev.empty or exposures.empty:
        return DecisionTable(_empty_frame(), units, windows, counts)
    unit = _exposure_of(ev, exposures)
    rank = _ranks(ev["behaviour"])
    t = ev["timestamp"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    chosen = unit >= 0
    unit, rank, t = unit[chosen], rank[chosen], t[chosen]
    order = np.lexsort((rank, t, unit))
    unit, t, rank = unit[order], t[order], rank[order]
    t0 = exposures["t0"].to_numpy(dtype="datetime64[ns]").astype(np.int64)[unit]
    after_start = t >= t0
    unit, t, rank, t0 = unit[after_start], t[after_start], rank[after_start], t0[after_start]

    new = np.r_[True, unit[1:] != unit[:-1]]
    start = np.maximum.accumulate(np.where(new, np.arange(len(unit)), 0))
    k = np.arange(len(unit)) - start + 1
    is_look, is_fav, is_cart, is_buy = rank == 0, rank == 1, rank == 2, rank == 3
    looks = _cumsum_by(is_look, start)
    fav = _cumsum_by(is_fav, start) > 0
    cart = _cumsum_by(is_cart, start) > 0
    bought = _cumsum_by(is_buy, start) > 0
    same_next = np.r_[unit[1:] == unit[:-1], False]
    next_rank = np.where(same_next, np.r_[rank[1:], -1], -1)
    next_name = np.array(["view", "favourite", "cart", OUTCOME, "none"], dtype=object)[
        np.where(next_rank >= 0, next_rank, 4)]
    big = np.iinfo(np.int64).max
    first_buy = np.full(len(exposures), big)
    np.minimum.at(first_buy, unit[is_buy], t[is_buy])
    horizon = int(windows.horizon.value)
    window = int(windows.window.value)
    log_end = int(pd.Timestamp(windows.log_end).value) if windows.log_end is not None else int(t.max())
    log_start = int(pd.Timestamp(windows.log_start).value) if windows.log_start is not None else int(t.min())
    decision = ~bought  # the purchase itself and anything after it are not decision points
    elapsed = (t - t0) / _NS
    frame = pd.DataFrame({
        "unit": unit[decision], "k": k[decision],
        "t": utc_times(t[decision]),
        "looks_so_far": looks[decision].astype(np.int64),
        "favourite_so_far": fav[decision].astype(np.int64),
        "cart_so_far": cart[decision].astype(np.int64),
        "log_elapsed": np.log1p(elapsed[decision]),
        "day_now": (t[decision] - log_start) / (86_400 * _NS),
        "next": next_name[decision],
        OUTCOME: (first_buy[unit[decision]] <= t[decision] + horizon).astype(np.int64),
        "in_window": (t[decision] - t0[decision]) <= window,
        "followed_up": t[decision] + horizon <= log_end,
    })
    log.info("decision points: %d over %d exposures (window %s, horizon %s)", len(frame), len(exposures),
             windows.window, windows.horizon)
    return DecisionTable(frame.reset_index(drop=True), units, windows, counts)


def concat_decisions(parts: Sequence[DecisionTable], windows: Windows) -> DecisionTable:
    """One table from the tables of disjoint sets of whole users (user partitions), built with
    the same windows and the whole log's item history: the table :func:`build_decisions` builds
    from all their events at once — the same exposures in the same order (by first look, user,
    item) and the same decision points in the same order (by exposure, then time). Event counts
    are summed."""
    seen = sum(p.units.pairs_seen for p in parts)
    censored = sum(p.units.pairs_left_censored for p in parts)
    counts = {key: sum(p.event_counts.get(key, 0) for p in parts) for key in (*BEHAVIOURS, OUTCOME)}
    parts = [p for p in parts if len(p.units.frame)]
    if not parts:
        return DecisionTable(_empty_frame(), UnitTable(empty_units(), seen, censored), windows, counts)
    units = pd.concat([p.units.frame for p in parts], ignore_index=True)
    # Codes sort as their ids (sorted_codes): the order build_units gives the whole table.
    order = np.lexsort((sorted_codes(units["item_id"])[0], sorted_codes(units["user_id"])[0],
                        units["t0"].to_numpy(dtype="datetime64[ns]").astype(np.int64)))
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))   # where each part's exposure ends up
    offsets = np.cumsum([0] + [len(p.units.frame) for p in parts])
    frames = []
    for part, offset in zip(parts, offsets[:-1], strict=True):
        frames.append(part.frame.assign(unit=position[offset + part.frame["unit"].to_numpy()]))
    frame = pd.concat(frames, ignore_index=True)
    # Each exposure's decision points are one run in its part, in time order: the runs move to
    # where their exposures now are (no sort of the whole frame).
    unit = frame["unit"].to_numpy()
    rows = np.arange(len(unit))
    run_start = np.maximum.accumulate(np.where(np.r_[True, unit[1:] != unit[:-1]], rows, 0))
    first_row = np.r_[0, np.cumsum(np.bincount(unit, minlength=len(order)))[:-1]]
    taken = np.empty(len(unit), dtype=np.int64)
    taken[first_row[unit] + rows - run_start] = rows
    frame = frame.iloc[taken].reset_index(drop=True)
    return DecisionTable(frame, UnitTable(units.iloc[order].reset_index(drop=True), seen, censored),
                         windows, counts)


def event_counts(events: pd.DataFrame) -> dict[str, int]:
    """Events of each behaviour of the trials (looks, favourite, cart) and of the outcome."""
    kinds = events["behaviour"]
    return {"view": int(kinds.isin(LOOKS).sum()), "favourite": int((kinds == "favourite").sum()),
            "cart": int((kinds == "cart").sum()), OUTCOME: int((kinds == OUTCOME).sum())}


def _exposure_of(ev: pd.DataFrame, exposures: pd.DataFrame) -> np.ndarray:
    """Row of ``exposures`` (by user and item id) of each event, -1 for none: ids are matched as
    integer codes, so the events' ids may be strings or categoricals."""
    user_code, users = sorted_codes(ev["user_id"])
    item_code, items = sorted_codes(ev["item_id"])
    width = np.int64(max(len(items), 1))
    exposure_users = positions_in(users, exposures["user_id"])
    exposure_items = positions_in(items, exposures["item_id"])
    known = (exposure_users >= 0) & (exposure_items >= 0)
    keys = np.where(known, exposure_users * width + exposure_items, -1 - np.arange(len(exposures)))
    # A sorted lookup of the (unique) exposure keys: a hash index of 6.5M keys spent 5 s checking
    # that they are unique and hashing them.
    order = np.argsort(keys, kind="stable")
    ranked = keys[order]
    wanted = user_code * width + item_code
    at = np.minimum(np.searchsorted(ranked, wanted), len(ranked) - 1)
    return np.where(ranked[at] == wanted, order[at], -1).astype(np.int64)


def _ranks(behaviours: pd.Series) -> np.ndarray:
    """Funnel rank (:data:`_RANK`) of each event's behaviour."""
    if is_categorical(behaviours):
        table = np.array([_RANK[str(c)] if str(c) in _RANK else -1 for c in behaviours.cat.categories] + [-1])
        return table[behaviours.cat.codes.to_numpy().astype(np.int64)].astype(np.int64)
    return behaviours.astype(str).map(_RANK).to_numpy(dtype=np.int64)


def _cumsum_by(flag: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Running count of ``flag`` within each run that begins at ``start`` (inclusive)."""
    total = np.cumsum(flag.astype(np.int64))
    before = np.r_[0, total][start]
    return total - before


def _empty_frame() -> pd.DataFrame:
    columns = {"unit": "int64", "k": "int64", "t": "datetime64[ns, UTC]", "looks_so_far": "int64",
               "favourite_so_far": "int64", "cart_so_far": "int64", "log_elapsed": "float64",
               "day_now": "float64", "next": "object", OUTCOME: "int64", "in_window": "bool",
               "followed_up": "bool"}
    return pd.DataFrame({c: pd.Series(dtype=d) for c, d in columns.items()})
