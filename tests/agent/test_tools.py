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
