"""Which of a user's own items a served list leaves out: the exclusion policy.

``"none"``       nothing is left out (a shopper may buy again what they viewed or bought);
``"purchased"``  items the user already did the target behaviour on (bought, in a shop);
``"seen"``       every item in the user's history.

Which one serves a shop best depends on its data (on multi-behaviour logs most next purchases
are items already viewed; whether bought items recur depends on the shop), so the auto-tuner
learns it on validation (:mod:`.autotune`) and a request may override it.

>>> from whyrec.tools.ranking.history import History
>>> import numpy as np
>>> h = History(np.array([3, 5, 3]), np.array([0, 4, 4], dtype=np.int8), np.zeros(3),
...             np.arange(3, dtype=np.uint64), np.full(3, np.nan))
>>> excluded_items(h, "purchased", target_code=4).tolist(), excluded_items(h, "seen", 4).tolist()
([3, 5], [3, 5])
>>> excluded_items(h, "none", 4).tolist()
[]
"""

from __future__ import annotations

import numpy as np

from .history import History

#: The policies, from the most permissive to the strictest.
POLICIES: tuple[str, ...] = ("none", "purchased", "seen")


def check_policy(policy: str) -> str:
    """``policy`` if it is one of :data:`POLICIES`, else a ValueError naming them."""
    if policy not in POLICIES:
        raise ValueError(f"unknown exclusion policy {policy!r}; use one of {', '.join(POLICIES)}")
    return policy


def excluded_items(history: History, policy: str, target_code: int) -> np.ndarray:
    """Catalog positions ``policy`` leaves out of the list for a user with ``history``."""
    check_policy(policy)
    items = history.items
    if policy == "none":
        return np.zeros(0, dtype=np.int64)
    if policy == "purchased":
        items = items[history.behaviours == target_code]
    items = items[items >= 0]
    return np.unique(items).astype(np.int64)


__all__ = ["POLICIES", "check_policy", "excluded_items"]
