"""Understanding a chat message: its intent (the semantic router), its slots (the extractor) and
what the conversation so far adds (follow-ups, "it", the list shown, a pending clarification).

``Understanding.read(message, state, shown, last_item, user_id)`` returns an :class:`Intent`,
the one object the planner, composer and replies work from. Nothing here calls a tool.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from .language import detect_language
from .router import CONFIDENCE, Route, Router
from .slots import (
    ITEM_KINDS,
    Catalog,
    ItemRef,
    Slots,
    delexicalise,
    extract,
    known_topic,
    others_in_general,
    plain_words,
    resolve,
    someone_else,
)

#: Every answer kind.
KINDS = ("recommend", "explain", "why_not", "what_if", "important", "effects", "history", "last_time",
         "search", "popular", "other_user", "greeting", "thanks", "goodbye", "help", "out_of_scope", "clarify")
#: Kinds a follow-up can continue ("and the second one?", "what about books?").
CONTINUABLE = ("recommend", "explain", "why_not", "what_if", "important", "effects", "history", "last_time",
               "search", "popular")
#: Kinds only a shopper's own behaviours can answer (nothing to look up for one with none).
PERSONAL_KINDS = ("explain", "why_not", "what_if", "history", "last_time", "important")
#: Treatments the causal report estimates (purchase is its outcome).
TREATMENTS = ("view", "click", "favourite", "cart")


@dataclass(frozen=True)
class Intent:
    """What the shopper asked for: the kind, its slots, the item resolved against the chat."""

    kind: str
    slots: Slots = field(default_factory=Slots)
    item_id: str | None = None
    reference: str | None = None      # how the message named the item ("#2", "it", its words)
    confidence: float = 1.0
    options: tuple[str, ...] = ()     # clarify: the kinds the question offers
    follow_up: bool = False
    route: Route | None = None

    # Shorthands the planner and composer read.
    @property
    def behaviour(self) -> str | None:
        return self.slots.behaviour

    @property
    def k(self) -> int:
        return max(1, min(self.slots.k or 5, 20))

    @property
    def category(self) -> str | None:
        return self.slots.category

    @property
    def query(self) -> str | None:
        return self.slots.query

    @property
    def segment(self) -> str | None:
        return self.slots.segment

    @property
    def remove(self) -> bool:
        return bool(self.slots.remove)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "confidence": round(self.confidence, 3), "item_id": self.item_id,
                "reference": self.reference, "follow_up": self.follow_up, "options": list(self.options),
                "slots": self.slots.canonical(self.kind)}


@dataclass
class DialogState:
    """What earlier turns tell the next one (kept per chat session, or rebuilt from a request's
    messages by the stateless endpoint)."""

    last_kind: str | None = None
    last_slots: Slots | None = None
    last_list: Slots | None = None      # the slots of the last list asked for ("more" pages it)
    pending_options: tuple[str, ...] = ()
    pending_message: str | None = None

    def remember(self, intent: Intent, message: str) -> None:
        if intent.kind == "clarify":
            self.pending_options = intent.options
            self.pending_message = message if intent.options else None
            return
        self.pending_options, self.pending_message = (), None
        if intent.kind in CONTINUABLE:
            self.last_kind, self.last_slots = intent.kind, intent.slots
        if intent.kind == "recommend":
            self.last_list = intent.slots


#: Questions a price can narrow: lists of items, and effects (by price band).
PRICED_KINDS = frozenset({"recommend", "popular", "search", "effects"})


def _adds_detail(slots: Slots) -> bool:
    """True when the slots hold something a follow-up can change in the last question."""
    item = slots.item is not None and slots.item.kind in ("title", "ordinal", "anaphora")
    return item or any(v not in (None, ()) for v in (
        slots.behaviour, slots.category, slots.exclude, slots.k, slots.price, slots.price_max, slots.language,
        slots.segment, slots.time))


_CHOICE_FIRST = re.compile(r"^\s*(?:yes|yeah|yep|sure|ok(?:ay)?|the first|first|1|the former|a|是|是的|对|好|好的|"
                           r"第一个|前者|一)\s*(?:one|option|please|吧)?[.!。！]*\s*$", re.IGNORECASE)
_CHOICE_SECOND = re.compile(r"^\s*(?:no|nope|the second|second|2|the latter|b|不|不是|第二个|后者|二)\s*"
                            r"(?:one|option|please|吧)?[.!。！]*\s*$", re.IGNORECASE)


def privacy_checked(route: Route, text: str) -> Route:
    """``route`` unless it refuses a message that names no other person.

    The router learns "another shopper's data" from examples, and nearby wordings ("what do other
    users buy?", "我最近买了什么？") can land on it. A refusal needs another person in the words
    (an id is caught before routing): without one, "other users" in general is a question about
    what is popular, and anything else takes the router's next reading (probabilities renormalised
    without the refusal, so a weak runner-up still leads to a clarifying question).
    """
    if route.intent != "other_user" or someone_else(text):
        return route
    rest = [(name, p) for name, p in route.ranked if name != "other_user"]
    if not rest:
        return route
    mass = sum(p for _, p in rest) or 1.0
    ranked = [(name, p / mass) for name, p in rest]
    if others_in_general(text):
        ranked.sort(key=lambda pair: pair[0] != "popular")
        name, p = ranked[0]
        return Route(name, max(p, CONFIDENCE), tuple(ranked))  # shoppers in general: what is popular
    return Route(ranked[0][0], ranked[0][1], tuple(ranked))


#: A message that starts with an explicit command to search the catalog.
_SEARCH_COMMAND = re.compile(r"^\s*(?:please\s+)?(?:find(?: me)?|search(?: the (?:shop|catalog|catalogue))?(?: for)?"
                             r"|look up|look for)\s+\S|^\s*(?:请)?(?:搜索|搜一下|搜|查找|查一下|找一下)\s*\S",
                             re.IGNORECASE)


class Understanding:
    """Reads messages against one catalog with one trained router."""

    def __init__(self, router: Router, catalog: Catalog, confidence: float = CONFIDENCE) -> None:
        self.router = router
        self.catalog = catalog
        self.confidence = confidence

    def read(self, message: str, state: DialogState | None = None, shown: list[str] | None = None,
             last_item: str | None = None, user_id: str | None = None,
             own_items: Mapping[str, frozenset[str]] | None = None) -> Intent:
        state = state or DialogState()
        shown = list(shown or [])
        text = plain_words(message.strip())
        answered = self._answer_to_clarification(text, state)
        if answered is not None:
            kind, text = answered
            slots = extract(text, self.catalog, user_id, own_items)
            return self._finish(kind, slots, 1.0, None, False, shown, last_item)
        slots = extract(text, self.catalog, user_id, own_items)
        if slots.other_user is not None:
            return Intent("other_user", slots, confidence=1.0)
        routed = delexicalise(text, slots, self.catalog, detect_language(text))
        route = privacy_checked(self.router.route(routed), routed)
        if (route.intent == "unclear" or route.confidence < self.confidence) and slots.phrase \
                and _SEARCH_COMMAND.match(text):
            # "find <anything>": an explicit command to search, whatever the words are
            route = Route("search", self.confidence, (("search", self.confidence),
                                                        *((n, p) for n, p in route.ranked if n != "search")))
        return self.decide(route, slots, state, shown, last_item)

    def decide(self, route: Route, slots: Slots, state: DialogState, shown: list[str],
               last_item: str | None) -> Intent:
        """The intent, given the router's reading, the slots and the conversation so far."""
        kind, confidence = route.intent, route.confidence
        follow_up = False
        if slots.more and shown:
            # "more" / "next 5" / "再来几个" after a list: the picks after the ones shown, in the
            # same scope (books, under 20, ...) as that list.
            last = state.last_list or Slots()
            return self._finish("recommend", last.merged(slots), max(confidence, self.confidence), route,
                                True, shown, last_item)
        # A fragment that adds a detail ("收藏呢？", "and for books?") continues the last question.
        if kind in ("follow_up", "unclear") and state.last_kind is not None and _adds_detail(slots):
            kind = "follow_up"
        if kind == "follow_up":
            if state.last_kind is None or not (_adds_detail(slots) or slots.more):
                # Nothing to follow, or nothing added ("asdfgh qwerty" mid-conversation repeated
                # the last answer): one clarifying question.
                return self._clarify(route, slots)
            kind, follow_up = state.last_kind, True
            if kind not in PRICED_KINDS and (slots.price or slots.price_max is not None):
                # "cheaper ones" after "why the first one?" or "which of my actions mattered most?":
                # a price asks for items, not for that answer again (nor for an item so named).
                return self._finish("recommend", slots, max(confidence, self.confidence), route, False,
                                    shown, last_item)
            slots = replace(slots, query=known_topic(slots.query, self.catalog),
                            phrase=known_topic(slots.phrase, self.catalog))
            slots = (state.last_slots or Slots()).merged(slots)
        elif kind == "unclear" or confidence < self.confidence:
            return self._clarify(route, slots)
        return self._finish(kind, slots, confidence, route, follow_up, shown, last_item)

    def _finish(self, kind: str, slots: Slots, confidence: float, route: Route | None, follow_up: bool,
                shown: list[str], last_item: str | None) -> Intent:
        if kind == "effects":
            treatments = [b for b in slots.behaviours if b in TREATMENTS]
            # Asked about a rating ("what does rating do to buying?"): it goes to the tool, which
            # says it has no estimate of it (buying alone is the outcome: "what makes people buy?").
            others = [b for b in slots.behaviours if b not in TREATMENTS and b != "purchase"]
            slots = replace(slots, behaviour=treatments[0] if treatments else others[0] if others and not follow_up
                            else (slots.behaviour if follow_up and slots.behaviour in TREATMENTS else None))
        elif kind == "history" and len(slots.behaviours) > 1 and not follow_up:
            slots = replace(slots, behaviour=None)
        if kind == "what_if" and slots.remove is None:
            slots = replace(slots, remove=False)
        if kind == "recommend":
            slots = replace(slots, query=known_topic(slots.query, self.catalog) if not slots.category else None)
        elif kind == "history" and not follow_up:
            slots = replace(slots, query=known_topic(slots.phrase, self.catalog))
        elif kind == "search" and not follow_up:
            slots = replace(slots, query=slots.phrase)
        item_id, reference = None, None
        if kind in ITEM_KINDS:
            ref = slots.item
            if kind == "last_time" and ref is not None and ref.kind == "words":
                ref = None  # "when did I last buy something": no item named
                slots = replace(slots, item=None)
            if ref is None and kind in ("explain", "why_not", "what_if") and (last_item or follow_up):
                ref = ItemRef("anaphora")
                slots = replace(slots, item=ref)
            item_id, reference = resolve(ref, shown, last_item)
        return Intent(kind, slots, item_id, reference, confidence, follow_up=follow_up, route=route)

    def _clarify(self, route: Route, slots: Slots) -> Intent:
        options = tuple(name for name, _ in route.ranked if name in CONTINUABLE)[:2]
        return Intent("clarify", slots, confidence=route.confidence, options=options, route=route)

    @staticmethod
    def _answer_to_clarification(text: str, state: DialogState) -> tuple[str, str] | None:
        """(kind, original message) when ``text`` picks an option of the last clarifying question."""
        if not state.pending_options or not state.pending_message:
            return None
        if _CHOICE_FIRST.match(text):
            return state.pending_options[0], state.pending_message
        if len(state.pending_options) > 1 and _CHOICE_SECOND.match(text):
            return state.pending_options[1], state.pending_message
        return None
