"""Stand-ins for a paid remote LLM: a scripted tool-calling chat model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict

Step = Callable[[list[BaseMessage]], AIMessage]


class ScriptedModel(BaseChatModel):
    """Plays ``steps`` in order; each step sees the conversation so far."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    steps: list[Any]
    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedModel:  # type: ignore[override]
        return self

    def _generate(self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        step = self.steps[min(self.calls, len(self.steps) - 1)]
        self.calls += 1
        return ChatResult(generations=[ChatGeneration(message=step(messages))])


def call(name: str, **args: Any) -> Step:
    return lambda messages: AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": f"c-{name}"}])


def say(text: str) -> Step:
    return lambda messages: AIMessage(content=text)


def last_tool_output(messages: list[BaseMessage]) -> str:
    return next(str(m.content) for m in reversed(messages) if isinstance(m, ToolMessage))
