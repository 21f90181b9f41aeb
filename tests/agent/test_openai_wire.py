"""`ChatOpenAI` over real HTTP against a small scripted OpenAI-compatible server on loopback:
the wire path of the openai backend, tool calls included."""

from __future__ import annotations

import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI, Request

from whyrec.agent.core import Agent
from whyrec.tools.service import WhyrecService
from whyrec.tools.settings import Settings


class ScriptedEndpoint:
    """Answers /v1/chat/completions: first a tool call, then an answer quoting the tool result."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.app = FastAPI()
        self.app.post("/v1/chat/completions")(self.complete)

    async def complete(self, request: Request) -> dict[str, Any]:
        body = await request.json()
        self.requests.append(body)
        tool_messages = [m for m in body["messages"] if m["role"] == "tool"]
        if not tool_messages:
            message = {"role": "assistant", "content": None, "tool_calls": [{
                "id": "call_1", "type": "function",
                "function": {"name": "recommend", "arguments": json.dumps({"k": 3})}}]}
            finish = "tool_calls"
        else:
            data = json.loads(tool_messages[-1]["content"].split("\n\ndata: ", 1)[1])
            message = {"role": "assistant", "content": f"My top pick for you is {data['items'][0]['title']}."}
            finish = "stop"
        return {"id": "chatcmpl-test", "object": "chat.completion", "created": int(time.time()),
                "model": body["model"], "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


@pytest.fixture(scope="module")
def endpoint():  # type: ignore[no-untyped-def]
    scripted = ScriptedEndpoint()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(scripted.app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield scripted, f"http://127.0.0.1:{port}/v1"
    server.should_exit = True
    thread.join(timeout=10)


def test_chatopenai_wire_path_with_tool_calls(endpoint, demo_workspace_template: Path) -> None:  # type: ignore[no-untyped-def]
    scripted, url = endpoint
    settings = Settings(workspace=demo_workspace_template, llm="openai", openai_base_url=url,
                        openai_api_key="test-key", openai_model="scripted-model", llm_timeout=20)
    agent = Agent(WhyrecService(settings))
    user = str(agent.service.workspace.events()["user_id"].iloc[0])
    answer = agent.chat(user, "What should I buy next?")
    assert answer.fallback is None and answer.grounded
    assert [t.name for t in answer.tool_trace] == ["recommend"]
    assert answer.recommendations[0].title in answer.text
    first, second = scripted.requests
    assert first["model"] == "scripted-model"
    names = {tool["function"]["name"] for tool in first["tools"]}
    assert names == {"recommend", "explain", "what_if", "behaviour_effects", "search_items", "search_behaviours",
                     "recent_behaviours", "popular_items"}
    for tool in first["tools"]:  # no tool lets the model choose a user
        assert "user_id" not in tool["function"]["parameters"].get("properties", {})
    assert first["messages"][0]["role"] == "system"
    assert [m["role"] for m in second["messages"]][-2:] == ["assistant", "tool"]


def test_unreachable_endpoint_falls_back_offline(demo_workspace_template: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket closes
    settings = Settings(workspace=demo_workspace_template, llm="openai",
                        openai_base_url=f"http://127.0.0.1:{port}/v1", llm_timeout=3)
    agent = Agent(WhyrecService(settings))
    user = str(agent.service.workspace.events()["user_id"].iloc[0])
    started = time.perf_counter()
    answer = agent.chat(user, "What should I buy next?")
    assert time.perf_counter() - started < 30
    assert answer.fallback == "llm_unavailable" and answer.recommendations
