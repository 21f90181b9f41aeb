"""What a tool returns when it cannot answer: a typed result, not an error string."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ToolFailure:
    """A tool could not answer; ``message`` is shown to the user (and to the model)."""

    tool: str
    message: str
    status: int = 400
    code: str = "other"                     # the message catalogue's error.<code>
    fields: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"tool": self.tool, "message": self.message, "status": self.status, "code": self.code}
