"""Search spaces: axes step past their grids up to limits; every model's space builds rankers."""

from __future__ import annotations

import pytest

from whyrec.tools.ranking import MODELS, make_ranker
from whyrec.tools.ranking.spaces import Axis, linear_axis, log_axis, search_space
from whyrec.tools.ranking.tuning import constructor_params

from .tiny import tiny_events, tiny_items


def test_axis_steps() -> None:
    axis = log_axis("l2", (10.0, 100.0), 10.0, 1.0, 500.0)
    assert axis.beyond([10.0, 100.0], "high") == pytest.approx(500.0)     # clipped to the limit
    assert axis.beyond([10.0, 100.0, 500.0], "high") is None
    assert axis.beyond([10.0, 100.0], "low") == pytest.approx(1.0)
    count = log_axis("k", (20, 50), 20, 2, 1000, integer=True)
    assert count.beyond([20, 50], "low") == 8 and count.beyond([20, 50], "high") == 125
    share = linear_axis("a", (0.0, 0.5, 1.0), 0.5, 0.0, 1.0, closed=(True, True))
    assert share.beyond([0.0, 0.5, 1.0], "high") is None
    zero = log_axis("w", (0.0, 0.1, 1.0), 1.0, 0.0, 100.0, closed=(True, False))
    assert zero.beyond([0.0, 0.1, 1.0], "low") is None
    assert zero.grid() == [0.0, 0.1, 1.0]
    assert Axis("h", (1.0, 7.0), None, "log", special=(None,)).grid() == [1.0, 7.0, None]


@pytest.mark.parametrize("model", sorted(MODELS))
def test_every_model_has_a_space_whose_points_build_working_rankers(model: str) -> None:
    behaviours = tiny_events()["behaviour"].astype(str).unique()
    space = search_space(model, behaviours)
    assert space and len({a.name for a in space}) == len(space)
    weights = {a.name for a in space if a.name.startswith("w:")}
    assert weights == {f"w:{b}" for b in behaviours}
    start = {a.name: a.start for a in space}
    lows = {a.name: a.grid()[0] for a in space}
    for point in (start, {**start, **lows}):
        ranker = make_ranker(model, **constructor_params(point)).fit(tiny_events(), tiny_items())
        assert len(ranker.recommend("t", k=3)[0]) == 3
