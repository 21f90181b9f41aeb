"""The causal graph of one decision point, as a networkx DiGraph, and its picture.

Time runs left to right. What was known before the first view (the exposure's baseline) and
what happened on the item since (its history so far) both point at the next action and at
the purchase; the next action points at the purchase::

    baseline ──▶ history so far ──▶ next action (view again | favourite | cart) ──▶ purchase within H
        └──────────────┴───────────────────────▲──────────────────────────────────────▲

Nothing that happens after the decision point is in the graph, so no adjustment set can hold
it. Each behaviour's trial uses its own copy (:meth:`~.estimate.TrialFrame.graph`) with the
columns that vary in its data.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import networkx as nx

from .decisions import HISTORY
from .estimand import BEHAVIOURS, OUTCOME
from .units import CONFOUNDERS


def decision_graph(behaviours: Sequence[str] = BEHAVIOURS) -> nx.DiGraph:
    """Baseline → history → next action → purchase, every earlier node also → later ones."""
    graph = nx.DiGraph()
    for node in CONFOUNDERS:
        graph.add_node(node, role="baseline")
    for node in HISTORY:
        graph.add_node(node, role="history")
    for node in behaviours:
        graph.add_node(node, role="behaviour")
    graph.add_node(OUTCOME, role="outcome")
    for source in CONFOUNDERS:
        for target in (*HISTORY, *behaviours, OUTCOME):
            graph.add_edge(source, target)
    for source in HISTORY:
        for target in (*behaviours, OUTCOME):
            graph.add_edge(source, target)
    for behaviour in behaviours:
        graph.add_edge(behaviour, OUTCOME)
    return graph


#: Adjusters the product's pages have no words for yet: listed apart in :func:`graph_spec`.
UNNAMED_ADJUSTERS: tuple[str, ...] = ("user_price_level", "log_elapsed", "day_now")


def graph_spec(behaviours: Sequence[str] = BEHAVIOURS) -> dict[str, Any]:
    """The graph for people: ``confounders`` (measured before the decision point), the
    ``behaviours`` in funnel order (the history so far and the next action), the ``outcome``,
    and ``also_adjusted`` — the remaining adjusters (the user's usual price level, the time since
    the first view, the current day)."""
    history_behaviours = ("looks_so_far", "favourite_so_far", "cart_so_far")
    named = [c for c in CONFOUNDERS if c not in UNNAMED_ADJUSTERS]
    also = [c for c in (*CONFOUNDERS, *HISTORY) if c in UNNAMED_ADJUSTERS and c not in history_behaviours]
    return {"confounders": named, "behaviours": list(behaviours), "outcome": OUTCOME, "also_adjusted": also,
            "extra_edges": [], "removed_edges": []}


def render_graph(path: str | Path, highlight: Sequence[str] = (), title: str | None = None,
                 graph: nx.DiGraph | None = None) -> Path:
    """Draw the decision-point graph as a PNG (matplotlib Agg, no display needed).

    Baseline confounders sit on the left, the item's history next, the three possible next
    actions in the middle, the purchase on the right; ``highlight`` marks behaviours.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    graph = graph if graph is not None else decision_graph()
    roles = nx.get_node_attributes(graph, "role")
    columns = {"baseline": 0.0, "history": 1.2, "behaviour": 2.4, "outcome": 3.6}
    pos: dict[str, tuple[float, float]] = {}
    for role, x in columns.items():
        nodes = [n for n in graph.nodes if roles.get(n) == role]
        for i, node in enumerate(nodes):
            pos[node] = (x, 0.5 if len(nodes) == 1 else 1.0 - i / (len(nodes) - 1))
    colours = {"baseline": "#d9d9d9", "history": "#c7e9c0", "behaviour": "#9ecae1", "outcome": "#fdae6b"}
    figure = Figure(figsize=(11, 6), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    axes.set_axis_off()
    for source, target in graph.edges:
        strong = roles.get(source) == "behaviour"
        axes.annotate("", xy=pos[target], xytext=pos[source],
                      arrowprops=dict(arrowstyle="-|>", color="#3182bd" if strong else "#cccccc",
                                      lw=1.8 if strong else 0.5, shrinkA=16, shrinkB=16,
                                      connectionstyle="arc3,rad=0.05"))
    labels = {OUTCOME: "purchase within H", "log_elapsed": "time since first view", "day_now": "day"}
    for node, (x, y) in pos.items():
        role = roles.get(node, "baseline")
        edge = "#d62728" if node in highlight else "#555555"
        text = labels.get(node, ("next: " if role == "behaviour" else "") + node.replace("_", " "))
        axes.text(x, y, text, ha="center", va="center", fontsize=8.5,
                  bbox=dict(boxstyle="round,pad=0.35", fc=colours[role], ec=edge, lw=2.5 if node in highlight else 0.8))
    for role, x in columns.items():
        axes.text(x, 1.1, {"baseline": "before the first view", "history": "on the item so far",
                           "behaviour": "the next action", "outcome": "afterwards"}[role],
                  ha="center", va="center", fontsize=9, style="italic")
    axes.set_xlim(-0.6, 4.2)
    axes.set_ylim(-0.1, 1.2)
    axes.set_title(title or "One decision point: what is known then -> the next action -> purchase", fontsize=11)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, format="png", bbox_inches="tight")
    return out
