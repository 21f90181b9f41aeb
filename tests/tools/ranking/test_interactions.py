"""The weighted, aggregated interaction matrix the baselines fit on (values checked by hand)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from whyrec.tools.ranking.catalog import ItemCatalog
from whyrec.tools.ranking.history import EventLog, history_from_frame
from whyrec.tools.ranking.interactions import Interactions

T0 = pd.Timestamp("2024-01-01", tz="UTC")


def small_log() -> tuple[EventLog, ItemCatalog, pd.DataFrame]:
    """u: 3 clicks and a purchase on x, a view on y; v: a cart on y."""
    rows = [("u", "x", "click", 0), ("u", "x", "click", 1), ("u", "x", "click", 2),
            ("u", "x", "purchase", 3), ("u", "y", "view", 4), ("v", "y", "cart", 1)]
    events = pd.DataFrame(rows, columns=["user_id", "item_id", "behaviour", "day"])
    # nanosecond timestamps, as ingest stores them (history.to_days assumes nanoseconds)
    events["timestamp"] = pd.Series([T0 + pd.Timedelta(days=d) for d in events.pop("day")]
                                    ).astype("datetime64[ns, UTC]")
    events["event_key"] = np.arange(len(events), dtype=np.uint64)
    catalog = ItemCatalog.build(events, None)
    return EventLog.from_events(events, catalog.index), catalog, events


WEIGHTS = {"click": 1.0, "purchase": 4.0, "view": 0.5, "cart": 3.0}


@pytest.mark.parametrize(("aggregation", "ux", "uy", "vy"), [
    ("max", 4.0, 0.5, 3.0),
    ("sum", 7.0, 0.5, 3.0),
    ("log", math.log1p(7.0), math.log1p(0.5), math.log1p(3.0)),
])
def test_aggregations_by_hand(aggregation: str, ux: float, uy: float, vy: float) -> None:
    log, catalog, _ = small_log()
    matrix = Interactions(WEIGHTS, aggregation).matrix(log, len(catalog)).toarray()
    u, v = log.users.get_indexer(["u", "v"])
    x, y = catalog.positions(["x", "y"])
    assert matrix[u, x] == pytest.approx(ux)
    assert matrix[u, y] == pytest.approx(uy)
    assert matrix[v, y] == pytest.approx(vy)
    assert matrix[v, x] == 0.0


def test_unit_weights_with_max_are_the_binary_matrix() -> None:
    log, catalog, _ = small_log()
    matrix = Interactions().matrix(log, len(catalog))
    assert set(matrix.data) == {1.0} and matrix.nnz == 3


def test_weight_zero_drops_a_behaviour() -> None:
    log, catalog, _ = small_log()
    matrix = Interactions({"view": 0.0}, "sum").matrix(log, len(catalog))
    assert matrix.nnz == 2   # u's view on y is gone, not stored as an explicit 0


def test_profile_of_a_history_equals_the_users_row_and_recency_decays() -> None:
    log, catalog, events = small_log()
    spec = Interactions(WEIGHTS, "sum", half_life_days=1.0)
    u = int(log.users.get_indexer(["u"])[0])
    history = history_from_frame(events[events["user_id"] == "u"], catalog.index)
    now = log.last_day(u)
    one = spec.profile(history, now, len(catalog)).toarray()[0]
    rows = spec.profiles(log, np.array([u, u]), len(catalog)).toarray()
    np.testing.assert_allclose(rows[0], one)
    np.testing.assert_allclose(rows[1], one)
    x, y = catalog.positions(["x", "y"])
    # clicks 4, 3 and 2 days before the last event, purchase 1 day before, view at 0 days
    assert one[x] == pytest.approx(0.5 ** 4 + 0.5 ** 3 + 0.5 ** 2 + 4.0 * 0.5)
    assert one[y] == pytest.approx(0.5)
    without = Interactions(WEIGHTS, "sum").profile(history, now, len(catalog)).toarray()[0]
    np.testing.assert_allclose(without, Interactions(WEIGHTS, "sum").matrix(log, len(catalog))
                               .toarray()[u])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"behaviour_weights": {"click": -1.0}}, "must be finite and >= 0"),
    ({"behaviour_weights": {"klick": 1.0}}, "unknown behaviour 'klick'"),
    ({"aggregation": "mean"}, "aggregation must be one of"),
    ({"half_life_days": 0.0}, "half_life_days must be > 0"),
])
def test_bad_settings_are_refused_with_the_field_named(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Interactions(**kwargs)
