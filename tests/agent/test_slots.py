"""Slot extraction: items (misspelt, partial, by position, "it"), behaviours, categories and
exclusions, price bands, segments, time windows, counts, the reply language, other shoppers."""

from __future__ import annotations

import pandas as pd
import pytest

from whyrec.agent.slots import (
    Catalog,
    delexicalise,
    extract,
    listed_items,
    mask_products,
    normalise_query,
    ordinal,
    quoted_item,
    resolve,
    search_text,
)

ITEMS = pd.DataFrame({
    "item_id": ["i1", "i2", "i3", "i4", "i5", "i6", "i7", "i8"],
    "title": ["Ravn wool scarf", "Kvitfjell wireless mouse", "Saga Studio hyaluronic serum", "Ravn silk scarf",
              "Lyngen cork yoga mat", "Lyngen cork yoga mat, charcoal", "Havbris family tent",
              "Havbris ultralight tent"],
    "category": ["apparel.accessories.scarf", "electronics.computing.mouse", "beauty.skincare.serum",
                 "apparel.accessories.scarf", "sports.fitness.yoga_mat", "sports.fitness.yoga_mat",
                 "sports.outdoor.tent", "sports.outdoor.tent"],
    "brand": ["Ravn", "Kvitfjell", "Saga Studio", "Ravn", "Lyngen", "Lyngen", "Havbris", "Havbris"],
    "price": [40.0, 30.0, 20.0, 60.0, 25.0, 27.0, 80.0, 120.0],
})


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.from_items(ITEMS)


def item_of(text: str, catalog: Catalog) -> str:
    slots = extract(text, catalog)
    return slots.item.canonical(catalog) if slots.item else ""


@pytest.mark.parametrize(("text", "expected"), [
    ("why the Ravn wool scarf?", "Ravn wool scarf"),
    ("why the ravn wool scraf?", "Ravn wool scarf"),                    # a typo
    ("what about the Kvitfjell mouse", "Kvitfjell wireless mouse"),     # brand and kind
    ("why not the cork yoga mat?", "Lyngen cork yoga mat"),             # the plain variant, not ", charcoal"
    ("为什么推荐 Kvitfjell 鼠标？", "Kvitfjell wireless mouse"),           # brand + a Chinese shop word
    ("为什么不推荐软木瑜伽垫", "Lyngen cork yoga mat"),                      # two Chinese shop words
    ("why the second one?", "#2"),
    ("为什么推荐第三个", "#3"),
    ("explain #4", "#4"),
    ("why that one?", "@it"),
    ("why the Havbris tent?", "?"),                                     # two Havbris tents: ambiguous
    ("why the zorblax 9000?", "?"),
])
def test_items(catalog: Catalog, text: str, expected: str) -> None:
    assert item_of(text, catalog) == expected


def test_ambiguous_items_name_their_candidates(catalog: Catalog) -> None:
    ref = extract("why the Havbris tent?", catalog).item
    assert ref is not None and ref.kind == "ambiguous" and set(ref.candidates) == {"i7", "i8"}


def test_one_chinese_shop_word_is_a_kind_not_an_item(catalog: Catalog) -> None:
    assert extract("搜索丝巾", catalog).item is None or extract("搜索丝巾", catalog).item.kind != "title"
    assert extract("有瑜伽垫卖吗", catalog).item is None or extract("有瑜伽垫卖吗", catalog).item.kind != "title"


def test_references_resolve_against_what_was_shown() -> None:
    catalog = Catalog.from_items(ITEMS)
    shown = ["i3", "i1", "i2"]
    assert resolve(extract("why the second one?", catalog).item, shown, None) == ("i1", "#2")
    assert resolve(extract("why the last one?", catalog).item, shown, None) == ("i2", "#3")
    assert resolve(extract("why it?", catalog).item, shown, "i2") == ("i2", "it")
    assert resolve(extract("why the fifth?", catalog).item, shown, None) == (None, "#5")


@pytest.mark.parametrize(("text", "behaviours"), [
    ("what if I hadn't added it to my cart", ["cart"]),
    ("what if I added it to my favourites", ["favourite"]),   # "add" is the cart only when nothing else is said
    ("put it in my basket", ["cart"]),
    ("does favouriting make people buy more", ["favourite", "purchase"]),
    ("have I ever looked at a tent", ["view"]),
    ("如果我收藏了它", ["favourite"]),
    ("我上次看 Ravn wool scarf 是什么时候", ["view"]),
    ("把它从购物车里拿掉", ["cart"]),
])
def test_behaviours(catalog: Catalog, text: str, behaviours: list[str]) -> None:
    assert list(extract(text, catalog).behaviours) == behaviours


@pytest.mark.parametrize(("text", "category", "exclude"), [
    ("recommend some electronics", "electronics", ()),
    ("recommend something, just not clothes", None, ("apparel",)),
    ("what should I buy? no electronics and no beauty stuff", None, ("electronics", "beauty")),
    ("anything except sports gear?", None, ("sports",)),
    ("推荐点东西，但不要电子产品", None, ("electronics",)),
    ("除了衣服以外都可以推荐", None, ("apparel",)),
    ("别推荐运动和美妆", None, ("sports", "beauty")),
    ("给我推荐一件衣服", "apparel", ()),
])
def test_categories_and_exclusions(catalog: Catalog, text: str, category: str | None, exclude: tuple[str, ...]) -> None:
    slots = extract(text, catalog)
    assert slots.category == category
    assert slots.exclude == exclude


@pytest.mark.parametrize(("text", "price", "segment", "value"), [
    ("something cheap?", "low", "price_band", "low"),
    ("a premium jacket", "high", "price_band", "high"),
    ("is the cart effect different for cheap and expensive items", "both", "price_band", None),
    ("effects by brand", None, "brand", None),
    ("do active shoppers respond differently", None, "activity", None),
    ("does carting electronics make people buy them", None, "category", "electronics"),
    ("推荐点便宜的", "low", "price_band", "low"),
    ("按类别看效果", None, "category", None),
])
def test_price_and_segments(catalog: Catalog, text: str, price: str | None, segment: str | None,
                            value: str | None) -> None:
    slots = extract(text, catalog)
    assert (slots.price, slots.segment, slots.segment_value) == (price, segment, value)


@pytest.mark.parametrize(("text", "price_max", "k", "price"), [
    ("recommend something under 20", 20.0, None, None),          # a price, not "20 picks"
    ("something cheaper than 20 dollars", 20.0, None, None),     # the number, not the cheaper third
    ("show me 3 things below $15.50", 15.5, 3, None),
    ("top 10 under 30", 30.0, 10, None),
    ("up to 5 items please", None, 5, None),
    ("within 3 days", None, 3, None),
    ("推荐几个30元以下的", 30.0, None, None),
    ("推荐三件不超过50块的", 50.0, 3, None),
    ("给我5个以内的推荐", None, 5, None),
    ("something cheap", None, None, "low"),
])
def test_an_explicit_highest_price(catalog: Catalog, text: str, price_max: float | None, k: int | None,
                                   price: str | None) -> None:
    slots = extract(text, catalog)
    assert (slots.price_max, slots.k, slots.price) == (price_max, k, price)


@pytest.mark.parametrize(("text", "k"), [
    ("give me three ideas", 3), ("top 10 for me", 10), ("推荐四件", 4), ("给我前十个", 10),
    ("half a dozen picks", 6), ("why the second one?", None), ("recommend a 1000-piece jigsaw", None),
    ("给我推荐一件衣服", None), ("what did user 42 buy", None),
])
def test_counts(catalog: Catalog, text: str, k: int | None) -> None:
    assert extract(text, catalog).k == k


@pytest.mark.parametrize(("text", "time"), [
    ("what did I buy recently", "recent"), ("what did I browse last week", "7d"),
    ("my purchases in the past month", "30d"), ("我上周浏览了什么", "7d"), ("我最近买了什么", "recent"),
    ("what did I buy", None),
])
def test_time_windows(catalog: Catalog, text: str, time: str | None) -> None:
    assert extract(text, catalog).time == time


@pytest.mark.parametrize(("text", "language"), [
    ("what should I buy? answer in Chinese", "zh"), ("in English please", "en"), ("请用英文回答", "en"),
    ("第二个为什么，用英文说", "en"), ("用中文", "zh"), ("I like Chinese food", None), ("为什么推荐第一个", None),
])
def test_requested_language(catalog: Catalog, text: str, language: str | None) -> None:
    assert extract(text, catalog).language == language


def test_other_shoppers_but_not_the_asker(catalog: Catalog) -> None:
    assert extract("show me user 123's history", catalog, "u7").other_user == "123"
    assert extract("what did u42 buy?", catalog, "u7").other_user == "u42"
    assert extract("用户 55 买了什么", catalog, "u7").other_user == "55"
    assert extract("show user u7 history", catalog, "u7").other_user is None
    assert extract("what would a typical user buy?", catalog, "u7").other_user is None


def test_topics_and_their_search_text(catalog: Catalog) -> None:
    assert normalise_query(extract("do you have wool scarves?", catalog).phrase or "") == "wool scarf"
    assert extract("有羊毛围巾吗？", catalog).phrase == "羊毛围巾"
    assert search_text("羊毛围巾") == "wool scarf"
    assert extract("im bored, what should i shop for", catalog).query in (None, "bored")


def test_product_kinds_are_masked_for_the_router() -> None:
    assert mask_products("I'm looking for a novel") == "I'm looking for a thing"
    assert mask_products("有瑜伽垫卖吗") == "有东西卖吗"
    assert mask_products("show me bike helmets") == "show me thing"


def test_a_removal_around_a_title_with_punctuation(catalog: Catalog) -> None:
    slots = extract("take the Lyngen cork yoga mat, charcoal out of my cart, what changes?", catalog)
    assert (slots.item.item_id if slots.item else None, slots.remove, slots.behaviour) == ("i6", True, "cart")


def test_a_latin_product_word_in_chinese_is_a_kind_not_a_name(catalog: Catalog) -> None:
    assert delexicalise("搜索 scarf", extract("搜索 scarf", catalog), catalog, "zh") == "搜索 东西"
    named = "为什么推荐 Ravn wool scarf"
    assert delexicalise(named, extract(named, catalog), catalog, "zh") == "为什么推荐 这个商品"


@pytest.mark.parametrize(("text", "read"), [
    ("any 推荐 for me today?", "any 推荐 for me today?"),      # ordinary English: not a name
    ("add to cart 对购买有用吗", "add to cart 对购买有用吗"),
    ("为什么不推荐 hoverboard deluxe？", "为什么不推荐 这个商品？"),   # words nobody chats with: a name
    ("为什么不推荐 Ravn scarf deluxe", "为什么不推荐 这个商品"),       # mostly catalog words: a name
    ("为什么不推荐 Studio Ghibli poster", "为什么不推荐 这个商品"),    # a name the catalog does not hold
    ("best sellers 是哪些", "best sellers 是哪些"),
])
def test_latin_words_in_chinese_are_a_name_only_when_they_read_like_one(catalog: Catalog, text: str,
                                                                         read: str) -> None:
    """Before: any two Latin words in a Chinese message were a product name, so "any 推荐 for me
    today?" was read as "any 推荐 这个商品" and answered as a question about an item."""
    assert delexicalise(text, extract(text, catalog), catalog, "zh") == read


def test_earlier_answers_are_read_back(catalog: Catalog) -> None:
    answer = ("Here are 3 picks for you:\n1. Ravn silk scarf — Because you viewed “Ravn wool scarf”\n"
              "2. Kvitfjell wireless mouse — Popular with shoppers\n3. Lyngen cork yoga mat, charcoal — ...")
    assert listed_items(answer, catalog) == ["i4", "i2", "i6"]
    assert listed_items("1. Ravn silk scarf —— 因为你浏览了“Ravn wool scarf”", catalog) == ["i4"]
    assert quoted_item("I recommend “Saga Studio hyaluronic serum” (#1 for you) because…", catalog) == "i3"
    assert ordinal("the first of all things") is None


OWN = pd.DataFrame({
    "item_id": ["s1", "s2", "s3", "h1", "h2", "p1", "p2", "p3"],
    "title": ["Lyngen hyaluronic serum", "Vinterlys hyaluronic serum", "Saga Studio hyaluronic serum",
              "Lyngen gentle shampoo", "Blåbær repair shampoo", "Eik hanging planter", "Furu hanging planter",
              "Tindra hanging planter"],
    "category": ["beauty.skincare.serum"] * 3 + ["beauty.hair.shampoo"] * 2 + ["garden.pots.planter"] * 3,
})


@pytest.mark.parametrize(("text", "expected"), [
    ("what if I hadn't added the hyaluronic serum to my cart?", "s3"),   # the one carted, not the shop's two
    ("what if I hadn't favourited the shampoo?", "h1"),                  # two shampoos seen, one saved
    ("what if I hadn't clicked the hanging planter?", "p1"),
    ("如果我没有收藏那个洗发水呢？", "h1"),
    ("what if I hadn't added the Vinterlys hyaluronic serum to my cart?", "s2"),  # a whole title still wins
])
def test_a_title_named_in_part_is_the_shoppers_own_item(text: str, expected: str) -> None:
    """The shopper's own history decides which of several items "the serum" is (it was: a choice
    among two other serums, leaving out the one they carted)."""
    catalog = Catalog.from_items(OWN)
    own = {"s3": frozenset({"view", "cart"}), "h1": frozenset({"view", "favourite"}), "h2": frozenset({"view"}),
           "p1": frozenset({"click"})}
    slots = extract(text, catalog, "u1", own)
    assert slots.item is not None and slots.item.item_id == expected
    without = extract(text, catalog, "u1")
    if expected != "s2":
        assert without.item is None or without.item.item_id != expected
    assert extract("what if I hadn't added it to my cart?", catalog, "u1", own).item.kind == "anaphora"


@pytest.mark.parametrize(("text", "more", "k"), [
    ("more", True, None), ("show me more recommendations", True, None), ("next 5", True, 5),
    ("any more?", True, None), ("再来几个", True, None), ("换一批", True, None), ("还有别的吗？", True, None),
    ("tell me more about the first one", None, None), ("I want more information", None, None),
    ("recommend something", None, None),
])
def test_asking_for_more_picks(catalog: Catalog, text: str, more: bool | None, k: int | None) -> None:
    slots = extract(text, catalog)
    assert (slots.more, slots.k) == (more, k)
