"""``whyrec serve``: the HTTP API (FastAPI) and, mounted on it, the chat UI."""

from __future__ import annotations

import ipaddress
import logging
import os
import threading

from fastapi import FastAPI

from .settings import Settings

log = logging.getLogger(__name__)


class ServeRefused(RuntimeError):
    """The server would be reachable from other machines without any API key."""


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


def create_app(settings: Settings) -> FastAPI:
    """The whole web application for ``settings`` (API routes, then the UI at /)."""
    from .api import build_api
    from .core import Agent
    from .runtime import Runtime

    runtime = Runtime(settings)
    agent = Agent(runtime)
    app = build_api(runtime, agent)
    app.state.runtime = runtime
    from whyrec.ui.app import mount_ui

    return mount_ui(app, runtime, agent)


def serve(settings: Settings) -> int:
    """Run the server until interrupted; returns the process exit code."""
    import uvicorn

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        check_bind(settings)
    except ServeRefused as exc:
        log.error("%s", exc)
        return 2
    app = create_app(settings)
    threading.Thread(target=app.state.runtime.warm_up, daemon=True, name="whyrec-warm-up").start()
    log.info("whyrec serving %s on http://%s:%d/", settings.workspace, settings.host, settings.port)
    # Keep idle connections longer than clients' own keep-alive expiry (httpx: 5 s); with equal
    # timeouts a busy server closes connections clients have just sent a request on.
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level.lower(),
                timeout_keep_alive=30)
    return 0
