"""A tiny shop whose right answers are known by construction (shared by the ranking tests).

* 10 users click ``a1`` then buy ``a2``; 6 users click ``b1`` then buy ``b2``; 5 more users
  buy ``a2`` only — so ``a2`` is both the most popular item and ``a1``'s co-occurring item.
* User ``t`` clicked and carted ``a1``. With seen items excluded, every ranker's top item must be
  ``a2`` (collaborative: co-bought with a1; popular: most bought; repeat: falls back to popular).
* A new history with only a click on ``b1`` must get ``b2`` from a collaborative ranker.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from whyrec.tools.schema import compute_event_keys, conform_events, conform_items

DAY0 = pd.Timestamp("2024-01-01", tz="UTC")


def _event(user: str, item: str, behaviour: str, day: float) -> dict:
    return {"user_id": user, "item_id": item, "behaviour": behaviour,
            "timestamp": DAY0 + pd.Timedelta(days=day)}


def tiny_events() -> pd.DataFrame:
    rows = []
    for n in range(10):
        rows += [_event(f"ga{n}", "a1", "click", n), _event(f"ga{n}", "a2", "click", n + 0.5),
                 _event(f"ga{n}", "a2", "purchase", n + 1)]
    for n in range(6):
        rows += [_event(f"gb{n}", "b1", "click", n), _event(f"gb{n}", "b2", "purchase", n + 1)]
    for n in range(5):
        rows += [_event(f"p{n}", "a2", "purchase", n + 2), _event(f"p{n}", "c1", "view", n + 2)]
    rows += [_event("t", "a1", "click", 12), _event("t", "a1", "cart", 13),
             _event("t", "c2", "view", 11)]
    events = pd.DataFrame(rows)
    events["session_id"] = None
    events["value"] = np.nan
    events = conform_events(events)
    events["event_key"] = compute_event_keys(events)
    return events.sort_values("timestamp", kind="stable").reset_index(drop=True)


def tiny_items() -> pd.DataFrame:
    return conform_items(pd.DataFrame({
        "item_id": ["a1", "a2", "b1", "b2", "c1", "c2", "d1"],
        "title": ["Trail runner", "Road runner", "Studio headphones", "Earbuds", "Socks",
                  "Cap", "Never touched"],
        "category": ["shoes.running", "shoes.running", "audio.headphones", "audio.earbuds",
                     "apparel.socks", "apparel.hats", "misc"],
        "brand": ["fleet", "fleet", "sonic", "sonic", "knit", "knit", "none"],
        "price": [120.0, 90.0, 200.0, 60.0, 10.0, 15.0, 1.0],
    }))


def history_frame(items: list[str], behaviours: list[str], days: list[float]) -> pd.DataFrame:
    """A hypothetical history (no user id needed); nanosecond timestamps, as ingest stores them."""
    stamps = pd.Series([DAY0 + pd.Timedelta(days=d) for d in days], dtype="datetime64[ns, UTC]")
    return pd.DataFrame({"item_id": items, "behaviour": behaviours, "timestamp": stamps})
