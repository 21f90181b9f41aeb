"""Understanding a chat message without an LLM: intent, item reference, behaviour, in English and Chinese.

The offline planner turns an :class:`Intent` into tool calls. Parsing is deterministic and
conservative: what it does not understand becomes the ``help`` intent, never a guess.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

KINDS = ("recommend", "explain", "why_not", "what_if", "important", "effects", "history",
         "search", "other_user", "help")

_ORDINALS_EN = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4,
                "4th": 4, "fifth": 5, "5th": 5, "sixth": 6, "6th": 6, "seventh": 7, "7th": 7,
                "eighth": 8, "8th": 8, "ninth": 9, "9th": 9, "tenth": 10, "10th": 10, "top": 1}
_ZH_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}

# Behaviour words: (pattern, behaviour). Order matters: the first match wins.
_BEHAVIOUR_WORDS: tuple[tuple[str, str], ...] = (
    (r"add(?:ed|ing)?\b.*\b(?:to )?(?:my |the )?(?:cart|basket)|\bcart(?:ed|s)?\b|\bbasket"
     r"|加购|加入购物车|购物车|加车", "cart"),
    (r"favou?rit(?:e|ed|es|ing)|\bfav\b|\bsav(?:e|ed|ing)\b|wish ?list|\blik(?:e|ed)\b|收藏|喜欢", "favourite"),
    (r"\bbu(?:y|ying|ys)\b|\bbought\b|purchas(?:e|ed|es|ing)|\border(?:ed)?\b|购买|买了|买过|下单", "purchase"),
    (r"\bclick(?:ed|s|ing)?\b|点击", "click"),
    (r"\bview(?:ed|s|ing)?\b|\blook(?:ed|ing)? at\b|\bbrows(?:e|ed|ing)\b|\bsaw\b|\bseen\b"
     r"|浏览|看过|看了|查看", "view"),
    (r"\brat(?:e|ed|ing)\b|评分|打分", "rating"),
)


@dataclass(frozen=True)
class Intent:
    """What the user asked for, with the arguments the tools need."""

    kind: str
    item_id: str | None = None
    reference: str | None = None      # the words that named the item
    category: str | None = None
    query: str | None = None
    behaviour: str | None = None
    behaviours: tuple[str, ...] = ()
    segment: str | None = None
    remove: bool = True               # what-if: remove (True) or add (False) the behaviour
    k: int = 5
    other_user: str | None = None


@dataclass
class ItemResolver:
    """Finds the item a message refers to: by ordinal, id, exact title, or title words."""

    item_ids: np.ndarray
    titles: np.ndarray
    categories: np.ndarray
    last_recommendations: Sequence[str] = field(default_factory=list)
    last_item: str | None = None

    @classmethod
    def from_catalog(cls, items: pd.DataFrame, last_recommendations: Sequence[str] = (),
                     last_item: str | None = None) -> ItemResolver:
        return cls(items["item_id"].astype(str).to_numpy(),
                   items["title"].fillna("").astype(str).to_numpy(),
                   items["category"].fillna("").astype(str).to_numpy(),
                   list(last_recommendations), last_item)

    def ordinal(self, text: str) -> int | None:
        lowered = text.lower()
        match = re.search(r"(?:#|number |no\.? ?)(\d{1,2})\b", lowered)
        if match:
            return int(match.group(1))
        for word, n in _ORDINALS_EN.items():
            if re.search(rf"\b{word}\b(?: one| item| pick| recommendation)?", lowered) and word != "top":
                return n
        if re.search(r"\btop (?:one|item|pick)\b", lowered):
            return 1
        if re.search(r"\blast (?:one|item|pick)\b", lowered) and self.last_recommendations:
            return len(self.last_recommendations)
        match = re.search(r"第\s*([一二两三四五六七八九十]|\d{1,2})\s*(?:个|件|条|项|款|名|位)?", text)
        if match:
            token = match.group(1)
            return int(token) if token.isdigit() else _ZH_DIGITS[token]
        if re.search(r"最后一(?:个|件|条)", text) and self.last_recommendations:
            return len(self.last_recommendations)
        return None

    def resolve(self, text: str) -> tuple[str | None, str | None]:
        """``(item_id, reference)``: the item meant, or ``(None, words)`` when none matches."""
        n = self.ordinal(text)
        if n is not None:
            if 1 <= n <= len(self.last_recommendations):
                return self.last_recommendations[n - 1], f"#{n}"
            return None, f"#{n}"
        quoted = re.search(r"[\"“「『'‘](.+?)[\"”」』'’]", text)
        if quoted:
            found = self._by_words(quoted.group(1))
            if found:
                return found, quoted.group(1)
        lowered = text.lower()
        # The longest catalog title contained in the message.
        best: tuple[int, str] | None = None
        for item_id, title in zip(self.item_ids, self.titles):
            t = title.lower()
            if len(t) >= 3 and t in lowered and (best is None or len(t) > best[0]):
                best = (len(t), item_id)
        if best:
            return best[1], None
        for token in re.findall(r"[A-Za-z0-9_\-]+", text):
            hits = np.flatnonzero(self.item_ids == token)
            if len(hits) and (len(token) >= 3 or any(c.isdigit() for c in token)):
                return str(self.item_ids[hits[0]]), token
        if (re.search(r"\b(it|that one|this one|that item|this item)\b", lowered)
                or re.search(r"它|这个|那个|这件|那件", text)):
            if self.last_item:
                return self.last_item, "it"
            if self.last_recommendations:
                return self.last_recommendations[0], "#1"
        remainder = _strip_question_words(text)
        found = self._by_words(remainder) if remainder else None
        return (found, remainder) if found else (None, remainder or None)

    def _by_words(self, words: str) -> str | None:
        """An item whose title contains all the given words (the shortest such title)."""
        tokens = [t for t in re.findall(r"\w+", words.lower()) if len(t) > 1]
        if not tokens:
            return None
        lowered = np.char.lower(self.titles.astype(str))
        mask = np.ones(len(lowered), dtype=bool)
        for token in tokens:
            mask &= np.char.find(lowered, token) >= 0
        hits = np.flatnonzero(mask)
        if not len(hits):
            return None
        shortest = hits[np.argmin(np.char.str_len(lowered[hits]))]
        return str(self.item_ids[shortest])

    def category_of(self, words: str) -> str | None:
        """A catalog category (or its top level) named by ``words``, if any."""
        lowered = words.lower().strip()
        if not lowered:
            return None
        tops = {c.split(".")[0].split(",")[0].strip().lower(): c.split(".")[0].split(",")[0].strip()
                for c in self.categories if c}
        for token in re.findall(r"[a-z]+", lowered):
            if token in tops:
                return tops[token]
            if token.endswith("s") and token[:-1] in tops:
                return tops[token[:-1]]
        return None


_QUESTION_WORDS = re.compile(
    r"\b(why|did|do|does|you|recommend(?:ed)?|suggest(?:ed)?|me|my|i|the|a|an|is|isn't|not|didn't|"
    r"what|if|hadn't|had|have|haven't|never|to|cart|basket|added|add|in|on|of|about|explain|"
    r"tell|show|item|one|please|this|that|it|for|would|happen|was|were)\b|[?？!！.,，。]|"
    r"为什么|推荐|给我|我|的|吗|呢|如果|没有|把|加入|购物车|了|是|不|这个|那个|解释一下|解释", re.IGNORECASE)


def _strip_question_words(text: str) -> str:
    return re.sub(r"\s+", " ", _QUESTION_WORDS.sub(" ", text)).strip()


def behaviour_in(text: str) -> str | None:
    """The behaviour a message talks about ('cart', 'favourite', ...), if any."""
    lowered = text.lower()
    for pattern, behaviour in _BEHAVIOUR_WORDS:
        if re.search(pattern, lowered):
            return behaviour
    return None


def parse_intent(message: str, resolver: ItemResolver, user_id: str) -> Intent:
    """Classify ``message`` and extract its arguments (see :data:`KINDS`)."""
    text = message.strip()
    lowered = text.lower()

    # "user 42", "user #42", "user_id=42", "--user=42", '"user_id": "42"', "用户：42"
    other = re.search(r"(?:\buser(?:[ _-]?id)?[\s#=:：\"'“”]*|用户[\s#=:：\"'“”]*)([A-Za-z0-9_\-]+)", text,
                      re.IGNORECASE)
    if other and other.group(1) != str(user_id) and other.group(1).lower() not in ("history", "s", "data"):
        return Intent("other_user", other_user=other.group(1))
    if re.search(r"\b(someone|somebody|other (?:users?|people|customers?))('s)?\b.*"
                 r"\b(history|data|behaviou?rs?|purchases?)",
                 lowered) or re.search(r"(别人|其他用户|他人)的", text):
        return Intent("other_user")

    if re.search(r"\bwhat if\b|\bwhat would happen if\b|\bsuppose\b|如果|假如|要是|假设", lowered):
        behaviour = behaviour_in(re.sub(r"what if|如果|假如|要是|假设", " ", lowered))
        negative = bool(re.search(r"hadn'?t|had not|didn'?t|did not|never|remove|without|undo|forget|"
                                  r"wasn'?t|没有|没|不曾|删除|去掉|取消", lowered))
        item_id, reference = resolver.resolve(text)
        return Intent("what_if", item_id=item_id, reference=reference, behaviour=behaviour or "cart",
                      remove=negative)

    if re.search(r"\bwhy (?:not|isn'?t|wasn'?t|aren'?t|didn'?t you|don'?t you|no)\b|为什么(?:不|没有|没)", lowered):
        item_id, reference = resolver.resolve(text)
        return Intent("why_not", item_id=item_id, reference=reference)

    if re.search(r"\b(which|what) of my (?:actions|behaviou?rs|activities|clicks|events)|"
                 r"(?:actions|behaviou?rs) (?:mattered|matter|counted|count)|mattered most|"
                 r"what (?:influenced|drove|drives|shaped) my|哪些行为|哪个行为|什么行为|哪些操作|影响最大|最重要",
                 lowered):
        return Intent("important")

    if re.search(r"\bwhy\b|\bexplain\b|\breason\b|为什么|为何|原因|解释", lowered):
        item_id, reference = resolver.resolve(text)
        return Intent("explain", item_id=item_id, reference=reference)

    if re.search(r"how much|effect|impact|raise|increase|boost|lift|causal|chance|likelihood|probabilit|"
                 r"提高|提升|增加|影响|效应|因果|概率|可能性", lowered):
        segment = None
        by = re.search(r"\bby (category|brand|price(?:[ _]band)?|activity)\b|按(类别|品牌|价格|活跃度)", lowered)
        if by:
            word = by.group(1) or by.group(2)
            segment = {"类别": "category", "品牌": "brand", "价格": "price_band", "活跃度": "activity",
                       "price band": "price_band", "price_band": "price_band", "price": "price_band"}.get(word, word)
        return Intent("effects", behaviour=behaviour_in(lowered), segment=segment)

    history_words = (r"\bmy (?:history|activity|past|cart|basket|favou?rites|purchases|orders|views)\b|"
                     r"\bwhat (?:did|have) i\b|\bhave i\b.*\b(?:bought|viewed|seen|added|saved)|"
                     r"我的(?:历史|记录|购物车|收藏|订单)|我(?:看过|买过|浏览过|收藏过|加购过)|我.*(?:了什么|过什么)")
    if re.search(history_words, lowered):
        behaviour = behaviour_in(re.sub(r"\bmy history\b", " ", lowered))
        query = _strip_question_words(re.sub(r"\b(history|activity|past|show|what|did|have|i|my|"
                                             r"bought|viewed|seen|added|saved|buy|view|favou?rites|purchases|"
                                             r"orders|views|cart|basket)\b", " ", lowered))
        # The sentence model reads English: a query without Latin words searches everything.
        query = query if re.search(r"[a-z]{3,}", query) else ""
        return Intent("history", behaviours=(behaviour,) if behaviour else (), query=query or None)

    search = re.search(r"\b(?:find|search(?: for)?|look(?:ing)? for|do you (?:have|sell)|show me)\s+(.+)|"
                       r"(?:搜索|查找|找一下|找找|有没有)\s*(.+)", text, re.IGNORECASE)
    if search and not re.search(r"recommend|suggest|推荐", lowered):
        query = (search.group(1) or search.group(2) or "").strip(" ?？!！.。")
        return Intent("search", query=query)

    if re.search(r"recommend|suggest|what should i|what to buy|what can i|\bnext\b|\bpicks?\b|"
                 r"anything (?:for|good)|推荐|买什么|建议|该买|买点什么", lowered):
        k = 5
        count = re.search(r"\b(\d{1,2})\b|([一二两三四五六七八九十])\s*(?:个|件|款)", text)
        if count:
            k = int(count.group(1)) if count.group(1) else _ZH_DIGITS[count.group(2)]
            k = max(1, min(k, 20))
        topic = re.sub(r"\b(recommend(?:ation)?s?|suggest(?:ions?)?|what|should|i|buy|next|me|some|a|an|"
                       r"the|for|to|please|can|you|could|would|picks?|anything|something|any|else|"
                       r"more|new|good|nice|great|items?|products?|stuff|things?|do|have|get|\d+)\b|"
                       r"[?？!！.,，。]|推荐|给我|一些|几个|买什么|建议|我|吧|呢|吗",
                       " ", lowered)
        topic = re.sub(r"\s+", " ", topic).strip()
        category = resolver.category_of(topic) if topic else None
        return Intent("recommend", k=k, category=category,
                      query=topic if topic and not category and re.search(r"[a-z]{3,}", topic) else None)

    item_id, reference = resolver.resolve(text)
    if item_id is not None and reference is None:  # a bare item title: explain it
        return Intent("explain", item_id=item_id)
    return Intent("help")
