"""The UI callbacks as plain functions, on a real agent over the small demo shop."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from whyrec.agent.core import Agent, AgentError
from whyrec.tools.service import WhyrecService
from whyrec.tools.settings import Settings
from whyrec.ui.callbacks import Callbacks, ChatStep, UIState

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def service(demo_workspace_template: Path, tmp_path_factory: pytest.TempPathFactory) -> WhyrecService:
    path = tmp_path_factory.mktemp("ui") / "ws"
    shutil.copytree(demo_workspace_template, path)
    service = WhyrecService(Settings(workspace=path))
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


def recommended(ui: Callbacks, user: str, language: str = "en") -> UIState:
    state = ui.pick_user(user, UIState(language=language)).state
    return last(ui.recommend(state)).state


def test_pick_user_shows_history_and_what_if_choices(ui: Callbacks, user: str) -> None:
    view = ui.pick_user(user, UIState())
    assert view.error is None and view.state.user_id == user
    assert len(view.history) > 0 and list(view.history.columns) == ["when", "behaviour", "item"]
    assert view.whatif_choices and view.state.whatif_keys == [key for _, key in view.whatif_choices]
    assert view.item_choices and user in view.note


def test_unknown_user_is_a_readable_message(ui: Callbacks) -> None:
    view = ui.pick_user("nobody-42", UIState())
    assert view.state.user_id is None
    assert "Unknown user 'nobody-42'" in view.error and "Traceback" not in view.note


def test_search_users_finds_exact_and_partial_ids(ui: Callbacks, user: str) -> None:
    choices, exact, _ = ui.search_users(user, UIState())
    assert exact == user and user in choices
    choices, exact, note = ui.search_users("no-such-user-zz", UIState())
    assert choices == [] and exact is None and "no-such-user-zz" in note


def test_recommend_streams_then_fills_the_cards(ui: Callbacks, user: str) -> None:
    state = ui.pick_user(user, UIState()).state
    steps = list(ui.recommend(state))
    assert len(steps) >= 3 and steps[-1].done and not any(s.done for s in steps[:-1])
    final = steps[-1].state
    tools = [m for m in final.messages if m.get("metadata")]
    assert tools and "recommend(" in tools[0]["content"] and tools[0]["metadata"]["status"] == "done"
    assert final.messages[-1]["role"] == "assistant" and final.recommendations
    assert final.session_id
    panels = ui.panels(final)
    visible = [text for shown, text in panels.cards if shown]
    assert len(visible) == len(final.recommendations)
    assert final.recommendations[0]["title"].split()[0] in visible[0]
    assert state.messages == []  # the input state is not mutated


def test_why_opens_the_explanation_with_chart_and_counterfactual(ui: Callbacks, user: str) -> None:
    state = recommended(ui, user)
    final = last(ui.why(0, state))
    assert final.error is None and final.state.focus == "explain"
    assert final.state.explanation["item_id"] == state.recommendations[0]["item_id"]
    assert "Why did you recommend item" in final.state.messages[-3]["content"]  # the question asked
    panels = ui.panels(final.state)
    assert panels.focus == "explain" and not panels.chart.empty
    assert panels.chart["contribution"].iloc[0] > 0
    assert "Without these" in panels.counterfactual or "Counterfactual" in panels.counterfactual
    # A recommended item is not one the shopper already looked at: no causal statement applies to it.
    assert panels.effects.empty


def test_chinese_switch_gives_chinese_answers_and_panels(ui: Callbacks, user: str) -> None:
    state = ui.set_language("zh", recommended(ui, user))
    final = last(ui.why(0, state)).state
    answer = final.messages[-1]["content"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in answer) and "我向你推荐" in answer
    panels = ui.panels(final)
    assert "为什么推荐" in panels.heading
    assert "如果没有" in panels.counterfactual or "反事实" in panels.counterfactual
    assert "因为" in panels.cards[0][1] or "欢迎" in panels.cards[0][1]


def test_typed_chinese_gets_a_chinese_answer_even_in_english_mode(ui: Callbacks, user: str) -> None:
    state = ui.pick_user(user, UIState(language="en")).state
    final = last(ui.chat("给我推荐一些商品", state)).state
    assert "推荐" in final.messages[-1]["content"] and final.recommendations


def test_what_if_unticking_behaviours_reranks(ui: Callbacks, user: str) -> None:
    state = recommended(ui, user)
    keep = state.whatif_keys[3:]   # untick the three most recent behaviours
    view = ui.run_what_if(keep, None, None, state)
    assert view.error is None and view.state.what_if is not None
    assert {e["event_key"] for e in view.state.what_if["removed"]} == {str(int(k)) for k in state.whatif_keys[:3]}
    assert list(view.table.columns) == ["item", "rank before", "rank after", "move"] and len(view.table)
    assert view.text.startswith("**What if:**")


def test_what_if_adding_a_behaviour(ui: Callbacks, user: str) -> None:
    state = recommended(ui, user)
    target = state.recommendations[-1]["item_id"]
    view = ui.run_what_if(state.whatif_keys, target, "purchase", state)
    assert view.error is None
    assert view.state.what_if["added"] == [{"item_id": target, "title": view.state.what_if["added"][0]["title"],
                                            "behaviour": "purchase", "event_key": None, "timestamp": None}]
    nothing = ui.run_what_if(state.whatif_keys, None, None, state)
    assert nothing.state.what_if is None and "Re-rank" in nothing.text
    bad = ui.run_what_if(state.whatif_keys, "not-an-item", "cart", state)
    assert bad.error and "not-an-item" in bad.error and "Traceback" not in bad.text


def test_effects_tab_graph_and_table(ui: Callbacks) -> None:
    view = ui.effects("all", "en")
    assert view.error is None and view.graph and Path(view.graph).suffix == ".png" and Path(view.graph).exists()
    assert set(view.table["segment"]) == {"all"}
    assert {"view", "favourite", "add to cart"} <= set(view.table["behaviour"])
    assert view.table["95% interval"].str.contains(r"\.\.").any()


def test_chat_without_a_user_or_for_an_unknown_user_is_readable(ui: Callbacks) -> None:
    step = last(ui.chat("recommend", UIState()))
    assert step.error and "Pick a user" in step.state.messages[-1]["content"]
    step = last(ui.chat("recommend", UIState(user_id="ghost")))
    assert step.error and "unknown user 'ghost'" in step.state.messages[-1]["content"]
    assert not any(m.get("metadata") for m in step.state.messages)  # no dangling tool bubble


class _Broken:
    """An agent whose backend fails outright (not an AgentError)."""

    backend_name = "broken"

    class spec:
        kind = "openai"

    def stream(self, *args: Any, **kwargs: Any) -> Any:
        yield {"type": "tool", "name": "recommend", "args": {"k": 5}}
        raise ConnectionError("connection refused by 127.0.0.1:9")


def test_failure_inside_the_agent_is_a_message_not_a_traceback(service: WhyrecService, user: str) -> None:
    ui = Callbacks(service, _Broken())  # type: ignore[arg-type]
    state = UIState(user_id=user)
    step = last(ui.chat("recommend", state))
    text = step.state.messages[-1]["content"]
    assert step.error and "connection refused" in text and "Traceback" not in text
    assert "broken" in step.status


def test_backend_down_falls_back_offline_and_says_so(service: WhyrecService, user: str) -> None:
    settings = service.settings.with_overrides(llm="openai", openai_base_url="http://127.0.0.1:9/v1",
                                               llm_timeout=5.0)
    agent = Agent(WhyrecService(settings))
    ui = Callbacks(agent.service, agent)
    state = ui.pick_user(user, UIState()).state
    step = last(ui.recommend(state))
    assert step.error is None and step.state.recommendations
    assert step.state.fallback == "llm_unavailable"
    assert "composed offline" in step.status and "openai-compatible" in step.status


def test_agent_errors_are_agent_errors(ui: Callbacks) -> None:
    with pytest.raises(AgentError):
        list(ui.agent.stream("ghost", "hello"))


def test_a_session_bound_to_one_user_sees_only_that_user(ui: Callbacks, user: str) -> None:
    other = [u for u in ui.user_choices() if u != user][0]
    assert ui.user_choices(allowed=user) == [user]
    assert ui.search_users(other, UIState(), allowed=user)[0] == []
    refused = ui.pick_user(other, UIState(), allowed=user)
    assert refused.state.user_id is None and refused.error and refused.history.empty
    assert ui.pick_user(user, UIState(), allowed=user).state.user_id == user
