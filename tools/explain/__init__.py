"""Explanations: which of a user's behaviours made the ranker recommend an item, verified by re-ranking.

See :mod:`whyrec.tools.explain.explainer` for a worked example and
:mod:`whyrec.tools.explain.results` for the three kinds of statement an explanation holds.
"""

from .explainer import CausalSource, Explainer
from .results import (
    BehaviourTotal,
    CausalStatement,
    ChartBar,
    Counterfactual,
    EventContribution,
    Explanation,
    Headline,
    HypotheticalEvent,
    RankedItem,
    RankMove,
    SuggestedAddition,
    WhatIfResult,
    WhyNot,
)

__all__ = [
    "BehaviourTotal", "CausalSource", "CausalStatement", "ChartBar", "Counterfactual", "EventContribution",
    "Explainer", "Explanation", "Headline", "HypotheticalEvent", "RankMove", "RankedItem", "SuggestedAddition",
    "WhatIfResult", "WhyNot",
]
