"""Composing answers from tool results with the templates in prompts/ (English and Chinese).

This is how whyrec answers with no LLM at all, and the fallback whenever an LLM's wording
fails the grounding guard: every number here is formatted from a tool result.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from whyrec.prompts import templates
from whyrec.prompts.catalogue import message

from .failure import ToolFailure
from .intents import Intent


def phrase(behaviour: str, title: str, language: str) -> str:
    """'added X to cart' / '把X加入了购物车'."""
    return message(f"behaviour.did.{behaviour}", language, title=title)


def behaviour_name(behaviour: str, language: str) -> str:
    return message(f"behaviour.name.{behaviour}", language)


def _fmt(value: float, digits: int = 3) -> str:
    return f"{value:.{digits}f}"


class Composer:
    """Turns (intent, tool results) into answer text in one language."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.t = templates(language)

    def compose(self, intent: Intent, results: Sequence[tuple[str, Any]], user_id: str) -> str:
        """``results``: (tool name, artifact) pairs of this turn, in call order."""
        errors = [a for name, a in results if isinstance(a, ToolFailure)]
        if errors:
            return self.t["error"].format(message=errors[0].message)
        by_name: dict[str, list[Any]] = defaultdict(list)
        for name, artifact in results:
            by_name[name].append(artifact)
        kind = intent.kind
        if kind == "other_user":
            return self.t["other_user"].format(user_id=user_id)
        if kind == "help":
            return self.t["help"]
        if kind in ("explain", "why_not", "what_if") and intent.item_id is None:
            if intent.reference and intent.reference.startswith("#"):
                return self.t["need_recommendations"]
            return self.t["unknown_item"].format(reference=intent.reference or "")
        if kind == "recommend" and by_name["recommend"]:
            return self.recommendations(by_name["recommend"][-1])
        if kind == "important" and by_name["recommend"]:
            return self.important(by_name["recommend"][-1])
        if kind in ("explain", "why_not") and by_name["explain"]:
            return by_name["explain"][-1].to_text(language=self.language)
        if kind == "what_if" and by_name["what_if"]:
            return by_name["what_if"][-1].to_text(language=self.language)
        if kind == "effects" and by_name["behaviour_effects"]:
            return self.effects(by_name["behaviour_effects"][-1])
        if kind == "history" and by_name["search_behaviours"]:
            return self.history(by_name["search_behaviours"][-1])
        if kind == "search" and by_name["search_items"]:
            return self.items(by_name["search_items"][-1])
        return self.t["help"]

    def from_results(self, results: Sequence[tuple[str, Any]], user_id: str) -> str:
        """An answer for whatever tools ran (used when an LLM chose the tools)."""
        parts = []
        for name, artifact in results:
            kind = {"recommend": "recommend", "explain": "explain", "what_if": "what_if",
                    "behaviour_effects": "effects", "search_behaviours": "history",
                    "search_items": "search"}.get(name)
            if kind:
                parts.append(self.compose(Intent(kind, item_id="-"), [(name, artifact)], user_id))
        return "\n\n".join(parts) if parts else self.t["help"]

    # -- kinds ------------------------------------------------------------------------------------
    def recommendations(self, recs: Any) -> str:
        t = self.t
        scope = ""
        if recs.category:
            scope += t["recommend_scope_category"].format(category=recs.category)
        if recs.query:
            scope += t["recommend_scope_query"].format(query=recs.query)
        if not recs.items:
            return t["recommend_empty"].format(scope=scope)
        lines = [t["recommend_intro"].format(n=len(recs.items), scope=scope)]
        for item in recs.items:
            top = item.reasons[0] if item.reasons else None
            if top is not None and top.share >= 0.05:
                reason = t["reason_history"].format(phrase=phrase(top.behaviour, top.title, self.language),
                                                    share=f"{top.share * 100:.0f}")
            else:
                reason = t["reason_popular"]
            lines.append(t["recommend_line"].format(rank=item.rank, title=item.title,
                                                    category=item.category or "-",
                                                    score=f"{item.score:.4f}", reason=reason))
        lines.append(t["recommend_footer"])
        return "\n".join(lines)

    def important(self, recs: Any) -> str:
        t = self.t
        influence, by_type = recs.influence()
        if not influence:
            return t["important_empty"]
        lines = [t["important_intro"].format(n=len(recs.items))]
        for n, (reason, total, titles) in enumerate(influence, start=1):
            lines.append(t["important_line"].format(
                rank=n, phrase=phrase(reason.behaviour, reason.title, self.language),
                date=reason.timestamp.date().isoformat(), value=_fmt(total), items=", ".join(titles[:3])))
        lines.append(t["important_by_type"].format(
            parts=", ".join(f"{behaviour_name(b, self.language)} {_fmt(v)}" for b, v in by_type.items())))
        return "\n".join(lines)

    def effects(self, result: Any) -> str:
        t = self.t
        if not result.effects:
            return t["effects_empty"]
        lines = [t["effects_intro"]]
        for effect in result.effects:
            text = t.get(f"behaviour_text_{effect.behaviour}", effect.behaviour)
            if effect.segment and effect.segment != "all":
                text += f" [{effect.segment}]"
            if not effect.ok or effect.estimate is None:
                lines.append(t["effect_cannot"].format(behaviour_text=text, reason=effect.reason))
                continue
            passed = sum(1 for r in effect.refutations if r.passed)
            refutation = (t["refutation_passed"].format(passed=passed, total=len(effect.refutations))
                          if effect.refutations else t["refutation_none"])
            lines.append(t["effect_line"].format(
                behaviour_text=text, sign="+" if effect.estimate >= 0 else "",
                estimate=f"{effect.estimate * 100:.1f}",
                ci_low=f"{effect.ci_low * 100:.1f}" if effect.ci_low is not None else "?",
                ci_high=f"{effect.ci_high * 100:.1f}" if effect.ci_high is not None else "?",
                naive=f"{effect.naive * 100:+.1f}" if effect.naive is not None else "?",
                method=effect.method or "-", refutation=refutation))
        return "\n".join(lines)

    def history(self, result: Any) -> str:
        t = self.t
        scope = (t["history_scope_behaviour"].format(behaviours=", ".join(
            behaviour_name(b, self.language) for b in result.behaviours))
            if result.behaviours else "")
        if not result.hits:
            return t["history_empty"].format(scope=scope)
        lines = [t["history_intro"].format(scope=scope)]
        for hit in result.hits:
            if self.language == "zh":
                text = phrase(hit.behaviour, hit.title, "zh") + (
                    f"（{hit.count} 次，最近一次 {hit.last_time.date()}）" if hit.count > 1
                    else f"（{hit.last_time.date()}）")
            else:
                text = hit.text
            lines.append(t["history_line"].format(text=text))
        return "\n".join(lines)

    def items(self, result: Any) -> str:
        t = self.t
        if not result.hits:
            return t["items_empty"].format(query=result.query)
        lines = [t["items_intro"].format(query=result.query)]
        for hit in result.hits:
            price = f", {hit.price:.2f}" if hit.price is not None else ""
            lines.append(t["items_line"].format(title=hit.title, category=hit.category or "-", price=price))
        return "\n".join(lines)
