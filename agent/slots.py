"""Slots: the details of a chat message that the tools need, in English and Chinese.

:func:`extract` reads a message against the shop's catalog (:class:`Catalog`) and returns
:class:`Slots`: the item meant (a title, even misspelt or partial; an ordinal of the list
shown; "it"), the behaviour, a category to keep or categories to leave out ("not books"), a
price band, a segment of the causal report, a time window, how many items, whether a
hypothetical removes or adds a behaviour, the reply language asked for, and a free-text topic.

Extraction is deterministic and conservative: a slot it is not sure of stays empty. The intent
decides which slots matter (:data:`SLOTS_OF`); the router decides the intent.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from .examples import EXAMPLES
from .language import requested_language

#: Which slots each answer kind uses (others are ignored, and not compared by the benchmark).
SLOTS_OF: dict[str, tuple[str, ...]] = {
    "recommend": ("k", "category", "exclude", "query", "price"),
    "explain": ("item",),
    "why_not": ("item",),
    "what_if": ("item", "behaviour", "remove"),
    "important": (),
    "effects": ("behaviour", "segment", "segment_value"),
    "history": ("behaviour", "query", "time"),
    "last_time": ("behaviour", "item"),
    "search": ("query",),
    "popular": (),
    "other_user": (),
    "greeting": (), "thanks": (), "goodbye": (), "help": (), "out_of_scope": (), "clarify": (),
}
#: Kinds whose answer is about one item.
ITEM_KINDS = ("explain", "why_not", "what_if", "last_time")

# -- vocabulary ---------------------------------------------------------------------------------
_EN_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
               "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20,
               "a couple of": 2, "a couple": 2, "a pair of": 2, "half a dozen": 6, "a dozen": 12, "dozen": 12}
_EN_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
                "fifth": 5, "5th": 5, "sixth": 6, "6th": 6, "seventh": 7, "7th": 7, "eighth": 8, "8th": 8,
                "ninth": 9, "9th": 9, "tenth": 10, "10th": 10}
_ZH_DIGITS = {"一": 1, "二": 2, "两": 2, "俩": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
              "十": 10}
_ZH_NUMBER = r"(?:十[一二三四五六七八九]?|[一二两俩三四五六七八九]十?|\d{1,2})"

#: Behaviour words: (pattern, behaviour); the first match in the text wins (by position).
_BEHAVIOUR_WORDS: tuple[tuple[str, str], ...] = (
    (r"\bcart(?:s|ed|ing)?\b|\bbasket\b|加购|加入购物车|加进购物车|购物车|加车", "cart"),
    (r"favou?rit(?:e|ed|es|ing)|\bfav(?:s|ed)?\b|\bsav(?:e|ed|es|ing)\b|wish ?lists?|\blik(?:e|ed)\b"
     r"|收藏|喜欢|加入心愿单", "favourite"),
    (r"\bbu(?:y|ying|ys)\b|\bbought\b|purchas(?:e|ed|es|ing)|\border(?:ed|s)?\b|check(?:ed)? out"
     r"|购买|买|下单|订单", "purchase"),
    (r"\bclick(?:ed|s|ing)?\b|点击|点过|点了", "click"),
    (r"\bview(?:ed|s|ing)?\b|\blook(?:ed|ing|s)? (?:at|again)\b|\bbrows(?:e|ed|ing)\b|\bsaw\b|\bseen\b"
     r"|looked|\bvisit(?:s|ed|ing)?\b|浏览|看过|看了|再看|多看|看一次|查看|看两次|逛"
     r"|(?:上次|最后一次|上一次|最近一次)看|看(?=\s*[A-Za-z“\"])", "view"),
    (r"\brat(?:e|ed|ing)\b|评分|打分", "rating"),
)

#: Top-level category names people use, by the canonical (catalog) name.
_CATEGORY_WORDS: dict[str, tuple[str, ...]] = {
    "books": ("books?", "novels?", "reading", "书籍?", "图书", "好书", "读物"),
    "electronics": ("electronics?", "gadgets?", "tech", "electronic devices?", "电子产品", "电子", "数码"),
    "apparel": ("apparel", "clothes", "clothing", "fashion", "garments?", "piece of clothing", "outfits?",
                "衣服", "服装", "服饰", "衣物"),
    "home": ("home(?: stuff| goods| items)?", "household", "homeware", "家居用品", "家居", "家用", "家里用"),
    "beauty": ("beauty(?: stuff| products?)?", "cosmetics", "skincare", "make-?up", "美妆", "美容", "化妆品",
               "护肤品?"),
    "sports": ("sports?", "sporting goods", "fitness gear", "运动", "体育", "户外"),
    "toys": ("toys?", "玩具"),
    "garden": ("garden(?:ing)?(?: section)?", "园艺", "花园用品"),
}

#: Chinese shop words and the English words catalog titles use (the sentence model and most
#: catalogs read English; a Chinese catalog matches its own words directly).
GLOSSARY: dict[str, str] = {
    "围巾": "scarf", "丝巾": "silk scarf", "帽子": "beanie", "毛线帽": "beanie", "夹克": "jacket", "外套": "jacket",
    "雨衣": "rain jacket", "羽绒服": "down jacket", "毛衣": "sweater", "靴子": "boots", "鞋": "boots",
    "水壶": "kettle", "烧水壶": "kettle", "刀": "knife", "厨师刀": "chef's knife", "毯子": "blanket",
    "台灯": "table lamp", "灯": "lamp", "花瓶": "vase", "耳机": "headphones", "降噪": "noise-cancelling",
    "音箱": "speaker", "音响": "speaker", "键盘": "keyboard", "机械键盘": "mechanical keyboard", "鼠标": "mouse",
    "手表": "watch", "运动手表": "fitness watch",
    "面霜": "face cream", "精华": "serum", "精华液": "serum", "香水": "eau de parfum", "洗发水": "shampoo",
    "帐篷": "tent", "背包": "backpack", "瑜伽垫": "yoga mat", "头盔": "helmet", "自行车头盔": "bike helmet",
    "小说": "novel", "食谱": "cookbook", "菜谱": "cookbook", "绘本": "picture book", "积木": "building set",
    "拼图": "jigsaw puzzle", "毛绒熊": "plush bear", "玩具熊": "plush bear", "剪枝刀": "pruner", "修枝剪": "pruner",
    "花盆": "planter", "花园椅": "garden chair", "椅子": "chair", "羊毛": "wool", "丝绸": "silk", "真丝": "silk",
    "羊绒": "cashmere", "皮": "leather", "皮革": "leather", "软木": "cork", "无线": "wireless", "便携": "portable",
    "书": "book", "咖啡豆": "coffee beans", "跑鞋": "running shoes",
}
_GLOSSARY_PATTERN = re.compile("|".join(sorted(map(re.escape, GLOSSARY), key=len, reverse=True)))
#: Chinese words for kinds of product (the glossary's materials and features are not kinds).
_ZH_KINDS = re.compile("|".join(sorted((re.escape(w) for w in GLOSSARY if w not in (
    "降噪", "羊毛", "丝绸", "真丝", "羊绒", "皮", "皮革", "软木", "无线", "便携")), key=len, reverse=True)))

#: Kinds of product people name (singular). The router reads every one of them, and every kind in
#: the catalog's own categories, as "thing": which product a question is about does not change
#: what kind of question it is ("I'm looking for a novel" is a search, not a request for a story).
PRODUCT_NOUNS = frozenset("""
scarf beanie hat cap jacket coat sweater jumper cardigan boot shoe sneaker trainer sandal dress shirt t-shirt
trouser jeans sock glove belt bag handbag backpack wallet umbrella kettle knife pan pot blanket pillow cushion
lamp vase mug cup plate bowl towel rug curtain candle headphone earphone earbud speaker keyboard mouse watch
phone smartphone laptop tablet charger cable camera monitor tv television printer cream serum perfume parfum
fragrance shampoo conditioner lipstick lotion soap tent helmet bike bicycle ball racket novel book cookbook
notebook puzzle jigsaw toy bear doll lego pruner planter chair table sofa desk shelf bed plant seed mattress
stroller bottle grill hose mower drill saw hammer coffee tea chocolate wine snack cereal bean mat
""".split())

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_WORD = re.compile(r"[a-z0-9]+(?:['’-][a-z0-9]+)*")
#: Words that never identify an item on their own.
_WEAK_TOKENS = frozenset("a an the of and or for with to in on my your i you it is co s".split())

_ANAPHORA_EN = re.compile(r"\b(?:it|that one|this one|that item|this item|that product|that|this|them)\b")
_ANAPHORA_ZH = re.compile(r"它|这个|那个|这件|那件|这款|那款|该商品")


# -- the catalog --------------------------------------------------------------------------------
@dataclass
class Catalog:
    """The shop's items as the slot extractor reads them: titles by words, top categories."""

    item_ids: np.ndarray
    titles: np.ndarray
    tokens: list[tuple[str, ...]]                   # title words of each item
    postings: dict[str, list[int]]                  # word -> items whose title holds it
    categories: dict[str, str]                      # lower-cased top-level category -> as stored
    brands: frozenset[str] = frozenset()
    exact: dict[str, int] = field(default_factory=dict)   # lower-cased title -> item
    kinds: frozenset[str] = frozenset()                   # product kinds: last words of category leaves
    kind_paths: dict[str, tuple[str, ...]] = field(default_factory=dict)  # kind -> the category paths ending in it
    _vocab_by_initial: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def from_items(cls, items: pd.DataFrame) -> Catalog:
        ids = items["item_id"].astype(str).to_numpy()
        titles = (items["title"].astype("string").fillna("").astype(str).to_numpy()
                  if "title" in items.columns else np.full(len(ids), "", dtype=object))
        tokens = [tuple(_words(t)) for t in titles]
        postings: dict[str, list[int]] = defaultdict(list)
        for position, words in enumerate(tokens):
            for word in set(words):
                postings[word].append(position)
        categories: dict[str, str] = {}
        kinds: set[str] = set()
        kind_paths: dict[str, set[str]] = defaultdict(set)
        if "category" in items.columns:
            for value in items["category"].dropna().astype(str).unique():
                for part in value.split(","):
                    path = part.strip().split(".")
                    if path[0].strip():
                        categories.setdefault(path[0].strip().lower(), path[0].strip())
                    if len(path) > 1:
                        kind = singular_word(re.split(r"[_\s]+", path[-1].strip().lower())[-1])
                        kinds.add(kind)
                        kind_paths[kind].add(part.strip())
        brands = (frozenset(items["brand"].dropna().astype(str).str.lower()) if "brand" in items.columns
                  else frozenset())
        exact = {t.lower(): i for i, t in enumerate(titles) if t}
        by_initial: dict[str, list[str]] = defaultdict(list)
        for word in postings:
            if len(word) >= 4:
                by_initial[word[0]].append(word)
        return cls(ids, titles, tokens, dict(postings), categories, brands, exact, frozenset(kinds - {""}),
                   {k: tuple(sorted(v)) for k, v in kind_paths.items() if k}, dict(by_initial))

    def category_of_kind(self, words: str) -> str | None:
        """The catalog category a product kind names ('lamps' -> 'home.lighting.lamp'), if exactly one."""
        tokens = [singular_word(w) for w in _words(words)]
        paths = self.kind_paths.get(tokens[-1], ()) if tokens else ()
        return paths[0] if len(paths) == 1 else None

    @property
    def vocabulary(self) -> Iterable[str]:
        return self.postings.keys()

    def title(self, item_id: str) -> str:
        hits = np.flatnonzero(self.item_ids == str(item_id))
        return str(self.titles[hits[0]]) if len(hits) else str(item_id)

    def correct(self, word: str) -> str | None:
        """``word`` if titles use it, else the title word it is a likely typo of (or None)."""
        if word in self.postings:
            return word
        singular = singular_word(word)
        if singular in self.postings:
            return singular
        if len(word) < 5 or not word.isalpha():
            return None
        candidates = [w for w in self._vocab_by_initial.get(word[0], ()) if abs(len(w) - len(word)) <= 2]
        close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.8)
        return close[0] if close else None

    def find(self, text: str) -> ItemMatch | None:
        """The catalog item ``text`` names, by its whole title or by enough of its words."""
        lowered = text.lower()
        best_exact: tuple[int, int] | None = None
        for title, position in self.exact.items():
            if len(title) >= 4 and title in lowered and (best_exact is None or len(title) > best_exact[0]):
                best_exact = (len(title), position)
        if best_exact is not None:
            start = lowered.index(str(self.titles[best_exact[1]]).lower())
            return ItemMatch(str(self.item_ids[best_exact[1]]), (start, start + best_exact[0]), exact=True)
        typed, glossed = self._named_words(text)
        found = typed + glossed
        glossary_entries = {text[span[0]:span[1]] for _, span in glossed}
        own_words = {w for w, span in found if text[span[0]:span[1]].isascii()}
        if not found or (not own_words and len(glossary_entries) < 2):
            return None  # one Chinese shop word ("丝巾") is a kind of thing, not an item
        words = {w for w, _ in found}
        counts: dict[int, int] = defaultdict(int)
        for word in words:
            postings = self.postings.get(word, ())
            if len(postings) > max(200, len(self.item_ids) // 5):
                continue  # too common to point at an item
            for position in postings:
                counts[position] += 1
        if not counts:
            return None
        scored = []
        for position, hits in counts.items():
            title_words = [w for w in self.tokens[position] if w not in _WEAK_TOKENS]
            if hits < 2 and not (hits == len(title_words) == 1):
                continue
            scored.append((hits, hits / max(len(title_words), 1), -len(self.titles[position]), position))
        if not scored:
            return None
        scored.sort(reverse=True)
        top = scored[0]
        tied = [s[3] for s in scored if s[0] == top[0] and s[1] == top[1]]
        spans = [span for word, span in found if word in self.tokens[top[3]]]
        span = (min(s[0] for s in spans), max(s[1] for s in spans))
        # Variants of one product ("Lyngen cork yoga mat" and "..., charcoal") tie only when the
        # message names words of neither variant: the plainest title is the one meant.
        base = [p for p in tied if all(str(self.titles[p]).lower().startswith(str(self.titles[q]).split(",")[0].lower())
                                       for q in tied)]
        if len(tied) > 1 and len({str(self.titles[p]).split(",")[0].lower() for p in tied}) > 1:
            return ItemMatch(None, span, candidates=tuple(str(self.item_ids[p]) for p in tied[:5]))
        chosen = min(base or tied, key=lambda p: len(self.titles[p]))
        return ItemMatch(str(self.item_ids[chosen]), span)

    def _named_words(self, text: str) -> tuple[list[tuple[str, tuple[int, int]]], list[tuple[str, tuple[int, int]]]]:
        """Title words ``text`` names, each with its span: its own words (typos corrected, weak
        words left out), and the words of the Chinese shop words it holds (through the glossary)."""
        typed = [(word, match.span()) for match in _WORD.finditer(text.lower())
                 if (word := self.correct(match.group(0))) and word not in _WEAK_TOKENS]
        glossed = [(word, match.span()) for match in _GLOSSARY_PATTERN.finditer(text)
                   for word in _words(GLOSSARY[match.group(0)]) if word in self.postings]
        return typed, glossed

    def find_among(self, text: str, item_ids: Sequence[str]) -> ItemMatch | None:
        """The item of ``item_ids`` (the shopper's own, say) whose title shares the most words with
        ``text`` — "the shampoo" is the one shampoo they saved, not any of the shop's; several
        tied: a choice among them. One shared title word is enough here (the shopper named it)."""
        own = set(str(i) for i in item_ids)
        if not own:
            return None
        positions = [int(p) for p in np.flatnonzero(np.isin(self.item_ids, list(own)))]
        typed, glossed = self._named_words(text)   # "洗发水" -> shampoo
        found = [(word, span) for word, span in typed if len(word) >= 3] + glossed
        hits = {p: {w for w, _ in found if w in self.tokens[p]} for p in positions}
        best = max((len(h) for h in hits.values()), default=0)
        if best == 0:
            return None
        winners = [p for p in positions if len(hits[p]) == best]
        spans = [span for word, span in found if any(word in hits[p] for p in winners)]
        span = (min(s[0] for s in spans), max(s[1] for s in spans))
        if len(winners) > 1:
            return ItemMatch(None, span, candidates=tuple(str(self.item_ids[p]) for p in winners[:5]))
        return ItemMatch(str(self.item_ids[winners[0]]), span)

    def category(self, text: str) -> list[tuple[str, tuple[int, int]]]:
        """Top-level categories named in ``text`` (canonical name, span), in order."""
        lowered = text.lower()
        out: list[tuple[str, tuple[int, int]]] = []
        for canonical, words in _CATEGORY_WORDS.items():
            stored = self.categories.get(canonical)
            if stored is None:
                continue
            for word in words:
                pattern = word if _CJK.search(word) else rf"\b{word}\b"
                for match in re.finditer(pattern, lowered):
                    out.append((stored, match.span()))
        for lowered_name, stored in self.categories.items():
            if stored.lower() in _CATEGORY_WORDS:
                continue
            for match in re.finditer(rf"\b{re.escape(lowered_name)}s?\b", lowered):
                out.append((stored, match.span()))
        out.sort(key=lambda pair: pair[1])
        deduped: list[tuple[str, tuple[int, int]]] = []
        for name, span in out:  # overlapping mentions ("书籍" and "书"): keep the first, longest
            if deduped and span[0] < deduped[-1][1][1]:
                continue
            deduped.append((name, span))
        return deduped


@dataclass(frozen=True)
class ItemMatch:
    """A catalog item found in a message (``item_id`` None when several fit equally well)."""

    item_id: str | None
    span: tuple[int, int]
    exact: bool = False
    candidates: tuple[str, ...] = ()


# -- slots --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ItemRef:
    """How a message names an item: ``title`` (resolved), ``ordinal`` (#n of the list shown),
    ``anaphora`` ("it": the item talked about last), ``ambiguous`` (several fit), ``unknown``
    (quoted words the catalog does not hold) or ``words`` (what is left of the message once its
    question words are gone: maybe a name, maybe nothing)."""

    kind: str
    item_id: str | None = None
    n: int | None = None
    words: str | None = None
    candidates: tuple[str, ...] = ()

    def canonical(self, catalog: Catalog | None = None) -> str:
        """The benchmark's form: a title, ``#n``, ``@it``, or ``?`` (not found / ambiguous)."""
        if self.kind == "ordinal":
            return f"#{self.n}"
        if self.kind == "anaphora":
            return "@it"
        if self.kind == "title" and self.item_id is not None:
            return catalog.title(self.item_id) if catalog is not None else self.item_id
        return "?"


@dataclass(frozen=True)
class Slots:
    """What a message says besides its intent (empty fields: not said)."""

    item: ItemRef | None = None
    behaviour: str | None = None
    behaviours: tuple[str, ...] = ()     # every behaviour named, in order
    category: str | None = None
    exclude: tuple[str, ...] = ()
    query: str | None = None             # the topic, without a category it names
    phrase: str | None = None            # the topic with the category words kept ("books")
    k: int | None = None
    remove: bool | None = None
    segment: str | None = None
    segment_value: str | None = None
    price: str | None = None             # "low" | "high"
    price_max: float | None = None       # "under 20", "20元以下": the highest price asked for
    more: bool | None = None             # "more", "next 5", "再来几个": the picks after those shown
    time: str | None = None              # "latest" | "recent" | "<n>d"
    language: str | None = None          # the reply language asked for
    other_user: str | None = None        # another shopper's id named in the message

    def merged(self, newer: Slots) -> Slots:
        """These slots updated by the non-empty slots of ``newer`` (a follow-up)."""
        changes = {name: getattr(newer, name) for name in self.__dataclass_fields__
                   if getattr(newer, name) not in (None, ())}
        changes.setdefault("language", None)
        changes["more"] = newer.more   # "more" pages once; it is not a lasting detail
        if newer.item is not None:
            changes["item"] = newer.item
        return replace(self, **changes)

    def canonical(self, kind: str, catalog: Catalog | None = None) -> dict[str, Any]:
        """The slots ``kind`` uses, in the benchmark's form (empty ones left out)."""
        out: dict[str, Any] = {}
        for name in SLOTS_OF.get(kind, ()):
            value = getattr(self, name)
            if value in (None, ()):
                continue
            if name == "item":
                value = value.canonical(catalog)
            elif name == "exclude":
                value = sorted(value)
            elif name == "query":
                value = normalise_query(value)
            out[name] = value
        if self.language:
            out["language"] = self.language
        return out


def extract(text: str, catalog: Catalog, user_id: str | None = None,
            own_items: Mapping[str, frozenset[str]] | None = None) -> Slots:
    """Every slot of ``text`` (which of them matter is up to the intent); ``own_items``: the items
    of the shopper's own history and what they did on each, preferred for a title named only in
    part ("the serum"; "the shampoo I saved": the one they saved)."""
    language = requested_language(text)
    body = strip_language_request(text) if language else text
    if not body.strip(" ,.;:!?，。；：！？"):
        return Slots(language=language)
    lowered = body.lower()
    match = catalog.find(body)
    if own_items and (match is None or not match.exact) and ordinal(body) is None:
        mine = catalog.find_among(body, list(own_items))
        anaphora = _ANAPHORA_EN.search(lowered) or _ANAPHORA_ZH.search(body)
        if mine is not None and mine.item_id is None:
            named = behaviours_in(lowered)
            did_it = [c for c in mine.candidates if named and named[0] in own_items.get(c, frozenset())]
            if len(did_it) == 1:
                mine = ItemMatch(did_it[0], mine.span)
        # "that shampoo" / "那个洗发水" names the item; a bare "it" leaves it to the conversation.
        if mine is not None and (not anaphora or match is not None or 0 <= mine.span[0] - anaphora.end() <= 2):
            match = mine
    item = _item_ref(body, match, catalog)
    title_span = match.span if match is not None else None
    # The words around a title it names (a title is a name: "long-reach", "Do not disturb" say nothing).
    around = lowered if title_span is None else lowered[:title_span[0]] + "it" + lowered[title_span[1]:]
    behaviours = behaviours_in(around)
    categories = catalog.category(body)
    categories = [(c, s) for c, s in categories if title_span is None or not _overlaps(s, title_span)]
    excluded = _excluded(body, categories)
    kept = [c for c, s in categories if c not in excluded]
    price_max, price_span = _price_max(body)
    price = _price(lowered)
    if price_max is not None and price == "low":
        price = None   # "cheaper than 20 dollars": the number, not the shop's cheaper third
    segment, segment_value = _segment(lowered, kept, price)
    counted = body   # "under 20" is a price, not how many
    if price_span is not None:
        counted = body[:price_span[0]] + " " * (price_span[1] - price_span[0]) + body[price_span[1]:]
    return Slots(
        item=item,
        behaviour=behaviours[0] if behaviours else None,
        behaviours=tuple(behaviours),
        category=kept[0] if kept else None,
        exclude=tuple(dict.fromkeys(excluded)),
        query=topic(body, catalog, None, [s for _, s in categories]),
        phrase=topic(body, catalog, None),
        k=_count(counted, title_span),
        remove=True if _NEGATION.search(around) else None,
        segment=segment, segment_value=segment_value,
        price=price,
        price_max=price_max,
        more=True if _MORE.search(body) else None,
        time=_time(lowered),
        language=language,
        other_user=other_user(body, user_id),
    )


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _words(text: str) -> list[str]:
    return _WORD.findall(str(text).lower())


def singular_word(word: str) -> str:
    """'scarves' -> 'scarf', 'cookbooks' -> 'cookbook', 'boxes' -> 'box' (English only)."""
    if len(word) <= 3 or not word.isascii():
        return word
    if word.endswith("ves") and len(word) > 4:
        return word[:-3] + "f"
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if re.search(r"(?:ss|x|ch|sh)es$", word):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def normalise_query(text: str) -> str:
    """A topic as compared and searched: lower case, single spaces, English words singular."""
    lowered = re.sub(r"[\s,.;!?，。；！？、]+", " ", str(text).lower()).strip()
    return " ".join(singular_word(w) for w in lowered.split(" ") if w)


# -- the item -----------------------------------------------------------------------------------
def ordinal(text: str) -> int | None:
    """The position in the list shown that ``text`` names ('the second one', '#3', '第二个')."""
    lowered = text.lower()
    found = re.search(r"(?:#|\bnumber |\bno\.? ?|\bitem )(\d{1,2})\b", lowered)
    if found:
        return int(found.group(1))
    for word, n in _EN_ORDINALS.items():
        if re.search(rf"\b{word}\b(?! (?:of all|time|thing))", lowered):
            return n
    if re.search(r"\btop (?:one|item|pick|suggestion|recommendation)\b", lowered):
        return 1
    found = re.search(rf"第\s*({_ZH_NUMBER})\s*(?:个|件|款|项|名|条|位|样)?", text)
    if found:
        return zh_number(found.group(1))
    if re.search(r"排(?:在)?(?:第一|最前)|头一个", text):
        return 1
    if re.search(r"\blast (?:one|item|pick)\b|\bthe last\b", lowered) or re.search(r"最后一(?:个|件|款|项)", text):
        return -1
    return None


def zh_number(token: str) -> int:
    """'三' -> 3, '十二' -> 12, '二十' -> 20, '7' -> 7."""
    if token.isdigit():
        return int(token)
    if token.startswith("十"):
        return 10 + (_ZH_DIGITS[token[1]] if len(token) > 1 else 0)
    value = _ZH_DIGITS[token[0]]
    return value * 10 if token.endswith("十") and len(token) > 1 else value


def _item_ref(text: str, match: ItemMatch | None, catalog: Catalog) -> ItemRef | None:
    if match is not None and match.item_id is not None:
        return ItemRef("title", match.item_id, words=text[match.span[0]:match.span[1]])
    n = ordinal(text)
    if n is not None:
        return ItemRef("ordinal", n=n)
    if match is not None:
        return ItemRef("ambiguous", words=text[match.span[0]:match.span[1]], candidates=match.candidates)
    quoted = re.search(r"[\"“「『'‘](.+?)[\"”」』'’]", text)
    if quoted:
        return ItemRef("unknown", words=quoted.group(1).strip())
    lowered = text.lower()
    if _ANAPHORA_EN.search(lowered) or _ANAPHORA_ZH.search(text):
        return ItemRef("anaphora")
    words = _leftover_words(text)
    return ItemRef("words", words=words) if words else None


_QUESTION_WORDS = re.compile(
    r"\b(why|not|isn'?t|wasn'?t|don'?t|didn'?t|doesn'?t|do|does|did|you|your|recommend(?:ed|ing|s)?|suggest(?:ed|ing)?|"
    r"me|my|i|i'?d|the|a|an|is|are|what|if|had|have|hadn'?t|never|to|in|on|of|about|explain|tell|show|item|"
    r"one|please|this|that|it|for|would|happen|was|were|how|come|reason|because|pick(?:ed)?|list|top|picks|"
    r"think|like|want|makes?|missing|from|so|be|there|keep|keeps|out|any)\b|[?？!！.,，。:：;；—–-]|"
    r"为什么|为啥|推荐|给我|我|的|吗|呢|如果|没有|没|把|加入|购物车|了|是|不|这个|那个|解释一下|解释|怎么|理由|原因",
    re.IGNORECASE)


def _leftover_words(text: str) -> str:
    """What is left of a message about an item once the question words are gone."""
    return re.sub(r"\s+", " ", _QUESTION_WORDS.sub(" ", text)).strip()


# -- behaviours, categories, exclusions ---------------------------------------------------------
#: "add" / "put in" mean the cart only when no other behaviour is named ("add it to my favourites").
_WEAK_CART = re.compile(r"\badd(?:ed|ing|s)?\b|\bput\b|\bplac(?:e|ed|ing)\b|加进|加入|放进|放入")


def behaviours_in(text: str) -> list[str]:
    """Every behaviour the text names, in the order they appear."""
    lowered = text.lower()
    found: list[tuple[int, str]] = []
    for pattern, behaviour in _BEHAVIOUR_WORDS:
        for match in re.finditer(pattern, lowered):
            found.append((match.start(), behaviour))
    if not any(b in ("cart", "favourite") for _, b in found):
        weak = _WEAK_CART.search(lowered)
        if weak:
            found.append((weak.start(), "cart"))
    found.sort()
    return list(dict.fromkeys(b for _, b in found))


def behaviour_in(text: str) -> str | None:
    """The first behaviour a text names ('cart', 'favourite', ...), if any."""
    found = behaviours_in(text)
    return found[0] if found else None


_EXCLUSION = re.compile(
    r"\b(?:not|no|except|excluding|without|but|other than|besides|apart from|skip|avoid|none of|never)\b|"
    r"don'?t (?:want|like|need|show|suggest|recommend)|"
    r"不要|别|不想要|不需要|除了|除去|排除|不含|以外|之外|除外|不用")


def _excluded(text: str, categories: list[tuple[str, tuple[int, int]]]) -> list[str]:
    """Categories named after a negation in the same clause ('not books', '不要玩具和美妆')."""
    lowered = text.lower()
    out = []
    for name, (start, end) in categories:
        clause_start = max(lowered.rfind(p, 0, start) for p in ",.;?!，。；？！") + 1
        before = lowered[clause_start:start]
        after = lowered[end:end + 8]
        if _EXCLUSION.search(before) or re.match(r"\s*的?\s*(?:以外|之外|除外|就?不要|就?算了|免了|别推荐)", after):
            out.append(name)
    return out


_PRICE_LOW = re.compile(r"\b(?:cheap(?:er|est)?|affordable|budget|inexpensive|low[- ]cost|bargains?|low[- ]priced)\b"
                        r"|便宜|实惠|平价|低价|划算|便宜货")
_PRICE_HIGH = re.compile(r"\b(?:expensive|premium|pric(?:ey|ier|iest)|high[- ]end|luxury|luxurious|upscale|costly|"
                         r"high[- ]priced|dearer)\b|贵|高档|高端|奢侈|昂贵")


_NOT_MONEY = (r"(?![\d.,])(?!\s*(?:items?|picks?|ideas?|things?|products?|recommendations?|suggestions?|results?|"
              r"options?|of\b|%|percent|days?|weeks?|months?|years?|hours?|minutes?|times?|个|件|款|项|样|条|天|周|月|年|次))")
_MONEY = r"(?:[$€£¥￥]\s*)?(\d{1,7}(?:\.\d{1,2})?)"
_PRICE_MAX = re.compile(
    r"\b(?:under|below|less than|cheaper than|at most|no more than|not more than|max(?:imum)?|within|up to|<)\s*"
    + _MONEY + _NOT_MONEY + r"(?:\s*(?:dollars?|bucks?|usd|euros?|eur|pounds?|gbp|yuan|rmb)\b)?"
    + r"|(?:低于|不超过|不高于|不到|少于|最多|便宜于)\s*" + _MONEY + _NOT_MONEY + r"\s*(?:元|块钱?|美元|刀)?"
    + r"|" + _MONEY + r"\s*(?:元|块钱?|美元|刀)\s*(?:以下|以内|之内)"
    + r"|[$¥￥]\s*(\d{1,7}(?:\.\d{1,2})?)\s*(?:以下|以内|之内)", re.IGNORECASE)


_MORE = re.compile(
    r"^\s*(?:(?:please\s+)?(?:show|give|get|send)\s+(?:me\s+)?|(?:can|could)\s+(?:you|i)\s+(?:see|get|have)\s+|"
    r"i\s+want\s+|any\s+|anything\s+)?"
    r"(?:some\s+|a\s+few\s+|\d{1,2}\s+|a\s+couple\s+)?(?:more|others|other\s+ones|else|next(?:\s+\d{1,2})?|"
    r"another\s+(?:\d{1,2}|few|batch|page|set|round))\b"
    r"(?:\s+(?:recommendations?|picks?|ideas?|items?|suggestions?|options?|results?|ones?|please|like\s+(?:these|those|that)))*"
    r"\s*[.!?]*\s*$"
    r"|^\s*(?:请)?(?:再来|再推荐|再给我|再换|换一批|还有别的|还有其他|还有吗|还有呢|下一页|更多|其他的呢|其它的呢|别的呢)",
    re.IGNORECASE)


_SHORTHAND = {
    "smth": "something", "smthg": "something", "sth": "something", "somethin": "something",
    "pls": "please", "plz": "please", "pleez": "please", "thx": "thanks", "thnx": "thanks",
    "u": "you", "ur": "your", "wat": "what", "wht": "what", "bc": "because",
    "coz": "because", "cuz": "because", "rec": "recommend", "recs": "recommendations", "reco": "recommend",
    "recos": "recommendations", "gimme": "give me", "wanna": "want to", "dunno": "don't know",
}
_MISSPELT = re.compile(r"\b(?:rec+om+[ae]nd|rec+om+end|rec+omm?[ae]nd|reccomend|recomend|recommand|recomand|"
                       r"recommed|reommend|recommnd)(?=(?:s|ed|ing|ation|ations)?\b)", re.IGNORECASE)
_SHORT_WORD = re.compile(r"(?<![\w'’-])(" + "|".join(sorted(map(re.escape, _SHORTHAND), key=len, reverse=True))
                         + r")(?![\w'’-])", re.IGNORECASE)


def plain_words(text: str) -> str:
    """Chat shorthand and common misspellings of the words that say what is asked, written out
    ("reccomend me smth pls" -> "recommend me something please"); names and ids are left alone."""
    text = _MISSPELT.sub("recommend", text)
    return _SHORT_WORD.sub(lambda m: _SHORTHAND[m.group(1).lower()], text)


def _price_max(body: str) -> tuple[float | None, tuple[int, int] | None]:
    """The highest price a message asks for ("under 20", "less than $15.50", "20元以下",
    "不超过50块") and where it is; digits only (not "twenty", not "二十")."""
    found = _PRICE_MAX.search(body)
    if found is None:
        return None, None
    value = next(g for g in found.groups() if g is not None)
    return float(value), found.span()


def _price(lowered: str) -> str | None:
    low, high = bool(_PRICE_LOW.search(lowered)), bool(_PRICE_HIGH.search(lowered))
    if low and high:
        return "both"
    return "low" if low else "high" if high else None


def _segment(lowered: str, categories: list[str], price: str | None) -> tuple[str | None, str | None]:
    """The segment of the causal report a question is about, and its value if one is named."""
    if price is not None or re.search(r"\bprice(?:s| band| range| level)?\b|价格|价位|价格段", lowered):
        return "price_band", price if price in ("low", "high") else None
    if re.search(r"\bbrands?\b|品牌", lowered):
        return "brand", None
    if re.search(r"\bactiv(?:e|ity)\b|\boccasional\b|\bfrequent\b|\bloyal\b|\bheavy (?:users|shoppers)\b|"
                 r"活跃|偶尔|常客|老顾客|常来|经常|频繁",
                 lowered):
        return "activity", None
    if re.search(r"\b(?:by|per|across|each|every|between) (?:categor(?:y|ies)|departments?)\b|categor(?:y|ies)\b"
                 r"|类别|品类|分类", lowered):
        return "category", categories[0] if categories else None
    if categories:
        return "category", categories[0]
    return None, None


_NEGATION = re.compile(
    r"hadn'?t|had not|have not|haven'?t|didn'?t|did not|\bnever\b|\bremov(?:e|ed|ing)\b|\bwithout\b|\bundo\b|"
    r"\bforget\b|\btake\s+(?:\S+\s+){0,6}out\b|\bdrop(?:ped)?\b|\bdelet(?:e|ed|ing)\b|\bun-?(?:favou?rite|save|cart)|"
    r"wasn'?t|\bnot\b|没有|没|不曾|从未|删除|删掉|删|去掉|拿掉|移出|移除|取消|撤销|忘掉|不算")


def _time(lowered: str) -> str | None:
    if re.search(r"\btoday\b|今天", lowered):
        return "1d"
    if re.search(r"\byesterday\b|昨天", lowered):
        return "2d"
    if re.search(r"\b(?:last|past|this|previous) (?:week|7 days|seven days)\b|\bthis past week\b"
                 r"|上周|这一?周|本周|过去一周|最近一周|七天", lowered):
        return "7d"
    if re.search(r"\b(?:last|past|this|previous) (?:month|30 days|thirty days)\b"
                 r"|上个?月|这个月|本月|过去一个月|最近一个月|三十天", lowered):
        return "30d"
    if re.search(r"\brecent(?:ly)?\b|\blately\b|\bthese days\b|最近|近期|近来", lowered):
        return "recent"
    return None


# -- counts -------------------------------------------------------------------------------------
def _count(text: str, title_span: tuple[int, int] | None) -> int | None:
    """How many items a message asks for ('three ideas', 'top 10', '推荐四件', '前十个')."""
    body = text if title_span is None else text[:title_span[0]] + " " + text[title_span[1]:]
    lowered = body.lower()
    lowered = re.sub(r"(?:#|\bnumber |\bno\.? ?|\bitem |\buser |\bcustomer |\bu)\d+|\d+(?:-piece|-litre|%)", " ",
                     lowered)
    for match in re.finditer(r"\b(\d{1,2})\b", lowered):
        value = int(match.group(1))
        if 1 <= value <= 50:
            return value
    for word, value in sorted(_EN_NUMBERS.items(), key=lambda kv: -len(kv[0])):
        if re.search(rf"\b{word}\b(?!-)", lowered) and not re.search(rf"\b{word} (?:of them|thing)\b", lowered):
            if word == "one":
                continue  # "this one", "the first one"
            return value
    found = re.search(rf"(?:前|推荐|给我|来|换成|要|列出|只要)\s*({_ZH_NUMBER})\s*(?:个|件|款|项|样|条)?|"
                      rf"({_ZH_NUMBER})\s*(?:个|件|款|项|样)(?:推荐|建议|商品|东西|产品|电子产品|美妆产品|美妆|书)",
                      body)
    if found:
        token = found.group(1) or found.group(2)
        # "一件" / "一个" is an article ("a jacket"), not a count.
        if token != "一" and not re.search(rf"第\s*{re.escape(token)}", body):
            return max(1, min(zh_number(token), 50))
    return None


# -- the topic ----------------------------------------------------------------------------------
_TOPIC_STOP_EN = frozenset("""
a an the some any anything something me my mine i i'm im i'd you your yours we our please pls can could would will
should shall do does did done have has had having is are was were be been being what which who whom when where why how
that this these those it its there here for of in on at to from with about by as into out up just also too so and or
but not no nor than then very really much many more most less few lot lots one ones kind sort type stuff thing things
item items product products show find search look looking looked seek seeking got get give tell let see list sell
sells selling carry stock catalog catalogue shop store shops online ever recently lately already still now today week
month past last recent history activity record records related bought buy buying purchase purchased purchases view
viewed views browse browsed favourite favourites favorite favorites saved cart carted basket added add order
ordered orders recommend recommended recommendation recommendations suggest suggestion suggestions idea ideas
pick picks choice choices after want wanted need like liked love interested good nice great new else other cheap
premium affordable expensive next buying available sale sales mall piece help hunting shopping browsing got stocked
""".split())
_TOPIC_STOP_ZH = re.compile(
    r"请|帮我|帮忙|给我|我们|你们|我|你|他|她|它|的|了|吗|呢|吧|啊|呀|么|什么|哪些|哪个|有没有|有|没有|是|在|里|里面|上|"
    r"找一?找|找|搜索?一?下?|搜|查一?下|查|看看|看一?下|看过|看了|看|买过|买了|买|卖|推荐|建议|想要|想|要|一下|一些|一点|"
    r"[一两几\d]\s*[顶条本个件款把台双只瓶套张]|[个件款条顶本双只瓶套张]|商店|店里|目录|商品|东西|相关|记录|历史|浏览过?|收藏过?|加购过?|购物车|"
    r"相关的|类的|方面|关于|能|可以|会|该|吧|这|那|些|嘛|哦|过|都|也|还|和|或|及|今天|最近|上周|喜欢|换成|再|多|\s+|"
    r"[?？!！.,，。:：;；]")


def topic(text: str, catalog: Catalog, title_span: tuple[int, int] | None,
          category_spans: Iterable[tuple[int, int]] = ()) -> str | None:
    """The thing a message asks about in words ('wool scarves', '降噪耳机'), without question
    words, behaviours, categories, numbers or an item title it named."""
    spans = sorted([s for s in [title_span, *category_spans] if s is not None])
    body = text
    for start, end in reversed(spans):
        body = body[:start] + " " + body[end:]
    body = re.sub(r"(?:#|\bnumber |\buser |\bu)\d+|\d+", " ", body, flags=re.IGNORECASE)
    if _CJK.search(body):
        latin = " ".join(w for w in _words(body) if w not in _TOPIC_STOP_EN and len(w) > 1)
        chinese = _TOPIC_STOP_ZH.sub(" ", re.sub(r"[A-Za-z0-9'’\-]+", " ", body))
        chinese = _strip_zh_behaviour(chinese)
        words = [w for w in chinese.split() if len(w) >= 2 or w in GLOSSARY]
        result = " ".join(filter(None, [latin, " ".join(words)])).strip()
        return result or None
    words = []
    for word in _words(body):
        word = re.sub(r"-(?:related|ish|like|type|style)$", "", word)
        if word in _TOPIC_STOP_EN or len(word) < 2 or behaviour_in(word):
            continue
        words.append(word)
    return " ".join(words) or None


def _strip_zh_behaviour(text: str) -> str:
    return re.sub(r"加购|加入|收藏|浏览|购买|下单|点击|评分|加车", " ", text)


def known_topic(query: str | None, catalog: Catalog) -> str | None:
    """``query`` if the catalog's titles (or the glossary) know at least one of its words."""
    if not query:
        return None
    words = _words(query)
    if any(catalog.correct(w) for w in words if w not in _TOPIC_STOP_EN):
        return query
    for match in _GLOSSARY_PATTERN.finditer(query):
        if any(w in catalog.postings for w in _words(GLOSSARY[match.group(0)])):
            return query
    return None


def search_text(query: str) -> str:
    """A topic as the (English) sentence model reads it: Chinese shop words through the glossary."""
    if not _CJK.search(query):
        return query
    translated = _GLOSSARY_PATTERN.sub(lambda m: " " + GLOSSARY[m.group(0)] + " ", query)
    english = " ".join(w for w in re.findall(r"[A-Za-z][A-Za-z'\-]*", translated))
    return english or query


# -- other shoppers -----------------------------------------------------------------------------
_OTHER_USER = re.compile(
    r"\b(?:user|customer|shopper|client|account|member)(?:[ _-]?id)?[\s#=:\"'“”]*([A-Za-z]*\d[A-Za-z0-9_\-]*)\b|"
    r"\b(u\d{1,9})\b|(?:用户|顾客|客户|会员)\s*[#:：]?\s*([A-Za-z]*\d[A-Za-z0-9_\-]*)", re.IGNORECASE)


def other_user(text: str, user_id: str | None) -> str | None:
    """Another shopper's id named in ``text`` ('user 123', 'u42', '用户 55'), never the asker's."""
    for match in _OTHER_USER.finditer(text):
        found = next(g for g in match.groups() if g)
        if user_id is None or found.lower() != str(user_id).lower():
            return found
    return None


_DATA = (r"(?:carts?|baskets?|histor(?:y|ies)|purchases?|orders?|favou?rites?|accounts?|data|records?|wishlists?"
         r"|activit(?:y|ies)|views?|clicks?|behaviou?rs?)")
#: Words that point at one other person (a relative, "another user", someone else's data).
_SOMEONE_ELSE = re.compile(
    r"\b(?:my|our|his|her|their)\s+(?:\w+\s+)?(?:friends?|husband|wife|partner|spouse|colleagues?|co-?workers?"
    r"|neighbou?rs?|mum|mom|mother|dad|father|brothers?|sisters?|sons?|daughters?|kids?|boss|girlfriend|boyfriend"
    r"|room-?mates?|flat-?mates?|family|parents?)\b"
    r"|\b(?:another|that other|some other|a different|the other|one other|that|a certain)\s+"
    r"(?:users?|customers?|shoppers?|persons?|buyers?|members?|clients?|accounts?)\b"
    r"|\bsome(?:one|body) else\b|\bsome(?:one|body)['’]s\b|\banother person\b|\b(?:his|her)\s+(?:\w+\s+)?"
    + _DATA + r"\b"
    r"|朋友|老公|老婆|丈夫|妻子|太太|同事|邻居|家人|妈妈|爸爸|父母|儿子|女儿|哥哥|姐姐|弟弟|妹妹|男朋友|女朋友|室友|老板"
    r"|某人|另一(?:个|位)?(?:用户|顾客|客户|人|买家|会员)|那(?:个|位)(?:用户|顾客|客户|人|买家|会员)"
    r"|(?<!其)[他她]的(?:购物车|收藏|订单|账户|账号|历史|记录|数据|浏览)|(?<!其)[他她](?=买|在|最近|看|收藏|加购)",
    re.IGNORECASE)
#: Other people's records ("other users' carts", "别人的记录"): one person's data unless asked in general.
_THEIR_DATA = re.compile(
    r"\b(?:other|all the|all)\s+(?:users?|customers?|shoppers?|people|persons?|buyers?|members?|clients?)['’]s?\s+"
    r"(?:\w+\s+)?" + _DATA + r"\b"
    r"|\b(?:their|everyone(?: else)?['’]s|everybody(?: else)?['’]s)\s+(?:\w+\s+)?" + _DATA + r"\b"
    r"|别人的|他人的|他们的|(?:其他|别的|其它)(?:用户|顾客|客户|人|买家|会员)的?(?:购物车|收藏|订单|账户|账号|历史|记录|数据|浏览)",
    re.IGNORECASE)
#: Asked in general ("usually", "most", "一般"): a question about shoppers as a whole.
_IN_GENERAL = re.compile(r"\b(?:usually|typically|generally|in general|normally|mostly|most|on average|tend to)\b"
                         r"|通常|一般|最多|大多|大部分|往往|平均", re.IGNORECASE)
#: Words for shoppers in general ("what do other users buy", "大家都买什么").
_OTHERS_IN_GENERAL = re.compile(
    r"\b(?:other|most|typical|average|all|many|the)\s+(?:users?|customers?|shoppers?|people|buyers?|members?)\b"
    r"|\beveryone\b|\beverybody\b|\bpeople\b|\bothers\b|(?:其他|其它|别的)(?:用户|顾客|客户|人|买家|会员)"
    r"|别人|大家|人们|大多数|多数人|一般人",
    re.IGNORECASE)


def someone_else(text: str) -> bool:
    """True when ``text`` points at one other person or their data ("my friend", "another user's
    cart", "别人的记录") — what a refusal needs besides an id (:func:`other_user`)."""
    return bool(_SOMEONE_ELSE.search(text)) or bool(_THEIR_DATA.search(text) and not _IN_GENERAL.search(text))


def others_in_general(text: str) -> bool:
    """True when ``text`` speaks of shoppers in general ("what do other users buy?")."""
    return bool(_OTHERS_IN_GENERAL.search(text))


def strip_language_request(text: str) -> str:
    """``text`` without a request for the reply language ('…, answer in Chinese'); '' when the
    request is all there is ('in English please')."""
    from .language import LANGUAGE_REQUEST, requested_language

    stripped = LANGUAGE_REQUEST.sub(" ", text)
    if not stripped.strip(" ,.;:!?，。；：！？") or (requested_language(text) and _only_language_words(stripped)):
        return ""
    return stripped


def _only_language_words(text: str) -> bool:
    from .language import requested_language

    return requested_language(text) is not None and not re.sub(
        r"(?i)chinese|mandarin|english|中文|汉语|英文|英语|please|pls|吧|回答|回复|[\s,.;:!?，。；：！？]", "", text)


def mask_products(text: str, kinds: Iterable[str] = ()) -> str:
    """``text`` with every kind of product it names read as 'thing' / '东西' (see :data:`PRODUCT_NOUNS`)."""
    known = PRODUCT_NOUNS | frozenset(kinds)

    def english(match: re.Match[str]) -> str:
        word = match.group(0)
        return "thing" if singular_word(word.lower()) in known else word

    masked = re.sub(r"[A-Za-z][A-Za-z'\-]*", english, text)
    masked = _ZH_KINDS.sub("东西", masked)
    masked = re.sub(r"\bthing(?:\s+thing)+\b", "thing", masked)
    return re.sub(r"东西(?:\s*东西)+", "东西", masked)


def delexicalise(text: str, slots: Slots, catalog: Catalog, language: str) -> str:
    """``text`` as the router reads it: an item title it names replaced by 'this item' /
    '这个商品' (in Chinese, a run of Latin words most of whose content words the catalog uses: a
    name; ordinary English in a mixed message — "any 推荐 for me today", "add to cart 有用吗" —
    stays as it is), and a request for the reply language left out (the request alone is read
    as it is)."""
    body = strip_language_request(text) or text
    placeholder = "这个商品" if language == "zh" else "this item"
    item = slots.item if slots.item is not None and slots.item.kind == "title" else None
    match = catalog.find(body) if item is not None else None
    own = item.words if item is not None else None
    if match is not None and item is not None and (match.item_id == item.item_id or not own or own not in body):
        body = body[:match.span[0]] + placeholder + body[match.span[1]:]
    elif own and own in body:
        # A title named in part and found among the shopper's own items ("那个洗发水", "the shampoo"):
        # the words, with the determiner before them, are the item.
        start = body.index(own)
        before = re.search(r"(?:那个|这个|那件|这件|那款|这款|\b(?:the|that|this|my)\s+)$", body[:start], re.IGNORECASE)
        body = body[:before.start() if before else start] + placeholder + body[start + len(own):]
    if language == "zh":  # Latin words in Chinese text are a name (two or more, or one the catalog uses)
        kinds = PRODUCT_NOUNS | catalog.kinds

        def name(found: re.Match[str]) -> str:
            words = _words(found.group(0))
            if words and all(singular_word(w) in kinds for w in words):
                return "东西"  # a kind of product ("搜索 scarf"), not a name
            content = [w for w in words if w not in _TOPIC_STOP_EN and not behaviour_in(w)]
            known = [w for w in content if w in catalog.postings or w in catalog.brands]
            # Two or more words none of which is the chat's own English: a name, held or not
            # ("Studio Ghibli poster", "hoverboard deluxe"), product words included.
            chatty = [w for w in content if w in _chat_words() and singular_word(w) not in kinds]
            is_name = (known and 2 * len(known) >= len(content)) or (len(content) > 1 and not chatty)
            return placeholder if is_name else found.group(0)
        body = re.sub(r"[A-Za-z][A-Za-z0-9'’&\-]*(?:[ ,]+[A-Za-z0-9][A-Za-z0-9'’&\-]*)*", name, body)
        body = body.replace(placeholder + placeholder, placeholder)
    body = mask_products(body, catalog.kinds)
    return re.sub(r"\s+", " ", body).strip()


@functools.lru_cache(maxsize=1)
def _chat_words() -> frozenset[str]:
    """The English words of the router's examples (product words among them: callers set those apart)."""
    return frozenset(w for by_language in EXAMPLES.values() for texts in by_language.values()
                     for text in texts for w in _words(text))


def resolve(ref: ItemRef | None, shown: list[str], last_item: str | None) -> tuple[str | None, str | None]:
    """``(item_id, reference)`` of an item reference against what the shopper was shown."""
    if ref is None:
        return None, None
    if ref.kind == "title":
        return ref.item_id, None
    if ref.kind == "ordinal" and ref.n is not None:
        n = len(shown) if ref.n == -1 else ref.n
        if shown and 1 <= n <= len(shown):
            return shown[n - 1], f"#{n}"
        return None, f"#{ref.n if ref.n > 0 else 'last'}"
    if ref.kind == "anaphora":
        if last_item:
            return last_item, "it"
        if shown:
            return shown[0], "#1"
        return None, "#1"
    return None, ref.words


def slot_names() -> Mapping[str, tuple[str, ...]]:
    return SLOTS_OF


# -- reading earlier answers (the stateless endpoint) -------------------------------------------
_LIST_LINE = re.compile(r"^\s*(\d{1,2})[.)]\s+(.+?)\s*$")


def listed_items(text: str, catalog: Catalog) -> list[str]:
    """The items of a numbered list in an earlier answer ("1. <title> — <reason>"; a "more" page
    numbers on: "6. …"), in order."""
    out: list[str] = []
    start: int | None = None
    for line in text.splitlines():
        match = _LIST_LINE.match(line)
        if not match:
            continue
        start = int(match.group(1)) if start is None else start
        if int(match.group(1)) != start + len(out):
            continue
        rest = match.group(2)
        for separator in (" —— ", " — ", "——", "—", " - "):
            head = rest.split(separator)[0].strip().strip("“”\"")
            position = catalog.exact.get(head.lower())
            if position is not None:
                out.append(str(catalog.item_ids[position]))
                break
    return out


def quoted_item(text: str, catalog: Catalog) -> str | None:
    """The first catalog item an earlier answer quotes (“<title>”)."""
    for match in re.finditer(r"[“\"「](.+?)[”\"」]", text):
        position = catalog.exact.get(match.group(1).strip().lower())
        if position is not None:
            return str(catalog.item_ids[position])
    return None
