"""The agent loop with the offline planner, for every question kind, in English and Chinese."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from whyrec.agent.core import Agent, AgentError
from whyrec.agent.guard import GroundingGuard
from whyrec.prompts.catalogue import message as catalogue_message


@pytest.fixture(scope="module")
def agent(demo_workspace_template: Path) -> Agent:
    return Agent.from_workspace(demo_workspace_template, llm="offline")


@pytest.fixture(scope="module")
def user(agent: Agent) -> str:
    events = agent.service.workspace.events()
    carts = events[events["behaviour"] == "cart"]["user_id"].value_counts()
    return str(carts.index[0])  # a user with several carts


def tools_of(answer) -> list[str]:  # type: ignore[no-untyped-def]
    return [t.name for t in answer.tool_trace]


def grounded(agent: Agent, answer) -> bool:  # type: ignore[no-untyped-def]
    """Every number/title of the answer appears in its own tool outputs."""
    guard = GroundingGuard(agent.service.workspace.items()["title"])
    evidence = [t.output for t in answer.tool_trace] + [answer.text if not answer.tool_trace else ""]
    return guard.check(answer.text, evidence).grounded or not answer.tool_trace


def test_recommend_then_follow_ups_resolve_against_the_list(agent: Agent, user: str) -> None:
    answer = agent.chat(user, "What should I buy next?", session_id="follow")
    assert tools_of(answer) == ["recommend"] and len(answer.recommendations) == 5
    second = answer.recommendations[1]
    assert second.title in answer.text
    why = agent.chat(user, "why the second one?", session_id="follow")
    assert tools_of(why) == ["explain"]
    assert why.explanations[0].item_id == second.item_id
    assert second.title in why.text
    # Chinese follow-up in the same session resolves against the same list.
    zh = agent.chat(user, "为什么推荐第一个？", session_id="follow")
    assert zh.language == "zh" and zh.explanations[0].item_id == answer.recommendations[0].item_id
    assert re.search(r"[\u4e00-\u9fff]", zh.text)


@pytest.mark.parametrize(("message", "language", "tool", "kind"), [
    ("What should I buy next?", "en", "recommend", "recommend"),
    ("我接下来该买什么？", "zh", "recommend", "recommend"),
    ("Which of my actions mattered most?", "en", "recommend", "important"),
    ("哪些行为对推荐影响最大？", "zh", "recommend", "important"),
    ("How much does adding to cart raise the chance of purchase?", "en", "behaviour_effects", "effects"),
    ("加入购物车能把购买概率提高多少？", "zh", "behaviour_effects", "effects"),
    ("What did I add to my cart?", "en", "search_behaviours", "history"),
    ("我加购过什么？", "zh", "search_behaviours", "history"),
    ("find a wool scarf", "en", "search_items", "search"),
    ("搜索 scarf", "zh", "search_items", "search"),
])
def test_every_kind_in_both_languages(agent: Agent, user: str, message: str, language: str,
                                      tool: str, kind: str) -> None:
    answer = agent.chat(user, message)
    assert answer.intent == kind and tools_of(answer) == [tool]
    assert answer.language == language
    assert bool(re.search(r"[\u4e00-\u9fff]", answer.text)) == (language == "zh")
    assert all(t.ok for t in answer.tool_trace), answer.tool_trace
    assert grounded(agent, answer)


def test_effects_answer_cites_the_report(agent: Agent, user: str) -> None:
    answer = agent.chat(user, "How much does adding to cart raise the chance of purchase?")
    effect = next(e for e in answer.effects if e.behaviour == "cart")
    assert f"{effect.estimate * 100:.1f}" in answer.text
    assert f"{effect.ci_low * 100:.1f}" in answer.text


def test_why_not_and_what_if(agent: Agent, user: str) -> None:
    first = agent.chat(user, "recommend 5", session_id="wi").recommendations
    ids = [i.item_id for i in agent.service.recommend(user, k=200).items]
    outsider = agent.service.item(ids[-1]).title
    why_not = agent.chat(user, f"why not {outsider}?", session_id="wi")
    assert why_not.intent == "why_not" and why_not.explanations[0].rank is None
    events = agent.service.workspace.events()
    cart_item = events[(events["user_id"] == user) & (events["behaviour"] == "cart")]["item_id"].iloc[-1]
    title = agent.service.workspace.items().set_index("item_id").loc[cart_item, "title"]
    what_if = agent.chat(user, f"What if I hadn't added {title} to my cart?", session_id="wi")
    assert what_if.intent == "what_if" and tools_of(what_if) == ["what_if"]
    result = what_if.what_ifs[0]
    assert [e.item_id for e in result.removed] and all(e.item_id == cart_item for e in result.removed)
    assert [r.item_id for r in result.before] == [r.item_id for r in first]


def test_other_users_data_is_refused(agent: Agent, user: str) -> None:
    answer = agent.chat(user, "show me user 123's history")
    assert answer.intent == "other_user" and answer.tool_trace == []
    assert answer.text == catalogue_message("chat.other.other_user", "en")  # no ids: the shopper knows who they are


def test_bad_requests_are_clear_errors(agent: Agent, user: str) -> None:
    with pytest.raises(AgentError, match="unknown user"):
        agent.chat("no-such-user", "hi")
    with pytest.raises(AgentError, match="empty"):
        agent.chat(user, "   ")
    agent.chat(user, "hello", session_id="mine")
    other = next(u for u in agent.service.users() if u != user)
    # Another user's session id behaves like an unknown one: a fresh session, no hint it exists.
    reply = agent.chat(str(other), "hello", session_id="mine")
    assert reply.session_id != "mine" and reply.user_id == str(other)
    assert agent.sessions.get("mine", user).view.user_id == user


def test_unknown_item_gets_a_helpful_answer(agent: Agent, user: str) -> None:
    answer = agent.chat(user, "why the zorblax 9000?")
    assert answer.intent == "explain" and answer.tool_trace == []
    assert "zorblax" in answer.text.lower()


def test_stream_yields_tool_events_deltas_and_the_answer(agent: Agent, user: str) -> None:
    events = list(agent.stream(user, "What should I buy next?"))
    kinds = [e["type"] for e in events]
    assert kinds[0] == "tool" and kinds[-1] == "answer" and "delta" in kinds
    text = "".join(e["text"] for e in events if e["type"] == "delta")
    assert text == events[-1]["answer"].text


def test_follow_up_on_a_filtered_list_is_explained_against_that_list(agent: Agent, user: str) -> None:
    categories = agent.service.workspace.items()["category"].dropna().str.split(".").str[0]
    category = categories.value_counts().index[0]
    listed = agent.chat(user, f"recommend 5 {category}", session_id="filtered")
    assert listed.recommendations and all(r.category.startswith(category) for r in listed.recommendations)
    why = agent.chat(user, "why the last one?", session_id="filtered")
    explanation = why.explanations[0]
    assert explanation.item_id == listed.recommendations[-1].item_id
    assert explanation.rank == len(listed.recommendations)  # its rank in the list the user saw


def test_filler_words_are_not_a_search_query(agent: Agent, user: str) -> None:
    for message in ("recommend me something", "any recommendations?", "suggest something new"):
        answer = agent.chat(user, message)
        assert answer.intent == "recommend" and answer.tool_trace[0].args.get("query") is None, message
