"""The agent's tools: bound to the session through the run configuration, never by arguments."""

from __future__ import annotations

from pathlib import Path

import pytest

from whyrec.agent.failure import ToolFailure
from whyrec.agent.tools import TOOLS, SessionContext, SessionView
from whyrec.tools.service import Recommendations, WhyrecService
from whyrec.tools.settings import Settings


@pytest.fixture(scope="module")
def service(demo_workspace_template: Path) -> WhyrecService:
    return WhyrecService(Settings(workspace=demo_workspace_template))


def tool(name: str):  # type: ignore[no-untyped-def]
    return next(t for t in TOOLS if t.name == name)


def run(name: str, args: dict, context: SessionContext):  # type: ignore[no-untyped-def, type-arg]
    message = tool(name).invoke({"name": name, "args": args, "id": "call-1", "type": "tool_call"},
                                config=context.config())
    return message.content, message.artifact


def test_no_tool_takes_a_user_id() -> None:
    for t in TOOLS:
        assert not {"user", "user_id", "config"} & set(t.args), t.name


def test_a_tool_reads_only_the_session_user(service: WhyrecService) -> None:
    alice, bob = service.users()[:2]
    context = SessionContext(service, SessionView(alice))
    # A model that smuggles a user id or a config into the arguments changes nothing.
    text, result = run("recommend", {"k": 3, "user_id": bob, "config": {"configurable": {}}}, context)
    assert isinstance(result, Recommendations) and result.user_id == alice
    assert context.view.last_recommendations == [i.item_id for i in result.items]
    assert "data: " in text and result.items[0].title in text


def test_a_tool_without_a_session_fails_loudly(service: WhyrecService) -> None:
    with pytest.raises(RuntimeError, match="session context"):
        tool("recommend").invoke({"name": "recommend", "args": {"k": 3}, "id": "c", "type": "tool_call"})


def test_failures_are_typed_results(service: WhyrecService) -> None:
    context = SessionContext(service, SessionView(service.users()[0]))
    text, result = run("explain", {"item": "no such thing at all"}, context)
    assert isinstance(result, ToolFailure) and result.status == 404 and result.tool == "explain"
    assert text.startswith("error:") and "no such thing at all" in result.message


def test_recommend_leaves_out_categories_and_keeps_to_a_price_band(service: WhyrecService) -> None:
    user = service.users()[0]
    context = SessionContext(service, SessionView(user))
    _, usual = run("recommend", {"k": 10}, context)
    top = str(usual.items[0].category).split(".")[0]
    _, without = run("recommend", {"k": 10, "exclude": [top]}, context)
    assert without.items and not any(str(i.category).startswith(top) for i in without.items)
    low, high = service.price_edges()
    _, cheap = run("recommend", {"k": 5, "price": "low"}, context)
    _, dear = run("recommend", {"k": 5, "price": "high"}, context)
    assert cheap.items and all(i.price <= low for i in cheap.items)
    assert dear.items and all(i.price >= high for i in dear.items)
    # A follow-up explanation is made against the same narrowed list.
    assert context.view.last_filters is dear.filters and dear.filters is not None


def test_recent_behaviours_are_the_shoppers_own_newest_first(service: WhyrecService) -> None:
    user = service.users()[0]
    context = SessionContext(service, SessionView(user))
    _, everything = run("recent_behaviours", {"k": 50}, context)
    times = [e.timestamp for e in everything.events]
    assert times == sorted(times, reverse=True) and everything.user_id == user
    _, bought = run("recent_behaviours", {"behaviours": ["purchase"], "k": 1}, context)
    events = service.workspace.events()
    mine = events[(events["user_id"] == user) & (events["behaviour"] == "purchase")]
    if len(mine):
        assert bought.events[0].timestamp == mine["timestamp"].max()
    text, failure = run("recent_behaviours", {"behaviours": ["teleport"]}, context)
    assert isinstance(failure, ToolFailure) and "teleport" in failure.message


def test_popular_items_count_distinct_shoppers(service: WhyrecService) -> None:
    context = SessionContext(service, SessionView(service.users()[0]))
    text, result = run("popular_items", {"k": 3}, context)
    events = service.workspace.events()
    buyers = events[events["behaviour"] == "purchase"].groupby("item_id")["user_id"].nunique()
    assert [p.shoppers for p in result.items] == sorted(buyers.to_numpy(), reverse=True)[:3]
    assert result.items[0].item.title in text and "data: " in text


def test_what_if_without_a_behaviour_removes_every_one_on_the_item(service: WhyrecService) -> None:
    user = service.users()[0]
    events = service.workspace.events()
    item = str(events[events["user_id"] == user]["item_id"].iloc[-1])
    context = SessionContext(service, SessionView(user))
    _, result = run("what_if", {"item": item}, context)
    removed = {e.item_id for e in result.removed}
    assert removed == {item} and len(result.removed) == int(((events["user_id"] == user)
                                                              & (events["item_id"] == item)).sum())
