"""``whyrec serve``: the HTTP API (FastAPI) and, mounted on it, the chat UI.

In front of both sits :class:`RequestGuard`: without API keys (loopback only, everyone admin) it
serves only requests addressed to a loopback name, so a web page cannot reach the server through
a name of its own rebound to 127.0.0.1 (DNS rebinding); and in every mode it refuses requests
whose ``Origin`` is another site's, so no other page — not even another ``http://localhost:*``
one — can read or change anything from a browser. Gradio's own CORS middleware, which answered
other local origins (and, on any other host name, every origin) with credentialed CORS headers,
stands down because the app configures Starlette's ``CORSMiddleware`` itself (no origin allowed).
"""

from __future__ import annotations

import ipaddress
import logging
import re
import threading
from dataclasses import replace
from urllib.parse import urlsplit

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from whyrec.tools.settings import Settings, quiet_libraries

from .auth import KeyConfigError, KeyRing
from .backends import BackendError, backend_spec

log = logging.getLogger(__name__)


class ServeRefused(RuntimeError):
    """The server must not start (no keys on a public address, or a malformed key entry)."""


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


#: A Host header: a name or IPv4 address, or a bracketed IPv6 address; then an optional port.
_HOST = re.compile(r"(?:\[(?P<ip6>[0-9A-Fa-f:.]+)\]|(?P<name>[^\[\]:/@\s]+))(?::(?P<port>[0-9]{1,5}))?")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def split_host(value: str) -> tuple[str, int | None] | None:
    """``(host, port)`` of a Host header value, lower case and without an IPv6 address's brackets;
    ``None`` for a malformed value.

    >>> split_host("[::1]:7860"), split_host("LocalHost"), split_host("localhost:x")
    (('::1', 7860), ('localhost', None), None)
    """
    found = _HOST.fullmatch(value)
    if found is None:
        return None
    port = found["port"]
    return (found["ip6"] or found["name"]).lower(), int(port) if port else None


def same_origin(origin: str, host: str | None, scheme: str) -> bool:
    """Whether a request's ``Origin`` is the origin it was sent to (``scheme``, ``Host`` header).

    >>> same_origin("http://127.0.0.1:7860", "127.0.0.1:7860", "http")
    True
    >>> same_origin("http://localhost:5173", "localhost:7860", "http"), same_origin("null", "localhost", "http")
    (False, False)
    """
    own = split_host(host) if host else None
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError:
        return False
    if own is None or parts.scheme not in _DEFAULT_PORTS or scheme not in _DEFAULT_PORTS:
        return False
    return (parts.scheme == scheme and parts.hostname == own[0]
            and (port or _DEFAULT_PORTS[scheme]) == (own[1] or _DEFAULT_PORTS[scheme]))


class RequestGuard:
    """ASGI middleware in front of the API and the UI: who may address the server, and from where.

    ``loopback_only`` (no API keys): a Host that is not localhost or a loopback address gets 421
    — a page on attacker.example whose name was rebound to 127.0.0.1 is refused. (A request with
    no Host at all cannot come from a browser and is served.) In every mode a request whose
    ``Origin`` is not the server's own gets 403: browsers send ``Origin`` on every cross-origin
    fetch and form post, so another site's page can neither read nor change anything; clients
    that are not browsers send no ``Origin`` and are unaffected.
    """

    def __init__(self, app: ASGIApp, loopback_only: bool, port: int) -> None:
        self.app = app
        self.loopback_only = loopback_only
        self.port = port

    def refusal(self, scope: Scope) -> tuple[int, str] | None:
        """``(status, reason)`` when the request must be refused, else ``None``."""
        headers = Headers(scope=scope)
        host = headers.get("host")
        if self.loopback_only and host is not None:
            parts = split_host(host)
            if parts is None or not is_loopback(parts[0]):
                return 421, (f"Host {host!r} is not served here: with no API keys whyrec answers only requests "
                             "addressed to localhost, 127.0.0.1 or [::1], so that a web page cannot reach it "
                             "under a name of its own (DNS rebinding). Open "
                             f"http://127.0.0.1:{self.port}/, or set WHYREC_API_KEYS to serve other names.")
        origin = headers.get("origin")
        scheme = str(scope.get("scheme", "http"))
        scheme = {"ws": "http", "wss": "https"}.get(scheme, scheme)
        if origin is not None and not same_origin(origin, host, scheme):
            return 403, (f"cross-origin request refused: Origin {origin!r} is not this server's own origin "
                         f"({scheme}://{host}). whyrec's API and UI answer their own pages only; call the API "
                         "from a program (no Origin header) or open the UI at this server's address.")
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refused = self.refusal(scope)
        if refused is None:
            await self.app(scope, receive, send)
            return
        status, reason = refused
        log.warning("refused %s %s: %s", scope.get("method", "WEBSOCKET"), scope["path"], reason)
        if scope["type"] == "websocket":
            # (a close reason may hold at most 123 bytes: the log has the whole of it)
            await WebSocketClose(code=1008, reason="refused: Host or Origin is not this server's")(scope, receive, send)
            return
        from .api import error_body

        await JSONResponse(error_body(scope["path"], status, reason), status_code=status)(scope, receive, send)


def check_bind(settings: Settings) -> None:
    """Refuse to listen beyond loopback unless API keys are configured."""
    if not settings.api_keys and not is_loopback(settings.host):
        raise ServeRefused(
            f"refusing to listen on {settings.host} with no API keys: anyone on the network could "
            "read every user's data. Set WHYREC_API_KEYS (key or key:user_id, comma-separated) or "
            "listen on 127.0.0.1.")


def forwarded_allow_ips(settings: Settings) -> list[str]:
    """The reverse proxies whose ``X-Forwarded-For`` / ``X-Forwarded-Proto`` uvicorn believes
    (``WHYREC_TRUSTED_PROXIES``; none by default: a client could otherwise choose its address
    and dodge the failed-key brake). Each entry must be an IP address or network: uvicorn compares
    the connecting address with them, so a host name or ``*`` would never match or match anyone."""
    for entry in settings.trusted_proxies:
        try:
            if "/" in entry:
                ipaddress.ip_network(entry)
            else:
                ipaddress.ip_address(entry)
        except ValueError as exc:
            raise ServeRefused(f"WHYREC_TRUSTED_PROXIES entry {entry!r} is not an IP address or network "
                               f"({exc}); write the proxy's address (172.30.50.10) or its network "
                               "(10.0.0.0/8). The server did not start.") from exc
    return list(settings.trusted_proxies)


def parse_keys(settings: Settings) -> KeyRing:
    """The key ring of ``settings``; a malformed entry refuses the start, naming it."""
    try:
        return KeyRing.parse(settings.api_keys)
    except KeyConfigError as exc:
        raise ServeRefused(f"{exc}. Fix WHYREC_API_KEYS; the server did not start.") from exc


def create_app(settings: Settings) -> FastAPI:
    """The whole web application for ``settings`` (API routes, then the UI at /).

    The API keys are parsed into digests here; the settings the app keeps hold no clear keys.
    """
    from whyrec.tools.service import WhyrecService

    from .api import build_api
    from .core import Agent

    quiet_libraries()
    keys = parse_keys(settings)
    settings = replace(settings, api_keys=())
    from .session import shared_sessions

    try:
        shared = shared_sessions(settings)
        if shared is not None:
            shared.check()   # a database that cannot be reached stops the start, not the first chat
            shared.close()
    except (ValueError, RuntimeError) as exc:
        raise ServeRefused(f"{exc}; the server did not start.") from exc
    if settings.sessions != "memory" and not settings.chroma_url:
        log.warning("chat sessions are shared (WHYREC_SESSIONS=%s) but the vector store is embedded: "
                    "replicas cannot share an embedded store (one does not see the other's writes). "
                    "Run a Chroma server and set WHYREC_CHROMA_URL (docs/deploy.md).", settings.sessions)
    try:
        spec = backend_spec(settings)
    except BackendError as exc:
        raise ServeRefused(f"{exc}; the server did not start.") from exc
    service = WhyrecService(settings)
    agent = Agent(service, spec=spec)
    from .auth import FailureBrake

    brake = FailureBrake()   # wrong keys at the API and at the page's login count together
    app = build_api(service, agent, keys, brake=brake)
    app.state.service = service
    app.state.agent = agent
    from whyrec.ui.app import mount_ui

    app = mount_ui(app, service, agent, keys, brake=brake)
    # Same-origin only: with a CORSMiddleware of the app's own, Gradio adds no CORS headers of its
    # own (gradio.route_utils.CustomCORSMiddleware.parent_configures_cors).
    app.add_middleware(CORSMiddleware, allow_origins=[])
    app.add_middleware(RequestGuard, loopback_only=not keys.enabled, port=settings.port)  # outermost
    return app


def serve(settings: Settings) -> int:
    """Run the server until interrupted; returns the process exit code."""
    import uvicorn

    try:
        check_bind(settings)
        proxies = forwarded_allow_ips(settings)
        app = create_app(settings)
    except ServeRefused as exc:
        log.error("%s", exc)
        return 2
    threading.Thread(target=app.state.agent.warm_up, kwargs={"segments": True}, daemon=True,
                     name="whyrec-warm-up").start()
    log.info("whyrec serving %s on http://%s:%d/", settings.workspace, settings.host, settings.port)
    if proxies:
        log.info("client addresses from X-Forwarded-For when the connection comes from %s", ", ".join(proxies))
    # Keep idle connections longer than clients' own keep-alive expiry (httpx: 5 s); with equal
    # timeouts a busy server closes connections clients have just sent a request on.
    # Forwarded headers only from WHYREC_TRUSTED_PROXIES (uvicorn's own default trusts 127.0.0.1).
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level.lower(),
                timeout_keep_alive=30, proxy_headers=bool(proxies), forwarded_allow_ips=proxies)
    return 0
