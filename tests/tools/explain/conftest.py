"""Fixtures: the constructed shop (known answers) and its fitted ranker and explainer."""

from __future__ import annotations

import pytest

from whyrec.tools.explain import Explainer
from whyrec.tools.ranking import WhyrecRanker

from .shop import shop_events, shop_items


@pytest.fixture(scope="module")
def events():
    return shop_events()


@pytest.fixture(scope="module")
def ranker(events):
    return WhyrecRanker().fit(events, shop_items())


@pytest.fixture()
def explainer(ranker):
    return Explainer(ranker, shop_items())
