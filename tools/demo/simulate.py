"""The demo shop's structural causal model: who looks at what, and what they then do.

The unit of the model is an *exposure*: a user's first view of an item. Per exposure the
funnel is::

    confounders X ──▶ repeat view R ──▶ favourite F ──▶ cart C ──▶ purchase Y
        X ──▶ F,  X ──▶ C,  X ──▶ Y,  R ──▶ C,  R ──▶ Y,  F ──▶ Y

X holds only quantities anyone can measure from the log *before* the exposure: the user's
activity (how many items they had looked at before), the item's popularity (how many users had
looked at it before), the user's taste for the item's top category (share of their earlier
exposures in it), the price and the top category. Active users, popular items and
taste-matched items get more repeat views, favourites, carts *and* purchases, so the naive
"buyers after cart vs. without" contrast is confounded; adjusting for X recovers the truth.

Treatments follow logistic models; the purchase probability is linear in X and the treatments
(a linear-probability model), so effects are known exactly. The ground truth is computed from
both potential outcomes of every unit (exact expectations over the downstream draws, with
everything upstream kept at its natural value), not from the sampled outcomes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .catalog import TOP_CATEGORIES, Catalog

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True)
class Mechanism:
    """Coefficients of the structural model (per exposure unit); defaults are the demo's truth."""

    # purchase probability (linear): base + tau_* × treatment
    y_intercept: float = -0.006
    y_activity: float = 0.022
    y_popularity: float = 0.02
    y_taste: float = 0.22
    y_log_price: float = -0.025
    tau_repeat_view: float = 0.02
    tau_favourite: float = 0.045
    tau_cart: float = 0.20
    # repeat view (logistic)
    r_intercept: float = -2.2
    r_activity: float = 0.25
    r_popularity: float = 0.18
    r_taste: float = 2.0
    # favourite (logistic)
    f_intercept: float = -3.6
    f_activity: float = 0.30
    f_popularity: float = 0.22
    f_taste: float = 2.4
    f_repeat_view: float = 0.7
    # cart (logistic)
    c_intercept: float = -4.1
    c_activity: float = 0.5
    c_popularity: float = 0.45
    c_taste: float = 3.0
    c_log_price: float = -0.45
    c_favourite: float = 1.0
    c_repeat_view: float = 0.6


#: Per-top-category shift of the purchase probability (beauty and books convert better).
CATEGORY_SHIFT: dict[str, float] = {
    "apparel": 0.0, "home": 0.002, "electronics": -0.004, "beauty": 0.012,
    "sports": -0.002, "books": 0.010, "toys": 0.004, "garden": -0.003,
}
REFERENCE_PRICE = 40.0


@dataclass(frozen=True)
class Exposures:
    """All exposure units, sorted by time, with the confounders the model uses."""

    user: np.ndarray  # int user index
    item: np.ndarray  # int item index
    session: np.ndarray  # int session index
    time: np.ndarray  # int seconds since the epoch (UTC)
    user_prior_items: np.ndarray
    item_prior_users: np.ndarray
    taste_share: np.ndarray


def simulate_exposures(rng: np.random.Generator, catalog: Catalog, n_users: int, days: int,
                       end_seconds: int, sessions_per_day: float = 0.04,
                       views_per_session: float = 2.5) -> Exposures:
    """Sessions of users with latent activity and tastes, each viewing a few items."""
    n_top = len(TOP_CATEGORIES)
    activity = rng.lognormal(0.0, 0.8, size=n_users)
    taste = rng.dirichlet(np.full(n_top, 0.6), size=n_users)
    n_sessions = 1 + rng.poisson(activity * days * sessions_per_day)
    session_user = np.repeat(np.arange(n_users), n_sessions)
    n_total_sessions = len(session_user)
    start = end_seconds - rng.integers(3_600, days * SECONDS_PER_DAY, size=n_total_sessions)
    per_session = 1 + rng.poisson(views_per_session, size=n_total_sessions)
    slot_session = np.repeat(np.arange(n_total_sessions), per_session)
    slot_user = session_user[slot_session]
    gaps = rng.integers(20, 240, size=len(slot_session))
    cum = np.cumsum(gaps)
    first = np.r_[0, np.cumsum(per_session)[:-1]]
    offset = cum - np.repeat(cum[first] - gaps[first], per_session)
    slot_time = start[slot_session] + offset

    # Category by the user's taste, then item within the category by popularity.
    cum_taste = np.cumsum(taste, axis=1)
    u = rng.random(len(slot_session))
    slot_top = (u[:, None] > cum_taste[slot_user]).sum(axis=1).clip(0, n_top - 1)
    order = np.lexsort((np.arange(len(catalog.top_category)), catalog.top_category))
    tops_sorted = catalog.top_category[order]
    weights = catalog.popularity[order]
    cat_totals = np.bincount(tops_sorted, weights=weights, minlength=n_top)
    within = np.cumsum(weights) - np.r_[0.0, np.cumsum(cat_totals)][tops_sorted]
    key = tops_sorted + within / cat_totals[tops_sorted]  # in (top, top + 1]
    # A category without items falls back to the next one that has some.
    probe = slot_top + rng.random(len(slot_session))
    pos = np.searchsorted(key, probe, side="left").clip(0, len(key) - 1)
    slot_item = order[pos]

    # One unit per (user, item): later looks at an already-seen item are not new exposures.
    frame = pd.DataFrame({"user": slot_user, "item": slot_item, "session": slot_session,
                          "time": slot_time})
    frame = frame.sort_values(["time", "user", "item"], kind="stable")
    frame = frame.drop_duplicates(["user", "item"], keep="first").reset_index(drop=True)
    top = catalog.top_category[frame["item"].to_numpy()]
    frame["top"] = top
    user_prior = frame.groupby("user")["time"].rank(method="min").to_numpy() - 1
    item_prior = frame.groupby("item")["time"].rank(method="min").to_numpy() - 1
    cat_prior = frame.groupby(["user", "top"])["time"].rank(method="min").to_numpy() - 1
    taste_share = cat_prior / np.maximum(user_prior, 1)
    return Exposures(
        user=frame["user"].to_numpy(), item=frame["item"].to_numpy(),
        session=frame["session"].to_numpy(), time=frame["time"].to_numpy(dtype=np.int64),
        user_prior_items=user_prior.astype(np.int64), item_prior_users=item_prior.astype(np.int64),
        taste_share=taste_share,
    )


@dataclass(frozen=True)
class Funnel:
    """Per-unit treatments, outcome and the exact effect of each behaviour on P(purchase)."""

    repeat_view: np.ndarray
    favourite: np.ndarray
    cart: np.ndarray
    purchase: np.ndarray
    p_purchase: np.ndarray
    effect_repeat_view: np.ndarray
    effect_favourite: np.ndarray
    effect_cart: np.ndarray


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def simulate_funnel(rng: np.random.Generator, exposures: Exposures, price: np.ndarray,
                    top_category: np.ndarray, mech: Mechanism) -> Funnel:
    """Draw R, F, C, Y per unit and compute each unit's effects from both potential outcomes."""
    a = np.log1p(exposures.user_prior_items)
    p = np.log1p(exposures.item_prior_users)
    s = exposures.taste_share
    lp = np.log(price[exposures.item] / REFERENCE_PRICE)
    shift = np.array([CATEGORY_SHIFT[t] for t in TOP_CATEGORIES])[top_category[exposures.item]]
    base = (mech.y_intercept + mech.y_activity * a + mech.y_popularity * p + mech.y_taste * s
            + mech.y_log_price * lp + shift)

    def p_repeat() -> np.ndarray:
        return _sigmoid(mech.r_intercept + mech.r_activity * a + mech.r_popularity * p + mech.r_taste * s)

    def p_fav(r: np.ndarray | float) -> np.ndarray:
        return _sigmoid(mech.f_intercept + mech.f_activity * a + mech.f_popularity * p
                        + mech.f_taste * s + mech.f_repeat_view * r)

    def p_cart(r: np.ndarray | float, f: np.ndarray | float) -> np.ndarray:
        return _sigmoid(mech.c_intercept + mech.c_activity * a + mech.c_popularity * p
                        + mech.c_taste * s + mech.c_log_price * lp + mech.c_favourite * f
                        + mech.c_repeat_view * r)

    def p_buy(r: np.ndarray | float, f: np.ndarray | float, c: np.ndarray | float) -> np.ndarray:
        return np.clip(base + mech.tau_repeat_view * r + mech.tau_favourite * f + mech.tau_cart * c,
                       0.0, 1.0)

    def p_buy_after_cart(r: np.ndarray | float, f: np.ndarray | float) -> np.ndarray:
        pc = p_cart(r, f)
        return pc * p_buy(r, f, 1.0) + (1 - pc) * p_buy(r, f, 0.0)

    def p_buy_after_fav(r: float) -> np.ndarray:
        pf = p_fav(r)
        return pf * p_buy_after_cart(r, 1.0) + (1 - pf) * p_buy_after_cart(r, 0.0)

    n = len(a)
    u_r, u_f, u_c, u_y = (rng.random(n) for _ in range(4))
    r = (u_r < p_repeat()).astype(np.int8)
    f = (u_f < p_fav(r)).astype(np.int8)
    c = (u_c < p_cart(r, f)).astype(np.int8)
    py = p_buy(r, f, c)
    y = (u_y < py).astype(np.int8)
    return Funnel(
        repeat_view=r, favourite=f, cart=c, purchase=y, p_purchase=py,
        effect_repeat_view=p_buy_after_fav(1.0) - p_buy_after_fav(0.0),
        effect_favourite=p_buy_after_cart(r, 1.0) - p_buy_after_cart(r, 0.0),
        effect_cart=p_buy(r, f, 1.0) - p_buy(r, f, 0.0),
    )
