"""Explanations: which of a user's behaviours made the ranker recommend an item, verified by re-ranking.

>>> from whyrec.tools.explain import Explainer                          # doctest: +SKIP
>>> explainer = Explainer(ranker, items, report)                        # doctest: +SKIP
>>> print(explainer.explain("u1", "42", k=10).to_text("zh"))            # doctest: +SKIP
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
from .tool import make_explain_tool, make_what_if_tool

__all__ = [
    "BehaviourTotal", "ChartBar", "Counterfactual", "EventContribution", "Explainer", "Explanation",
    "HypotheticalEvent", "PopulationEffect", "RankMove", "RankedItem", "SuggestedAddition",
    "WhatIfResult", "WhyNot", "make_explain_tool", "make_what_if_tool",
]
