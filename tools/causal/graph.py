"""The causal graph: confounders → behaviours → purchase, as a networkx DiGraph, and its picture.

Default structure (every confounder points at every behaviour and at the outcome)::

    confounders ──▶ view ──▶ favourite ──▶ cart ──▶ purchase
                     └────────┴──────────────┴────────▲   (each behaviour also → purchase)

Behaviours earlier in the funnel may cause later ones, so the effect of ``view`` is its total
effect (through favourite and cart too), and the effect of ``cart`` is adjusted for the
behaviours before it. Edges can be added or removed when a shop knows better.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

from .units import BEHAVIOURS, CONFOUNDERS, OUTCOME


@dataclass(frozen=True)
class GraphSpec:
    """Which nodes and edges the graph has; the default is the funnel above."""

    confounders: tuple[str, ...] = CONFOUNDERS
    behaviours: tuple[str, ...] = BEHAVIOURS
    outcome: str = OUTCOME
    extra_edges: tuple[tuple[str, str], ...] = ()
    removed_edges: tuple[tuple[str, str], ...] = ()


def behaviour_graph(spec: GraphSpec = GraphSpec()) -> nx.DiGraph:
    """Build the DAG for ``spec``; raise ValueError if the edits make it cyclic."""
    graph = nx.DiGraph()
    for node in (*spec.confounders, *spec.behaviours, spec.outcome):
        graph.add_node(node, role=_role(node, spec))
    for confounder in spec.confounders:
        for target in (*spec.behaviours, spec.outcome):
            graph.add_edge(confounder, target)
    for i, behaviour in enumerate(spec.behaviours):
        for later in (*spec.behaviours[i + 1:], spec.outcome):
            graph.add_edge(behaviour, later)
    graph.add_edges_from(spec.extra_edges)
    graph.remove_edges_from([e for e in spec.removed_edges if graph.has_edge(*e)])
    for node in graph.nodes:
        graph.nodes[node].setdefault("role", _role(node, spec))
    if not nx.is_directed_acyclic_graph(graph):
        cycle = nx.find_cycle(graph)
        raise ValueError(f"the causal graph must be acyclic; the edits make a cycle: {cycle}")
    return graph


def _role(node: str, spec: GraphSpec) -> str:
    if node == spec.outcome:
        return "outcome"
    if node in spec.behaviours:
        return "behaviour"
    return "confounder"


def restrict(graph: nx.DiGraph, keep: Iterable[str]) -> nx.DiGraph:
    """The subgraph on ``keep`` (used to drop columns without variation in a segment)."""
    return nx.DiGraph(graph.subgraph(list(keep)))


def adjustment_set(graph: nx.DiGraph, treatment: str, outcome: str = OUTCOME) -> list[str]:
    """Parents of ``treatment`` (a valid backdoor set in a DAG), in a stable order."""
    return sorted(p for p in graph.predecessors(treatment) if p != outcome)


def render_graph(graph: nx.DiGraph, path: str | Path, highlight: Sequence[str] = (),
                 title: str | None = None) -> Path:
    """Draw the graph as a PNG (matplotlib Agg, no display needed) and return its path.

    Confounders sit on the left, behaviours in funnel order in the middle, the outcome on the
    right; ``highlight`` marks behaviours (e.g. the one being explained).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    roles = nx.get_node_attributes(graph, "role")
    confounders = [n for n in graph.nodes if roles.get(n) == "confounder"]
    behaviours = [n for n in graph.nodes if roles.get(n) == "behaviour"]
    outcomes = [n for n in graph.nodes if roles.get(n) == "outcome"]
    pos: dict[str, tuple[float, float]] = {}
    for i, node in enumerate(confounders):
        pos[node] = (0.0, 1.0 - i / max(len(confounders) - 1, 1))
    for i, node in enumerate(behaviours):
        pos[node] = (1.0 + i * 0.8, 0.5 + (0.18 if i % 2 else -0.18))
    for node in outcomes:
        pos[node] = (1.0 + len(behaviours) * 0.8, 0.5)
    colours = {"confounder": "#d9d9d9", "behaviour": "#9ecae1", "outcome": "#fdae6b"}
    figure = Figure(figsize=(10, 5.5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    axes.set_axis_off()
    for source, target in graph.edges:
        faint = roles.get(source) == "confounder"
        axes.annotate("", xy=pos[target], xytext=pos[source],
                      arrowprops=dict(arrowstyle="-|>", color="#bbbbbb" if faint else "#3182bd",
                                      lw=0.6 if faint else 1.6, shrinkA=18, shrinkB=18,
                                      connectionstyle="arc3,rad=0.08"))
    for node, (x, y) in pos.items():
        role = roles.get(node, "confounder")
        edge = "#d62728" if node in highlight else "#555555"
        axes.text(x, y, node.replace("_", " "), ha="center", va="center", fontsize=9,
                  bbox=dict(boxstyle="round,pad=0.4", fc=colours[role], ec=edge,
                            lw=2.5 if node in highlight else 0.8))
    axes.set_xlim(-0.4, 1.4 + len(behaviours) * 0.8)
    axes.set_ylim(-0.15, 1.15)
    if title:
        axes.set_title(title, fontsize=11)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, format="png", bbox_inches="tight")
    return out
