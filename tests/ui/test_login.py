"""The page's login, driven over HTTP on the mounted app: who a login may see, and the brake on
guessing keys at ``/login`` (the API's ``X-API-Key`` path has the same brake).

Regression tests for two defects found against ``whyrec serve``: a key bound to a shopper whose
id is literally ``admin`` logged in with full admin access (the login name decided it), and
``/login`` took any number of wrong keys (the API answers 429 after ten).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from whyrec.agent.auth import FailureBrake, KeyRing
from whyrec.agent.core import Agent
from whyrec.tools.service import WhyrecService
from whyrec.tools.settings import Settings
from whyrec.ui.app import ADMIN_LOGIN, bound_user, login_check, mount_ui

KEYS = ("adminkey123", "adminuser99:admin", "u1key1234:u074")


def _app(tmp_path: Path, keys: tuple[str, ...] = KEYS, **mount: object) -> FastAPI:
    service = WhyrecService(Settings(workspace=tmp_path / "not-built-yet"))  # /login reads nothing
    return mount_ui(FastAPI(), service, Agent(service), KeyRing.parse(keys), **mount)  # type: ignore[arg-type]


def _login(client: TestClient, username: str, password: str) -> int:
    return client.post("/login", data={"username": username, "password": password}).status_code


# -- who a login may see ---------------------------------------------------------------------------
def test_a_key_bound_to_a_user_named_admin_never_logs_in_as_the_admin() -> None:
    """Regression: ``adminuser99:admin`` logged in as 'admin' and could pick any user."""
    check = login_check(KeyRing.parse(KEYS))
    assert check(ADMIN_LOGIN, "adminkey123")          # the admin key: the whole shop
    assert not check(ADMIN_LOGIN, "adminuser99")      # a shopper's key never gets the admin's name
    assert check("u074", "u1key1234") and not check(ADMIN_LOGIN, "u1key1234")


def test_the_bound_admin_user_key_gets_no_session_named_admin_over_http(tmp_path: Path) -> None:
    """The name 'admin' is the admin's: a shopper's key is refused under it (what such a session
    could do is in test_access.py, on a real shop)."""
    with TestClient(_app(tmp_path)) as client:
        assert _login(client, ADMIN_LOGIN, "adminuser99") == 400
        assert client.get("/config").status_code == 401
        assert _login(client, ADMIN_LOGIN, "adminkey123") == 200  # the admin key still logs in as the admin


def test_a_session_without_a_login_name_sees_nobody_when_a_login_is_required() -> None:
    from types import SimpleNamespace

    assert bound_user(SimpleNamespace(username="u001"), login_required=True) == "u001"
    assert bound_user(SimpleNamespace(username=ADMIN_LOGIN), login_required=True) is None
    assert bound_user(None) is None   # no keys: the loopback-only server shows every user
    for nameless in (None, SimpleNamespace(username=None), SimpleNamespace(username="")):
        with pytest.raises(PermissionError):
            bound_user(nameless, login_required=True)
    check = login_check(KeyRing.parse(KEYS))
    assert not check("", "adminkey123") and not check("u074", "") and not check("u074", "wrong-key-1")


# -- the brake on guessing -------------------------------------------------------------------------
def test_wrong_keys_at_the_login_lock_it_even_for_the_right_key(tmp_path: Path) -> None:
    """Regression: 25 wrong passwords all got 400 and the right one then logged in."""
    with TestClient(_app(tmp_path)) as client:
        answers = [_login(client, "u074", f"wrong-key-{n}") for n in range(25)]
        assert answers[:10] == [400] * 10
        assert set(answers[10:]) == {429}
        locked = client.post("/login/", data={"username": "u074", "password": "u1key1234"})
        assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
        assert _login(client, ADMIN_LOGIN, "adminkey123") == 429
        assert client.get("/config").status_code == 401   # no session came of it
    # another address is not locked out by this one's guesses
    with TestClient(_app(tmp_path), client=("203.0.113.9", 50000)) as other:
        assert _login(other, "u074", "u1key1234") == 200


def test_the_login_lock_ends_after_its_window(tmp_path: Path) -> None:
    brake = FailureBrake(limit=3, window=0.5)
    with TestClient(_app(tmp_path, brake=brake)) as client:
        assert [_login(client, "u074", "nope-nope") for _ in range(4)] == [400, 400, 400, 429]
        assert _login(client, "u074", "u1key1234") == 429
        time.sleep(0.6)
        assert _login(client, "u074", "u1key1234") == 200
        assert client.get("/config").status_code == 200
    with TestClient(_app(tmp_path, brake=brake)) as client:  # right keys never count against a client
        assert all(_login(client, "u074", "u1key1234") == 200 for _ in range(5))
