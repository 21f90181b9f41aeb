"""The JSON forms: the headline is the verified set, the chart adds up to the score, the three
kinds of statement are separate fields."""

from __future__ import annotations

import pytest


def test_chart_sums_to_the_score(explainer) -> None:
    explanation = explainer.explain("u", "t", 3)
    assert sum(bar.value for bar in explanation.chart) == pytest.approx(explanation.score)
    data = explanation.to_json()
    assert data["counterfactual"]["verified"] is True and data["counterfactual"]["size"] == 1
    assert {"kind", "behaviour", "item_id", "title", "count", "value", "share_pct"} <= set(data["chart"][0])


def test_headline_json_names_the_verified_events(explainer) -> None:
    data = explainer.explain("u", "t", 3).to_json()
    cf_keys = [e["event_key"] for e in data["counterfactual"]["events"]]
    assert [e["event_key"] for e in data["headline"]["events"]] == cf_keys
    assert set(data["headline"]["events"][0]) == {"event_key", "behaviour", "item_id", "title", "timestamp"}
    assert data["counterfactual"]["proven_minimal"] is True
    assert data["causal"] == [] and "effects" not in data


def test_repeated_behaviours_are_one_bar(explainer, ranker) -> None:
    explanation = explainer.explain("u", "t", 3)
    for bar in explanation.chart:
        if bar.kind == "event":
            same = [c for c in ranker.contributions("u", "t")
                    if c.item_id == bar.item_id and c.behaviour == bar.behaviour and c.contribution != 0]
            assert bar.count == len(same)
