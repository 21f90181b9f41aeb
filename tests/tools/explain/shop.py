"""A small shop where the answer is known by construction (shared by the explainer tests).

* 8 users click ``x`` then buy ``t`` — so ``x`` and ``t`` co-occur strongly;
* 20 users each buy the popular items ``p1`` .. ``p5`` — so with no history they outrank ``t``;
* user ``u`` viewed ``n1`` and ``n2`` (unrelated) and added ``x`` to the cart: that one cart event
  alone carries ``t`` into u's top 3; without it ``t`` falls behind the popular items.
* user ``w`` only viewed ``x`` long ago: ``t`` is not in their top 3, but one more behaviour on
  ``x`` brings it in.
* user ``b`` bought ``t``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from whyrec.tools.schema import compute_event_keys, conform_events, conform_items

DAY0 = pd.Timestamp("2024-01-01", tz="UTC")
POPULAR = ["p1", "p2", "p3", "p4", "p5"]


def _event(user: str, item: str, behaviour: str, day: float) -> dict:
    return {"user_id": user, "item_id": item, "behaviour": behaviour,
            "timestamp": DAY0 + pd.Timedelta(days=day)}


def shop_events() -> pd.DataFrame:
    rows = []
    for n in range(8):
        rows += [_event(f"xt{n}", "x", "click", n), _event(f"xt{n}", "t", "purchase", n + 0.5)]
    for n in range(20):
        rows += [_event(f"pop{n}", item, "purchase", n * 0.1 + j) for j, item in enumerate(POPULAR)]
    rows += [_event("o1", "n1", "view", 3), _event("o1", "n2", "view", 4), _event("o2", "n3", "view", 5)]
    rows += [_event("u", "n1", "view", 20), _event("u", "n2", "view", 21), _event("u", "x", "cart", 22)]
    rows += [_event("w", "x", "view", 1), _event("w", "n3", "view", 200)]
    rows += [_event("b", "x", "click", 30), _event("b", "t", "purchase", 31)]
    events = pd.DataFrame(rows)
    events["session_id"] = None
    events["value"] = np.nan
    events = conform_events(events)
    events["event_key"] = compute_event_keys(events)
    return events.sort_values("timestamp", kind="stable").reset_index(drop=True)


def shop_items() -> pd.DataFrame:
    ids = ["x", "t", *POPULAR, "n1", "n2", "n3"]
    titles = ["Espresso machine", "Coffee grinder", "Phone case", "Charger", "USB cable",
              "Headphones", "Power bank", "Garden hose", "Umbrella", "Notebook"]
    return conform_items(pd.DataFrame({"item_id": ids, "title": titles,
                                       "category": ["kitchen"] * 2 + ["electronics"] * 5 + ["misc"] * 3}))


def key_of(events: pd.DataFrame, user: str, item: str, behaviour: str) -> int:
    row = events[(events["user_id"] == user) & (events["item_id"] == item)
                 & (events["behaviour"] == behaviour)]
    return int(row["event_key"].iloc[0])


def refit_shop_events() -> pd.DataFrame:
    """A shop where the smallest re-rank set rests on similarity the user made themselves.

    * 8 users view ``y`` then buy ``t``, 8 others view ``z`` then buy ``t``: ``y`` and ``z`` lead to ``t``;
    * 40 users buy the popular ``p1`` .. ``p3``;
    * user ``u`` bought ``c1`` .. ``c5`` (nobody else did), viewed ``z`` and added ``y`` to the cart:
      ``t`` is u's top item. Removing the cart of ``y`` frees ``y`` — which then scores high for u
      only through the co-occurrence of ``y`` with ``c1`` .. ``c5`` that u's own cart created, and
      takes ``t``'s place in the re-rank. Refitted without that cart, ``y`` has no such similarity
      and ``t`` stays first: only removing the view of ``z`` as well drops ``t`` for good.
    """
    rows = []
    for n in range(8):
        rows += [_event(f"yt{n}", "y", "view", n), _event(f"yt{n}", "t", "purchase", n + 0.5)]
        rows += [_event(f"zt{n}", "z", "view", n), _event(f"zt{n}", "t", "purchase", n + 0.5)]
    for n in range(40):
        rows += [_event(f"pop{n}", f"p{j}", "purchase", n * 0.1 + j) for j in range(1, 4)]
    rows += [_event("u", f"c{j}", "purchase", 20 + j) for j in range(1, 6)]
    rows += [_event("u", "z", "view", 27), _event("u", "y", "cart", 28)]
    events = pd.DataFrame(rows)
    events["session_id"] = None
    events["value"] = np.nan
    events = conform_events(events)
    events["event_key"] = compute_event_keys(events)
    return events.sort_values("timestamp", kind="stable").reset_index(drop=True)
