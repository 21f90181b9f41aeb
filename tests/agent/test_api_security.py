"""Regression tests for the API defects found by probing (issue 17): each failed on the code
before its fix."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from whyrec.agent.api import build_api
from whyrec.agent.core import Agent
from whyrec.agent.server import ServeRefused, create_app
from whyrec.tools.service import WhyrecService
from whyrec.tools.settings import Settings

ADMIN, BOUND = "admin-secret-1", "bound-secret-1"


@pytest.fixture(scope="module")
def users(workspace: Path) -> tuple[str, str]:
    service = WhyrecService(Settings(workspace=workspace))
    first, second = service.users()[:2]
    return first, second


@pytest.fixture(scope="module")
def client(workspace: Path, users: tuple[str, str]) -> TestClient:
    app = create_app(Settings(workspace=workspace, api_keys=(ADMIN, f"{BOUND}:{users[0]}")))
    return TestClient(app, raise_server_exceptions=False)


def bound() -> dict[str, str]:
    return {"Authorization": f"Bearer {BOUND}"}


def test_malformed_keys_refuse_to_start(workspace: Path) -> None:
    """`bobkey:` used to become an admin key; `:u089` an empty key that matched an empty header."""
    for entries in (("bobkey-12345:",), (":u089",), (ADMIN, "short:u1")):
        with pytest.raises(ServeRefused, match="WHYREC_API_KEYS entry"):
            create_app(Settings(workspace=workspace, api_keys=entries))


def test_an_empty_key_never_authenticates(client: TestClient, users: tuple[str, str]) -> None:
    for headers in ({"X-API-Key": ""}, {"Authorization": "Bearer "}, {"Authorization": "Bearer"}):
        assert client.get(f"/v1/users/{users[0]}/recommendations", headers=headers).status_code == 401


def test_the_app_keeps_no_key_in_clear(client: TestClient) -> None:
    service = client.app.state.service  # type: ignore[attr-defined]
    assert service.settings.api_keys == ()
    assert ADMIN not in repr(vars(service.settings)) and BOUND not in repr(vars(service.settings))


def test_a_user_bound_key_cannot_create_catalog_items(client: TestClient, users: tuple[str, str]) -> None:
    """One request from a bound key used to add 2,000 catalog items with any text."""
    before = client.get("/v1/stats", headers={"X-API-Key": ADMIN}).json()["catalog_items"]
    event = {"user_id": users[0], "item_id": "Beacon-lamp", "behaviour": "view",
             "timestamp": "2026-10-01T10:00:00Z"}
    reply = client.post("/v1/events", json={"events": [event]}, headers=bound())
    assert reply.status_code == 403
    assert reply.json()["detail"]["problems"][0]["value"] == "Beacon-lamp"
    assert client.get("/v1/stats", headers={"X-API-Key": ADMIN}).json()["catalog_items"] == before
    # an admin may add the item
    assert client.post("/v1/events", json={"events": [event]}, headers={"X-API-Key": ADMIN}).status_code == 200


def test_a_bound_key_sees_only_its_own_figures_and_no_paths(client: TestClient, users: tuple[str, str]) -> None:
    mine = client.get("/v1/stats", headers=bound()).json()
    assert mine["user_id"] == users[0] and "users" not in mine and "path" not in mine
    everything = client.get("/v1/stats", headers={"X-API-Key": ADMIN}).json()
    assert "path" not in everything and everything["users"] > 1


def test_a_foreign_session_id_is_just_unknown(client: TestClient, users: tuple[str, str]) -> None:
    """Another key could take a user's predictable OpenAI session and lock its owner out (403)."""
    admin = {"X-API-Key": ADMIN}
    first = client.post("/v1/chat", json={"user_id": users[1], "message": "hi"}, headers=admin).json()
    taken = client.post("/v1/chat", json={"user_id": users[0], "message": "hi", "session_id": first["session_id"]},
                        headers=bound())
    assert taken.status_code == 200 and taken.json()["session_id"] != first["session_id"]
    again = client.post("/v1/chat", json={"user_id": users[1], "message": "hi", "session_id": first["session_id"]},
                        headers=admin)
    assert again.status_code == 200 and again.json()["session_id"] == first["session_id"]


@pytest.mark.parametrize("content", ["\ud800 hello", [{"type": "text", "text": "hi \udfff"}]])
def test_lone_surrogates_are_a_4xx_not_a_500(client: TestClient, users: tuple[str, str], content: object) -> None:
    body = json.dumps({"model": "whyrec", "user": users[0], "messages": [{"role": "user", "content": content}]})
    for stream in (False, True):
        payload = body[:-1] + f', "stream": {"true" if stream else "false"}}}'
        reply = client.post("/v1/chat/completions", content=payload.encode(),
                            headers={"content-type": "application/json", "X-API-Key": ADMIN})
        assert reply.status_code == 422, reply.text
    chat = json.dumps({"user_id": users[0], "message": "\udfff"})
    assert client.post("/v1/chat", content=chat.encode(), headers={"content-type": "application/json",
                                                                    "X-API-Key": ADMIN}).status_code == 422


def test_guessing_keys_is_slowed_down(workspace: Path, users: tuple[str, str]) -> None:
    service = WhyrecService(Settings(workspace=workspace, api_keys=(ADMIN,)))
    from whyrec.agent.auth import FailureBrake, KeyRing

    app = build_api(service, Agent(service), KeyRing.parse((ADMIN,)), FailureBrake(limit=5, window=60))
    client = TestClient(app, raise_server_exceptions=False)
    codes = [client.get("/v1/stats", headers={"X-API-Key": f"guess-{n}"}).status_code for n in range(8)]
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}
    refused = client.get("/v1/stats", headers={"X-API-Key": ADMIN})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0  # per client, for a while


def test_an_unavailable_store_reveals_no_internals(workspace: Path, users: tuple[str, str]) -> None:
    from whyrec.tools.behaviour_store import StoreError

    service = WhyrecService(Settings(workspace=workspace))

    class Broken:
        def search_items(self, *args: object, **kwargs: object) -> None:
            raise StoreError("'RustBindingsAPI' object has no attribute 'bindings' at /srv/secret/ws/chroma")

    service._store = Broken()  # type: ignore[assignment]  # a store that fails like Chroma did
    client = TestClient(build_api(service, Agent(service)), raise_server_exceptions=False)
    reply = client.post("/v1/chat", json={"user_id": users[0], "message": "find a wool scarf"})
    text = reply.text
    assert "RustBindings" not in text and "/srv/secret" not in text


def test_stats_into_a_closed_pipe_prints_no_traceback(workspace: Path) -> None:
    """`whyrec stats | head` used to end with a BrokenPipeError traceback."""
    script = (
        "import os, sys\n"
        "from whyrec.agent.cli import main\n"
        "read, write = os.pipe()\n"
        "os.close(read)                      # the reader has gone, as after `| head`\n"
        "os.dup2(write, sys.stdout.fileno())\n"
        f"sys.exit(main(['stats', '--workspace', {str(workspace)!r}]))\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "BrokenPipeError" not in result.stderr


def test_every_message_of_a_stateless_conversation_is_under_the_length_limit(client: TestClient) -> None:
    """Before: only the last message was held to max_message_chars; a 900,000-character earlier
    message was read again by the router (15 s of CPU per request, 70x slower for everyone)."""
    limit = client.app.state.service.settings.max_message_chars  # type: ignore[attr-defined]
    long_earlier = {"messages": [{"role": "user", "content": "it " * (limit // 3 + 10)},
                                 {"role": "user", "content": "hi"}]}
    refused = client.post("/v1/chat/completions", json=long_earlier, headers=bound())
    assert refused.status_code == 422 and "earlier message 1" in refused.text
    fine = {"messages": [{"role": "user", "content": "recommend something"},
                         {"role": "assistant", "content": "1. A\n2. B"}, {"role": "user", "content": "hi"}]}
    assert client.post("/v1/chat/completions", json=fine, headers=bound()).status_code == 200


def test_a_stateless_conversation_is_read_again_from_its_newest_messages_only() -> None:
    from whyrec.agent.core import recent_turns

    turns = [("user", f"{i:03d}" + "x" * 97) for i in range(300)]   # 100 characters each
    kept = recent_turns(turns, 40, 2_000)
    assert kept == turns[-20:]                       # the character bound: 20 of 100
    assert recent_turns(turns, 5, 100_000) == turns[-5:]   # the message bound
    assert recent_turns(turns, 0, 100_000) == [] and recent_turns([], 40, 10) == []
