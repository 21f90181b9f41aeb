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

import json
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any, Literal

from fastapi import Depends, FastAPI, Header, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from whyrec.tools.service import Forbidden, InvalidEvents, ServiceError, UnknownUser, WhyrecService, WorkspaceError

from .auth import FailureBrake, KeyRing, Principal
from .core import Agent, AgentError
from .render import card_reason, headline_text, render

log = logging.getLogger(__name__)

ID = Field(min_length=1, max_length=256)
#: The exclusion policies a list may be asked for (the ranking's POLICIES; a test keeps them equal).
Exclusion = Literal["none", "purchased", "seen"]
EXCLUDE_HELP = ("which of the user's own items the list leaves out: none, purchased or seen "
                "(default: the policy learned on this shop's validation split; seen before any tuning)")


def path_id() -> Any:
    """A user or item id in the path (a fresh Path per parameter: FastAPI must not share one)."""
    return Path(min_length=1, max_length=256)


def _text(value: Any) -> Any:
    """Refuse text that cannot be UTF-8 (lone surrogates from JSON escapes such as \\ud800)."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError("text holds characters that are not valid Unicode (lone surrogates)") from exc
    elif isinstance(value, list):
        for part in value:
            if isinstance(part, dict):
                for v in part.values():
                    _text(v)
            else:
                _text(part)
    return value


# -- request bodies ------------------------------------------------------------------------------
class _Text(BaseModel):
    """Every text field must be valid Unicode (a 422 naming the field, never a 500 later)."""

    @field_validator("*", mode="after")
    @classmethod
    def _valid_unicode(cls, value: Any) -> Any:
        return _text(value)


class _Strict(_Text):
    model_config = ConfigDict(extra="forbid")


class ChatRequest(_Strict):
    user_id: str = ID
    message: str = Field(min_length=1, max_length=100_000, description="at most the server's max_message_chars")
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
    events: list[EventIn] = Field(min_length=1, description="at most the server's max_events_per_request")


class OpenAIMessage(_Text):
    model_config = ConfigDict(extra="allow")
    role: str = Field(max_length=32)
    content: str | list[Any] | None = None


class ChatCompletionRequest(_Text):
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
STREAMABLE: dict[int | str, dict[str, Any]] = {200: {"description": "JSON, or server-sent events when `stream` is true",
                    "content": {"application/json": {}, "text/event-stream": {}}}}


# -- the app -------------------------------------------------------------------------------------
def build_api(service: WhyrecService, agent: Agent, keys: KeyRing | None = None,
              brake: FailureBrake | None = None) -> FastAPI:
    """The HTTP API over ``service`` and ``agent``; ``keys`` default to the settings' keys."""
    settings = service.settings
    keys = keys if keys is not None else KeyRing.parse(settings.api_keys)
    brake = brake or FailureBrake()
    app = FastAPI(title="whyrec", version="0.1.0", responses=ERRORS,
                  description="Recommendations that explain themselves by your own behaviours.")

    @app.middleware("http")
    async def pick_up_new_data(request: Request, call_next: Any) -> Any:
        """Re-read the workspace's data version when its manifest changed (one ``stat`` otherwise):
        another process (an offline job, another replica) may have committed; the next model read
        starts a refit, or, after a forget elsewhere, a rebuild before anything old answers."""
        try:
            await run_in_threadpool(service.refresh)
        except WorkspaceError:  # /health reports it; routes answer with their own error
            pass
        return await call_next(request)

    @app.middleware("http")
    async def limit_body(request: Request, call_next: Any) -> Any:
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

    @app.exception_handler(ServiceError)
    async def refused(request: Request, exc: ServiceError) -> JSONResponse:
        if exc.status >= 500:
            log.error("%s %s: %s", request.method, request.url.path, exc)
        detail = exc.to_json() if isinstance(exc, (InvalidEvents, Forbidden)) else str(exc)
        body: dict[str, Any] = {"detail": detail}
        return JSONResponse(body, status_code=exc.status)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse({"detail": "internal error; the server logged it"}, status_code=500)

    def principal(request: Request, authorization: str | None = Header(default=None),
                  x_api_key: str | None = Header(default=None)) -> Principal:
        if not keys.enabled:
            return Principal(None, admin=True)
        client = request.client.host if request.client else "unknown"
        wait = brake.retry_after(client)
        if wait > 0:
            raise HTTPException(429, "too many failed attempts with API keys; try again later",
                                headers={"Retry-After": str(int(wait) + 1)})
        presented = x_api_key
        if authorization and authorization.lower().startswith("bearer "):
            presented = authorization[7:].strip()
        found = keys.principal(presented)
        if found is None:
            brake.failed(client)
            raise HTTPException(401, "missing or unknown API key" if presented else "an API key is required",
                                headers={"WWW-Authenticate": "Bearer"})
        return found

    def allowed(who: Principal, user_id: str) -> None:
        if not who.may_access(user_id):
            raise HTTPException(403, "this API key may only access its own user")

    def known_user(user_id: str) -> None:
        service.require_user(user_id)

    @app.get("/health", tags=["meta"])
    def health() -> dict[str, Any]:
        """Liveness, the data version committed and the one served, and the LLM backend."""
        try:
            status = service.status()
        except WorkspaceError:
            return {"status": "degraded", "error": "the workspace cannot be opened; see the server log"}
        return {"status": "ok", "backend": agent.backend_name, **status.to_json()}

    @app.get("/v1/stats", tags=["meta"])
    def stats(who: Principal = Depends(principal)) -> dict[str, Any]:
        """What the workspace holds; a key bound to one user sees only that user's figures."""
        if not who.admin and who.user_id is not None:
            return service.user_stats(who.user_id).to_json()
        data = service.stats().to_json()
        data.pop("path", None)  # where the data lives on the server is not the caller's business
        return data

    @app.post("/v1/chat", tags=["chat"], responses=STREAMABLE)
    def chat(body: ChatRequest, who: Principal = Depends(principal)) -> Any:
        """One chat turn; with ``stream`` the reply comes as server-sent events."""
        allowed(who, body.user_id)   # an id with no events is answered too (not personally)
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
                        exclude: Exclusion | None = Query(None, description=EXCLUDE_HELP),
                        language: Literal["en", "zh"] = "en",
                        who: Principal = Depends(principal)) -> dict[str, Any]:
        """Top ``k`` items for the user, each with its verified reason (``reason``, in ``language``)
        and the behaviours behind its score in the model (``reasons``); ``exclusion`` says which of
        the user's own items the list leaves out."""
        allowed(who, user_id)
        known_user(user_id)
        result = service.recommend(user_id, k=k, category=category, query=query, exclude=exclude)
        data = result.to_json()
        for item, row in zip(result.items, data["items"], strict=True):
            row["reason"] = card_reason(item.headline, language)
        return data

    @app.get("/v1/users/{user_id}/explanations/{item_id}", tags=["explain"])
    def explanation(user_id: str = path_id(), item_id: str = path_id(), k: int = Query(10, ge=1, le=100),
                    exclude: Exclusion | None = Query(None, description=EXCLUDE_HELP),
                    language: Literal["en", "zh"] = "en",
                    who: Principal = Depends(principal)) -> dict[str, Any]:
        """Why the item is (or is not) in the user's top ``k``: the verified reason first
        (``headline``), then the model's contributions, then causal statements about this item."""
        allowed(who, user_id)
        known_user(user_id)
        service.item(item_id)  # 404 for an unknown item
        result = service.explain(user_id, item_id, k=k, exclude=exclude)
        data = result.to_json()
        data["headline"]["text"] = headline_text(result, language)
        for statement, said in zip(result.causal, data.get("causal") or [], strict=False):
            said["statement"] = statement.texts.get(language) or statement.estimand
        data["text"] = render(result, language)
        return data

    @app.post("/v1/users/{user_id}/what-if", tags=["explain"])
    def what_if(body: WhatIfRequest, user_id: str = path_id(), who: Principal = Depends(principal)) -> dict[str, Any]:
        """Re-rank with behaviours removed or added; returns old and new top-k and the moves."""
        allowed(who, user_id)
        known_user(user_id)
        for ref in body.remove + body.add:
            try:
                service.item(ref.item_id)
            except ServiceError as exc:
                raise HTTPException(422, str(exc)) from exc
        try:
            remove = [int(k) for k in body.remove_events]
        except ValueError as exc:
            raise HTTPException(422, "remove_events must be event keys (digits)") from exc
        return service.what_if(user_id, remove=remove,
                               remove_items=[(r.item_id, r.behaviour) for r in body.remove],
                               add=[(a.item_id, a.behaviour) for a in body.add], k=body.k).to_json()

    @app.get("/v1/effects", tags=["causal"])
    def effects(behaviour: str | None = Query(None, max_length=32),
                segment: Literal["category", "brand", "price_band", "activity"] | None = None,
                who: Principal = Depends(principal)) -> dict[str, Any]:
        """Causal effects of behaviours on purchase (DoWhy), with estimands, intervals and verdicts."""
        return service.effects(behaviour, segment).to_json()

    @app.post("/v1/events", tags=["data"])
    def post_events(body: EventsRequest, who: Principal = Depends(principal)) -> dict[str, Any]:
        """Add behaviours (all or nothing); they shape the user's next recommendations. Only an
        admin key may add events on items the catalog does not hold yet."""
        if len(body.events) > settings.max_events_per_request:
            raise HTTPException(422, f"at most {settings.max_events_per_request} events per request; "
                                     f"got {len(body.events)}")
        for event in body.events:
            allowed(who, event.user_id)
        records = [e.model_dump() for e in body.events]
        for record in records:
            record["timestamp"] = str(record["timestamp"])
        return service.add_events(records, allow_new_items=who.admin).to_json()

    @app.delete("/v1/users/{user_id}", tags=["data"])
    def forget(user_id: str = path_id(), who: Principal = Depends(principal)) -> dict[str, Any]:
        """Forget the user: events, vector-store documents, derived artefacts, chat sessions."""
        allowed(who, user_id)
        # A shopper with no events may still have chatted (answered with what most shoppers
        # bought): their sessions go too, and only someone found nowhere is a 404.
        result = service.forget(user_id, missing_ok=True)
        sessions = agent.sessions.forget_user(user_id)
        if not result.found and not sessions:
            raise UnknownUser(user_id)
        return result.to_json() | {"sessions_removed": sessions}

    @app.post("/v1/chat/completions", tags=["openai-compatible"], responses=OPENAI_RESPONSES)
    def chat_completions(body: ChatCompletionRequest, who: Principal = Depends(principal)) -> Any:
        """OpenAI-compatible chat: model ``whyrec``; the user id comes from ``user`` (or the key).

        Stateless: the request's ``messages`` are the conversation, so "why the first one?" is
        answered against the list in the last assistant message that showed one. Errors come in
        OpenAI's shape (``{"error": {"message", "type", "param", "code"}}``). ``usage`` counts the
        tokens an LLM backend reported for the turn; with no LLM (nothing was tokenised) it is left out.
        """
        user_id = body.user or who.user_id
        if not user_id:
            raise OpenAIError(400, "set `user` to the id of the shopper to answer for", param="user",
                              code="missing_user")
        allowed(who, user_id)
        messages = [(m.role, _content_text(m.content)) for m in body.messages]
        if not any(role == "user" and text.strip() for role, text in messages):
            raise OpenAIError(400, "no user message with text content", param="messages", code="no_user_message")
        if body.stream:
            return StreamingResponse(_openai_sse(agent, user_id, messages), media_type="text/event-stream")
        try:
            answer = agent.chat_messages(user_id, messages)
        except AgentError as exc:
            raise OpenAIError(exc.status, str(exc), param="messages") from exc
        completion: dict[str, Any] = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion",
            "created": int(time.time()), "model": "whyrec",
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                         "message": {"role": "assistant", "content": answer.text}}],
            "whyrec": answer.to_json(),
        }
        if answer.usage is not None:
            completion["usage"] = answer.usage
        return completion

    @app.middleware("http")
    async def openai_errors(request: Request, call_next: Any) -> Any:
        """Errors of the OpenAI-compatible endpoint in OpenAI's error shape (clients print its message)."""
        response = await call_next(request)
        if request.url.path != OPENAI_PATH or response.status_code < 400:
            return response
        raw = b"".join([chunk async for chunk in response.body_iterator])
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {"detail": raw.decode("utf-8", "replace")}
        if "error" not in body:
            body = {"error": _openai_error(response.status_code, body)}
        headers = {k: v for k, v in response.headers.items() if k.lower() not in ("content-length", "content-type")}
        return JSONResponse(body, status_code=response.status_code, headers=headers)

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
    except (AgentError, ServiceError) as exc:
        yield f"event: error\ndata: {json.dumps({'detail': str(exc)})}\n\n"
    except Exception:
        log.exception("chat stream failed")
        yield f"event: error\ndata: {json.dumps({'detail': 'internal error; the server logged it'})}\n\n"


def _openai_sse(agent: Agent, user_id: str, messages: list[tuple[str, str]]) -> Iterator[str]:
    completion_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())

    def chunk(delta: dict[str, Any], finish: str | None = None) -> str:
        payload = {"id": completion_id, "object": "chat.completion.chunk", "created": created,
                   "model": "whyrec", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    try:
        for event in agent.stream_messages(user_id, messages):
            if event["type"] == "delta":
                yield chunk({"content": event["text"]})
    except Exception as exc:  # the stream already started: report in-band, in OpenAI's error shape
        log.warning("completion stream failed: %s", exc)
        status = exc.status if isinstance(exc, (AgentError, ServiceError)) else 500
        detail = str(exc) if isinstance(exc, (AgentError, ServiceError)) else "internal error; the server logged it"
        yield f"data: {json.dumps({'error': _openai_error(status, {'detail': detail})})}\n\n"
        yield "data: [DONE]\n\n"
        return
    yield chunk({}, finish="stop")
    yield "data: [DONE]\n\n"


class OpenAIError(HTTPException):
    """An error of the OpenAI-compatible endpoint, with OpenAI's ``param`` and ``code``."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(status, {"message": message, "param": param, "code": code})


OPENAI_PATH = "/v1/chat/completions"
_OPENAI_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                 404: "not_found_error", 413: "invalid_request_error", 422: "invalid_request_error",
                 429: "rate_limit_error"}


def error_body(path: str, status: int, detail: str) -> dict[str, Any]:
    """An error's body for a request to ``path``: ``{"detail": ...}``, or OpenAI's error shape on
    the OpenAI-compatible endpoint (for refusals made before the API's own routes are reached)."""
    if path == OPENAI_PATH:
        return {"error": _openai_error(status, {"detail": detail})}
    return {"detail": detail}


def _openai_error(status: int, body: dict[str, Any]) -> dict[str, Any]:
    """``{"message", "type", "param", "code"}`` from one of the API's error bodies."""
    detail = body.get("detail")
    param = code = None
    if isinstance(detail, dict):
        message = str(detail.get("message") or detail)
        param, code = detail.get("param"), detail.get("code")
    else:
        message = str(detail or "error")
    problems = body.get("problems") or []
    if problems:
        first = problems[0]
        param = param or str(first.get("field", "")).removeprefix("body.") or None
        message = f"{message}: " + "; ".join(f"{p.get('field', '').removeprefix('body.')}: {p.get('problem')}"
                                              for p in problems[:5])
    kind = _OPENAI_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    if code is None:
        code = {401: "invalid_api_key", 404: "not_found", 413: "request_too_large", 422: "invalid_request",
                429: "rate_limited"}.get(status, "server_error" if status >= 500 else None)
    return {"message": message, "type": kind, "param": param, "code": code}


class _OpenAIErrorBody(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIErrorResponse(BaseModel):
    """The OpenAI-compatible endpoint's errors (OpenAI's shape)."""

    error: _OpenAIErrorBody


OPENAI_RESPONSES: dict[int | str, dict[str, Any]] = {
    **STREAMABLE,
    **{status: {"model": OpenAIErrorResponse, "description": text} for status, text in (
        (400, "Bad request (no `user`, no user message)"), (401, "Missing or unknown API key"),
        (403, "This API key may only access its own user"),
        (413, "Request body too large"), (422, "Invalid request"))}}
