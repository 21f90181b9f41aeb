"""The LangChain tool: a thin wrapper the agent can call and cite."""

from __future__ import annotations

import json

from whyrec.tools.causal import load_or_estimate
from whyrec.tools.causal.tool import make_behaviour_effects_tool


def _payload(text: str) -> dict:
    return json.loads(text.split("JSON: ", 1)[1])


def test_tool_returns_text_and_json_from_the_report(demo_workspace, fast_settings):
    asked = []

    def provider(segment):
        asked.append(segment)
        return load_or_estimate(demo_workspace, segment, fast_settings)

    tool = make_behaviour_effects_tool(provider)
    assert tool.name == "behaviour_effects"
    assert set(tool.args) == {"behaviour", "segment"}
    text = tool.invoke({"behaviour": "cart"})
    report = provider(None)
    payload = _payload(text)
    assert [e["behaviour"] for e in payload["effects"]] == ["cart"]
    assert payload["effects"][0]["estimate"] == report.effect("cart").estimate
    assert f"{report.effect('cart').estimate:+.3f}" in text and "refutations passed" in text

    text = tool.invoke({"segment": "category=books"})
    assert asked[-1] == "category"
    segments = {e["segment"] for e in _payload(text)["effects"]}
    assert segments == {"all", "category=books"}


def test_tool_reports_bad_arguments_instead_of_raising(demo_workspace, fast_settings):
    tool = make_behaviour_effects_tool(lambda s: load_or_estimate(demo_workspace, s, fast_settings))
    assert tool.invoke({"behaviour": "teleport"}).startswith("error: unknown behaviour")
    assert tool.invoke({"segment": "colour"}).startswith("error: unknown segment")
    assert "no segment" in tool.invoke({"segment": "category=spaceships"})
