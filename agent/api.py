"""The HTTP API (FastAPI), documented in OpenAPI at /docs.

Routes: health and stats; chat (JSON or server-sent events); a user's recommendations,
explanations and what-ifs; behaviour effects; new events; forgetting a user; and an
OpenAI-compatible ``POST /v1/chat/completions`` (model ``whyrec``, user id from ``user``).

Auth: ``WHYREC_API_KEYS`` holds ``key`` (admin) or ``key:user_id`` (bound to one user)
entries; clients send ``Authorization: Bearer <key>`` or ``X-API-Key``. Keys are kept only
as SHA-256 digests and compared in constant time. With no keys configured the server only
listens on loopback (see server.check_bind) and every request is admin.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import Depends, FastAPI, Header, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from whyrec.tools.behaviour_store import StoreError
from whyrec.tools.ingest.pipeline import IngestRejected, ingest_records
from whyrec.tools.schema import BEHAVIOURS
from whyrec.tools.workspace import WorkspaceError

from .core import Agent, AgentError
from .runtime import Runtime
from .session_tools import ToolError, effects_for, recommend_for

log = logging.getLogger(__name__)

ID = Field(min_length=1, max_length=256)


def path_id() -> Any:
    """A user or item id in the path (a fresh Path per parameter: FastAPI must not share one)."""
    return Path(min_length=1, max_length=256)


# -- auth ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Principal:
    """Who is calling: an admin, or a key bound to one user."""

    user_id: str | None
    admin: bool

    def require_user(self, user_id: str) -> None:
        if not self.admin and self.user_id != str(user_id):
            raise HTTPException(403, "this API key may only access its own user")


class KeyRing:
    """API keys held as SHA-256 digests; lookups compare digests in constant time."""

    def __init__(self, entries: tuple[str, ...]) -> None:
        self._keys: list[tuple[bytes, str | None]] = []
        for entry in entries:
            key, _, user = entry.partition(":")
            self._keys.append((hashlib.sha256(key.encode()).digest(), user or None))

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def principal(self, presented: str | None) -> Principal | None:
        if presented is None:
            return None
        digest = hashlib.sha256(presented.encode()).digest()
        found: Principal | None = None
        for stored, user in self._keys:  # no early exit: time does not depend on the match
            if hmac.compare_digest(stored, digest):
                found = Principal(user, admin=user is None)
        return found


# -- request bodies ------------------------------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChatRequest(_Strict):
    user_id: str = ID
    message: str = Field(min_length=1, max_length=4000)
    session_id: str | None = Field(default=None, max_length=128)
    language: Literal["en", "zh"] | None = None
    stream: bool = False


class BehaviourRef(_Strict):
    item_id: str = ID
    behaviour: str = Field(min_length=1, max_length=32)


class WhatIfRequest(_Strict):
    remove_events: list[str] = Field(default_factory=list, max_length=1000,
                                     description="event keys (as strings) to leave out")
    remove: list[BehaviourRef] = Field(default_factory=list, max_length=100,
                                       description="all of the user's events of this behaviour on this item")
    add: list[BehaviourRef] = Field(default_factory=list, max_length=100)
    k: int = Field(default=10, ge=1, le=100)


class EventIn(_Strict):
    user_id: str = ID
    item_id: str = ID
    behaviour: str = Field(min_length=1, max_length=64)
    timestamp: str | float = Field(description="ISO 8601 or Unix seconds")
    session_id: str | None = Field(default=None, max_length=256)
    value: float | None = None


class EventsRequest(_Strict):
    events: list[EventIn] = Field(min_length=1, max_length=10_000)


class OpenAIMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str = Field(max_length=32)
    content: str | list[Any] | None = None


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # OpenAI clients send many optional fields
    model: str = Field(default="whyrec", max_length=64)
    messages: list[OpenAIMessage] = Field(min_length=1, max_length=200)
    user: str | None = Field(default=None, max_length=256)
    stream: bool = False


class Problem(BaseModel):
    field: str
    problem: str


class ErrorBody(BaseModel):
    """Every error response: ``detail`` says what is wrong; ``problems`` names invalid fields."""

    detail: str | dict[str, Any]
    problems: list[Problem] | None = None


#: The error responses any operation may give, declared so the OpenAPI document is complete.
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text} for status, text in (
        (400, "Bad request (e.g. a body that is not JSON)"), (401, "Missing or unknown API key"),
        (403, "This API key may only access its own user"), (404, "Unknown user or item"),
        (413, "Request body too large"), (422, "Invalid request"))}
STREAMABLE = {200: {"description": "JSON, or server-sent events when `stream` is true",
                    "content": {"application/json": {}, "text/event-stream": {}}}}


# -- the app -------------------------------------------------------------------------------------
def build_api(runtime: Runtime, agent: Agent) -> FastAPI:
    settings = runtime.settings
    keys = KeyRing(settings.api_keys)
    app = FastAPI(title="whyrec", version="0.1.0", responses=ERRORS,
                  description="Recommendations that explain themselves by your own behaviours.")

    @app.middleware("http")
    async def limit_body(request: Request, call_next):  # type: ignore[no-untyped-def]
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > settings.max_request_bytes):
            return JSONResponse({"detail": f"request body larger than {settings.max_request_bytes} bytes"},
                                status_code=413)
        if request.method in ("POST", "PUT", "PATCH") and length is None:
            body = b""
            async for chunk in request.stream():
                body += chunk
                if len(body) > settings.max_request_bytes:
                    return JSONResponse({"detail": f"request body larger than {settings.max_request_bytes} bytes"},
                                        status_code=413)
            request._body = body  # let the route read what we buffered
        return await call_next(request)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [{"field": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
                    for e in exc.errors()[:20]]
        return JSONResponse({"detail": "invalid request", "problems": problems}, status_code=422)

    @app.exception_handler(StoreError)
    async def store_down(request: Request, exc: StoreError) -> JSONResponse:
        log.error("vector store unavailable: %s", exc)
        return JSONResponse({"detail": f"the vector store is unavailable: {exc}. An operator can rebuild "
                                       "it from the event log with `whyrec reindex`."}, status_code=503)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error; the server logged it"}, status_code=500)

    def principal(authorization: str | None = Header(default=None),
                  x_api_key: str | None = Header(default=None)) -> Principal:
        if not keys.enabled:
            return Principal(None, admin=True)
        presented = x_api_key
        if authorization and authorization.lower().startswith("bearer "):
            presented = authorization[7:].strip()
        found = keys.principal(presented)
        if found is None:
            raise HTTPException(401, "missing or unknown API key" if presented else "an API key is required",
                                headers={"WWW-Authenticate": "Bearer"})
        return found

    def known_user(user_id: str) -> None:
        if not runtime.knows_user(user_id):
            raise HTTPException(404, f"unknown user {user_id!r}: no behaviours recorded for this user")

    @app.get("/health", tags=["meta"])
    def health() -> dict[str, Any]:
        """Liveness, whether the workspace opens, and the active LLM backend."""
        try:
            version = runtime.workspace.data_version
        except WorkspaceError as exc:
            return {"status": "degraded", "error": str(exc)}
        return {"status": "ok", "data_version": version, "backend": agent.backend_name,
                "warm": runtime.warm}

    @app.get("/v1/stats", tags=["meta"])
    def stats(who: Principal = Depends(principal)) -> dict[str, Any]:
        """What the workspace holds: events, users, items, behaviours, time span."""
        runtime.refresh()
        return runtime.workspace.stats().to_json()

    @app.post("/v1/chat", tags=["chat"], responses=STREAMABLE)
    def chat(body: ChatRequest, who: Principal = Depends(principal)) -> Any:
        """One chat turn; with ``stream`` the reply comes as server-sent events."""
        who.require_user(body.user_id)
        known_user(body.user_id)
        if body.stream:
            return StreamingResponse(_sse(agent, body), media_type="text/event-stream")
        try:
            return agent.chat(body.user_id, body.message, body.session_id, body.language).to_json()
        except AgentError as exc:
            raise HTTPException(exc.status, str(exc)) from exc

    @app.get("/v1/users/{user_id}/recommendations", tags=["recommend"])
    def recommendations(user_id: str = path_id(), k: int = Query(10, ge=1, le=100),
                        category: str | None = Query(None, max_length=200),
                        query: str | None = Query(None, max_length=500),
                        who: Principal = Depends(principal)) -> dict[str, Any]:
        """Top ``k`` items for the user, each with the behaviours behind its score."""
        who.require_user(user_id)
        known_user(user_id)
        return recommend_for(runtime, user_id, k=k, category=category, query=query).to_json()

    @app.get("/v1/users/{user_id}/explanations/{item_id}", tags=["explain"])
    def explanation(user_id: str = path_id(), item_id: str = path_id(), k: int = Query(10, ge=1, le=100),
                    who: Principal = Depends(principal)) -> dict[str, Any]:
        """Why the item is (or is not) in the user's top ``k``, verified by re-ranking."""
        who.require_user(user_id)
        known_user(user_id)
        if not (runtime.workspace.items()["item_id"] == item_id).any():
            raise HTTPException(404, f"unknown item {item_id!r}")
        return runtime.explainer.explain(user_id, item_id, k=k).to_json()

    @app.post("/v1/users/{user_id}/what-if", tags=["explain"])
    def what_if(body: WhatIfRequest, user_id: str = path_id(), who: Principal = Depends(principal)) -> dict[str, Any]:
        """Re-rank with behaviours removed or added; returns old and new top-k and the moves."""
        who.require_user(user_id)
        known_user(user_id)
        explainer = runtime.explainer
        items = set(runtime.workspace.items()["item_id"])
        for ref in body.remove + body.add:
            if ref.item_id not in items:
                raise HTTPException(422, f"unknown item {ref.item_id!r}")
            if ref.behaviour not in BEHAVIOURS:
                raise HTTPException(422, f"unknown behaviour {ref.behaviour!r}; use {', '.join(BEHAVIOURS)}")
        try:
            remove = [int(k) for k in body.remove_events]
        except ValueError as exc:
            raise HTTPException(422, "remove_events must be event keys (digits)") from exc
        for ref in body.remove:
            remove += explainer.event_keys(user_id, ref.item_id, ref.behaviour)
        try:
            result = explainer.what_if(user_id, remove=remove,
                                       add=[(a.item_id, a.behaviour) for a in body.add], k=body.k)
        except (KeyError, ValueError) as exc:
            raise HTTPException(422, str(exc.args[0] if exc.args else exc)) from exc
        return result.to_json()

    @app.get("/v1/effects", tags=["causal"])
    def effects(behaviour: str | None = Query(None, max_length=32),
                segment: Literal["category", "brand", "price_band", "activity"] | None = None,
                who: Principal = Depends(principal)) -> dict[str, Any]:
        """Causal effects of behaviours on purchase (DoWhy), with intervals and refutations."""
        try:
            return effects_for(runtime, behaviour, segment).to_json()
        except ToolError as exc:
            raise HTTPException(422, str(exc)) from exc

    @app.post("/v1/events", tags=["data"])
    def post_events(body: EventsRequest, who: Principal = Depends(principal)) -> dict[str, Any]:
        """Add behaviours (all or nothing); they shape the user's next recommendations."""
        for event in body.events:
            who.require_user(event.user_id)
        records = [e.model_dump() for e in body.events]
        for record in records:
            record["timestamp"] = str(record["timestamp"])
        try:
            result = ingest_records(runtime.workspace, records, source="api")
        except IngestRejected as exc:
            report = exc.reports[0]
            raise HTTPException(422, {"message": "no event was added: some are invalid",
                                      "invalid": report.rows_invalid,
                                      "problems": [{"record": i.line, "field": i.column, "value": i.value,
                                                    "reason": i.reason} for i in report.first_issues]}) from exc
        if result.rows_added:
            runtime.refresh()
            runtime.schedule_store_sync()
        return {"added": result.rows_added, "already_present": result.rows_already_present,
                "data_version": result.data_version}

    @app.delete("/v1/users/{user_id}", tags=["data"])
    def forget(user_id: str = path_id(), who: Principal = Depends(principal)) -> dict[str, Any]:
        """Forget the user: events, vector-store documents, derived artefacts, chat sessions."""
        from whyrec.tools.privacy import forget_user

        who.require_user(user_id)
        try:
            result = forget_user(runtime.workspace, user_id, runtime.store)
        except KeyError as exc:
            raise HTTPException(404, str(exc.args[0] if exc.args else exc)) from exc
        runtime.invalidate()
        sessions = agent.sessions.forget_user(user_id)
        return result.to_json() | {"sessions_removed": sessions}

    @app.post("/v1/chat/completions", tags=["openai-compatible"], responses=STREAMABLE)
    def chat_completions(body: ChatCompletionRequest, who: Principal = Depends(principal)) -> Any:
        """OpenAI-compatible chat: model ``whyrec``; the user id comes from ``user``."""
        user_id = body.user or who.user_id
        if not user_id:
            raise HTTPException(400, "set `user` to the user id to recommend for")
        who.require_user(user_id)
        known_user(user_id)
        last = next((m for m in reversed(body.messages) if m.role == "user"), None)
        message = _content_text(last.content) if last else ""
        if not message.strip():
            raise HTTPException(400, "no user message with text content")
        session_id = f"openai-{hashlib.sha256(str(user_id).encode()).hexdigest()[:16]}"
        if body.stream:
            return StreamingResponse(_openai_sse(agent, user_id, message, session_id),
                                     media_type="text/event-stream")
        try:
            answer = agent.chat(user_id, message, session_id)
        except AgentError as exc:
            raise HTTPException(exc.status, str(exc)) from exc
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion",
            "created": int(time.time()), "model": "whyrec",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": answer.text}}],
            "usage": {"prompt_tokens": len(message.split()), "completion_tokens": len(answer.text.split()),
                      "total_tokens": len(message.split()) + len(answer.text.split())},
            "whyrec": answer.to_json(),
        }

    return app


def _content_text(content: str | list[Any] | None) -> str:
    if isinstance(content, list):
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return content or ""


def _sse(agent: Agent, body: ChatRequest) -> Iterator[str]:
    try:
        for event in agent.stream(body.user_id, body.message, body.session_id, body.language):
            if event["type"] == "answer":
                yield f"event: answer\ndata: {json.dumps(event['answer'].to_json(), ensure_ascii=False)}\n\n"
            else:
                yield f"event: {event['type']}\ndata: {json.dumps(event, ensure_ascii=False, default=str)}\n\n"
    except AgentError as exc:
        yield f"event: error\ndata: {json.dumps({'detail': str(exc)})}\n\n"
    except Exception:
        log.exception("chat stream failed")
        yield f"event: error\ndata: {json.dumps({'detail': 'internal error; the server logged it'})}\n\n"


def _openai_sse(agent: Agent, user_id: str, message: str, session_id: str) -> Iterator[str]:
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        payload = {"id": completion_id, "object": "chat.completion.chunk", "created": created,
                   "model": "whyrec", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    try:
        for event in agent.stream(user_id, message, session_id):
            if event["type"] == "delta":
                yield chunk({"content": event["text"]})
    except Exception as exc:  # the stream already started: report in-band
        log.warning("completion stream failed: %s", exc)
        yield chunk({"content": f"\n[error: {exc}]"})
    yield chunk({}, finish="stop")
    yield "data: [DONE]\n\n"
