"""Causal effects of behaviours on purchase: decision points → DoWhy/econml → verdicts.

The pipeline (``docs/causal.md``): the log's exposures and decision points (:mod:`.units`,
:mod:`.decisions`), one target trial per behaviour with the doubly robust learner through
DoWhy (:mod:`.estimate`), refutations (:mod:`.refute`), sensitivity (:mod:`.sensitivity`) and
a verdict (:mod:`.verdict`), gathered in a cached report (:mod:`.report`); personal effects
for one shopper's items (:mod:`.personal`).

Importing this package is cheap; DoWhy, econml and sklearn are imported when first used.
"""

from .cli import effects_cli
from .decisions import DecisionTable, build_decisions
from .effect import estimate_behaviour
from .estimand import BEHAVIOURS, Windows, choose_windows
from .graph import decision_graph, render_graph
from .personal import PersonalEffect, StatementSource, causal_statements, personal_effects, statement_source
from .report import (
    PairEffects,
    decision_table,
    estimate_report,
    graph_picture,
    load_or_estimate,
    pair_behaviours,
    pair_effects,
)
from .results import (
    CANNOT_ESTIMATE,
    INCONCLUSIVE,
    OK,
    POPULATION,
    SUPPORTED,
    BehaviourEffect,
    CateModel,
    EffectWeight,
    InfluenceReport,
    MethodEstimate,
    Refutation,
    Sensitivity,
)
from .settings import EffectSettings
from .units import UnitTable, build_units

__all__ = [
    "BEHAVIOURS", "BehaviourEffect", "CANNOT_ESTIMATE", "CateModel", "DecisionTable", "EffectSettings",
    "EffectWeight", "INCONCLUSIVE", "InfluenceReport", "MethodEstimate", "OK", "POPULATION", "PairEffects",
    "PersonalEffect", "Refutation", "SUPPORTED", "Sensitivity", "UnitTable", "Windows", "build_decisions",
    "build_units", "choose_windows", "decision_graph", "decision_table", "effects_cli", "estimate_behaviour",
    "estimate_report", "graph_picture", "load_or_estimate", "pair_behaviours", "pair_effects", "personal_effects",
    "render_graph", "StatementSource", "causal_statements", "statement_source",
]
