"""Composing an answer from this turn's tool results: which result answers the question asked,
worded by :func:`whyrec.agent.render.render` (tool results) or :mod:`whyrec.agent.replies` (the
chat's own replies), from the message catalogue.

This is how whyrec answers with no LLM at all, and the fallback whenever an LLM's wording
fails the guard: every number here is formatted from a tool result. The composer also chooses:
search hits too far from the question are left out rather than shown as confident noise, an
effects answer about one segment value ("for cheap items") shows that value's rows, and what a
list left out ("not books") is said under it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from whyrec.prompts.catalogue import has_message, message
from whyrec.tools.service import Effects, Explanation, HistorySearch, ItemSearch, Recommendations, UserHistory

from . import replies
from .failure import ToolFailure
from .intents import PERSONAL_KINDS, Intent
from .render import behaviour_name, category_name, important, joined, quote, render
from .slots import normalise_query, search_text

#: The answer kind of each tool's result (used when an LLM chose the tools).
TOOL_KINDS = {"recommend": "recommend", "explain": "explain", "what_if": "what_if", "behaviour_effects": "effects",
              "search_behaviours": "history", "search_items": "search", "recent_behaviours": "history",
              "popular_items": "popular"}
#: The tool whose result answers each kind.
ANSWERING_TOOL = {"recommend": "recommend", "explain": "explain", "why_not": "explain", "what_if": "what_if",
                  "effects": "behaviour_effects", "search": "search_items", "popular": "popular_items"}

#: Search hits below this similarity to the question are not shown (cosine, sentence model).
MIN_SIMILARITY = 0.3
#: ... nor those this far below the best hit.
MAX_GAP = 0.2


class Composer:
    """Turns (intent, tool results) into answer text in one language.

    ``title_of`` names items by id (for "which of these do you mean?"); ``price_edges`` are the
    catalog's price thirds (for the note under a list kept to a price band).
    """

    def __init__(self, language: str, title_of: Callable[[str], str] | None = None,
                 price_edges: tuple[float, float] | None = None, pending_user: bool = False) -> None:
        self.language = language
        self.title_of = title_of or (lambda item_id: item_id)
        self.price_edges = price_edges
        # The shopper the model does not know has behaviours recorded that it has not learned
        # yet (a refit is due or running): not a new shopper, and the words say so.
        self.pending_user = pending_user

    def cold(self, name: str) -> str:
        """The words for a shopper the model does not know (``intro``, ``personal``, ``context``):
        a new one, or one whose recorded behaviours it has not learned yet."""
        return message(f"chat.cold.{name}{'_pending' if self.pending_user else ''}", self.language)

    def note(self, name: str) -> str:
        """A note added under an answer (``offline_note``, ``guard_note``)."""
        return message(f"chat.other.{name}", self.language)

    def compose(self, intent: Intent, results: Sequence[tuple[str, Any]], user_id: str,
                known_user: bool = True) -> str:
        """``results``: (tool name, result) pairs of this turn, in call order. ``known_user``
        false: the model knows no behaviours of the shopper (lists are the items the most shoppers
        have bought)."""
        language = self.language
        failures = [a for _, a in results if isinstance(a, ToolFailure)]
        if failures:
            return render(failures[0], language)
        by_name: dict[str, list[Any]] = defaultdict(list)
        for name, artifact in results:
            by_name[name].append(artifact)
        kind = intent.kind
        if not known_user and kind in PERSONAL_KINDS:
            return self.cold("personal")
        if not known_user and kind == "recommend" and by_name["popular_items"]:
            listed = replies.popular(by_name["popular_items"][-1], language, personal_hint=False)
            intro = [] if intent.slots.more else [self.cold("intro")]   # said once
            return "\n".join([*intro, listed, *self._list_notes(intent)])
        if kind == "other_user":
            return message("chat.other.other_user", language)
        if kind in replies.SMALL_TALK:
            return replies.small_talk(kind, language)
        if kind == "clarify":
            return replies.clarify(intent.options, language)
        unresolved = self._unresolved_item(intent)
        if unresolved is not None:
            return unresolved
        if kind == "why_not" and by_name["explain"]:
            result = by_name["explain"][-1]
            if isinstance(result, Explanation) and result.why_not is None and result.rank is not None:
                # "Why not X?" for a pick already in the list: say so first, then what it rests on.
                lead = message("explain.why_not.in_top_k", language, title=quote(result.title, language),
                               rank=result.rank)
                return "\n".join([lead, render(result, language)])
        if kind == "important" and by_name["recommend"]:
            return important(by_name["recommend"][-1], language)
        if kind == "recommend" and by_name["recommend"]:
            return self._recommendations(by_name["recommend"][-1], intent)
        if kind == "effects" and by_name["behaviour_effects"]:
            return self._effects(by_name["behaviour_effects"][-1], intent)
        if kind == "history" and by_name["search_behaviours"]:
            found = self._relevant(by_name["search_behaviours"][-1])
            return render(replace(found, query=intent.slots.query or found.query), language)
        if kind in ("history", "last_time") and by_name["recent_behaviours"]:
            history: UserHistory = by_name["recent_behaviours"][-1]
            if kind == "last_time":
                title = self.title_of(intent.item_id) if intent.item_id else None
                return replies.last_time(history, intent.slots.behaviour, title, language)
            return replies.recent(history, language, behaviour=intent.slots.behaviour)
        if kind == "search" and by_name["search_items"]:
            return self._items(by_name["search_items"][-1], intent.slots.query)
        if kind == "popular" and by_name["popular_items"]:
            return replies.popular(by_name["popular_items"][-1], language, personal_hint=known_user)
        tool = ANSWERING_TOOL.get(kind)
        if tool and by_name[tool]:
            return render(by_name[tool][-1], language)
        if kind == "search":  # nothing to search for
            return replies.clarify(("search",), language)
        return replies.small_talk("help", language)

    def _unresolved_item(self, intent: Intent) -> str | None:
        """The reply when a question about one item does not say which item the catalog holds."""
        needs_item = intent.kind in ("explain", "why_not", "what_if") or (
            intent.kind == "last_time" and intent.slots.item is not None)
        if not needs_item or intent.item_id is not None:
            return None
        language, ref = self.language, intent.slots.item
        if ref is not None and ref.kind == "ambiguous" and ref.candidates:
            return replies.which_item(ref.words or "", [self.title_of(c) for c in ref.candidates], language)
        if intent.reference and intent.reference.startswith("#"):
            return message("chat.other.need_recommendations", language)
        if intent.reference:
            return message("chat.other.unknown_item", language, reference=intent.reference)
        return replies.need_item(language)

    def _recommendations(self, result: Recommendations, intent: Intent) -> str:
        language, slots = self.language, intent.slots
        # The scope in the shopper's words ("台灯", not the "table lamp" it was searched with).
        shown = replace(result, query=slots.query) if result.query and slots.query else result
        if shown.query and shown.category and _same_kind(shown.query, category_name(shown.category)):
            shown = replace(shown, query=None)  # "in headphones", not "in headphones for “headphones”"
        lines = [render(shown, language), *self._list_notes(intent)]
        if result.items and all(_untitled(i.title, i.item_id) for i in result.items):
            lines.append(replies.note("untitled", language))
        return "\n".join(lines)

    def _list_notes(self, intent: Intent) -> list[str]:
        """The notes under a list narrowed by what the shopper asked: categories left out, a
        price limit or band."""
        language, slots = self.language, intent.slots
        lines = []
        if slots.exclude:
            lines.append(replies.note("excluded", language, categories=joined(list(slots.exclude), language)))
        if slots.price_max is not None:
            lines.append(replies.note("price_max", language, price=f"{slots.price_max:.2f}"))
        elif slots.price in ("low", "high") and self.price_edges is not None:
            edge = self.price_edges[0] if slots.price == "low" else self.price_edges[1]
            lines.append(replies.note(f"price_{slots.price}", language, price=f"{edge:.2f}"))
        return lines

    def _effects(self, result: Effects, intent: Intent) -> str:
        """The effects that answer the question: one segment value's rows when it named one, the
        rows the data cannot carry said in one line each (their reasons stay in the result), and
        band segments named in words ("cheaper items", not "low")."""
        language, value = self.language, intent.slots.segment_value
        lines = []
        if result.not_estimated is not None:   # e.g. clicks, or buying itself: said, then what is estimated
            lines.append(message("dialog.effects.not_estimated", language,
                                 behaviour=behaviour_name(result.not_estimated, language)))
        effects = result.effects
        if value and result.segment:
            chosen = tuple(e for e in effects if e.segment.split("=", 1)[-1].lower() == value.lower())
            if chosen:
                effects = chosen
            else:
                shown = message(f"dialog.band.{result.segment}.{value}", language) if has_message(
                    f"dialog.band.{result.segment}.{value}", language) else value
                lines.append(replies.note("segment_missing", language, value=shown))
        estimable = tuple(_named_band(e, language) for e in effects if e.ok and e.estimate is not None)
        text = render(replace(result, effects=estimable), language) if estimable else ""
        lines += [text] if text else []
        for behaviour in dict.fromkeys(e.behaviour for e in effects if not (e.ok and e.estimate is not None)):
            failed = [e for e in effects if e.behaviour == behaviour and not (e.ok and e.estimate is not None)]
            treatment = message(f"chat.effects.treatment.{behaviour}", language) if has_message(
                f"chat.effects.treatment.{behaviour}", language) else behaviour
            if any(e.segment in ("all", "") or "=" not in e.segment for e in failed):
                lines.append(message("dialog.effects.cannot", language, treatment=treatment))
            else:
                lines.append(message("dialog.effects.cannot_groups", language, treatment=treatment, n=len(failed)))
        return "\n".join(lines) if lines else render(result, language)

    def _relevant(self, result: HistorySearch) -> HistorySearch:
        """The hits close enough to the question (all of them when it asked for everything)."""
        if not result.hits or result.query in ("", "everything", "everything I did"):
            return result
        return replace(result, hits=tuple(_close(result.hits)))

    def _items(self, result: ItemSearch, words: str | None = None) -> str:
        hits = _close(result.hits)
        query = words or result.query  # the shopper's own words, not the words searched with
        if result.hits and not hits:
            return replies.note("weak_matches", self.language, query=query)
        text = render(replace(result, hits=tuple(hits), query=query), self.language)
        if hits and all(_untitled(h.title, h.item_id) for h in hits):
            text += "\n" + replies.note("untitled", self.language)
        return text

    def from_results(self, results: Sequence[tuple[str, Any]], user_id: str, known_user: bool = True) -> str:
        """An answer for whatever tools ran (used when an LLM chose the tools)."""
        parts = []
        for name, artifact in results:
            kind = TOOL_KINDS.get(name)
            if kind and not (not known_user and isinstance(artifact, ToolFailure) and artifact.code == "unknown_user"):
                parts.append(self.compose(Intent(kind, item_id="-"), [(name, artifact)], user_id, known_user))
        return "\n\n".join(parts) if parts else replies.small_talk("help", self.language)


def _named_band(effect: Any, language: str) -> Any:
    """An effect of a band segment ("price_band=low") with the band named in words."""
    dimension, _, value = str(effect.segment).partition("=")
    key = f"dialog.band.{dimension}.{value}"
    return replace(effect, segment=f"{dimension}={message(key, language)}") if value and has_message(key, language) \
        else effect


def _close(hits: Sequence[Any]) -> list[Any]:
    if not hits:
        return []
    best = max(h.score for h in hits)
    return [h for h in hits if h.score >= MIN_SIMILARITY and h.score >= best - MAX_GAP]


def _same_kind(words: str, kind: str) -> bool:
    """True when the shopper's words name the kind the list is kept to ("耳机" / "headphones")."""
    def norm(text: str) -> str:
        return normalise_query(search_text(text)).strip().lower()
    return bool(kind) and norm(words) == norm(kind)


def _untitled(title: str, item_id: str) -> bool:
    """True for an item the catalog gives no name (its title is its id)."""
    text = str(title).strip().lower()
    return text in (str(item_id).lower(), f"item {str(item_id).lower()}")
