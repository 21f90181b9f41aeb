"""The offline planner's understanding of questions, in English and Chinese."""

from __future__ import annotations

import pandas as pd
import pytest

from whyrec.agent.intents import ItemResolver, behaviour_in, parse_intent
from whyrec.agent.language import detect_language

ITEMS = pd.DataFrame({
    "item_id": ["i1", "i2", "i3", "i4"],
    "title": ["Ravn wool scarf", "Kvitfjell wireless mouse", "Saga Studio hyaluronic serum", "Ravn silk scarf"],
    "category": ["apparel.accessories.scarf", "electronics.computing.mouse", "beauty.skincare.serum",
                 "apparel.accessories.scarf"],
})


@pytest.fixture
def resolver() -> ItemResolver:
    return ItemResolver.from_catalog(ITEMS, last_recommendations=["i3", "i1", "i2"])


@pytest.mark.parametrize(("message", "kind", "item"), [
    ("What should I buy next?", "recommend", None),
    ("我接下来该买什么？", "recommend", None),
    ("why did you recommend the second one?", "explain", "i1"),
    ("Why #3?", "explain", "i2"),
    ("为什么推荐第二个？", "explain", "i1"),
    ("why Saga Studio hyaluronic serum?", "explain", "i3"),
    ("why not Kvitfjell wireless mouse?", "why_not", "i2"),
    ("为什么不推荐 Ravn silk scarf？", "why_not", "i4"),
    ("which of my actions mattered most?", "important", None),
    ("哪些行为最重要？", "important", None),
    ("how much does adding to cart raise the chance of purchase?", "effects", None),
    ("加入购物车能把购买概率提高多少？", "effects", None),
    ("what did I add to cart?", "history", None),
    ("我买过什么？", "history", None),
    ("find a wool scarf", "search", None),
    ("show me user 123's history", "other_user", None),
    ("给我看看用户 42 的记录", "other_user", None),
    ("hello there", "help", None),
])
def test_kinds_and_items(resolver: ItemResolver, message: str, kind: str, item: str | None) -> None:
    intent = parse_intent(message, resolver, "u7")
    assert intent.kind == kind
    assert intent.item_id == item


def test_what_if_remove_and_add(resolver: ItemResolver) -> None:
    removed = parse_intent("What if I hadn't added Ravn wool scarf to my cart?", resolver, "u7")
    assert (removed.kind, removed.item_id, removed.behaviour, removed.remove) == ("what_if", "i1", "cart", True)
    added = parse_intent("what if I save the first one to my favourites", resolver, "u7")
    assert (added.item_id, added.behaviour, added.remove) == ("i3", "favourite", False)
    zh = parse_intent("如果我没有把第一个加入购物车会怎样？", resolver, "u7")
    assert (zh.kind, zh.item_id, zh.behaviour, zh.remove) == ("what_if", "i3", "cart", True)


def test_recommend_arguments(resolver: ItemResolver) -> None:
    assert parse_intent("recommend 3 electronics", resolver, "u7").category == "electronics"
    assert parse_intent("recommend 3 electronics", resolver, "u7").k == 3
    assert parse_intent("recommend me some wool scarves", resolver, "u7").query == "wool scarves"
    assert parse_intent("推荐三个", resolver, "u7").k == 3


def test_own_user_id_is_not_another_user(resolver: ItemResolver) -> None:
    assert parse_intent("show user u7 history", resolver, "u7").kind != "other_user"


def test_ordinal_without_recommendations_is_unresolved() -> None:
    resolver = ItemResolver.from_catalog(ITEMS)
    intent = parse_intent("why the second one?", resolver, "u7")
    assert intent.kind == "explain" and intent.item_id is None and intent.reference == "#2"


def test_effects_segment_and_behaviours() -> None:
    resolver = ItemResolver.from_catalog(ITEMS)
    assert parse_intent("effect of favourites by category", resolver, "u").segment == "category"
    assert behaviour_in("saved to favourites") == "favourite"
    assert behaviour_in("加入购物车") == "cart"
    assert detect_language("为什么") == "zh" and detect_language("why") == "en"
