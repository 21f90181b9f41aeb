"""Who looks at what, and when: the exposures of the demo shop.

An *exposure* is a user's first look at an item. Users have a latent activity level (how often
they come) and tastes over the top categories; each session views a few items, the category
drawn by taste and the item within it by popularity. In the adversarial scenario users also
have a latent affluence, and they lean towards items priced near what they can afford, so the
prices of a user's earlier looks are a (noisy) proxy of their affluence.

What each exposure then leads to is the funnel's job (:mod:`.funnel`, :mod:`.scenarios`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .catalog import TOP_CATEGORIES, Catalog

SECONDS_PER_DAY = 86_400


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
    user_activity: np.ndarray  # latent, one per user
    user_taste: np.ndarray  # latent, (users, top categories)


def simulate_exposures(rng: np.random.Generator, catalog: Catalog, n_users: int, days: int,
                       end_seconds: int, sessions_per_day: float = 0.04,
                       views_per_session: float = 2.5, affluence: np.ndarray | None = None,
                       choice_rng: np.random.Generator | None = None, taste_concentration: float = 0.6) -> Exposures:
    """Sessions of users with latent activity and tastes, each viewing a few items.

    With ``affluence`` (one value per user) each look picks, of three candidate items of the
    chosen category, the one priced nearest the user's affordable price (drawn with
    ``choice_rng``, so the default scenario's draws stay as they were).
    """
    n_top = len(TOP_CATEGORIES)
    activity = rng.lognormal(0.0, 0.8, size=n_users)
    taste = rng.dirichlet(np.full(n_top, taste_concentration), size=n_users)
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
    if affluence is not None and choice_rng is not None:
        slot_item = _nearest_price(choice_rng, slot_item, slot_top, slot_user, key, order, catalog,
                                   affluence)

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
        taste_share=taste_share, user_activity=activity, user_taste=taste,
    )


def _nearest_price(rng: np.random.Generator, first: np.ndarray, top: np.ndarray, user: np.ndarray,
                   key: np.ndarray, order: np.ndarray, catalog: Catalog, affluence: np.ndarray) -> np.ndarray:
    """Of ``first`` and two more popularity draws in the same category, the item nearest in log
    price to what the user affords (``REFERENCE_PRICE × e^(0.5 × affluence)`` plus noise)."""
    price = np.log(catalog.items["price"].to_numpy(dtype=float) / REFERENCE_PRICE)
    target = 0.5 * affluence[user] + rng.normal(0.0, 0.3, size=len(user))
    best, best_gap = first, np.abs(price[first] - target)
    for _ in range(2):
        probe = top + rng.random(len(user))
        other = order[np.searchsorted(key, probe, side="left").clip(0, len(key) - 1)]
        gap = np.abs(price[other] - target)
        best = np.where(gap < best_gap, other, best)
        best_gap = np.minimum(gap, best_gap)
    return best
