"""Composing an answer from this turn's tool results: which result answers the question asked,
worded by :func:`whyrec.agent.render.render` from the message catalogue.

This is how whyrec answers with no LLM at all, and the fallback whenever an LLM's wording
fails the grounding guard: every number here is formatted from a tool result.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from whyrec.prompts.catalogue import message

from .failure import ToolFailure
from .intents import Intent
from .render import important, render

#: The answer kind of each tool's result (used when an LLM chose the tools).
TOOL_KINDS = {"recommend": "recommend", "explain": "explain", "what_if": "what_if", "behaviour_effects": "effects",
              "search_behaviours": "history", "search_items": "search"}


class Composer:
    """Turns (intent, tool results) into answer text in one language."""

    def __init__(self, language: str) -> None:
        self.language = language

    def note(self, name: str) -> str:
        """A note added under an answer (``offline_note``, ``guard_note``)."""
        return message(f"chat.other.{name}", self.language)

    def compose(self, intent: Intent, results: Sequence[tuple[str, Any]], user_id: str) -> str:
        """``results``: (tool name, result) pairs of this turn, in call order."""
        language = self.language
        failures = [a for _, a in results if isinstance(a, ToolFailure)]
        if failures:
            return render(failures[0], language)
        by_name: dict[str, list[Any]] = defaultdict(list)
        for name, artifact in results:
            by_name[name].append(artifact)
        kind = intent.kind
        if kind == "other_user":
            return message("chat.other.other_user", language)
        if kind == "help":
            return message("chat.other.help", language)
        if kind in ("explain", "why_not", "what_if") and intent.item_id is None:
            if intent.reference and intent.reference.startswith("#"):
                return message("chat.other.need_recommendations", language)
            return message("chat.other.unknown_item", language, reference=intent.reference or "")
        if kind == "important" and by_name["recommend"]:
            return important(by_name["recommend"][-1], language)
        tool = {"recommend": "recommend", "explain": "explain", "why_not": "explain", "what_if": "what_if",
                "effects": "behaviour_effects", "history": "search_behaviours", "search": "search_items"}.get(kind)
        if tool and by_name[tool]:
            return render(by_name[tool][-1], language)
        return message("chat.other.help", language)

    def from_results(self, results: Sequence[tuple[str, Any]], user_id: str) -> str:
        """An answer for whatever tools ran (used when an LLM chose the tools)."""
        parts = []
        for name, artifact in results:
            kind = TOOL_KINDS.get(name)
            if kind:
                parts.append(self.compose(Intent(kind, item_id="-"), [(name, artifact)], user_id))
        return "\n\n".join(parts) if parts else message("chat.other.help", self.language)
