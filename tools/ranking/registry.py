"""Model names used by the evaluation and the CLI, mapped to ranker classes."""

from __future__ import annotations

from typing import Any

from .als import ALS
from .base import Ranker
from .ease import EASE
from .itemknn import ItemKNN
from .popular import MostPopular
from .sequential import SequentialRules
from .whyrec import RepeatRanker, WhyrecRanker

MODELS: dict[str, type[Ranker]] = {
    "whyrec": WhyrecRanker,
    "repeat": RepeatRanker,
    "popular": MostPopular,
    "itemknn": ItemKNN,
    "als": ALS,
    "ease": EASE,
    "sequential": SequentialRules,
}


def make_ranker(name: str, **params: Any) -> Ranker:
    """An unfitted ranker by model name (``whyrec``, ``repeat``, ``popular``, ...)."""
    try:
        cls = MODELS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose from {sorted(MODELS)}") from None
    return cls(**params)
