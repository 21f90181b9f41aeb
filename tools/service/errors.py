"""The service's errors: what went wrong in words a user can act on, and its HTTP status.

Domain exceptions (unknown user or item, a store that is down, invalid events) become one of
these at the service boundary, so callers (agent tools, HTTP routes, UI, CLI) handle one family.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# No workspace at the path, or one from a newer whyrec (re-exported: callers see one family).
from ..workspace import WorkspaceError as WorkspaceError


class ServiceError(Exception):
    """A request the service cannot serve. ``str(error)`` is the message (English, for logs and
    the API); ``code`` and ``fields`` let the chat word it in the user's language."""

    status: int = 400
    code: str = "other"

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields

    def __str__(self) -> str:
        return self.message


class NotFound(ServiceError):
    status = 404


class UnknownUser(NotFound):
    """The user has no recorded behaviours in this workspace."""

    code = "unknown_user"

    def __init__(self, user_id: str) -> None:
        super().__init__(f"unknown user {user_id!r}: no behaviours recorded for this user", user_id=user_id)
        self.user_id = user_id


class UserPending(ServiceError):
    """The user's behaviours are recorded, but the served model has not learned them yet (its
    refit is due or running): not an unknown user, and not a personal answer yet."""

    status = 409
    code = "user_pending"

    def __init__(self, user_id: str) -> None:
        super().__init__(f"user {user_id!r}: behaviours are recorded but the model has not learned them yet "
                         "(it is being refitted); try again shortly", user_id=user_id)
        self.user_id = user_id


class UnknownItem(NotFound):
    """No item with this id (or title) in the catalog."""

    code = "unknown_item"

    def __init__(self, reference: str) -> None:
        super().__init__(f"no item with id or title {reference!r} in the catalog", reference=reference)
        self.reference = reference


class InvalidRequest(ServiceError):
    """Arguments that cannot be served (a bad behaviour name, a foreign event key, ...)."""

    status = 422
    code = "invalid"

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message, **{"detail": message, **fields})


@dataclass(frozen=True)
class EventProblem:
    """One invalid record of an events request."""

    record: int
    field: str
    value: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"record": self.record, "field": self.field, "value": self.value, "reason": self.reason}


class InvalidEvents(InvalidRequest):
    """New events refused as a whole (nothing was added); ``problems`` name the bad records."""

    def __init__(self, message: str, invalid: int, problems: tuple[EventProblem, ...]) -> None:
        super().__init__(message)
        self.invalid = invalid
        self.problems = problems

    def to_json(self) -> dict[str, Any]:
        return {"message": self.message, "invalid": self.invalid,
                "problems": [p.to_json() for p in self.problems]}


class Forbidden(ServiceError):
    """The caller may not do this (e.g. a user-bound key creating catalog items)."""

    status = 403

    def __init__(self, message: str, problems: tuple[EventProblem, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems

    def to_json(self) -> dict[str, Any]:
        return {"message": self.message, "problems": [p.to_json() for p in self.problems]}


class Unavailable(ServiceError):
    """A part the request needs is down (e.g. the vector store); an operator can repair it."""

    status = 503
    code = "unavailable"
