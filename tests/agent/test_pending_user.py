"""A shopper whose behaviours are recorded but not yet learned by the served model.

Before: while the refit on their first events was still running (past the refit wait, or after
another process ingested them), the chat told them "I have no behaviours recorded for you yet",
``GET /v1/users/{id}/recommendations`` said "no behaviours recorded for this user" (404) and the
page refused their id — all false: the behaviours were recorded, the model had not learned them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from whyrec.agent.api import build_api
from whyrec.agent.core import Agent
from whyrec.prompts.catalogue import message
from whyrec.tools.ranking import WhyrecRanker
from whyrec.tools.service import Settings, UnknownUser, UserPending, WhyrecService
from whyrec.ui.callbacks import Callbacks
from whyrec.ui.state import UIState

pytestmark = pytest.mark.slow

NEWCOMER = "first-steps-0001"


@dataclass
class Held:
    """A service whose refits after the first are held until ``release`` is set."""

    service: WhyrecService
    agent: Agent
    started: threading.Event
    release: threading.Event
    item: str


@pytest.fixture
def held(demo_workspace: Path) -> Iterator[Held]:
    started, release = threading.Event(), threading.Event()
    fits: list[int] = []

    def factory(workspace: Any) -> WhyrecRanker:
        fits.append(workspace.data_version)
        if len(fits) > 1:
            started.set()
            release.wait(120)
        return WhyrecRanker().fit(workspace.events(), workspace.items())

    service = WhyrecService(Settings(workspace=demo_workspace, refit_wait_seconds=0.2), ranker_factory=factory)
    agent = Agent(service)
    item = service.popular(k=1).items[0].item.item_id
    assert not service.knows_user(NEWCOMER) and not service.pending_user(NEWCOMER)
    latest = service.workspace.events()["timestamp"].max()
    service.add_events([{"user_id": NEWCOMER, "item_id": item, "behaviour": behaviour,
                         "timestamp": latest.isoformat()} for behaviour in ("view", "cart")])
    assert started.wait(60), "the refit did not start"
    try:
        yield Held(service, agent, started, release, item)
    finally:
        release.set()
        service.models.wait(60)


def test_the_service_tells_a_pending_shopper_from_an_unknown_one(held: Held) -> None:
    service = held.service
    assert not service.knows_user(NEWCOMER) and service.pending_user(NEWCOMER)
    with pytest.raises(UserPending) as pending:
        service.require_user(NEWCOMER)
    assert pending.value.status == 409 and "not learned them yet" in str(pending.value)
    with pytest.raises(UnknownUser):
        service.require_user("nobody-at-all-42")
    history = service.history(NEWCOMER)   # read from the log: there already
    assert history.total == 2 and {e.behaviour for e in history.events} == {"view", "cart"}


def test_the_chat_says_the_behaviours_are_recorded_not_that_there_are_none(held: Held) -> None:
    answer = held.agent.chat(NEWCOMER, "What should I buy next?")
    assert [t.name for t in answer.tool_trace] == ["popular_items"] and answer.recommendations == []
    assert answer.text.startswith(message("chat.cold.intro_pending", "en"))
    assert message("chat.cold.intro", "en") not in answer.text
    why = held.agent.chat(NEWCOMER, "why the first one?")
    assert why.text == message("chat.cold.personal_pending", "en")
    zh = held.agent.chat(NEWCOMER, "我接下来该买什么？")
    assert zh.text.startswith(message("chat.cold.intro_pending", "zh"))


def test_the_api_says_409_with_the_reason_not_404(held: Held) -> None:
    client = TestClient(build_api(held.service, held.agent), raise_server_exceptions=False)
    response = client.get(f"/v1/users/{NEWCOMER}/recommendations")
    assert response.status_code == 409, response.text
    assert "not learned them yet" in response.json()["detail"]
    assert client.get("/v1/users/nobody-at-all-42/recommendations").status_code == 404
    chat = client.post("/v1/chat", json={"user_id": NEWCOMER, "message": "recommend 3 things"})
    assert chat.status_code == 200 and chat.json()["text"].startswith(message("chat.cold.intro_pending", "en"))


def test_once_learned_the_shopper_gets_a_personal_list(held: Held) -> None:
    held.release.set()
    assert held.service.models.wait(60)
    assert held.service.knows_user(NEWCOMER) and not held.service.pending_user(NEWCOMER)
    answer = held.agent.chat(NEWCOMER, "What should I buy next?")
    assert answer.recommendations and not answer.text.startswith(message("chat.cold.intro_pending", "en"))


def test_the_page_shows_a_pending_shopper_their_history(held: Held) -> None:
    ui = Callbacks(held.service, held.agent)
    view = ui.pick_user(NEWCOMER, UIState().to_json())
    assert view.error is None and view.state.user_id == NEWCOMER and view.history_total == 2


def test_a_page_bound_to_a_shopper_with_nothing_recorded_lets_them_chat(demo_workspace_template: Path) -> None:
    service = WhyrecService(Settings(workspace=demo_workspace_template))
    ui = Callbacks(service, Agent(service))
    view = ui.restore(None, allowed="brand-new-shopper-7")
    assert view.error is None and view.state.user_id == "brand-new-shopper-7" and view.history_total == 0
    assert "No behaviours recorded for you yet" in view.history
    *_, final = list(ui.recommend(view.state.to_json()))
    assert final.error is None
    assert final.state.messages[-1]["content"].startswith(message("chat.cold.intro", "en")[:30])
    assert ui.set_language("zh", final.state.to_json(), allowed="brand-new-shopper-7").error is None
    # An analyst's page (bound to nobody) still refuses an id nothing is recorded for: a typo.
    refused = ui.pick_user("brand-new-shopper-7", UIState().to_json())
    assert refused.error is not None and refused.state.user_id != "brand-new-shopper-7"


def test_an_unknown_id_costs_no_read_of_the_log_while_the_model_is_current(demo_workspace_template: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Only events committed after the served fit can belong to a pending shopper: with the
    model current, a stream of made-up ids must not read an event partition each."""
    service = WhyrecService(Settings(workspace=demo_workspace_template))
    service.knows_user("warm")   # fit (or load) the model first

    def refuse(user_id: str) -> None:
        raise AssertionError(f"read the log for {user_id!r}")

    monkeypatch.setattr(service.workspace, "user_events", refuse)
    assert not service.pending_user("made-up-id-1") and not service.pending_user("made-up-id-2")
