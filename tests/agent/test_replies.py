"""The chat's own replies: the lead sentence names what was asked, counts read naturally."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from whyrec.agent import replies
from whyrec.tools.service import UserHistory
from whyrec.tools.service.results import HistoryEvent


def history(*behaviours: str) -> UserHistory:
    events = tuple(HistoryEvent(n, f"i{n}", f"Item title {n}", b, pd.Timestamp(f"2026-10-0{9 - n}", tz="UTC"))
                   for n, b in enumerate(behaviours, start=1))
    return UserHistory("u1", len(events), events)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_newest_adds_to_cart_are_not_called_the_cart(language: str) -> None:
    text = replies.recent(history("cart", "cart"), language, behaviour="cart")
    lead = text.splitlines()[0]
    assert ("added to your cart" in lead and "not what is still in the cart" in lead) if language == "en" else \
        ("加入购物车" in lead and "看不出哪些还在购物车里" in lead)
    assert text.count("Item title") == 2


def test_mixed_behaviours_keep_the_general_lead() -> None:
    text = replies.recent(history("cart", "view"), "en", behaviour="cart")  # not all of one kind
    assert text.splitlines()[0] == "Your most recent behaviours:"


@pytest.mark.parametrize("language", ["en", "zh"])
def test_popular_counts_read_for_one_shopper_too(language: str) -> None:
    from whyrec.tools.service.results import ItemInfo
    from whyrec.tools.service.service import PopularItem, PopularItems

    item = ItemInfo("i1", "Ravn wool scarf", None, None, None)
    result = PopularItems("purchase", (PopularItem(item, 1),), 150)
    text = replies.popular(result, language)
    assert "1 shoppers" not in text and "150" in text and "Ravn wool scarf" in text
    if language == "zh":
        assert not re.search(r"[A-Za-z]", text.replace("Ravn wool scarf", ""))
