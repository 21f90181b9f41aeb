"""Causal influence of behaviours on purchase: unit table -> graph -> DoWhy -> InfluenceReport.

Importing this package is cheap; DoWhy, sklearn and torch are imported when first used.
"""

from .cli import effects_cli
from .graph import GraphSpec, behaviour_graph, render_graph
from .report import PairEffects, estimate_report, graph_picture, load_or_estimate, pair_behaviours, pair_effects
from .results import CANNOT_ESTIMATE, OK, POPULATION, BehaviourEffect, InfluenceReport, MethodEstimate, Refutation
from .settings import EffectSettings
from .units import UnitTable, build_units

__all__ = [
    "BehaviourEffect", "CANNOT_ESTIMATE", "EffectSettings", "GraphSpec", "InfluenceReport",
    "MethodEstimate", "OK", "POPULATION", "PairEffects", "Refutation", "UnitTable",
    "behaviour_graph", "build_units", "effects_cli", "estimate_report", "graph_picture",
    "load_or_estimate", "pair_behaviours", "pair_effects", "render_graph",
]
