"""Explanations: which of a user's behaviours made the ranker recommend an item, verified by re-ranking.
See :mod:`whyrec.tools.explain.explainer` for a worked example.
"""

from .explainer import Explainer
from .results import (
                      BehaviourTotal,
                      ChartBar,
                      Counterfactual,
                      EventContribution,
                      Explanation,
                      HypotheticalEvent,
                      PopulationEffect,
                      RankedItem,
                      RankMove,
                      SuggestedAddition,
                      WhatIfResult,
                      WhyNot,
)

__all__ = [
    "BehaviourTotal", "ChartBar", "Counterfactual", "EventContribution", "Explainer", "Explanation",
    "HypotheticalEvent", "PopulationEffect", "RankMove", "RankedItem", "SuggestedAddition",
    "WhatIfResult", "WhyNot",
]
