"""The recommend tool: plain API and LangChain wrapper."""

from __future__ import annotations

import json

import numpy as np
import pytest

from whyrec.tools.ranking import UnknownUserError, WhyrecRanker
from whyrec.tools.ranking.tool import make_recommend_tool, recommend_items

from .tiny import tiny_events, tiny_items


@pytest.fixture(scope="module")
def ranker() -> WhyrecRanker:
    return WhyrecRanker(neighbours=10, shrink=0.0).fit(tiny_events(), tiny_items())


def test_plain_api_returns_titled_ranked_items(ranker) -> None:
    recs = recommend_items(ranker, "t", k=3)
    assert [r.rank for r in recs] == [1, 2, 3]
    assert recs.items[0].item_id == "a2" and recs.items[0].title == "Road runner"
    assert recs.items[0].category == "shoes.running"
    text = recs.to_text()
    assert "Road runner" in text and "item a2" in text
    data = json.loads(json.dumps(recs.to_json()))
    assert data["items"][0]["item_id"] == "a2" and data["user_id"] == "t"


def test_category_and_title_query(ranker) -> None:
    assert {r.item_id for r in recommend_items(ranker, "t", k=5, category="audio")} == {"b1", "b2"}
    recs = recommend_items(ranker, "t", k=5, query="EARBUD")
    assert [r.item_id for r in recs] == ["b2"] and "title" in recs.note


def test_semantic_query_uses_item_vectors(ranker) -> None:
    ids = np.array(["a1", "a2", "b1", "b2", "c1", "c2", "d1"])
    vectors = np.eye(7, dtype=np.float32)
    recs = recommend_items(ranker, "t", k=5, query="something to listen with",
                           item_vectors=(ids, vectors), embed_query=lambda q: vectors[3],
                           query_matches=1)
    assert [r.item_id for r in recs] == ["b2"] and "semantic" in recs.note


def test_unknown_user(ranker) -> None:
    with pytest.raises(UnknownUserError):
        recommend_items(ranker, "ghost")


def test_langchain_tool(ranker) -> None:
    tool = make_recommend_tool(ranker)
    assert tool.name == "recommend"
    assert set(tool.args) == {"user_id", "k", "category", "query"}
    out = tool.invoke({"user_id": "t", "k": 2})
    assert out.startswith("Top 2 recommendations for user t") and "Road runner" in out
    assert tool.invoke({"user_id": "ghost"}).startswith("error: unknown user 'ghost'")
    as_json = make_recommend_tool(ranker, as_json=True).invoke({"user_id": "t", "k": 1})
    assert json.loads(as_json)["items"][0]["item_id"] == "a2"
