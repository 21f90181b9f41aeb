"""Fixtures of the hostile tests: an API over a private, warmed-up copy of the demo shop."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from whyrec.agent.api import build_api
from whyrec.agent.core import Agent
from whyrec.tools.service import WhyrecService
from whyrec.tools.settings import Settings

MAX_BODY = 200_000


@pytest.fixture(scope="session")
def warmed_workspace(demo_workspace_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo shop with its ranker and causal report already on disk (built once)."""
    target = tmp_path_factory.mktemp("hostile-warm") / "ws"
    shutil.copytree(demo_workspace_template, target)
    WhyrecService(Settings(workspace=target)).warm_up()
    return target


@pytest.fixture(scope="module")
def hostile_workspace(warmed_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("hostile") / "ws"
    shutil.copytree(warmed_workspace, target)
    return target


def make_app(workspace: Path, **settings: object) -> FastAPI:
    service = WhyrecService(Settings(workspace=workspace, max_request_bytes=MAX_BODY, **settings))  # type: ignore[arg-type]
    service.warm_up()
    return build_api(service, Agent(service))


@pytest.fixture(scope="module")
def hostile_app(hostile_workspace: Path) -> FastAPI:
    return make_app(hostile_workspace)


@pytest.fixture(scope="module")
def hostile_client(hostile_app: FastAPI) -> TestClient:
    return TestClient(hostile_app, raise_server_exceptions=False)


@pytest.fixture(scope="module")
def shop_user(hostile_workspace: Path) -> str:
    from whyrec.tools.workspace import Workspace

    return str(Workspace.open(hostile_workspace).events()["user_id"].value_counts().index[0])
