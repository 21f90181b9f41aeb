"""The HTTP API fuzzed from its own OpenAPI document (schemathesis, in-process over ASGI).

Every operation gets requests generated from the document: valid ones, valid ones for a user
the shop knows (so they reach the tools instead of stopping at 404), and invalid ones. No
response may be a 5xx, and every response must have a status, content type and body that the
document declares.

(schemathesis' ``from_fixture`` + ``parametrize`` fails under pytest 9 — it sets the removed
``Node._nodeid`` — so each operation's strategy is driven by Hypothesis directly.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from whyrec.agent.api import build_api
from whyrec.agent.core import Agent
from whyrec.tools.service import WhyrecService
from whyrec.tools.settings import Settings

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 20


def _operations() -> list[tuple[str, str]]:
    """(method, path) of every operation; building the app opens no workspace."""
    service = WhyrecService(Settings(workspace=Path("never-opened")))
    spec = build_api(service, Agent(service)).openapi()
    return [(method.upper(), path) for path, methods in spec["paths"].items() for method in methods]


OPERATIONS = _operations()
VARIANTS = ["positive", "positive-known-user", "negative"]


@pytest.fixture(scope="module")
def api_schema(hostile_app: FastAPI):  # type: ignore[no-untyped-def]
    return schemathesis.openapi.from_asgi("/openapi.json", hostile_app)


def a_catalog_item(workspace: Path) -> str:
    """An item of the shop's catalog (so explanations get past 404)."""
    from whyrec.tools.workspace import Workspace

    return str(Workspace.open(workspace).items()["item_id"].iloc[0])


def test_every_operation_is_fuzzed() -> None:
    assert len(OPERATIONS) >= 10 and ("POST", "/v1/chat") in OPERATIONS


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_operation_answers_5xx_or_off_schema(api_schema, shop_user: str, hostile_workspace: Path,  # type: ignore[no-untyped-def]
                                                method: str, path: str, variant: str) -> None:
    operation = api_schema[path][method]
    fixed = {}
    if variant == "positive-known-user":
        if "{user_id}" not in path or method == "DELETE":  # forgetting the shop's user ends the test
            pytest.skip("no user in this operation's path")  # (chat gets known users in the other tests)
        known = {"user_id": shop_user}
        if "{item_id}" in path:
            known["item_id"] = str(a_catalog_item(hostile_workspace))
        fixed = {"path_parameters": known}
    if variant == "negative" and path in ("/health", "/v1/stats"):
        pytest.skip("nothing to make invalid: no body, query or path parameters")
    mode = GenerationMode.NEGATIVE if variant == "negative" else GenerationMode.POSITIVE
    strategy = operation.as_strategy(generation_mode=mode, **fixed)
    seen: list[int] = []

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=strategy)
    def fuzz(case) -> None:  # type: ignore[no-untyped-def]
        response = case.call_and_validate(checks=CHECKS)
        seen.append(response.status_code)

    fuzz()
    assert seen and max(seen) < 500
