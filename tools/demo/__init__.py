"""The demo shop: a simulated multi-behaviour log with known causal effects (``whyrec demo``)."""

from .shop import (
                   DemoConfig,
                   DemoShop,
                   DemoSummary,
                   GroundTruth,
                   TrueEffect,
                   build_demo_workspace,
                   generate_shop,
                   load_ground_truth,
)
from .simulate import Mechanism

__all__ = ["DemoConfig", "DemoShop", "DemoSummary", "GroundTruth", "Mechanism", "TrueEffect",
           "build_demo_workspace", "generate_shop", "load_ground_truth"]
