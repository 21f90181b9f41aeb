"""The HTTP API: every endpoint, auth, bad payloads, and the OpenAI-compatible endpoint called with
the `openai` client against a real server on loopback."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient

from whyrec.agent.api import build_api
from whyrec.agent.core import Agent
from whyrec.agent.server import ServeRefused, check_bind
from whyrec.prompts.catalogue import message as catalogue_message
from whyrec.tools.service import WhyrecService
from whyrec.tools.settings import Settings

ADMIN, ALICE_KEY = "admin-secret", "alice-secret"


@pytest.fixture(scope="module")
def users(workspace: Path) -> tuple[str, str]:
    from whyrec.tools.workspace import Workspace

    counts = Workspace.open(workspace).events()["user_id"].value_counts()
    return str(counts.index[0]), str(counts.index[1])


def make_client(workspace: Path, keys: tuple[str, ...] = ()) -> TestClient:
    service = WhyrecService(Settings(workspace=workspace, api_keys=keys, max_request_bytes=200_000))
    return TestClient(build_api(service, Agent(service)), raise_server_exceptions=False)


@pytest.fixture(scope="module")
def open_client(workspace: Path) -> TestClient:
    return make_client(workspace)


@pytest.fixture(scope="module")
def keyed(workspace: Path, users: tuple[str, str]) -> TestClient:
    return make_client(workspace, (ADMIN, f"{ALICE_KEY}:{users[0]}"))


def test_health_stats_and_openapi(open_client: TestClient) -> None:
    assert open_client.get("/health").json()["status"] == "ok"
    stats = open_client.get("/v1/stats").json()
    assert stats["events"] > 1000 and set(stats["behaviours"]) >= {"view", "cart", "purchase"}
    paths = open_client.get("/openapi.json").json()["paths"]
    for path in ("/v1/chat", "/v1/users/{user_id}/recommendations", "/v1/users/{user_id}/explanations/{item_id}",
                 "/v1/users/{user_id}/what-if", "/v1/effects", "/v1/events", "/v1/chat/completions"):
        assert path in paths


def test_recommendations_explanations_what_if_and_effects(open_client: TestClient, users: tuple[str, str]) -> None:
    user = users[0]
    recs = open_client.get(f"/v1/users/{user}/recommendations", params={"k": 4}).json()
    assert len(recs["items"]) == 4 and recs["items"][0]["rank"] == 1
    top = recs["items"][0]["item_id"]
    explanation = open_client.get(f"/v1/users/{user}/explanations/{top}", params={"k": 4}).json()
    assert explanation["item_id"] == top and explanation["rank"] == 1
    keys = [c["event_key"] for c in explanation["contributions"]][:1]
    what_if = open_client.post(f"/v1/users/{user}/what-if",
                               json={"remove_events": [str(k) for k in keys], "k": 4}).json()
    assert [r["item_id"] for r in what_if["before"]] == [i["item_id"] for i in recs["items"]]
    effects = open_client.get("/v1/effects", params={"behaviour": "cart"}).json()
    assert [e["behaviour"] for e in effects["effects"]] == ["cart"]
    assert effects["effects"][0]["ci_low"] < effects["effects"][0]["estimate"] < effects["effects"][0]["ci_high"]


def test_recommendations_take_an_exclusion_policy(open_client: TestClient, users: tuple[str, str],
                                                 workspace: Path) -> None:
    """``exclude`` (none | purchased | seen) chooses which of the user's own items the list leaves
    out; the explanation of an item follows the same policy; a bad value is a clear 422."""
    from typing import get_args

    from whyrec.agent.api import Exclusion
    from whyrec.tools.ranking.exclusion import POLICIES
    from whyrec.tools.workspace import Workspace

    assert get_args(Exclusion) == POLICIES
    user = users[0]
    events = Workspace.open(workspace).events()
    seen = set(events.loc[events["user_id"] == user, "item_id"].astype(str))
    strict = open_client.get(f"/v1/users/{user}/recommendations", params={"k": 40, "exclude": "seen"}).json()
    assert strict["exclusion"] == "seen" and not seen & {i["item_id"] for i in strict["items"]}
    loose = open_client.get(f"/v1/users/{user}/recommendations", params={"k": 40, "exclude": "none"}).json()
    assert loose["exclusion"] == "none" and seen & {i["item_id"] for i in loose["items"]}
    again = [i for i in loose["items"] if i["item_id"] in seen][0]
    explanation = open_client.get(f"/v1/users/{user}/explanations/{again['item_id']}",
                                  params={"k": 40, "exclude": "none"}).json()
    assert explanation["exclusion"] == "none" and explanation["rank"] == again["rank"]
    bad = open_client.get(f"/v1/users/{user}/recommendations", params={"exclude": "bought"})
    assert bad.status_code == 422
    problem = bad.json()["problems"][0]
    assert problem["field"] == "query.exclude" and "'none', 'purchased' or 'seen'" in problem["problem"]
    assert open_client.get(f"/v1/users/{user}/explanations/{again['item_id']}",
                           params={"exclude": "all"}).status_code == 422
    parameters = open_client.get("/openapi.json").json()["paths"]["/v1/users/{user_id}/recommendations"]["get"]
    assert "exclude" in {p["name"] for p in parameters["parameters"]}


def test_chat_json_and_sse(open_client: TestClient, users: tuple[str, str]) -> None:
    reply = open_client.post("/v1/chat", json={"user_id": users[0], "message": "What should I buy next?"}).json()
    assert reply["intent"] == "recommend" and len(reply["recommendations"]) == 5
    follow = open_client.post("/v1/chat", json={"user_id": users[0], "message": "为什么推荐第一个？",
                                                "session_id": reply["session_id"]}).json()
    assert follow["language"] == "zh"
    assert follow["explanations"][0]["item_id"] == reply["recommendations"][0]["item_id"]
    with open_client.stream("POST", "/v1/chat", json={"user_id": users[0], "message": "recommend 3",
                                                      "stream": True}) as response:
        body = "".join(response.iter_text())
    assert response.headers["content-type"].startswith("text/event-stream")
    assert "event: tool" in body and "event: delta" in body and "event: answer" in body


def test_new_events_change_the_next_recommendations(workspace: Path, users: tuple[str, str]) -> None:
    client = make_client(workspace)
    user = users[1]
    before = client.get(f"/v1/users/{user}/recommendations", params={"k": 10}).json()["items"]
    target = before[-1]["item_id"]
    events = [{"user_id": user, "item_id": target, "behaviour": b, "timestamp": "2026-10-31T23:00:00Z"}
              for b in ("view", "favourite", "cart")]
    posted = client.post("/v1/events", json={"events": events})
    assert posted.status_code == 200 and posted.json()["added"] == 3
    again = client.post("/v1/events", json={"events": events}).json()
    assert again["added"] == 0 and again["already_present"] == 3
    after = client.get(f"/v1/users/{user}/recommendations", params={"k": 10, }).json()["items"]
    assert [i["item_id"] for i in after] != [i["item_id"] for i in before]
    explanation = client.get(f"/v1/users/{user}/explanations/{after[0]['item_id']}").json()
    assert explanation["user_id"] == user


def test_bad_payloads_are_clear_4xx(open_client: TestClient, users: tuple[str, str]) -> None:
    user = users[0]
    assert open_client.get("/v1/users/nobody/recommendations").status_code == 404
    assert open_client.get(f"/v1/users/{user}/explanations/no-such-item").status_code == 404
    assert open_client.get(f"/v1/users/{user}/recommendations", params={"k": 0}).status_code == 422
    assert open_client.post("/v1/chat", json={"user_id": user}).status_code == 422
    assert open_client.post("/v1/chat", json={"user_id": user, "message": "x" * 5000}).status_code == 422
    reply = open_client.post("/v1/chat", content=b"{not json", headers={"content-type": "application/json"})
    assert reply.status_code == 422
    bad = open_client.post("/v1/events", json={"events": [
        {"user_id": user, "item_id": "i001", "behaviour": "view", "timestamp": "2026-10-01T00:00:00Z"},
        {"user_id": user, "item_id": "i001", "behaviour": "teleport", "timestamp": "yesterday"}]})
    assert bad.status_code == 422
    problems = bad.json()["detail"]["problems"]
    assert {(p["record"], p["field"]) for p in problems} == {(2, "behaviour"), (2, "timestamp")}
    huge = open_client.post("/v1/chat", content=b"x" * 300_000, headers={"content-type": "application/json"})
    assert huge.status_code == 413
    assert open_client.post(f"/v1/users/{user}/what-if",
                            json={"add": [{"item_id": "nope", "behaviour": "cart"}]}).status_code == 422


def test_auth(keyed: TestClient, users: tuple[str, str]) -> None:
    alice, bob = users
    assert keyed.get("/v1/stats").status_code == 401
    assert keyed.get("/v1/stats", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert keyed.get("/v1/stats", headers={"X-API-Key": ADMIN}).status_code == 200
    mine = {"Authorization": f"Bearer {ALICE_KEY}"}
    assert keyed.get(f"/v1/users/{alice}/recommendations", headers=mine).status_code == 200
    assert keyed.get(f"/v1/users/{bob}/recommendations", headers=mine).status_code == 403
    assert keyed.post("/v1/chat", headers=mine, json={"user_id": bob, "message": "hi"}).status_code == 403
    event = {"user_id": bob, "item_id": "i001", "behaviour": "view", "timestamp": "2026-10-01T00:00:00Z"}
    assert keyed.post("/v1/events", headers=mine, json={"events": [event]}).status_code == 403
    assert keyed.post("/v1/events", headers={"X-API-Key": ADMIN}, json={"events": [event]}).status_code == 200
    assert keyed.get("/health").status_code == 200


def test_server_refuses_public_bind_without_keys(tmp_path: Path) -> None:
    with pytest.raises(ServeRefused, match="WHYREC_API_KEYS"):
        check_bind(Settings(workspace=tmp_path, host="0.0.0.0"))
    check_bind(Settings(workspace=tmp_path, host="0.0.0.0", api_keys=("k",)))
    check_bind(Settings(workspace=tmp_path, host="127.0.0.1"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def live_server(workspace: Path):  # type: ignore[no-untyped-def]
    service = WhyrecService(Settings(workspace=workspace, api_keys=(f"{ALICE_KEY}",)))
    app = build_api(service, Agent(service))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


def test_openai_client_against_the_compatible_endpoint(live_server: str, users: tuple[str, str]) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=f"{live_server}/v1", api_key=ALICE_KEY, max_retries=0)
    completion = client.chat.completions.create(
        model="whyrec", user=users[0], messages=[{"role": "user", "content": "What should I buy next?"}])
    text = completion.choices[0].message.content
    assert completion.model == "whyrec" and "1." in text
    follow = client.chat.completions.create(
        model="whyrec", user=users[0], messages=[{"role": "user", "content": "What should I buy next?"},
                                                  {"role": "assistant", "content": text},
                                                  {"role": "user", "content": "why the first one?"}])
    assert follow.choices[0].message.content.startswith("I recommend")  # the explanation of the first pick
    chunks = list(client.chat.completions.create(
        model="whyrec", user=users[0], stream=True,
        messages=[{"role": "user", "content": "how much does adding to cart raise the chance of purchase?"}]))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert "percentage points" in streamed
    with pytest.raises(Exception) as info:
        OpenAI(base_url=f"{live_server}/v1", api_key="wrong", max_retries=0).chat.completions.create(
            model="whyrec", user=users[0], messages=[{"role": "user", "content": "hi"}])
    assert "401" in str(info.value)
    raw = httpx.post(f"{live_server}/v1/chat/completions", headers={"Authorization": f"Bearer {ALICE_KEY}"},
                     json={"model": "whyrec", "messages": [{"role": "user", "content": "hi"}]})
    assert raw.status_code == 400
    error = json.loads(raw.text)["error"]
    assert error["param"] == "user" and "user" in error["message"] and error["type"] == "invalid_request_error"
    assert completion.usage is None  # no LLM counted tokens: no invented count


def test_openai_endpoint_is_stateless_and_reads_the_conversation_from_the_messages(
        workspace: Path, users: tuple[str, str]) -> None:
    """A follow-up is answered from the request's own messages, even by a server that never saw the
    conversation, and nothing is kept between requests."""
    first_server = make_client(workspace)
    listed = first_server.post("/v1/chat/completions", json={
        "model": "whyrec", "user": users[0], "messages": [{"role": "user", "content": "recommend 3"}]}).json()
    shown = [r["item_id"] for r in listed["whyrec"]["recommendations"]]
    other_server = make_client(workspace)
    follow = other_server.post("/v1/chat/completions", json={
        "model": "whyrec", "user": users[0], "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "recommend 3"},
            {"role": "assistant", "content": listed["choices"][0]["message"]["content"]},
            {"role": "user", "content": "why the second one?"}]}).json()
    assert follow["whyrec"]["intent"] == "explain"
    assert follow["whyrec"]["explanations"][0]["item_id"] == shown[1]
    # The same question with no earlier messages has no list to point into.
    alone = other_server.post("/v1/chat/completions", json={
        "model": "whyrec", "user": users[0], "messages": [{"role": "user", "content": "why the second one?"}]}).json()
    assert alone["whyrec"]["explanations"] == [] and alone["whyrec"]["tool_trace"] == []
    # Follow-ups of other kinds continue the conversation's last question.
    effects = other_server.post("/v1/chat/completions", json={
        "model": "whyrec", "user": users[0], "messages": [
            {"role": "user", "content": "does adding to cart make people buy more?"},
            {"role": "assistant", "content": "..."},
            {"role": "user", "content": "and for favourites?"}]}).json()
    assert effects["whyrec"]["intent"] == "effects"
    assert [t["args"] for t in effects["whyrec"]["tool_trace"]] == [{"behaviour": "favourite"}]


def test_openai_endpoint_errors_are_openai_error_objects(keyed: TestClient, users: tuple[str, str]) -> None:
    mine = {"Authorization": f"Bearer {ALICE_KEY}"}
    cases = [
        (keyed.post("/v1/chat/completions", json={"model": "whyrec", "messages": []}, headers=mine), 422),
        (keyed.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]}), 401),
        (keyed.post("/v1/chat/completions", headers=mine, json={
            "user": users[1], "messages": [{"role": "user", "content": "hi"}]}), 403),
        (keyed.post("/v1/chat/completions", headers=mine, json={
            "messages": [{"role": "user", "content": "x" * 100_000}]}), 422),
        (keyed.post("/v1/chat/completions", headers=mine, json={
            "messages": [{"role": "assistant", "content": "hello"}]}), 400),
    ]
    for response, status in cases:
        assert response.status_code == status, response.text
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"} and error["message"], error
    assert cases[0][0].json()["error"]["param"].startswith("messages")
    assert cases[3][0].json()["error"]["type"] == "invalid_request_error"
    # Other routes keep their own error shape.
    assert "detail" in keyed.get("/v1/users/nobody/recommendations", headers={"X-API-Key": ADMIN}).json()


def test_forget_user_endpoint(demo_workspace: Path) -> None:
    from whyrec.tools.workspace import Workspace

    user = str(Workspace.open(demo_workspace).events()["user_id"].value_counts().index[0])
    client = make_client(demo_workspace)
    session = client.post("/v1/chat", json={"user_id": user, "message": "recommend 3"}).json()["session_id"]
    removed = client.delete(f"/v1/users/{user}")
    assert removed.status_code == 200
    body = removed.json()
    assert body["events_removed"] > 0 and body["documents_removed"] > 0 and body["sessions_removed"] == 1
    assert client.get(f"/v1/users/{user}/recommendations").status_code == 404
    assert client.delete(f"/v1/users/{user}").status_code == 404   # found nowhere now
    # Chatting again is answering a shopper with no behaviours: nothing personal...
    again = client.post("/v1/chat", json={"user_id": user, "message": "why the first one?", "session_id": session})
    assert again.status_code == 200
    assert again.json()["text"] == catalogue_message("chat.cold.personal", "en")
    # ...and forgetting them again removes that session (before: a 404 that left it).
    second = client.delete(f"/v1/users/{user}")
    assert second.status_code == 200, second.text
    assert second.json()["sessions_removed"] == 1 and second.json()["found"] is False
    assert second.json()["events_removed"] == 0
    assert client.delete(f"/v1/users/{user}").status_code == 404
    assert user not in client.get("/v1/stats").text


@pytest.mark.parametrize("language", ["en", "zh"])
def test_an_explanation_of_an_item_in_the_shoppers_funnel_carries_causal_statements(
        open_client: TestClient, workspace: Path, users: tuple[str, str], language: str) -> None:
    from whyrec.tools.workspace import Workspace

    assert open_client.get("/v1/effects").status_code == 200  # the population estimate exists
    user = users[0]
    events = Workspace.open(workspace).events()
    mine = events[events["user_id"] == user]
    bought = set(mine.loc[mine["behaviour"] == "purchase", "item_id"])
    item = next(i for i in mine.loc[mine["behaviour"] == "view", "item_id"] if i not in bought)
    data = open_client.get(f"/v1/users/{user}/explanations/{item}", params={"language": language}).json()
    assert data["causal"], data
    for said in data["causal"]:
        assert said["item_id"] == item and said["verdict"] in ("supported", "inconclusive")
        assert said["statement"] == said["texts"][language] and said["statement"] in data["text"]
        assert f"{100 * said['estimate']:+.1f}" in said["statement"]
