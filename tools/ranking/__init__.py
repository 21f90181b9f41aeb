"""Ranking: the ranker contract, whyrec's additive ranker, baselines, evaluation and the agent tool.

>>> import pandas as pd
>>> events = pd.DataFrame({"user_id": ["u1", "u1", "u2", "u2", "u3"],
...                        "item_id": ["a", "b", "a", "c", "c"],
...                        "behaviour": ["view", "cart", "view", "purchase", "view"],
...                        "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01",
...                                                     "2024-01-03", "2024-01-02"], utc=True)})
>>> ranker = WhyrecRanker().fit(events)
>>> ids, scores = ranker.recommend("u1", k=10)       # u1 has seen a and b: only c is left
>>> ids.tolist()
['c']
>>> [(c.item_id, c.behaviour) for c in ranker.contributions("u1", "c")]
[('a', 'view'), ('b', 'cart')]
"""

from .als import ALS
from .base import DEFAULT_BEHAVIOUR_WEIGHTS, Contribution, NotFittedError, Ranker, UnknownItemError, UnknownUserError
from .catalog import ItemCatalog, ItemFilter
from .ease import EASE
from .itemknn import ItemKNN
from .persist import load_or_fit
from .popular import MostPopular
from .registry import MODELS, make_ranker
from .whyrec import RepeatRanker, WhyrecRanker

__all__ = [
    "ALS", "Contribution", "DEFAULT_BEHAVIOUR_WEIGHTS", "EASE", "ItemCatalog", "ItemFilter",
    "ItemKNN", "MODELS", "MostPopular", "NotFittedError", "Ranker", "RepeatRanker",
    "UnknownItemError", "UnknownUserError", "WhyrecRanker", "load_or_fit", "make_ranker",
]
