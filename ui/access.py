"""Who a page session is and what it may see: the login, the brake in front of it, and the one
place every event's browser state is checked against the login.

With ``WHYREC_API_KEYS`` set the page asks for a login whose password is an API key (Gradio's
``auth`` callable, :func:`login_check`). Gradio keeps only the login *name* for the session
(``gr.Request.username``), so the name must say everything: :data:`ADMIN_LOGIN` is reserved for
admin keys, so a session of that name was opened with an admin key; every other name is a user
id and the session sees only that user (:func:`bound_user`). A key bound to a shopper whose id is
literally ``admin`` therefore cannot log in to the page (it still works on the HTTP API).

The state comes back from the browser with every event, so it is never trusted:
:func:`session_state` turns (state, request) into the state this login may act on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from whyrec.agent.auth import FailureBrake, KeyRing

from .state import UIState

log = logging.getLogger(__name__)

ADMIN_LOGIN = "admin"
LOGIN_PATHS = ("/login", "/login/")   # Gradio's login route, where the page is mounted at /
#: Gradio's routes that take files (uploads, and a recording it converts). The page has no file or
#: media input, so nothing may be written through them.
UPLOAD_PATHS = ("/gradio_api/upload", "/gradio_api/upload/", "/gradio_api/upload_progress",
                "/gradio_api/process_recording", "/gradio_api/process_recording/")
#: Gradio's route for components' server functions: none of this page's components has one, and
#: Gradio reads a whole multipart body (large parts spooled to disk) before it looks for the function.
UNUSED_PATHS = ("/gradio_api/component_server", "/gradio_api/component_server/")


def login_check(ring: KeyRing) -> Callable[[str, str], bool]:
    """Gradio's auth callable when ``WHYREC_API_KEYS`` is set: the password is an API key.

    A key bound to a user (``key:user_id``) logs in as that user id and sees only that user;
    an admin key logs in as ``admin`` (sees everyone) or as any user id (sees only that one).
    Only an admin key may use the name ``admin``: Gradio remembers the name, not the key.
    """

    def check(username: str, password: str) -> bool:
        principal = ring.principal(password)
        if principal is None or not username:
            return False
        if principal.admin:
            return True
        if username == ADMIN_LOGIN:
            log.warning("a key bound to user %r was refused at the page's login as %r: that name is "
                        "reserved for admin keys (the key still works on the HTTP API)", principal.user_id,
                        ADMIN_LOGIN)
            return False
        return username == principal.user_id

    return check


def bound_user(request: Any, login_required: bool = False) -> str | None:
    """The one user a page session may see (``None``: any user — an admin, or no keys set).

    ``request`` is the event's ``gr.Request``. With ``login_required``, a request without a login
    name sees nobody (raises :class:`PermissionError`; Gradio refuses such requests first).
    """
    name = getattr(request, "username", None) if request is not None else None
    if not name:
        if login_required:
            raise PermissionError("this page needs a login")
        return None
    return None if name == ADMIN_LOGIN else str(name)


def session_state(raw: Any, request: Any, login_required: bool = False) -> UIState:
    """The browser's state as this login may act on it: for a session bound to one user, that
    user's, whatever user the browser sent (another user's conversation is dropped, never used)."""
    state = UIState.from_json(raw)
    allowed = bound_user(request, login_required)
    if allowed is not None and state.user_id not in (None, allowed):
        log.info("a page bound to %r sent a state for another user; it was replaced", allowed)
    return state.bound_to(allowed)


class LoginBrake:
    """ASGI middleware: the page's login under the same brake as the API's keys (after
    ``brake.limit`` wrong keys from one client address within its window, every login from there
    is refused with 429, the right key included, until the window has passed).

    It sits in front of Gradio's ``/login`` because Gradio's auth callable is given only the name
    and password, not who is asking; keyed by the client address as the API's brake is (a brake
    keyed by login name would let anyone lock a shopper out).
    """

    def __init__(self, app: ASGIApp, brake: FailureBrake) -> None:
        self.app = app
        self.brake = brake

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST" or _route(scope) not in LOGIN_PATHS:
            await self.app(scope, receive, send)
            return
        client = scope["client"][0] if scope.get("client") else "unknown"
        wait = self.brake.retry_after(client)
        if wait > 0:
            refused = JSONResponse({"detail": "too many failed logins; try again later"}, status_code=429,
                                   headers={"Retry-After": str(int(wait) + 1)})
            await refused(scope, receive, send)
            return

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 400:  # wrong name or key
                self.brake.failed(client)
            await send(message)

        await self.app(scope, receive, watch)


class NoUploads:
    """ASGI middleware: Gradio's upload routes, and its component-server route, answer 404.
    Before, any logged-in user (anyone on the machine, without keys) could store files of up to
    Gradio's size limit, as many as they liked, in the server's temporary folder — disk for
    nothing the page uses (the component server read a whole multipart body before answering
    "Function not found")."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = _route(scope) if scope["type"] == "http" else ""
        if route in UPLOAD_PATHS or route in UNUSED_PATHS:
            detail = "this page takes no files" if route in UPLOAD_PATHS else "this page does not use this route"
            await JSONResponse({"detail": detail}, status_code=404)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _route(scope: Scope) -> str:
    path = str(scope.get("path", ""))
    root = str(scope.get("root_path", ""))
    return path[len(root):] if root and path.startswith(root) else path
