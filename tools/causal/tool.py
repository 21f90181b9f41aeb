"""LangChain wrapper: ``behaviour_effects(behaviour=None, segment=None)`` for the agent.

A thin layer over :class:`InfluenceReport`: it asks a report provider (so the agent never
estimates by itself), filters, and returns a readable table plus JSON the agent can cite.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from pydantic import BaseModel, Field

from .results import POPULATION, InfluenceReport
from .segments import SegmentSpec

#: Given a segment dimension (or None for the population only), return a report.
ReportProvider = Callable[[str | None], InfluenceReport]

DESCRIPTION = (
    "Causal effect of a user's behaviours (view again, favourite, cart) on the chance of "
    "purchase, with 95% intervals, the naive (confounded) difference and refutation status. "
    "Optional: behaviour ('view', 'favourite' or 'cart'); segment ('category', 'brand', "
    "'price_band', 'activity', or one value such as 'category=books'). Cite these numbers; "
    "never invent effects."
)


class BehaviourEffectsArgs(BaseModel):
    behaviour: str | None = Field(None, description="view, favourite or cart; omit for all")
    segment: str | None = Field(None, description="category | brand | price_band | activity, "
                                                  "or dimension=value, e.g. category=books")


def behaviour_effects_text(report_provider: ReportProvider, behaviour: str | None = None,
                           segment: str | None = None) -> str:
    """The tool's answer: a table and a JSON block, or an error message the agent can relay."""
    try:
        spec = SegmentSpec.parse(segment) if segment else None
    except ValueError as exc:
        return f"error: {exc}"
    report = report_provider(spec.dimension if spec else None)
    effects = report.effects
    if spec is not None and spec.value is not None:
        wanted = f"{spec.dimension}={spec.value}"
        if not any(e.segment == wanted for e in effects):
            known = sorted({e.segment for e in effects if e.segment != POPULATION})
            return f"error: no segment {wanted!r}; known: {', '.join(known) or 'none'}"
        effects = tuple(e for e in effects if e.segment in (POPULATION, wanted))
    if behaviour is not None:
        known_behaviours = sorted({e.behaviour for e in report.effects})
        if behaviour not in known_behaviours:
            return f"error: unknown behaviour {behaviour!r}; choose from {', '.join(known_behaviours)}"
        effects = tuple(e for e in effects if e.behaviour == behaviour)
    chosen = InfluenceReport(effects, report.data_version, report.unit, {}, report.segment_by,
                             report.seconds, report.created_at)
    payload = {"effects": [_cite(e) for e in chosen.effects], "unit": report.unit,
               "data_version": report.data_version}
    lines = [e.summary() for e in chosen.effects]
    return "\n".join(lines) + "\n\nJSON: " + json.dumps(payload)


def _cite(effect) -> dict:
    data = effect.to_json()
    data["refutations"] = [{"name": r["name"], "passed": r["passed"], "reason": r["reason"]}
                           for r in data["refutations"]]
    data.pop("alternatives", None)
    data["alternatives"] = [{"method": a.method, "estimate": a.estimate} for a in effect.alternatives]
    return data


def make_behaviour_effects_tool(report_provider: ReportProvider):
    """A ``StructuredTool`` named ``behaviour_effects`` over ``report_provider``.

    >>> tool = make_behaviour_effects_tool(lambda seg: load_or_estimate(ws, seg))  # doctest: +SKIP
    >>> tool.invoke({"behaviour": "cart"})                                          # doctest: +SKIP
    """
    from langchain_core.tools import StructuredTool

    def behaviour_effects(behaviour: str | None = None, segment: str | None = None) -> str:
        return behaviour_effects_text(report_provider, behaviour, segment)

    return StructuredTool.from_function(func=behaviour_effects, name="behaviour_effects",
                                        description=DESCRIPTION, args_schema=BehaviourEffectsArgs)
