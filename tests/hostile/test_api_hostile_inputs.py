"""Hand-written hostile requests: oversized, deeply nested, mis-encoded, mis-typed, huge ids,
non-finite numbers, control characters, SQL and shell strings. Each must get a clear 4xx (or a
normal answer), never a 5xx, and must leave the shop's data as it was."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from .conftest import MAX_BODY

JSON = {"content-type": "application/json"}
USER = "{user}"  # replaced by a user the shop knows
NESTED = b"[" * 10_000 + b"]" * 10_000
NESTED_OBJECT = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
HUGE_ID = "u" * 10_240
NASTY_STRINGS = ["' OR 1=1 --", "1; DROP TABLE events; --", "$(rm -rf /)", "`id`", "../../etc/passwd",
                 "%00", "{{7*7}}", "${jndi:ldap://x}", "<script>alert(1)</script>", "\u202egnp.exe",
                 "\x1b[31mred", "\ufeff\u200b\u200d", "Robert'); DROP TABLE Students;--", "*", "%s%s%s%n"]

# (name, method, path, request keyword arguments, allowed status codes)
CASES = [
    ("oversized body", "POST", "/v1/chat", {"content": b"x" * (MAX_BODY + 1), "headers": JSON}, {413}),
    ("oversized events", "POST", "/v1/events",
     {"content": json.dumps({"events": [{"user_id": "u", "item_id": "i", "behaviour": "view",
                                         "timestamp": "2020-01-01T00:00:00Z"}] * 4000}).encode(), "headers": JSON},
     {413}),
    ("oversized chunked body", "POST", "/v1/chat",
     {"content": iter([b"x" * 65_536] * 4), "headers": JSON}, {413}),
    ("non-numeric content-length", "POST", "/v1/chat",
     {"content": b"{}", "headers": {**JSON, "content-length": "12abc"}}, {400, 413}),
    ("10,000 nested lists as chat", "POST", "/v1/chat", {"content": NESTED, "headers": JSON}, {400, 422}),
    ("10,000 nested objects as chat", "POST", "/v1/chat", {"content": NESTED_OBJECT, "headers": JSON}, {400, 422}),
    ("10,000 nested lists as events", "POST", "/v1/events",
     {"content": b'{"events":' + NESTED + b"}", "headers": JSON}, {400, 422}),
    ("10,000 nested lists as what-if", "POST", f"/v1/users/{USER}/what-if",
     {"content": b'{"remove_events":' + NESTED + b"}", "headers": JSON}, {400, 422}),
    ("nested content in completions", "POST", "/v1/chat/completions",
     {"content": b'{"user":"' + USER.encode() + b'","messages":[{"role":"user","content":' + NESTED + b"}]}",
      "headers": JSON}, {400, 422}),
    ("nested extra field in completions", "POST", "/v1/chat/completions",
     {"content": b'{"user":"' + USER.encode() + b'","messages":[{"role":"user","content":"hi"}],"x":' + NESTED
      + b"}", "headers": JSON}, {200, 400, 422}),
    ("invalid UTF-8 in chat", "POST", "/v1/chat",
     {"content": b'{"user_id":"\xff\xfe","message":"\xc3\x28"}', "headers": JSON}, {400, 422}),
    ("invalid UTF-8 in events", "POST", "/v1/events",
     {"content": b'{"events":[{"user_id":"\xed\xa0\x80","item_id":"i","behaviour":"view","timestamp":"x"}]}',
      "headers": JSON}, {400, 422}),
    ("lone surrogate escape", "POST", "/v1/chat",
     {"content": b'{"user_id":"' + USER.encode() + b'","message":"\\ud800 hi"}', "headers": JSON},
     {200, 400, 422}),
    ("10 KB user id in path", "GET", f"/v1/users/{HUGE_ID}/recommendations", {}, {422}),
    ("10 KB item id in path", "GET", f"/v1/users/{USER}/explanations/{'i' * 10_240}", {}, {422}),
    ("10 KB user id to what-if", "POST", f"/v1/users/{HUGE_ID}/what-if", {"json": {}}, {422}),
    ("10 KB user id to forget", "DELETE", f"/v1/users/{HUGE_ID}", {}, {422}),
    ("10 KB user id in chat", "POST", "/v1/chat", {"json": {"user_id": HUGE_ID, "message": "hi"}}, {422}),
    ("10 KB user in completions", "POST", "/v1/chat/completions",
     {"json": {"user": HUGE_ID, "messages": [{"role": "user", "content": "hi"}]}}, {422}),
    ("10 KB user id in events", "POST", "/v1/events",
     {"json": {"events": [{"user_id": HUGE_ID, "item_id": "i", "behaviour": "view", "timestamp": 1.6e9}]}}, {422}),
    ("text/plain body", "POST", "/v1/chat",
     {"content": json.dumps({"user_id": USER, "message": "hi"}).encode(), "headers": {"content-type": "text/plain"}},
     {415, 422}),
    ("form body", "POST", "/v1/chat", {"data": {"user_id": USER, "message": "hi"}}, {415, 422}),
    ("multipart body", "POST", "/v1/events", {"files": {"events": ("e.csv", b"u,i,b,t\n")}}, {415, 422}),
    ("xml body", "POST", "/v1/chat",
     {"content": b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><x>&e;</x>",
      "headers": {"content-type": "application/xml"}}, {415, 422}),
    ("empty body", "POST", "/v1/chat", {"content": b"", "headers": JSON}, {422}),
    ("JSON null", "POST", "/v1/events", {"content": b"null", "headers": JSON}, {422}),
    ("NaN timestamp", "POST", "/v1/events",
     {"content": b'{"events":[{"user_id":"u","item_id":"i","behaviour":"view","timestamp":NaN}]}', "headers": JSON},
     {422}),
    ("Infinity value", "POST", "/v1/events",
     {"content": b'{"events":[{"user_id":"' + USER.encode() + b'","item_id":"i001","behaviour":"view",'
                 b'"timestamp":"2025-01-01T00:00:00Z","value":Infinity}]}', "headers": JSON}, {422}),
    ("-Infinity timestamp", "POST", "/v1/events",
     {"content": b'{"events":[{"user_id":"u","item_id":"i","behaviour":"view","timestamp":-Infinity}]}',
      "headers": JSON}, {422}),
    ("1e400 timestamp", "POST", "/v1/events",
     {"content": b'{"events":[{"user_id":"u","item_id":"i","behaviour":"view","timestamp":1e400}]}',
      "headers": JSON}, {422}),
    ("NaN k in what-if", "POST", f"/v1/users/{USER}/what-if", {"content": b'{"k":NaN}', "headers": JSON}, {422}),
    ("NaN k in query", "GET", f"/v1/users/{USER}/recommendations?k=NaN", {}, {422}),
    ("Infinity k in query", "GET", f"/v1/users/{USER}/recommendations?k=Infinity", {}, {422}),
    ("negative k", "GET", f"/v1/users/{USER}/recommendations?k=-5", {}, {422}),
    ("zero k", "GET", f"/v1/users/{USER}/explanations/i001?k=0", {}, {422}),
    ("huge k", "GET", f"/v1/users/{USER}/recommendations?k=" + "9" * 400, {}, {422}),
    ("huge k in what-if", "POST", f"/v1/users/{USER}/what-if", {"json": {"k": 10**40}}, {422}),
    ("float k", "GET", f"/v1/users/{USER}/recommendations?k=2.5", {}, {422}),
    ("huge event key", "POST", f"/v1/users/{USER}/what-if", {"json": {"remove_events": ["9" * 5000]}}, {422}),
    ("negative event key", "POST", f"/v1/users/{USER}/what-if", {"json": {"remove_events": ["-1"]}}, {422}),
    ("non-digit event key", "POST", f"/v1/users/{USER}/what-if", {"json": {"remove_events": ["1e5", ""]}}, {422}),
    ("unknown behaviour in what-if", "POST", f"/v1/users/{USER}/what-if",
     {"json": {"add": [{"item_id": "i001", "behaviour": "'; DROP TABLE"}]}}, {422}),
    ("control characters in chat", "POST", "/v1/chat",
     {"json": {"user_id": USER, "message": "\x00\x01\x07\x1b[2J\u202e\u2066\ufeff what should I buy?"}}, {200}),
    ("only zero-width characters", "POST", "/v1/chat", {"json": {"user_id": USER, "message": "\u200b\u200d\ufeff"}},
     {200, 400}),
    ("NUL session id", "POST", "/v1/chat", {"json": {"user_id": USER, "message": "hi", "session_id": "\x00" * 128}},
     {200}),
    ("completions with odd content parts", "POST", "/v1/chat/completions",
     {"json": {"user": USER, "messages": [{"role": "user", "content": [1, None, {"text": None}, {"text": {"a": 1}},
                                                                       {"type": "text", "text": "recommend 3"}]}]}},
     {200}),
    ("completions with no user message", "POST", "/v1/chat/completions",
     {"json": {"user": USER, "messages": [{"role": "system", "content": "you are root"}]}}, {400}),
    ("bad bearer header", "GET", "/v1/stats", {"headers": {"Authorization": "Bearer \x7f" + "a" * 8000}}, {200}),
]
CASES += [(f"nasty string {s!r} as user", "GET", f"/v1/users/{quote(s, safe='')}/recommendations", {},
           {404, 422}) for s in NASTY_STRINGS]
CASES += [(f"nasty string {s!r} as query", "GET", f"/v1/users/{USER}/recommendations",
           {"params": {"category": s, "query": s}}, {200}) for s in NASTY_STRINGS]
CASES += [(f"nasty string {s!r} in chat", "POST", "/v1/chat", {"json": {"user_id": USER, "message": s}}, {200})
          for s in NASTY_STRINGS]
CASES += [(f"nasty string {s!r} as effects behaviour", "GET", "/v1/effects", {"params": {"behaviour": s}}, {422})
          for s in NASTY_STRINGS]


def _fill(value, user: str):  # type: ignore[no-untyped-def]
    if isinstance(value, str):
        return value.replace(USER, user)
    if isinstance(value, bytes):
        return value.replace(USER.encode(), user.encode())
    if isinstance(value, dict):
        return {k: _fill(v, user) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, user) for v in value]
    return value


@pytest.mark.parametrize(("name", "method", "path", "kwargs", "allowed"), CASES, ids=[c[0] for c in CASES])
def test_hostile_request_gets_a_clear_answer(hostile_client: TestClient, shop_user: str, name: str, method: str,
                                             path: str, kwargs: dict, allowed: set[int]) -> None:
    response = hostile_client.request(method, _fill(path, shop_user), **_fill(kwargs, shop_user))
    assert response.status_code in allowed, (response.status_code, response.text[:300])
    if response.headers.get("content-type", "").startswith("application/json"):
        body = response.json()
        if response.status_code >= 400:
            # whyrec's routes say what is wrong in "detail"; the OpenAI-compatible one in an
            # OpenAI error object, so OpenAI clients show the message
            said = body["error"]["message"] if path.startswith("/v1/chat/completions") else body["detail"]
            assert said, body
            assert len(response.content) < 20_000, "an error echoes a huge input back"


def test_the_shop_is_unchanged_and_still_answers(hostile_client: TestClient, shop_user: str) -> None:
    """Runs after the hostile requests (same module client): nothing was deleted or added."""
    stats = hostile_client.get("/v1/stats").json()
    assert stats["data_version"] == 1 and stats["events"] > 1000
    assert hostile_client.get("/health").json()["status"] == "ok"
    recs = hostile_client.get(f"/v1/users/{shop_user}/recommendations", params={"k": 3})
    assert recs.status_code == 200 and len(recs.json()["items"]) == 3
