"""The demo shop: a simulated multi-behaviour log with known causal effects (``whyrec demo``).

``DemoConfig()`` is the default scenario; ``DemoConfig(scenario="adversarial", seed=N)`` the
one built to break estimators. Both write ``ground_truth.json`` beside the workspace.
"""

from .scenarios import Mechanism
from .shop import (
    SCENARIOS,
    DemoConfig,
    DemoShop,
    DemoSummary,
    build_demo_workspace,
    generate_shop,
    load_ground_truth,
)
from .truth import GroundTruth, TrueEffect

__all__ = ["SCENARIOS", "DemoConfig", "DemoShop", "DemoSummary", "GroundTruth", "Mechanism", "TrueEffect",
           "build_demo_workspace", "generate_shop", "load_ground_truth"]
