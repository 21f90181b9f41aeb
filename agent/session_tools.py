"""The agent's tools, bound to ONE user: thin LangChain wrappers over the plain tool APIs.

No tool takes a user id. Each is built for the chat session's user, so whatever a message
or a model says, a tool can only read that user's data. Each tool returns its text (what a
model reads) and the result object as the artifact (what the composer, UI and API use).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

from whyrec.tools.schema import BEHAVIOURS, behaviour_phrase

from .runtime import Runtime

log = logging.getLogger(__name__)


class ToolError(RuntimeError):
    """A tool could not answer; the message is shown to the user."""


@dataclass(frozen=True)
class Reason:
    """The strongest of the user's behaviours behind one recommended item."""

    event_key: int
    behaviour: str
    item_id: str
    title: str
    timestamp: pd.Timestamp
    contribution: float
    share: float  # of the item's score, 0..1


@dataclass(frozen=True)
class RecommendedItem:
    item_id: str
    title: str
    category: str | None
    score: float
    rank: int
    reasons: tuple[Reason, ...]  # all of the user's behaviours with a positive contribution

    def to_json(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "title": self.title, "category": self.category,
                "score": round(self.score, 4), "rank": self.rank,
                "reasons": [{"event_key": str(r.event_key), "behaviour": r.behaviour, "item_id": r.item_id,
                             "title": r.title, "timestamp": r.timestamp.isoformat(),
                             "contribution": round(r.contribution, 4), "share": round(r.share, 4)}
                            for r in self.reasons[:5]]}


@dataclass(frozen=True)
class RecommendationList:
    """The recommend tool's result."""

    user_id: str
    items: tuple[RecommendedItem, ...]
    k: int
    category: str | None = None
    query: str | None = None
    filters: Any = None  # the ItemFilter the list was ranked under (for follow-up explanations)

    def influence(self, top: int = 5) -> tuple[list[tuple[Reason, float, list[str]]], dict[str, float]]:
        """The user's behaviours that matter most across this list: (reason, summed contribution,
        titles of the items it supports), largest first; and the sum per behaviour type."""
        totals: dict[int, float] = {}
        first: dict[int, Reason] = {}
        supported: dict[int, list[str]] = {}
        by_type: dict[str, float] = {}
        for item in self.items:
            for reason in item.reasons:
                totals[reason.event_key] = totals.get(reason.event_key, 0.0) + reason.contribution
                first.setdefault(reason.event_key, reason)
                supported.setdefault(reason.event_key, []).append(item.title)
                by_type[reason.behaviour] = by_type.get(reason.behaviour, 0.0) + reason.contribution
        ranked = sorted(totals, key=lambda key: -totals[key])[:top]
        ordered_types = dict(sorted(by_type.items(), key=lambda kv: -kv[1]))
        return [(first[key], totals[key], supported[key]) for key in ranked], ordered_types

    def to_text(self) -> str:
        lines = [f"recommendations for the current user (k={self.k}"
                 + (f", category={self.category}" if self.category else "")
                 + (f", query={self.query!r}" if self.query else "") + "):"]
        for item in self.items:
            top = item.reasons[0] if item.reasons else None
            why = (f"top reason: {behaviour_phrase(top.behaviour, top.title)} on {top.timestamp.date()} "
                   f"({top.share * 100:.0f}% of the score)" if top and top.share >= 0.05
                   else "top reason: popularity (the user's history adds little)")
            lines.append(f"{item.rank}. {item.title} [{item.category or '-'}] item_id={item.item_id} "
                         f"score={item.score:.4f}; {why}")
        if not self.items:
            lines.append("no items match")
        influence, by_type = self.influence()
        if influence:
            lines.append("behaviours that matter most across this list (summed contribution):")
            for reason, total, titles in influence:
                lines.append(f"- {behaviour_phrase(reason.behaviour, reason.title)} on {reason.timestamp.date()}: "
                             f"{total:.3f} (supports {', '.join(titles[:3])})")
            lines.append("by behaviour type: " + ", ".join(f"{b} {v:.3f}" for b, v in by_type.items()))
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "k": self.k, "category": self.category, "query": self.query,
                "items": [i.to_json() for i in self.items]}


@dataclass(frozen=True)
class EffectsResult:
    effects: tuple[Any, ...]  # BehaviourEffect
    data_version: int
    segment: str | None = None

    def to_text(self) -> str:
        return "\n".join(e.summary() for e in self.effects) or "no estimates"

    def to_json(self) -> dict[str, Any]:
        return {"data_version": self.data_version, "segment": self.segment,
                "effects": [e.to_json() for e in self.effects]}


@dataclass(frozen=True)
class SearchResult:
    kind: str  # "items" | "behaviours"
    query: str
    hits: tuple[Any, ...]  # ItemHit | BehaviourHit
    behaviours: tuple[str, ...] = ()

    def to_text(self) -> str:
        if self.kind == "items":
            rows = [f"- {h.title} [{h.category or '-'}] item_id={h.item_id}"
                    + (f" price={h.price:.2f}" if h.price is not None else "") for h in self.hits]
        else:
            rows = [f"- {h.text}" for h in self.hits]
        return f"{self.kind} matching {self.query!r}:\n" + ("\n".join(rows) or "nothing found")

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "query": self.query, "behaviours": list(self.behaviours),
                "hits": [h.to_json() for h in self.hits]}


@dataclass
class SessionView:
    """What the tools may read and update about the chat session."""

    user_id: str
    last_recommendations: list[str] = field(default_factory=list)
    last_k: int = 5
    last_item: str | None = None
    last_filters: Any = None


# -- argument schemas (no user id anywhere) -------------------------------------------------------
class RecommendArgs(BaseModel):
    k: int = Field(default=5, ge=1, le=50, description="how many items")
    category: str | None = Field(default=None, description="category prefix, e.g. 'electronics'")
    query: str | None = Field(default=None, description="what the user is looking for, in words")


class ExplainArgs(BaseModel):
    item: str = Field(description="item_id (preferred) or exact title of the item to explain")


class WhatIfArgs(BaseModel):
    item: str = Field(description="item_id or exact title the hypothetical behaviour is about")
    behaviour: str = Field(default="cart", description="view, click, favourite, cart, purchase or rating")
    remove: bool = Field(default=True, description="true: as if the user had NOT done it; false: as if they had")


class EffectsArgs(BaseModel):
    behaviour: str | None = Field(default=None, description="view, favourite or cart; omit for all")
    segment: str | None = Field(default=None, description="category, brand, price_band or activity")


class SearchItemsArgs(BaseModel):
    query: str = Field(description="what to look for, in words")
    k: int = Field(default=5, ge=1, le=50)
    category: str | None = Field(default=None)


class SearchBehavioursArgs(BaseModel):
    query: str = Field(default="everything", description="what to look for in the user's own history")
    behaviours: list[str] | None = Field(default=None, description="only these behaviours")
    since: str | None = Field(default=None, description="only behaviours on or after this date (YYYY-MM-DD)")
    k: int = Field(default=10, ge=1, le=50)


def recommend_for(runtime: Runtime, user_id: str, k: int = 5, category: str | None = None,
                  query: str | None = None) -> RecommendationList:
    """Top ``k`` for ``user_id``, each item with the user's behaviours behind its score."""
    from whyrec.tools.ranking import ItemFilter
    from whyrec.tools.ranking.tool import query_filter

    ranker = runtime.ranker
    allowed: ItemFilter | None = None
    if query:
        allowed, _ = query_filter(ranker, query, runtime.item_vectors,
                                  lambda q: runtime.embedder.embed([q])[0], 200)
    if category:
        allowed = ItemFilter(category_prefix=category,
                             item_ids=allowed.item_ids if allowed is not None else None)
    ids, scores = ranker.recommend(str(user_id), k=k, filters=allowed)
    titles = runtime.titles()
    categories = dict(zip(runtime.workspace.items()["item_id"].astype(str),
                          runtime.workspace.items()["category"].fillna("").astype(str)))
    out = []
    for rank, (item_id, score) in enumerate(zip(ids, scores), start=1):
        positive = [c for c in ranker.contributions(user_id, item_id) if c.contribution > 0]
        total = score if score > 0 else (sum(c.contribution for c in positive) or 1.0)
        reasons = tuple(Reason(int(c.event_key), c.behaviour, c.item_id, titles.get(c.item_id, c.item_id),
                               pd.Timestamp(c.timestamp), float(c.contribution), float(c.contribution / total))
                        for c in positive)
        out.append(RecommendedItem(str(item_id), titles.get(str(item_id), str(item_id)),
                                   categories.get(str(item_id)) or None, float(score), rank, reasons))
    return RecommendationList(user_id, tuple(out), k, category, query, filters=allowed)


def effects_for(runtime: Runtime, behaviour: str | None = None, segment: str | None = None) -> EffectsResult:
    """Population (or per-segment) causal effects from the workspace's influence report."""
    report = runtime.segment_report(segment)
    effects = tuple(e for e in report.effects
                    if (behaviour is None or e.behaviour == behaviour)
                    and (segment is not None or e.segment == "all"))
    if behaviour is not None and not effects:
        known = sorted({e.behaviour for e in report.effects})
        raise ToolError(f"no estimate for behaviour {behaviour!r}; estimated: {', '.join(known)}")
    return EffectsResult(effects, report.data_version, segment)


def build_session_tools(runtime: Runtime, session: SessionView) -> list[BaseTool]:
    """The six tools of a chat turn, all bound to ``session.user_id``."""
    user_id = session.user_id

    def resolve_item(item: str) -> str:
        items = runtime.workspace.items()
        text = str(item).strip()
        if (items["item_id"] == text).any():
            return text
        exact = items.loc[items["title"].str.lower() == text.lower(), "item_id"]
        if len(exact):
            return str(exact.iloc[0])
        raise ToolError(f"no item with id or title {text!r} in the catalog")

    def recommend(k: int = 5, category: str | None = None, query: str | None = None):
        result = recommend_for(runtime, user_id, k=k, category=category, query=query)
        session.last_recommendations = [i.item_id for i in result.items]
        session.last_k = k
        session.last_filters = result.filters
        return result.to_text(), result

    def explain(item: str):
        item_id = resolve_item(item)
        # An item of the list just shown is explained against that same list (its filters).
        filters = session.last_filters if item_id in session.last_recommendations else None
        explanation = runtime.explainer.explain(user_id, item_id, k=max(session.last_k, 5), filters=filters)
        session.last_item = item_id
        return explanation.to_text(), explanation

    def what_if(item: str, behaviour: str = "cart", remove: bool = True):
        if behaviour not in BEHAVIOURS:
            raise ToolError(f"unknown behaviour {behaviour!r}; use one of {', '.join(BEHAVIOURS)}")
        item_id = resolve_item(item)
        explainer = runtime.explainer
        if remove:
            keys = explainer.event_keys(user_id, item_id, behaviour)
            if not keys:
                title = runtime.workspace.items().set_index("item_id")["title"].get(item_id, item_id)
                raise ToolError(f"you have no {behaviour} event on {title}, so there is nothing to remove")
            result = explainer.what_if(user_id, remove=keys, add=(), k=max(session.last_k, 5))
        else:
            result = explainer.what_if(user_id, remove=(), add=[(item_id, behaviour)], k=max(session.last_k, 5))
        session.last_item = item_id
        return result.to_text(), result

    def behaviour_effects(behaviour: str | None = None, segment: str | None = None):
        result = effects_for(runtime, behaviour, segment)
        return result.to_text(), result

    def search_items(query: str, k: int = 5, category: str | None = None):
        hits = runtime.store.search_items(query, k=k, filters={"category": category} if category else None)
        result = SearchResult("items", query, tuple(hits))
        return result.to_text(), result

    def search_behaviours(query: str = "everything", behaviours: list[str] | None = None,
                          since: str | None = None, k: int = 10):
        hits = runtime.store.search_behaviours(user_id, query, k=k, behaviours=behaviours, since=since)
        result = SearchResult("behaviours", query, tuple(hits), tuple(behaviours or ()))
        return result.to_text(), result

    def tool(func: Any, schema: type[BaseModel], description: str) -> StructuredTool:
        def guarded(**kwargs: Any):  # type: ignore[no-untyped-def]
            try:
                return func(**kwargs)
            except ToolError as exc:
                return f"error: {exc}", exc
            except (KeyError, ValueError) as exc:  # unknown item, bad date or behaviour: tell the model
                message = exc.args[0] if exc.args else str(exc)
                return f"error: {message}", ToolError(str(message))
        return StructuredTool.from_function(func=guarded, name=func.__name__, description=description,
                                            args_schema=schema, response_format="content_and_artifact")

    return [
        tool(recommend, RecommendArgs,
             "Recommend items for the current user, each with the user's behaviour that contributes "
             "most to its score. Optional category prefix and free-text query."),
        tool(explain, ExplainArgs,
             "Explain why an item is (or is not) recommended to the current user: each of their "
             "behaviours' exact contribution, the smallest set whose removal drops it (verified by "
             "re-ranking), and population causal effects."),
        tool(what_if, WhatIfArgs,
             "Re-rank as if the current user had not done (remove=true) or had done (remove=false) "
             "a behaviour on an item; returns old and new top-k and the moves."),
        tool(behaviour_effects, EffectsArgs,
             "Causal effect of behaviours (view again, favourite, cart) on the chance of purchase, "
             "with 95% intervals, naive difference and refutation status, estimated with DoWhy."),
        tool(search_items, SearchItemsArgs, "Search the catalog by meaning."),
        tool(search_behaviours, SearchBehavioursArgs,
             "Search the current user's own behaviour history by meaning (never another user's)."),
    ]
