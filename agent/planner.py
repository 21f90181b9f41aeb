"""The offline planner: a deterministic chat model that plans tool calls and composes answers.

It plugs into the same LangChain agent loop as a real LLM (``create_agent``): given the user's
message it emits the tool calls the understood :class:`~whyrec.agent.intents.Intent` needs; given
the tool results it emits the answer, composed from the words of the message catalogue
(prompts/i18n). It is the default backend, and it plans for models too weak to plan for
themselves (the small local SmolLM2), which then only phrase its answer.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.runnables.config import ensure_config
from pydantic import ConfigDict

from .composer import Composer
from .intents import PERSONAL_KINDS, Intent
from .slots import search_text

_ids = itertools.count(1)


def planned_calls(intent: Intent, since: str | None = None,
                  category_of_kind: Callable[[str], str | None] | None = None,
                  known_user: bool = True) -> list[dict[str, Any]]:
    """The tool calls that answer ``intent`` (empty when the answer needs no tool).

    ``since`` is the first day of the time window the message asked for (YYYY-MM-DD), already
    placed on the shop's calendar by the caller. ``category_of_kind`` finds the catalog category
    of a product kind ("lamps"): a recommendation for a kind of product keeps to its category.
    A shopper with no behaviours recorded (``known_user`` false) is offered what most shoppers
    bought, narrowed the same way, and nothing about their own history is looked up.
    """
    kind, slots = intent.kind, intent.slots
    if not known_user:
        if kind in PERSONAL_KINDS:
            return []
        if kind == "recommend":
            asked = planned_calls(intent, since, category_of_kind)[0]["args"]
            return [_call("popular_items", asked)]
    if kind == "recommend":
        args: dict[str, Any] = {"k": intent.k}
        if slots.category:
            args["category"] = slots.category
        if slots.query:
            args["query"] = search_text(slots.query)
            path = category_of_kind(args["query"]) if category_of_kind and not slots.category else None
            if path:
                args["category"] = path
        if slots.exclude:
            args["exclude"] = list(slots.exclude)
        if slots.price in ("low", "high"):
            args["price"] = slots.price
        if slots.price_max is not None:
            args["max_price"] = slots.price_max
        if slots.more:
            args["more"] = True
        return [_call("recommend", args)]
    if kind == "important":
        return [_call("recommend", {"k": 5})]
    if kind in ("explain", "why_not") and intent.item_id:
        return [_call("explain", {"item": intent.item_id})]
    if kind == "what_if" and intent.item_id:
        args = {"item": intent.item_id, "remove": intent.remove}
        if slots.behaviour:
            args["behaviour"] = slots.behaviour
        return [_call("what_if", args)]
    if kind == "effects":
        args = {}
        if slots.behaviour:   # one the report holds no estimate of comes back said so (not_estimated)
            args["behaviour"] = slots.behaviour
        if slots.segment:
            args["segment"] = slots.segment
        return [_call("behaviour_effects", args)]
    if kind == "history":
        behaviours = [slots.behaviour] if slots.behaviour else []
        if slots.query:
            args = {"query": search_text(slots.query), "k": 10}
            if behaviours:
                args["behaviours"] = behaviours
            if since:
                args["since"] = since
            return [_call("search_behaviours", args)]
        args = {"k": 10}
        if behaviours:
            args["behaviours"] = behaviours
        if since:
            args["since"] = since
        return [_call("recent_behaviours", args)]
    if kind == "last_time":
        if slots.item is not None and intent.item_id is None:
            return []  # named an item the catalog does not hold (or several)
        args = {"k": 1}
        if slots.behaviour:
            args["behaviours"] = [slots.behaviour]
        if intent.item_id:
            args["item"] = intent.item_id
        return [_call("recent_behaviours", args)]
    if kind == "search" and slots.query:
        return [_call("search_items", {"query": search_text(slots.query), "k": 5})]
    if kind == "popular":
        return [_call("popular_items", {"k": intent.k, **({"more": True} if slots.more else {})})]
    return []


def _call(name: str, args: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "args": args, "id": f"call_offline_{next(_ids)}", "type": "tool_call"}


def turn_results(messages: Sequence[BaseMessage]) -> list[tuple[str, Any]]:
    """(tool name, artifact) of every tool result after the last user message."""
    last_human = max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=-1)
    return [(m.name or "", m.artifact) for m in messages[last_human + 1:] if isinstance(m, ToolMessage)]


#: The key under ``configurable`` that carries the turn's :class:`OfflinePlan`.
PLAN_KEY = "whyrec_plan"


@dataclass(frozen=True)
class OfflinePlan:
    """What the planner needs for one turn: the understood intent, the composer of its language,
    the shopper, the first day of the time window asked for (if any), and the catalog's
    categories of product kinds."""

    intent: Intent
    composer: Composer
    user_id: str
    since: str | None = None
    category_of_kind: Callable[[str], str | None] | None = None
    known_user: bool = True


class OfflinePlanner(BaseChatModel):
    """A chat model with no weights: one round of tool calls, then a composed answer.

    It holds no per-turn state: each turn's :class:`OfflinePlan` comes with the run's
    configuration, so one compiled agent graph serves every session.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    @property
    def _llm_type(self) -> str:
        return "whyrec-offline-planner"

    def bind_tools(self, tools: Any, **kwargs: Any) -> OfflinePlanner:  # it plans its own calls
        return self

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        plan = (ensure_config().get("configurable") or {}).get(PLAN_KEY)
        if not isinstance(plan, OfflinePlan):  # a server bug, never a user's doing
            raise RuntimeError("the offline planner needs the turn's plan in the run configuration")
        last_human = max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=-1)
        asked = any(isinstance(m, AIMessage) and m.tool_calls for m in messages[last_human + 1:])
        calls = [] if asked else planned_calls(plan.intent, plan.since, plan.category_of_kind, plan.known_user)
        if calls:
            message = AIMessage(content="", tool_calls=calls)
        else:
            message = AIMessage(content=plan.composer.compose(plan.intent, turn_results(messages), plan.user_id,
                                                              known_user=plan.known_user))
        return ChatResult(generations=[ChatGeneration(message=message)])
