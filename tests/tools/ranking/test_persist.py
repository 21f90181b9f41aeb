"""load_or_fit: a server start reuses the fitted ranker while the data version is unchanged."""

from __future__ import annotations

from whyrec.tools.ranking import WhyrecRanker, load_or_fit
from whyrec.tools.workspace import Workspace

from .tiny import tiny_events, tiny_items


def test_load_or_fit_caches_by_data_version(tmp_path) -> None:
    workspace = Workspace.create(tmp_path / "ws")
    with workspace.lock():
        workspace.commit(tiny_events(), tiny_items(), [])
    calls = []

    def factory() -> WhyrecRanker:
        calls.append(1)
        return WhyrecRanker(neighbours=10)

    first = load_or_fit(workspace, factory)
    second = load_or_fit(workspace, factory)
    assert len(calls) == 1
    assert list(first.recommend("t", k=3)[0]) == list(second.recommend("t", k=3)[0])
    with workspace.lock():
        workspace.commit(tiny_events().head(3).assign(event_key=lambda f: f["event_key"] + 1), None, [])
    load_or_fit(workspace, factory)
    assert len(calls) == 2
