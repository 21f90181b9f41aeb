"""``whyrec serve``: the HTTP API (FastAPI) and, mounted on it, the chat UI."""

from __future__ import annotations

import ipaddress
import logging
import threading
from dataclasses import replace

from fastapi import FastAPI

from whyrec.tools.settings import Settings, quiet_libraries

from .auth import KeyConfigError, KeyRing
from .backends import BackendError, backend_spec

log = logging.getLogger(__name__)


class ServeRefused(RuntimeError):
    """The server must not start (no keys on a public address, or a malformed key entry)."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_bind(settings: Settings) -> None:
    """Refuse to listen beyond loopback unless API keys are configured."""
    if not settings.api_keys and not is_loopback(settings.host):
        raise ServeRefused(
            f"refusing to listen on {settings.host} with no API keys: anyone on the network could "
            "read every user's data. Set WHYREC_API_KEYS (key or key:user_id, comma-separated) or "
            "listen on 127.0.0.1.")


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
    app = build_api(service, agent, keys)
    app.state.service = service
    app.state.agent = agent
    from whyrec.ui.app import mount_ui

    return mount_ui(app, service, agent, keys)


def serve(settings: Settings) -> int:
    """Run the server until interrupted; returns the process exit code."""
    import uvicorn

    try:
        check_bind(settings)
        app = create_app(settings)
    except ServeRefused as exc:
        log.error("%s", exc)
        return 2
    threading.Thread(target=app.state.agent.warm_up, kwargs={"segments": True}, daemon=True,
                     name="whyrec-warm-up").start()
    log.info("whyrec serving %s on http://%s:%d/", settings.workspace, settings.host, settings.port)
    # Keep idle connections longer than clients' own keep-alive expiry (httpx: 5 s); with equal
    # timeouts a busy server closes connections clients have just sent a request on.
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level.lower(),
                timeout_keep_alive=30)
    return 0
