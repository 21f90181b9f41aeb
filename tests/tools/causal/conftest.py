"""Shared fixtures: a demo shop and its workspace, and fast settings."""

from __future__ import annotations

import pytest

from whyrec.tools.causal import EffectSettings
from whyrec.tools.demo import DemoConfig, build_demo_workspace, generate_shop
from whyrec.tools.workspace import Workspace

SMALL = DemoConfig(users=400, items=300, days=60, seed=7)
FAST = EffectSettings(num_simulations=3)


@pytest.fixture(scope="session")
def small_shop():
    return generate_shop(SMALL)


@pytest.fixture(scope="session")
def demo_workspace(tmp_path_factory) -> Workspace:
    path = tmp_path_factory.mktemp("causal") / "demo"
    build_demo_workspace(path, SMALL)
    return Workspace.open(path)


@pytest.fixture(scope="session")
def fast_settings() -> EffectSettings:
    return FAST
