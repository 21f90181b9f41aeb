"""LangChain wrappers: bound to one user, errors as text."""

from __future__ import annotations

import json

from whyrec.tools.explain import make_explain_tool, make_what_if_tool

from .shop import key_of


def test_explain_tool_is_bound_to_one_user(explainer) -> None:
    tool = make_explain_tool(explainer, "u")
    assert "user_id" not in tool.args
    text = tool.invoke({"item_id": "t", "k": 3})
    assert "user u" in text and "Counterfactual" in text
    assert tool.invoke({"item_id": "missing"}).startswith("error: unknown item")


def test_explain_tool_json_and_chinese(explainer) -> None:
    data = json.loads(make_explain_tool(explainer, "u", as_json=True).invoke({"item_id": "t", "k": 3}))
    assert data["user_id"] == "u" and data["counterfactual"]["size"] == 1
    assert "为什么" in make_explain_tool(explainer, "u", language="zh").invoke({"item_id": "t", "k": 3})


def test_what_if_tool(explainer, events) -> None:
    tool = make_what_if_tool(explainer, "u")
    assert "user_id" not in tool.args
    text = tool.invoke({"remove_items": [{"item_id": "x", "behaviour": "cart"}], "k": 3})
    assert "drops out" in text
    same = tool.invoke({"remove_event_keys": [key_of(events, "u", "x", "cart")], "k": 3})
    assert same == text
    # another user's event cannot be touched through this tool
    foreign = tool.invoke({"remove_event_keys": [key_of(events, "b", "t", "purchase")]})
    assert foreign.startswith("error:") and "not events of user u" in foreign
    added = tool.invoke({"add": [{"item_id": "n3", "behaviour": "cart"}], "k": 3})
    assert "adding" in added
