"""A logged-in page acts only for the user its key allows, whatever state the browser sends back.

The page keeps its state in the browser (``gr.BrowserState``), so every event arrives with a
state the browser could have edited. These tests log in over HTTP on the mounted app (real
Gradio queue, real agent, the small demo shop in Chroma) and send every event that reads the
state with another user's state in it.

Regression for the defect found against ``whyrec serve``: logged in as one shopper, a chat event
sent with ``{"v": 1, "user_id": <another shopper>}`` answered with that shopper's picks and
behaviours; only the page load, the picker and the user search checked the login.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Mount

from whyrec.agent.auth import KeyRing
from whyrec.agent.core import Agent
from whyrec.tools.service import WhyrecService
from whyrec.tools.settings import Settings
from whyrec.ui.app import ADMIN_LOGIN, STORE_KEY, mount_ui
from whyrec.ui.callbacks import Callbacks
from whyrec.ui.state import UIState

pytestmark = pytest.mark.slow

ADMIN_KEY = "adminkey123"
USER_KEY = "u1key1234"
ADMIN_NAMED_USER_KEY = "adminuser99"   # bound to a shopper whose id is literally "admin"
QUESTION = "What should I buy next?"


@dataclass(frozen=True)
class Shop:
    client: TestClient
    blocks: gr.Blocks
    me: str        # the user the bound key may see
    other: str     # a user it may not
    stolen: dict[str, Any]   # the other user's page state, with their cards and what-if choices


@pytest.fixture(scope="module")
def shop(workspace: Path) -> Iterator[Shop]:
    service = WhyrecService(Settings(workspace=workspace))
    users = service.users("", limit=50)
    me, other = users[0], next(u for u in users[1:] if users[0] not in u and u not in users[0])
    ui = Callbacks(service, Agent(service))  # what the other user's own (or an admin's) page holds
    *_, final = ui.recommend(ui.pick_user(other, UIState().to_json()).state.to_json())
    stolen = final.state
    assert stolen.user_id == other and stolen.recommendations and stolen.whatif_keys
    keys = KeyRing.parse((ADMIN_KEY, f"{USER_KEY}:{me}", f"{ADMIN_NAMED_USER_KEY}:{ADMIN_LOGIN}"))
    app = mount_ui(FastAPI(), service, Agent(service), keys)
    blocks = next(r.app.get_blocks() for r in app.routes if isinstance(r, Mount) and hasattr(r.app, "get_blocks"))
    with TestClient(app) as client:
        yield Shop(client, blocks, me, other, stolen.to_json())


def _login(client: TestClient, username: str, password: str) -> bool:
    client.cookies.clear()
    return client.post("/login", data={"username": username, "password": password}).status_code == 200


def _run(client: TestClient, fn_index: int, data: list[Any], session: str,
         event_data: dict[str, Any] | None = None) -> tuple[list[Any], str]:
    """One event through Gradio's queue, as the page sends it; its final output and everything
    the server streamed back for it (as text)."""
    joined = client.post("/gradio_api/queue/join", json={"fn_index": fn_index, "data": data, "session_hash": session,
                                                         "event_data": event_data})
    assert joined.status_code == 200, joined.text
    event_id = joined.json()["event_id"]
    seen: list[str] = []
    with client.stream("GET", f"/gradio_api/queue/data?session_hash={session}") as stream:
        for line in stream.iter_lines():
            if not line.startswith("data:"):
                continue
            msg = json.loads(line[5:])
            if msg.get("event_id") != event_id:
                continue
            seen.append(line)
            if msg.get("msg") == "process_completed":
                assert msg.get("success"), msg
                return list(msg["output"]["data"]), "\n".join(seen)
    raise AssertionError(f"event {fn_index} never completed: {seen}")


def _store_events(blocks: gr.Blocks) -> dict[str, tuple[int, Any]]:
    """Every server function that reads the page's state, by name (one of each)."""
    found: dict[str, tuple[int, Any]] = {}
    for index, fn in blocks.fns.items():
        if fn.fn is None or not any(isinstance(c, gr.BrowserState) and c.storage_key == STORE_KEY
                                    for c in fn.inputs):
            continue
        found.setdefault(fn.fn.__name__, (index, fn))
    return found


def _inputs(fn: Any, state: dict[str, Any]) -> list[Any]:
    """What the page would send: the (tampered) state, a question for text and chips, and each
    other control's own value."""
    values: list[Any] = []
    for component in fn.inputs:
        if isinstance(component, gr.BrowserState):
            values.append(state)
        elif isinstance(component, gr.Textbox | gr.Button):
            values.append(QUESTION)
        elif isinstance(component, gr.Dropdown) and component.elem_id == "user-picker":
            values.append(None)
        else:
            values.append(component.value)
    return values


def _stored(fn: Any, output: list[Any]) -> dict[str, Any] | None:
    """The state this event sends back to the browser, if any."""
    for component, value in zip(fn.outputs, output, strict=False):
        if isinstance(component, gr.BrowserState) and isinstance(value, dict):
            return value
    return None


def test_every_event_with_another_users_state_answers_only_for_the_logged_in_user(shop: Shop) -> None:
    assert _login(shop.client, shop.me, USER_KEY)
    events = _store_events(shop.blocks)
    # the load, the picker, language, chat, recommend, Why?, clear, what-if and effects all read it
    assert {"on_load", "on_pick", "on_language", "on_chat", "on_recommend", "on_why", "on_clear", "on_whatif",
            "on_effects"} <= set(events)
    leaks: dict[str, str] = {}
    for name, (index, fn) in events.items():
        output, streamed = _run(shop.client, index, _inputs(fn, shop.stolen), session=f"tampered-{name}")
        stored = _stored(fn, output)
        if shop.other in streamed:
            leaks[name] = "answered with the other user's data"
        elif stored is not None and stored.get("user_id") != shop.me:
            leaks[name] = f"kept the session on {stored.get('user_id')!r}"
    assert leaks == {}


def test_the_repro_a_chat_turn_sent_with_another_user_id(shop: Shop) -> None:
    """The tester's request, verbatim apart from the ids: the answer is about the logged-in user."""
    assert _login(shop.client, shop.me, USER_KEY)
    index, fn = _store_events(shop.blocks)["on_chat"]
    output, streamed = _run(shop.client, index, [QUESTION, {"v": 1, "user_id": shop.other, "language": "en"}],
                            session="repro")
    assert shop.other not in streamed
    stored = _stored(fn, output)
    assert stored is not None and stored["user_id"] == shop.me and stored["recommendations"]


def test_a_bound_session_cannot_pick_another_user_but_the_admin_can(shop: Shop) -> None:
    index, fn = _store_events(shop.blocks)["on_pick"]
    mine = UIState().switch_to(shop.me).to_json()
    assert _login(shop.client, shop.me, USER_KEY)
    output, _ = _run(shop.client, index, [shop.other, mine], session="pick-bound")
    assert (_stored(fn, output) or {}).get("user_id") == shop.me
    assert _login(shop.client, ADMIN_LOGIN, ADMIN_KEY)
    output, _ = _run(shop.client, index, [shop.other, mine], session="pick-admin")
    assert (_stored(fn, output) or {}).get("user_id") == shop.other


def test_a_key_bound_to_a_user_named_admin_cannot_see_other_users(shop: Shop) -> None:
    """Regression: the login name 'admin' made any session an admin's, whatever key it used."""
    if not _login(shop.client, ADMIN_LOGIN, ADMIN_NAMED_USER_KEY):
        return  # refused at the door (the name 'admin' is the admin's): nothing to see
    index, fn = _store_events(shop.blocks)["on_pick"]
    output, _ = _run(shop.client, index, [shop.other, UIState().to_json()], session="admin-named")
    assert (_stored(fn, output) or {}).get("user_id") != shop.other


def test_a_page_whose_event_reads_the_state_without_the_request_is_not_built() -> None:
    from whyrec.ui.app import _require_request

    with gr.Blocks() as demo:
        store = gr.BrowserState({}, storage_key=STORE_KEY)
        out = gr.HTML("")

        def careful(raw: Any, request: gr.Request) -> str:
            return ""

        def forgetful(raw: Any) -> str:
            return ""

        gr.Button("a").click(careful, [store], [out])
        _require_request(demo, store)
        gr.Button("b").click(forgetful, [store], [out])
    with pytest.raises(TypeError, match="forgetful"):
        _require_request(demo, store)


def test_the_page_takes_no_uploads_even_after_a_login(shop: Shop) -> None:
    """Before: Gradio's upload route stored any logged-in user's files (1 MB each, any number)
    in the server's temporary folder; the page has no file input."""
    assert _login(shop.client, shop.me, USER_KEY)
    sent = shop.client.post("/gradio_api/upload", files=[("files", ("a.txt", b"x" * 1000, "text/plain"))])
    assert sent.status_code == 404 and "takes no files" in sent.text
    assert shop.client.get("/gradio_api/upload_progress", params={"upload_id": "x"}).status_code == 404
    recording = shop.client.post("/gradio_api/process_recording",
                                 files=[("video", ("r.webm", b"x" * 1000, "video/webm"))])
    assert recording.status_code == 404
    component = shop.client.post("/gradio_api/component_server",
                                 files=[("files", ("a.txt", b"x" * 1000, "text/plain"))],
                                 data={"session_hash": "s", "component_id": "1", "fn_name": "f", "data": "null"})
    assert component.status_code == 404 and "does not use this route" in component.text
    assert shop.client.get("/").status_code == 200   # the page itself is served as before
