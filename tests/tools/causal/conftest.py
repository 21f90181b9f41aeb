"""Shared fixtures: demo shops (default and adversarial), their decision tables, fast settings."""

from __future__ import annotations

import pytest

from whyrec.tools.causal import EffectSettings, build_decisions, choose_windows
from whyrec.tools.demo import DemoConfig, build_demo_workspace, generate_shop
from whyrec.tools.workspace import Workspace

SMALL = DemoConfig(users=400, items=300, days=60, seed=7)
ADVERSARIAL = DemoConfig(users=400, items=300, days=60, seed=11, scenario="adversarial")
#: Small but real: the same estimator and refuters, fewer trees, draws and rows.
FAST = EffectSettings(num_simulations=3, refute_max_rows=4_000, nuisance_iterations=30)


@pytest.fixture(scope="session")
def fast_settings() -> EffectSettings:
    return FAST


@pytest.fixture(scope="session")
def small_shop():
    return generate_shop(SMALL)


@pytest.fixture(scope="session")
def adversarial_shop():
    return generate_shop(ADVERSARIAL)


@pytest.fixture(scope="session")
def small_table(small_shop):
    return build_decisions(small_shop.events, small_shop.items, choose_windows(small_shop.events))


@pytest.fixture(scope="session")
def adversarial_table(adversarial_shop):
    return build_decisions(adversarial_shop.events, adversarial_shop.items, choose_windows(adversarial_shop.events))


@pytest.fixture(scope="session")
def demo_workspace(tmp_path_factory) -> Workspace:
    path = tmp_path_factory.mktemp("causal") / "demo"
    build_demo_workspace(path, SMALL)
    return Workspace.open(path)


@pytest.fixture(scope="session")
def adversarial_report(adversarial_table):
    """The adversarial shop's report by price band, without refuters (tests of those run them)."""
    from dataclasses import replace

    from whyrec.tools.causal import estimate_report

    return estimate_report(adversarial_table, replace(FAST, refuters=()), segment="price_band")
