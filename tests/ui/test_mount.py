"""Mounting: the page lives at / while the API's own routes keep answering."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from whyrec.agent.core import Agent
from whyrec.tools.service import WhyrecService
from whyrec.tools.settings import Settings
from whyrec.ui.app import mount_ui


def test_ui_mounts_at_root_after_the_api(tmp_path: Path) -> None:
    service = WhyrecService(Settings(workspace=tmp_path / "not-built-yet"))  # nothing is read until a page loads
    api = FastAPI()

    @api.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    app = mount_ui(api, service, Agent(service))
    with TestClient(app) as client:
        assert client.get("/health").json() == {"status": "ok"}
        page = client.get("/")
        assert page.status_code == 200 and "<!doctype html>" in page.text.lower()
        config = client.get("/config").json()
        assert config["title"] == "whyrec"
        ids = {c.get("props", {}).get("elem_id") for c in config["components"]}
        assert {"user-picker", "language", "chat", "ask-recommend", "card-0", "why-0", "explanation",
                "whatif-remove", "whatif-run", "whatif-result", "effects-segment", "effects", "chips", "chip-0",
                "chat-input", "char-count", "notice", "history", "status-line"} <= ids
        # the page's own script and styles come with it
        assert "window.whyrec" in page.text or "window.whyrec" in str(config.get("head", ""))
        # No event is exposed as a public API endpoint (the HTTP API lives under /v1).
        assert all(d.get("api_visibility", "private") != "public" for d in config["dependencies"])


def test_with_api_keys_the_page_needs_a_login_and_a_bound_key_sees_one_user(tmp_path: Path) -> None:
    settings = Settings(workspace=tmp_path / "ws", api_keys=("admin-key", "user-key:u001"))
    service = WhyrecService(settings)
    app = mount_ui(FastAPI(), service, Agent(service))
    with TestClient(app) as client:
        assert client.get("/config").status_code == 401
        assert client.post("/login", data={"username": "u002", "password": "user-key"}).status_code == 400
        assert client.post("/login", data={"username": "admin", "password": "wrong"}).status_code == 400
        assert client.post("/login", data={"username": "u001", "password": "user-key"}).json() == {"success": True}
        assert client.get("/config").status_code == 200


def test_login_rules() -> None:
    from types import SimpleNamespace

    from whyrec.agent.auth import KeyRing
    from whyrec.ui.app import bound_user, login_check

    check = login_check(KeyRing.parse(("admin-key", "user-key:u001")))
    assert check("admin", "admin-key") and check("u007", "admin-key")  # an admin may view as anyone
    assert check("u001", "user-key") and not check("admin", "user-key") and not check("u002", "user-key")
    assert bound_user(SimpleNamespace(username="u001")) == "u001"
    assert bound_user(SimpleNamespace(username="admin")) is None and bound_user(None) is None
