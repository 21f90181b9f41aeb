"""LangChain tools over the explainer, each bound to ONE user (a chat session's user).

The user id is fixed when the tool is made and is not an argument, so a model cannot ask about
another user's history. Errors (unknown item, bad event key) come back as ``error: ...`` text.

>>> tool = make_explain_tool(explainer, user_id="u1")                     # doctest: +SKIP
>>> tool.invoke({"item_id": "42"})                                         # doctest: +SKIP
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field

from ..ranking.base import UnknownItemError, UnknownUserError
from .explainer import Explainer
from .text import check_language


class ExplainArgs(BaseModel):
    """Arguments of the ``explain_recommendation`` tool."""

    item_id: str = Field(description="the item to explain (recommended or not)")
    k: int = Field(default=10, ge=1, le=100, description="size of the recommendation list")


class BehaviourRef(BaseModel):
    """An item and a behaviour on it."""

    item_id: str = Field(description="item id")
    behaviour: str = Field(description="view, click, favourite, cart or purchase")


class RemovedRef(BaseModel):
    """The user's events on an item (all of them, or only one behaviour)."""

    item_id: str = Field(description="item id")
    behaviour: str | None = Field(default=None, description="only this behaviour; all if omitted")


class WhatIfArgs(BaseModel):
    """Arguments of the ``what_if`` tool."""

    remove_event_keys: list[int] = Field(default_factory=list,
                                         description="event keys of the user's behaviours to remove")
    remove_items: list[RemovedRef] = Field(default_factory=list,
                                           description="remove the user's events on these items")
    add: list[BehaviourRef] = Field(default_factory=list,
                                    description="behaviours to add now, on these items")
    k: int = Field(default=10, ge=1, le=100, description="size of the recommendation list")


def _render(result: Any, as_json: bool, language: str) -> str:
    return json.dumps(result.to_json(), ensure_ascii=False) if as_json else result.to_text(language)


def make_explain_tool(explainer: Explainer, user_id: str, language: str = "en",
                      as_json: bool = False):  # -> StructuredTool
    """``explain_recommendation(item_id, k=10)`` for ``user_id`` only: why the item is recommended
    (or why not), with a verified counterfactual and the population effects."""
    from langchain_core.tools import StructuredTool

    check_language(language)
    bound = str(user_id)

    def explain_recommendation(item_id: str, k: int = 10) -> str:
        try:
            return _render(explainer.explain(bound, item_id, k), as_json, language)
        except (UnknownUserError, UnknownItemError, ValueError) as exc:
            return f"error: {exc}"

    return StructuredTool.from_function(
        func=explain_recommendation, name="explain_recommendation", args_schema=ExplainArgs,
        description=("Explain why an item is (or is not) recommended to the current user: the "
                     "user's behaviours ranked by their exact contribution to the item's score, "
                     "the smallest set of behaviours whose removal drops it from the list "
                     "(verified by re-ranking), and each behaviour type's causal effect across "
                     "shoppers."))


def make_what_if_tool(explainer: Explainer, user_id: str, language: str = "en",
                      as_json: bool = False):  # -> StructuredTool
    """``what_if(remove_event_keys, remove_items, add, k=10)`` for ``user_id`` only: the old and
    new top-k after a hypothetical change of the user's history."""
    from langchain_core.tools import StructuredTool

    check_language(language)
    bound = str(user_id)

    def what_if(remove_event_keys: list[int] | None = None,
                remove_items: list[RemovedRef | dict] | None = None,
                add: list[BehaviourRef | dict] | None = None, k: int = 10) -> str:
        try:
            removed = [_pair(r, "behaviour") for r in remove_items or []]
            added = [_pair(a, "behaviour") for a in add or []]
            result = explainer.what_if(bound, remove=list(remove_event_keys or []),
                                       add=[(i, b) for i, b in added if b is not None],
                                       remove_items=removed, k=k)
            return _render(result, as_json, language)
        except (UnknownUserError, UnknownItemError, ValueError) as exc:
            return f"error: {exc}"

    return StructuredTool.from_function(
        func=what_if, name="what_if", args_schema=WhatIfArgs,
        description=("Re-rank the current user's recommendations as if some of their behaviours "
                     "had not happened (by event key, or all events on an item) and/or others "
                     "were added now; returns the old and new top-k and which items moved."))


def _pair(ref: BaseModel | dict, field: str) -> tuple[str, str | None]:
    data = ref.model_dump() if isinstance(ref, BaseModel) else dict(ref)
    if "item_id" not in data:
        raise ValueError(f"each entry needs an item_id, got {data}")
    return str(data["item_id"]), data.get(field)
