"""A browser session's state, kept in the browser (``gr.BrowserState``) so a reload loses nothing.

The state is plain JSON: the current user, the language, and per user their chat, cards,
explanation and what-if (the current user's in :class:`UIState` itself, the others' in
``saved``, the most recent :data:`SAVED_USERS` kept). It comes back from the browser, so
:meth:`UIState.from_json` trusts nothing: anything malformed gives a fresh state, and the user id
is checked again by the callbacks before anything is shown.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field, fields
from typing import Any

VERSION = 1
SAVED_USERS = 8          # other users' chats kept in the browser
MAX_MESSAGES = 80        # chat messages kept per user

#: The parts of the state that belong to one user's conversation.
PER_USER = ("session_id", "messages", "recommendations", "explanation", "what_if", "focus", "fallback")


@dataclass
class UIState:
    """One browser session: who is chatting, in which language, and what the panels show."""

    user_id: str | None = None
    language: str = "en"
    session_id: str | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)          # Chatbot messages (escaped text)
    recommendations: list[dict[str, Any]] = field(default_factory=list)   # RecommendedItem.to_json() + reason_text
    explanation: dict[str, Any] | None = None                             # Explanation.to_json() + text
    what_if: dict[str, Any] | None = None                                 # WhatIfResult.to_json() + text
    whatif_keys: list[str] = field(default_factory=list)                  # event keys offered in the control
    fallback: str | None = None                                           # of the last answer
    focus: str | None = None          # the panel the last answer filled: "explain", "whatif" or None
    saved: dict[str, dict[str, Any]] = field(default_factory=dict)        # other users' conversations
    #: Set by the server for a session bound to one shopper's login (never read from the browser):
    #: such a page shows that shopper's own figures, not the shop's.
    bound: bool = False

    # -- to and from the browser ---------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        """The state for the browser (trimmed to the last messages and the most recent users)."""
        trimmed = copy.deepcopy(self)
        trimmed.trim()
        return {"v": VERSION, **{k: v for k, v in asdict(trimmed).items() if k != "bound"}}

    @classmethod
    def from_json(cls, data: Any) -> UIState:
        """The state the browser sent back; a fresh state if it is missing or malformed."""
        if isinstance(data, UIState):
            return copy.deepcopy(data)
        if not isinstance(data, dict) or data.get("v") != VERSION:
            return cls()
        try:
            state = cls(**{f.name: copy.deepcopy(data[f.name]) for f in fields(cls)
                           if f.name in data and f.name != "bound"})
        except TypeError:
            return cls()
        if not _valid(state):
            return cls()
        return state

    # -- per-user conversations ----------------------------------------------------------------
    def conversation(self) -> dict[str, Any]:
        return {name: copy.deepcopy(getattr(self, name)) for name in PER_USER}

    def switch_to(self, user_id: str | None) -> UIState:
        """A copy of this state on ``user_id``: the current conversation is saved under its user,
        and ``user_id``'s own conversation (if kept) comes back."""
        new = copy.deepcopy(self)
        if new.user_id == user_id:
            return new
        if new.user_id and (new.messages or new.recommendations):
            new.saved[new.user_id] = new.conversation()
        restored = new.saved.pop(user_id, None) if user_id else None
        for name in PER_USER:
            setattr(new, name, copy.deepcopy(getattr(UIState(), name)))
        if isinstance(restored, dict):
            candidate = UIState(**{name: restored[name] for name in PER_USER if name in restored})
            if _valid(candidate):
                for name in PER_USER:
                    setattr(new, name, getattr(candidate, name))
                # a reply still on its way when the user was switched away is gone
                new.messages = [m for m in new.messages if (m.get("metadata") or {}).get("status") != "pending"]
        new.user_id = user_id
        new.whatif_keys = []
        new.trim()
        return new

    def only(self, user_id: str | None) -> UIState:
        """This state with no other user's conversation (a session bound to one user)."""
        new = copy.deepcopy(self)
        new.saved = {k: v for k, v in new.saved.items() if k == user_id}
        return new

    def bound_to(self, user_id: str | None) -> UIState:
        """This state as a session that may see only ``user_id`` may hold it (``None``: any user):
        no other user's conversation, current or saved, and the session on ``user_id``."""
        if user_id is None:
            new = copy.deepcopy(self)
            new.bound = False
            return new
        new = self.only(user_id)
        if new.user_id != user_id:  # another user's conversation is not kept in this session
            new = UIState(language=new.language, saved=new.saved).switch_to(user_id)
        new.bound = True
        return new

    def trim(self) -> None:
        """Keep the browser's copy small: the last messages, the most recent users."""
        self.messages = self.messages[-MAX_MESSAGES:]
        while len(self.saved) > SAVED_USERS:
            self.saved.pop(next(iter(self.saved)))
        for conversation in self.saved.values():
            conversation["messages"] = list(conversation.get("messages") or [])[-MAX_MESSAGES:]


def _valid(state: UIState) -> bool:
    text_or_none = (state.user_id, state.session_id, state.fallback, state.focus)
    return (all(v is None or isinstance(v, str) for v in text_or_none)
            and state.language in ("en", "zh")
            and isinstance(state.messages, list) and all(_message(m) for m in state.messages)
            and isinstance(state.recommendations, list) and all(isinstance(r, dict) for r in state.recommendations)
            and (state.explanation is None or isinstance(state.explanation, dict))
            and (state.what_if is None or isinstance(state.what_if, dict))
            and isinstance(state.whatif_keys, list) and all(isinstance(k, str) for k in state.whatif_keys)
            and isinstance(state.saved, dict)
            and all(isinstance(k, str) and isinstance(v, dict) for k, v in state.saved.items()))


def _message(message: Any) -> bool:
    return (isinstance(message, dict) and message.get("role") in ("user", "assistant")
            and isinstance(message.get("content"), str))
