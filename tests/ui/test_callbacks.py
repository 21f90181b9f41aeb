"""The UI callbacks as plain functions, on a real agent over the small demo shop."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from whyrec.agent.core import Agent, AgentError
from whyrec.prompts.catalogue import message
from whyrec.tools.service import WhyrecService
from whyrec.tools.settings import Settings
from whyrec.ui import views
from whyrec.ui.callbacks import SEGMENTS, Callbacks, ChatStep
from whyrec.ui.state import UIState

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def service(workspace: Path) -> WhyrecService:
    service = WhyrecService(Settings(workspace=workspace))
    service.warm_up()  # as the server does at start: the causal report is ready for explanations
    return service


@pytest.fixture(scope="module")
def ui(service: WhyrecService) -> Callbacks:
    return Callbacks(service, Agent(service))


@pytest.fixture(scope="module")
def user(ui: Callbacks) -> str:
    return ui.user_choices()[0]


def last(steps: Any) -> ChatStep:
    *_, final = list(steps)
    return final


def picked(ui: Callbacks, user: str, language: str = "en") -> UIState:
    return ui.pick_user(user, UIState(language=language).to_json()).state


def recommended(ui: Callbacks, user: str, language: str = "en") -> UIState:
    return last(ui.recommend(picked(ui, user, language).to_json())).state


def test_restore_picks_the_first_user_and_shows_history_and_what_if_choices(ui: Callbacks, user: str) -> None:
    view = ui.restore(None)
    assert view.error is None and view.state.user_id == user
    assert view.history_total > 0 and "<li>" in view.history and "You " in view.history
    assert view.whatif_choices and view.state.whatif_keys == [key for _, key in view.whatif_choices]
    assert view.item_choices


def test_unknown_user_is_a_readable_message_and_keeps_the_current_user(ui: Callbacks, user: str) -> None:
    state = recommended(ui, user)
    view = ui.pick_user("nobody-42", state.to_json())
    assert view.error == message("ui.user.unknown", "en", user_id="nobody-42")
    assert view.state.user_id == user and view.state.recommendations == state.recommendations


def test_recommend_shows_its_steps_then_fills_the_cards(ui: Callbacks, user: str) -> None:
    state = picked(ui, user)
    steps = list(ui.recommend(state.to_json()))
    assert len(steps) >= 2 and steps[-1].done and not any(s.done for s in steps[:-1])
    working = steps[0].state.messages[-1]
    assert working["metadata"] == {"title": message("ui.chat.working", "en"), "status": "pending"}
    final = steps[-1].state
    tools = [m for m in final.messages if m.get("metadata")]
    assert tools[0]["metadata"] == {"title": message("ui.chat.steps", "en"), "status": "done"}
    assert message("ui.tool.recommend", "en") in tools[0]["content"]
    assert "recommend(" not in tools[0]["content"]  # steps in words, not tool calls
    assert final.messages[-1]["role"] == "assistant" and final.recommendations and final.session_id
    panels = ui.panels(final)
    visible = [html for shown, html in panels.cards if shown]
    assert len(visible) == len(final.recommendations) == 5
    first = final.recommendations[0]
    assert first["reason_text"]["en"] in final.messages[-1]["content"]  # the card says what the chat says
    assert first["reason_text"]["zh"].startswith(("因为", "很受", "你的"))
    assert state.messages == []  # the input state is not mutated


def test_why_asks_by_title_and_opens_the_explanation(ui: Callbacks, user: str) -> None:
    state = recommended(ui, user)
    card = state.recommendations[1]
    steps = list(ui.why(1, state.to_json()))
    assert steps[0].loading == "explain" and "aria-busy" in ui.panels(steps[0].state, steps[0].loading).explanation
    final = steps[-1]
    assert final.error is None and final.state.focus == "explain"
    assert final.state.explanation["item_id"] == card["item_id"]
    asked = [m["content"] for m in final.state.messages if m["role"] == "user"][-1]
    assert asked == message("ui.chat.why_message", "en", rank=2, title=f"“{card['title']}”")
    assert card["item_id"] not in asked
    panels = ui.panels(final.state)
    headline = final.state.explanation["text"]["headline"]["en"]
    assert headline and views.esc(headline) in panels.explanation
    assert 'class="wr-chart"' in panels.explanation and 'class="wr-cf"' in panels.explanation
    # the next chips follow the explanation: the 3rd card, and taking away what this one rests on
    assert panels.chips[0] == message("ui.chip.why_nth", "en", nth="3rd")
    assert panels.chips[1].startswith("What if I hadn't ")


def test_why_explains_the_card_even_when_the_agent_lost_the_list(service: WhyrecService, ui: Callbacks,
                                                                 user: str) -> None:
    state = recommended(ui, user)
    fresh = Callbacks(service, Agent(service))  # e.g. after a server restart: the session is gone
    final = last(fresh.why(0, state.to_json()))
    assert final.error is None and final.state.explanation["item_id"] == state.recommendations[0]["item_id"]


def test_follow_up_chips_are_messages_the_agent_understands(ui: Callbacks, user: str) -> None:
    state = last(ui.why(0, recommended(ui, user).to_json())).state
    why_nth, what_if, more = ui.chips(state)
    assert " your " not in what_if   # the shopper's own words: "my cart", "my favourites" (was "your")
    after = last(ui.chat(why_nth, state.to_json())).state
    assert after.explanation["item_id"] == state.recommendations[1]["item_id"]
    after = last(ui.chat(what_if, state.to_json())).state
    assert after.what_if is not None and after.what_if["removed"] and after.focus == "whatif"
    after = last(ui.chat(more, state.to_json())).state
    assert len(after.recommendations) == 10
    for chip in ui.chips(picked(ui, user)):  # before any recommendation
        reply = last(ui.chat(chip, picked(ui, user).to_json())).state.messages[-1]["content"]
        assert reply != message("chat.other.help", "en")


def test_chinese_switch_gives_chinese_answers_panels_and_chips(ui: Callbacks, user: str) -> None:
    state = ui.set_language("zh", recommended(ui, user).to_json()).state
    final = last(ui.why(0, state.to_json())).state
    assert "我向你推荐" in final.messages[-1]["content"]
    panels = ui.panels(final)
    assert "为什么推荐" in panels.explanation and "如果没有" in panels.explanation
    assert all(re.search(r"[\u4e00-\u9fff]", chip) for chip in panels.chips)
    assert ("因为" in panels.cards[0][1]) or ("欢迎" in panels.cards[0][1])


def test_typed_chinese_gets_a_chinese_answer_even_in_english_mode(ui: Callbacks, user: str) -> None:
    final = last(ui.chat("给我推荐一些商品", picked(ui, user).to_json())).state
    assert "推荐" in final.messages[-1]["content"] or "为你" in final.messages[-1]["content"]
    assert final.recommendations


def test_chat_text_is_escaped(ui: Callbacks, user: str) -> None:
    final = last(ui.chat("hi ![x](http://evil.invalid/x.png) <img src=x>", picked(ui, user).to_json())).state
    assert final.messages[0]["content"] == "hi ![x](http://evil.invalid/x.png) &lt;img src=x&gt;"


def test_refused_messages_stay_in_the_input(ui: Callbacks, user: str) -> None:
    state = picked(ui, user)
    limit = ui.max_chars
    step = last(ui.chat("x" * (limit + 1), state.to_json()))
    assert step.keep_input and step.state.messages == []
    assert step.error == message("ui.chat.too_long", "en", n=f"{limit + 1:,}", limit=f"{limit:,}")
    step = last(ui.chat("recommend", UIState().to_json()))
    assert step.keep_input and step.error == message("ui.chat.pick_first", "en")


def test_what_if_unticking_behaviours_reranks(ui: Callbacks, user: str) -> None:
    state = recommended(ui, user)
    keep = state.whatif_keys[3:]   # untick the three most recent behaviours
    view = ui.run_what_if(keep, None, None, state.to_json())
    assert view.error is None and view.state.what_if is not None
    assert {e["event_key"] for e in view.state.what_if["removed"]} == set(state.whatif_keys[:3])
    assert view.html.count("<tr>") == 1 + len(view.state.what_if["moves"])
    assert "If you hadn't" in view.html


def test_what_if_adding_a_behaviour_and_errors_in_words(ui: Callbacks, user: str) -> None:
    state = recommended(ui, user)
    target = state.recommendations[-1]["item_id"]
    view = ui.run_what_if(state.whatif_keys, target, "purchase", state.to_json())
    assert view.error is None
    assert view.state.what_if["added"] == [{"item_id": target, "title": view.state.what_if["added"][0]["title"],
                                            "behaviour": "purchase", "event_key": None, "timestamp": None}]
    nothing = ui.run_what_if(state.whatif_keys, None, None, state.to_json())
    assert nothing.state.what_if is None and message("ui.whatif.nothing", "en") in nothing.html
    bad = ui.run_what_if(state.whatif_keys, "not-an-item", "cart", state.to_json())
    assert bad.error == message("chat.other.error", "en",
                                message=message("error.unknown_item", "en", reference="not-an-item"))
    zh = ui.run_what_if(state.whatif_keys, "not-an-item", "cart", ui.set_language("zh", state.to_json()).state)
    assert "not-an-item" in zh.error and "找不到" in zh.error


def test_effects_tab_in_words_with_the_graph_and_segments_fast_after_prefetch(ui: Callbacks) -> None:
    view = ui.effects("all", "en")
    assert view.error is None
    assert "Adding an item to the cart" in view.html and 'class="wr-graph"' in view.html
    assert message("ui.graph.node.item_popularity", "en") in view.html
    assert "backdoor." not in view.html.split("<details")[0]
    ui.prefetch_effects()
    deadline = time.monotonic() + 600
    while len(ui._prefetch.done) < len(SEGMENTS) - 1 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert ui._prefetch.done == list(SEGMENTS[1:])
    for segment in SEGMENTS[1:]:
        started = time.monotonic()
        html = ui.effects(segment, "zh").html
        assert time.monotonic() - started < 1.0, segment  # cached after the prefetch
        assert "wr-segment-table" in html and "全体顾客" in html


class _Broken:
    """An agent whose backend fails outright (not an AgentError)."""

    backend_name = "broken"

    class spec:
        kind = "openai"

    def stream(self, *args: Any, **kwargs: Any) -> Any:
        yield {"type": "tool", "name": "recommend", "args": {"k": 5}}
        raise ConnectionError("connection refused by 127.0.0.1:9")


def test_failure_inside_the_agent_is_words_not_a_traceback(service: WhyrecService, user: str) -> None:
    ui = Callbacks(service, _Broken())  # type: ignore[arg-type]
    step = last(ui.chat("recommend", UIState(user_id=user).to_json()))
    expected = message("chat.other.error", "en", message=message("ui.error.unreachable", "en"))
    assert step.error == expected and step.state.messages[-1]["content"] == expected
    assert step.keep_input and not any(m.get("metadata") for m in step.state.messages)
    assert "broken" in step.status


def test_backend_down_falls_back_offline_and_says_so(service: WhyrecService, user: str) -> None:
    settings = service.settings.with_overrides(llm="openai", openai_base_url="http://127.0.0.1:9/v1",
                                               llm_timeout=5.0)
    agent = Agent(WhyrecService(settings))
    ui = Callbacks(agent.service, agent)
    step = last(ui.recommend(picked(ui, user).to_json()))
    assert step.error is None and step.state.recommendations
    assert step.state.fallback == "llm_unavailable"
    assert "composed from the shop's data" in step.status and "openai-compatible" in step.status


def test_agent_errors_are_agent_errors(ui: Callbacks, user: str) -> None:
    # (An unknown shopper is no longer an error: they are answered with the most bought items.)
    with pytest.raises(AgentError, match="empty"):
        list(ui.agent.stream(user, "   "))


def test_switching_users_keeps_each_users_conversation(ui: Callbacks, user: str) -> None:
    other = ui.user_choices()[1]
    first = recommended(ui, user)
    second = ui.pick_user(other, first.to_json()).state
    assert second.user_id == other and second.messages == [] and second.recommendations == []
    back = ui.pick_user(user, second.to_json()).state
    assert back.messages == first.messages and back.recommendations == first.recommendations
    assert back.session_id == first.session_id


def test_a_session_bound_to_one_user_sees_only_that_user(ui: Callbacks, user: str) -> None:
    other = [u for u in ui.user_choices() if u != user][0]
    assert ui.user_choices(allowed=user) == [user]
    assert ui.user_choices(other, allowed=user) == []
    refused = ui.pick_user(other, picked(ui, user).to_json(), allowed=user)
    assert refused.state.user_id == user and refused.error
    stored = recommended(ui, other)
    assert stored.user_id == other
    view = ui.restore(stored.to_json(), allowed=user)  # another user's conversation in this browser
    assert view.state.user_id == user and other not in view.state.saved and view.state.messages == []


def test_a_page_bound_to_one_shopper_shows_their_figures_not_the_shops(ui: Callbacks, service: WhyrecService,
                                                                        user: str) -> None:
    """Before: a shopper's login saw the shop's users, items and live behaviour count on the
    status line (their key's /v1/stats shows only their own)."""
    from whyrec.ui.access import session_state

    class Request:
        username = user

    bound = session_state(UIState(user_id=user).to_json(), Request())
    assert bound.bound
    line = ui.status(bound)
    mine = service.user_stats(user).events
    assert message("ui.status.mine", "en", events=f"{mine:,}") in line
    shop = service.stats().to_json()
    assert f"{int(shop['events']):,}" not in line and "shoppers" not in line and "NDCG" not in line
    admin = session_state(UIState(user_id=user).to_json(), None)
    assert not admin.bound and "shoppers" in ui.status(admin)
    # The browser cannot claim or drop it: it is not part of what the browser keeps.
    assert "bound" not in bound.to_json()
    assert not UIState.from_json({**UIState(user_id=user).to_json(), "bound": True}).bound
