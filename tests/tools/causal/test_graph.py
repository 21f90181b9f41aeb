"""The causal graph: funnel structure, edits, acyclicity, and its picture."""

from __future__ import annotations

import networkx as nx
import pytest

from whyrec.tools.causal.graph import GraphSpec, adjustment_set, behaviour_graph, render_graph


def test_default_graph_is_the_funnel_with_confounders():
    graph = behaviour_graph()
    assert nx.is_directed_acyclic_graph(graph)
    for edge in [("view", "favourite"), ("view", "cart"), ("favourite", "cart"), ("cart", "purchase"),
                 ("view", "purchase"), ("user_activity", "cart"), ("item_popularity", "purchase")]:
        assert graph.has_edge(*edge), edge
    assert not graph.has_edge("cart", "view")
    assert graph.nodes["purchase"]["role"] == "outcome"
    assert graph.nodes["taste_share"]["role"] == "confounder"
    assert "favourite" in adjustment_set(graph, "cart") and "view" in adjustment_set(graph, "cart")
    assert "cart" not in adjustment_set(graph, "view")


def test_edges_can_be_added_and_removed():
    spec = GraphSpec(removed_edges=(("view", "purchase"),), extra_edges=(("day", "price_seen"),))
    graph = behaviour_graph(spec)
    assert not graph.has_edge("view", "purchase")
    assert graph.has_edge("day", "price_seen")


def test_a_cycle_is_refused():
    with pytest.raises(ValueError, match="acyclic"):
        behaviour_graph(GraphSpec(extra_edges=(("purchase", "view"),)))


def test_render_writes_a_png(tmp_path):
    path = render_graph(behaviour_graph(), tmp_path / "sub" / "graph.png", highlight=("cart",))
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
