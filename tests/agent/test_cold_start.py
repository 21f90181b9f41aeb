"""A shopper with no behaviours recorded: answered, never personal, never a 404.

Before: every chat message of an id the workspace held no events for was refused ("unknown
user", HTTP 404) — a new visitor, or a shopper whose data was forgotten, got nothing, not even
the shop's most bought items or the population effects that do not depend on them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from whyrec.agent.api import build_api
from whyrec.agent.core import Agent
from whyrec.prompts.catalogue import message
from whyrec.tools.service import Settings, WhyrecService

NEW = "new-visitor-0001"


@pytest.fixture(scope="module")
def agent(demo_workspace_template: Path) -> Agent:
    return Agent.from_workspace(demo_workspace_template, llm="offline")


def test_a_list_for_a_new_shopper_is_what_most_shoppers_bought_and_says_so(agent: Agent) -> None:
    assert not agent.service.knows_user(NEW)
    answer = agent.chat(NEW, "What should I buy next?")
    popular = agent.service.popular(k=5)
    assert [t.name for t in answer.tool_trace] == ["popular_items"]
    assert answer.recommendations == [] and answer.explanations == []   # nothing personal is claimed
    assert [p.item.item_id for p in answer.popular] == [p.item.item_id for p in popular.items]
    assert answer.text.startswith(message("chat.cold.intro", "en"))
    assert message("dialog.popular.mine", "en") not in answer.text   # asking again would give the same
    for rank, item in enumerate(popular.items, start=1):
        assert f"{rank}. {item.item.title} — bought by {item.shoppers} of them" in answer.text


def test_a_new_shoppers_list_keeps_to_what_they_asked_for(agent: Agent) -> None:
    prices = agent.service.workspace.items().set_index("item_id")["price"]
    limit = float(prices.median())
    answer = agent.chat(NEW, f"something under {limit:.0f}")
    assert answer.popular, answer.text
    assert all(prices[p.item.item_id] <= round(limit) for p in answer.popular)
    counts = [p.shoppers for p in answer.popular]
    assert counts == sorted(counts, reverse=True)
    everyone = agent.service.popular(k=50)
    cheap = [p.item.item_id for p in everyone.items if prices[p.item.item_id] <= round(limit)][:len(answer.popular)]
    assert [p.item.item_id for p in answer.popular] == cheap
    assert f"I kept to prices up to {round(limit):.2f}." in answer.text


@pytest.mark.parametrize("text", ["why the first one?", "what if I hadn't added it to my cart?",
                                  "what did I buy last week?", "when did I last view something?"])
def test_questions_about_their_own_behaviours_say_there_are_none(agent: Agent, text: str) -> None:
    answer = agent.chat(NEW, text)
    assert answer.tool_trace == [] and answer.text == message("chat.cold.personal", "en")


def test_population_effects_are_answered_as_for_anyone(agent: Agent) -> None:
    answer = agent.chat(NEW, "How much does adding to cart raise the chance of purchase?")
    assert [t.name for t in answer.tool_trace] == ["behaviour_effects"] and answer.effects


def test_chinese(agent: Agent) -> None:
    answer = agent.chat(NEW, "我接下来该买什么？")
    assert answer.language == "zh" and answer.text.startswith(message("chat.cold.intro", "zh"))
    assert agent.chat(NEW, "为什么推荐第一个？").text == message("chat.cold.personal", "zh")


def test_the_api_answers_a_new_shopper_with_the_popular_list(demo_workspace_template: Path) -> None:
    service = WhyrecService(Settings(workspace=demo_workspace_template))
    client = TestClient(build_api(service, Agent(service)), raise_server_exceptions=False)
    response = client.post("/v1/chat", json={"user_id": NEW, "message": "recommend 3 things"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["recommendations"] == [] and len(body["popular"]) == 3
    # The REST recommendations of an id with no events stay a 404: that route promises a personal list.
    assert client.get(f"/v1/users/{NEW}/recommendations").status_code == 404


def test_more_continues_the_list_and_what_is_popular_points_nowhere_personal(agent: Agent) -> None:
    first = agent.chat(NEW, "What should I buy next?", session_id="cold-more")
    more = agent.chat(NEW, "more", session_id="cold-more")
    everyone = agent.service.popular(k=10)
    assert [p.item.item_id for p in first.popular + more.popular] == [p.item.item_id for p in everyone.items]
    assert more.text.startswith("The items the most shoppers") and f"6. {everyone.items[5].item.title}" in more.text
    popular = agent.chat(NEW, "what's popular?", session_id="cold-more")
    assert popular.popular and message("dialog.popular.mine", "en") not in popular.text


def test_more_past_the_last_item_bought_says_so(agent: Agent) -> None:
    """Before: running off the end said "Nobody has bought anything here yet." after a list of
    items people had bought."""
    categories = sorted({str(c).split(".")[0] for c in agent.service.workspace.items()["category"].dropna()})
    bought = {c: len(agent.service.popular(k=50, category=c).items) for c in categories}
    category = min((c for c in categories if bought[c]), key=lambda c: bought[c])
    session = "cold-end"
    listed = agent.chat(NEW, f"recommend {bought[category]} {category}", session_id=session)
    assert len(listed.popular) == bought[category], listed.text
    end = agent.chat(NEW, "more", session_id=session)
    assert end.popular == [] and end.text == message("dialog.popular.no_more", "en")


def test_the_openai_endpoint_answers_a_new_shopper_and_pages_with_more(demo_workspace_template: Path) -> None:
    """Stateless: "more" is read against the list in the earlier assistant message."""
    service = WhyrecService(Settings(workspace=demo_workspace_template))
    client = TestClient(build_api(service, Agent(service)), raise_server_exceptions=False)
    first = client.post("/v1/chat/completions", json={
        "model": "whyrec", "user": NEW, "messages": [{"role": "user", "content": "What should I buy next?"}]})
    assert first.status_code == 200, first.text
    shown = first.json()["choices"][0]["message"]["content"]
    assert shown.startswith(message("chat.cold.intro", "en"))
    more = client.post("/v1/chat/completions", json={"model": "whyrec", "user": NEW, "messages": [
        {"role": "user", "content": "What should I buy next?"}, {"role": "assistant", "content": shown},
        {"role": "user", "content": "more"}]})
    assert more.status_code == 200, more.text
    everyone = service.popular(k=10).items
    text = more.json()["choices"][0]["message"]["content"]
    assert f"6. {everyone[5].item.title}" in text and f"1. {everyone[0].item.title}" not in text
