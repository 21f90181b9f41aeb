"""The agent's tools: thin LangChain wrappers over the service, bound to the chat session's user.

No tool takes a user id. The session (its user, the list it was shown, its language) reaches a
tool through the run's configuration — set by the server for each turn, never by a model — so
whatever a message or a model says, a tool can only read that user's data. This lets one
compiled agent graph serve every session.

Each tool returns ``(text, result)``: the text is what a model reads (English), the result
object is what the composer, UI and API use. A tool that cannot answer returns a
:class:`ToolFailure` as its result, with the message for the user.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import pandas as pd
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

from whyrec.tools.service import BEHAVIOURS, ItemFilter, ServiceError, UserHistory, WhyrecService

from . import replies
from .failure import ToolFailure
from .render import render

log = logging.getLogger(__name__)

#: The key under ``configurable`` that carries the turn's :class:`SessionContext`.
CONTEXT_KEY = "whyrec_session"
#: How many of a user's newest events ``recent_behaviours`` looks through.
RECENT_SCAN = 100_000


@dataclass
class SessionView:
    """What the tools may read and update about the chat session."""

    user_id: str
    last_recommendations: list[str] = field(default_factory=list)
    last_k: int = 5
    last_item: str | None = None
    last_filters: ItemFilter | None = None
    last_popular: int = 0   # how many of the most bought items the last popular list reached


@dataclass(frozen=True)
class SessionContext:
    """One turn's binding: the service and the session's view (with its user)."""

    service: WhyrecService
    view: SessionView
    known_user: bool = True   # False: the shopper has no behaviours recorded (lists are the popular ones)

    def config(self, **extra: Any) -> RunnableConfig:
        return {"configurable": {CONTEXT_KEY: self}, **extra}  # type: ignore[typeddict-item]  # extra keys: recursion_limit


def _context(config: RunnableConfig) -> SessionContext:
    context = ((config or {}).get("configurable") or {}).get(CONTEXT_KEY)
    if not isinstance(context, SessionContext):  # a server bug, never a user's doing
        raise RuntimeError("whyrec tools need a session context in the run configuration")
    return context


# -- argument schemas (no user id anywhere) -------------------------------------------------------
#: The longest list "more" grows to (the recommend tool's ``k`` limit).
MAX_LIST = 50


class RecommendArgs(BaseModel):
    k: int = Field(default=5, ge=1, le=50, description="how many items")
    category: str | None = Field(default=None, description="category prefix, e.g. 'electronics'")
    query: str | None = Field(default=None, description="what the user is looking for, in words")
    exclude: list[str] | None = Field(default=None, description="categories to leave out, e.g. ['books']")
    price: Literal["low", "high"] | None = Field(
        default=None, description="keep to the cheaper (low) or pricier (high) third of the catalog's prices")
    max_price: float | None = Field(default=None, ge=0, allow_inf_nan=False,
                                    description="the highest price the user asked for ('under 20' -> 20)")
    more: bool = Field(default=False, description="the next picks after the ones already shown ('more', 'next 5')")


class ExplainArgs(BaseModel):
    item: str = Field(description="item_id (preferred) or exact title of the item to explain")


class WhatIfArgs(BaseModel):
    item: str = Field(description="item_id or exact title the hypothetical behaviour is about")
    behaviour: str | None = Field(default=None, description="view, click, favourite, cart, purchase or rating; "
                                  "omit with remove=true to leave out every behaviour on the item")
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


class RecentArgs(BaseModel):
    behaviours: list[str] | None = Field(default=None, description="only these behaviours")
    item: str | None = Field(default=None, description="only behaviours on this item (item_id or exact title)")
    since: str | None = Field(default=None, description="only behaviours on or after this date (YYYY-MM-DD)")
    k: int = Field(default=10, ge=1, le=50, description="how many, newest first")


class PopularArgs(BaseModel):
    k: int = Field(default=5, ge=1, le=50)
    category: str | None = Field(default=None, description="category prefix")
    query: str | None = Field(default=None, description="only items near these words by meaning")
    exclude: list[str] | None = Field(default=None, description="categories to leave out")
    price: Literal["low", "high"] | None = Field(default=None, description="the cheaper or pricier third")
    max_price: float | None = Field(default=None, ge=0, allow_inf_nan=False, description="the highest price")
    more: bool = Field(default=False, description="the next items after the ones already shown")


# -- the tools ------------------------------------------------------------------------------------
def recommend(k: int = 5, category: str | None = None, query: str | None = None, exclude: list[str] | None = None,
              price: str | None = None, max_price: float | None = None, more: bool = False, *,
              config: RunnableConfig) -> Any:
    context = _context(config)
    view = context.view
    # "more": the list grows past the picks already shown and only the new ones are returned,
    # ranked in the longer list (so "#7" and its explanation are about the same top 10).
    shown = len(view.last_recommendations) if more else 0
    total = min(shown + k, MAX_LIST)
    if exclude or price or max_price is not None:
        result = context.service.recommend_within(view.user_id, k=total, category=category, query=query,
                                                  exclude_categories=tuple(exclude or ()), price_band=price,
                                                  max_price=max_price)
    else:
        result = context.service.recommend(view.user_id, k=total, category=category, query=query)
    view.last_recommendations = [i.item_id for i in result.items]
    view.last_k = total
    view.last_filters = result.filters
    return replace(result, items=result.items[shown:]) if shown else result


def explain(item: str, *, config: RunnableConfig) -> Any:
    context = _context(config)
    view = context.view
    item_id = context.service.resolve_item(item)
    # An item of the list just shown is explained against that same list (its filters).
    filters = view.last_filters if item_id in view.last_recommendations else None
    result = context.service.explain(view.user_id, item_id, k=max(view.last_k, 5), filters=filters)
    view.last_item = item_id
    return result


def what_if(item: str, behaviour: str | None = None, remove: bool = True, *, config: RunnableConfig) -> Any:
    context = _context(config)
    view, service = context.view, context.service
    if behaviour is not None and behaviour not in BEHAVIOURS:
        raise ServiceError(f"unknown behaviour {behaviour!r}; use one of {', '.join(BEHAVIOURS)}")
    item_id = service.resolve_item(item)
    k = max(view.last_k, 5)
    if remove:
        keys = service.event_keys(view.user_id, item_id, behaviour)
        if not keys:
            raise NothingToRemove(item_id, service.item(item_id).title, behaviour or "view")
        result = service.what_if(view.user_id, remove=keys, k=k)
    else:
        result = service.what_if(view.user_id, add=[(item_id, behaviour or "view")], k=k)
    view.last_item = item_id
    return result


def behaviour_effects(behaviour: str | None = None, segment: str | None = None,
                      *, config: RunnableConfig) -> Any:
    return _context(config).service.effects(behaviour, segment, others_if_missing=True)


def search_items(query: str, k: int = 5, category: str | None = None, *, config: RunnableConfig) -> Any:
    return _context(config).service.search_items(query, k=k, category=category)


def search_behaviours(query: str = "everything", behaviours: list[str] | None = None, since: str | None = None,
                      k: int = 10, *, config: RunnableConfig) -> Any:
    context = _context(config)
    return context.service.search_history(context.view.user_id, query, behaviours=behaviours, since=since, k=k)


def recent_behaviours(behaviours: list[str] | None = None, item: str | None = None, since: str | None = None,
                      k: int = 10, *, config: RunnableConfig) -> Any:
    context = _context(config)
    service, user_id = context.service, context.view.user_id
    for behaviour in behaviours or ():
        if behaviour not in BEHAVIOURS:
            raise ServiceError(f"unknown behaviour {behaviour!r}; use one of {', '.join(BEHAVIOURS)}")
    item_id = service.resolve_item(item) if item else None
    history = service.history(user_id, limit=RECENT_SCAN)
    start = pd.Timestamp(since, tz="UTC") if since else None
    events = [e for e in history.events
              if (not behaviours or e.behaviour in behaviours) and (item_id is None or e.item_id == item_id)
              and (start is None or pd.Timestamp(e.timestamp) >= start)]
    if item_id is not None:
        context.view.last_item = item_id
    return UserHistory(history.user_id, history.total, tuple(events[:k]))


def popular_items(k: int = 5, category: str | None = None, query: str | None = None,
                  exclude: list[str] | None = None, price: str | None = None, max_price: float | None = None,
                  more: bool = False, *, config: RunnableConfig) -> Any:
    context = _context(config)
    service, view = context.service, context.view
    shown = view.last_popular if more else 0
    total = min(shown + k, MAX_LIST)
    allowed = service.item_filter(None, query, tuple(exclude or ()), price, max_price) \
        if query or exclude or price or max_price is not None else None
    result = service.popular(k=total, category=category, allowed=allowed, query=query)
    view.last_popular = total
    return replace(result, items=result.items[shown:], first_rank=shown + 1) if shown else result


class NothingToRemove(ServiceError):
    """A what-if removal of a behaviour the user never did."""

    code = "nothing_to_remove"

    def __init__(self, item_id: str, title: str, behaviour: str) -> None:
        super().__init__(f"you have no {behaviour} event on {title}, so there is nothing to remove",
                         item_id=item_id, title=title, behaviour=behaviour)


def _wrap(func: Callable[..., Any], schema: type[BaseModel], description: str,
          text: Callable[[Any], str] | None = None) -> StructuredTool:
    name = func.__name__
    words = text or (lambda result: render(result, "en"))

    def run(**kwargs: Any) -> tuple[str, Any]:
        try:
            result = func(**kwargs)
        except ServiceError as exc:
            failure = ToolFailure(name, str(exc), exc.status, exc.code, dict(exc.fields))
            return f"error: {failure.message}", failure
        return words(result) + "\n\ndata: " + json.dumps(result.to_json(), ensure_ascii=False,
                                                          default=str), result

    run.__name__ = name
    run.__annotations__ = {**func.__annotations__}
    return StructuredTool.from_function(func=_with_signature(run, func), name=name, description=description,
                                        args_schema=schema, response_format="content_and_artifact")


def _with_signature(run: Callable[..., Any], func: Callable[..., Any]) -> Callable[..., Any]:
    """``run`` presenting ``func``'s signature (LangChain finds the ``config`` parameter by it)."""
    import functools
    import inspect

    wrapper = functools.wraps(func)(run)
    wrapper.__signature__ = inspect.signature(func)  # type: ignore[attr-defined]  # read by inspect
    return wrapper


TOOLS: tuple[BaseTool, ...] = (
    _wrap(recommend, RecommendArgs,
          "Recommend items for the current user, each with the user's behaviours that contribute to "
          "its score. Optional category prefix and free-text query."),
    _wrap(explain, ExplainArgs,
          "Explain why an item is (or is not) recommended to the current user: a set of their "
          "behaviours whose removal drops it (verified by re-ranking; called the smallest only where "
          "proven) and each behaviour's exact contribution to the item's score."),
    _wrap(what_if, WhatIfArgs,
          "Re-rank as if the current user had not done (remove=true) or had done (remove=false) "
          "a behaviour on an item; returns old and new top-k and the moves."),
    _wrap(behaviour_effects, EffectsArgs,
          "Causal effect of behaviours (view again, favourite, cart) on the chance of purchase, "
          "estimated with DoWhy, with its estimand, interval and verdict."),
    _wrap(search_items, SearchItemsArgs, "Search the catalog by meaning."),
    _wrap(search_behaviours, SearchBehavioursArgs,
          "Search the current user's own behaviour history by meaning (never another user's)."),
    _wrap(recent_behaviours, RecentArgs,
          "The current user's newest behaviours, newest first, with their dates (optionally only some "
          "behaviours, one item, or since a date): answers 'what did I buy recently' and 'when did I last ...'.",
          text=lambda result: replies.recent(result, "en")),
    _wrap(popular_items, PopularArgs,
          "What most shoppers have bought (distinct shoppers per item): answers 'what's popular' and "
          "'what would a typical shopper buy'; for a shopper with no behaviours recorded it is the "
          "list to offer instead of recommend. Not about any one shopper.",
          text=lambda result: replies.popular(result, "en")),
)
