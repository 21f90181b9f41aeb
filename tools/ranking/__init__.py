"""Ranking: the ranker contract, whyrec's additive ranker, baselines, evaluation and the agent tool.

>>> from whyrec.tools.ranking import WhyrecRanker, ItemFilter                 # doctest: +SKIP
>>> ranker = WhyrecRanker().fit(events, items)                               # doctest: +SKIP
>>> ids, scores = ranker.recommend("u1", k=10, filters=ItemFilter(max_price=50))  # doctest: +SKIP
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
