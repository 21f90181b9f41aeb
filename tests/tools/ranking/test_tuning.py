"""The tuner: finds a known optimum, extends past grid ends, flags edges, keeps to its budget,
and gives every registered model a search space that builds a working ranker."""

from __future__ import annotations

import math
import time
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from whyrec.tools.ranking import MODELS, Ranker, make_ranker
from whyrec.tools.ranking.harness import measure
from whyrec.tools.ranking.history import History
from whyrec.tools.ranking.spaces import choice_axis, log_axis
from whyrec.tools.ranking.split import Split, TimeCut
from whyrec.tools.ranking.tuning import constructor_params, tune

from ..engines import Pickling

CUT = pd.Timestamp("2024-02-01", tz="UTC")


class Peaked(Ranker):
    """Puts the held-out items below ``2 * |log2(x / best)|`` decoys: NDCG peaks at ``x = best``."""

    name: ClassVar[str] = "peaked"

    def __init__(self, x: float = 1.0, best: float = 64.0, kind: str = "a",
                 delay: float = 0.0) -> None:
        self.x = x
        self.best = best
        self.kind = kind
        self.delay = delay

    def _fit(self) -> None:
        until = time.process_time() + self.delay   # busy: the budget counts CPU time
        while time.process_time() < until:
            pass

    def _score(self, history: History, now: float) -> np.ndarray:
        return np.zeros(len(self.catalog_))

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        out = np.zeros((len(rows), len(self.catalog_)))
        decoys = round(2 * abs(math.log2(self.x / self.best))) + (self.kind != "a")
        for n, row in enumerate(rows):
            answer = self.catalog_.positions([f"i{int(self.log_.users[row][1:]) % 10}"])[0]
            others = np.flatnonzero(np.arange(len(self.catalog_)) != answer)[:decoys]
            out[n, answer] = 1.0
            out[n, others] = 2.0
        return out


def planted_split() -> Split:
    """50 users view something before the cut; user k buys item ``i{k % 10}`` after it."""
    rows = []
    for u in range(50):
        rows.append((f"u{u}", f"i{(u + 3) % 30}", "view", CUT - pd.Timedelta(days=1)))
        rows.append((f"u{u}", f"i{u % 10}", "purchase", CUT + pd.Timedelta(days=1)))
    events = pd.DataFrame(rows, columns=["user_id", "item_id", "behaviour", "timestamp"])
    events["event_key"] = np.arange(len(events), dtype=np.uint64)
    return TimeCut(CUT, CUT + pd.Timedelta(days=10)).split(events)


def catalog(n: int = 30) -> pd.DataFrame:
    return pd.DataFrame({"item_id": [f"i{i}" for i in range(n)]})


@pytest.fixture
def peaked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(MODELS, "peaked", Peaked)


def test_extends_a_log_axis_past_its_grid_to_the_optimum(peaked) -> None:
    space = (log_axis("x", (1.0, 2.0, 4.0), 1.0, 1e-3, 1e4), choice_axis("kind", ("b", "a"), "b"))
    result = tune("peaked", planted_split(), catalog(), space=space, budget_seconds=60)
    assert result.point == {"x": 64.0, "kind": "a"}
    assert result.score == pytest.approx(1.0)
    assert result.converged and not result.budget_exhausted and result.edges == {}
    tried = sorted({t.point["x"] for t in result.trials})
    assert tried[-1] == 128.0          # one step past the optimum, which scored worse


def test_a_value_at_the_search_limit_is_flagged_and_a_natural_bound_is_not(peaked) -> None:
    space = (log_axis("x", (1.0, 2.0, 4.0), 1.0, 1e-3, 16.0),)
    result = tune("peaked", planted_split(), catalog(), space=space, budget_seconds=60)
    assert result.point == {"x": 16.0} and result.edges == {"x": "high"}
    closed = (log_axis("x", (1.0, 2.0, 4.0), 1.0, 1e-3, 16.0, closed=(False, True)),)
    result = tune("peaked", planted_split(), catalog(), space=closed, budget_seconds=60)
    assert result.point == {"x": 16.0} and result.edges == {}


def test_the_budget_stops_the_search(peaked) -> None:
    space = (log_axis("x", (1.0, 2.0, 4.0), 1.0, 1e-3, 1e4),)
    started = time.perf_counter()
    result = tune("peaked", planted_split(), catalog(), space=space, fixed={"delay": 0.1},
                  budget_seconds=0.25)
    assert time.perf_counter() - started < 20.0   # wall time, on a shared machine
    assert result.budget_exhausted and not result.converged
    assert 1 <= len(result.trials) <= 4
    assert result.params["delay"] == 0.1


def test_weights_fold_into_one_mapping_over_the_fixed_ones() -> None:
    params = constructor_params({"l2": 5.0, "w:view": 0.0, "w:cart": 3.0},
                                {"behaviour_weights": {"view": 1.0, "click": 0.5}, "target": "x"})
    assert params == {"l2": 5.0, "target": "x",
                      "behaviour_weights": {"view": 0.0, "click": 0.5, "cart": 3.0}}


def cart_signal_split(seed: int = 0) -> tuple[Split, pd.DataFrame]:
    """Training purchases are random and clicks crowd items 40-49, but carts point at items 0-9 —
    and after the cut people buy items 0-9. Only weights that favour carts find that."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(300):
        before = CUT - pd.Timedelta(days=float(rng.uniform(1, 20)))
        rows.append((f"u{u}", f"i{rng.integers(50)}", "purchase", before))
        rows += [(f"u{u}", f"i{40 + rng.integers(10)}", "click", before) for _ in range(3)]
        rows.append((f"u{u}", f"i{rng.zipf(1.5) % 10}", "cart", before))
        rows.append((f"u{u}", f"i{rng.zipf(1.5) % 10}", "purchase", CUT + pd.Timedelta(days=1)))
    events = pd.DataFrame(rows, columns=["user_id", "item_id", "behaviour", "timestamp"])
    events["event_key"] = np.arange(len(events), dtype=np.uint64)
    return TimeCut(CUT, CUT + pd.Timedelta(days=10)).split(events), catalog(50)


def test_tuned_weights_beat_the_default_where_the_better_weights_are_known() -> None:
    split, items = cart_signal_split(seed=0)
    result = tune("popular", split, items, budget_seconds=60)
    weights = result.params["behaviour_weights"]
    assert weights["cart"] > weights["purchase"] and weights["click"] == 0.0
    fresh, _ = cart_signal_split(seed=1)   # the same shop, other draws: the setting transfers
    default = measure(make_ranker("popular").fit(fresh.train, items), fresh, False)
    tuned = measure(make_ranker("popular", **result.params).fit(fresh.train, items), fresh, False)
    assert tuned.metrics["ndcg@20"] > default.metrics["ndcg@20"] + 5 * default.stderr["ndcg@20"]


def test_a_validation_split_without_users_is_a_clear_error() -> None:
    split, items = cart_signal_split()
    with pytest.raises(ValueError, match="no users to score"):
        tune("popular", Split(split.train, {}, "nobody to score"), items, budget_seconds=5)


@pytest.mark.parametrize("model", ["ease", "sequential", "whyrec"])
def test_the_reported_score_is_what_a_fresh_fit_of_the_chosen_params_scores(model: str) -> None:
    split, items = cart_signal_split(seed=2)
    result = tune(model, split, items, budget_seconds=2)
    fresh = measure(make_ranker(model, **result.params).fit(split.train, items), split, False)
    assert fresh.metrics["ndcg@20"] == pytest.approx(result.score, abs=1e-12)
    assert fresh.n_users == result.n_users


def test_one_window_tunes_exactly_as_the_split_and_windows_pool_their_users(peaked) -> None:
    split = planted_split()
    axes = (log_axis("x", (1.0, 2.0, 4.0), 1.0, 1e-3, 1e4), choice_axis("kind", ("b", "a"), "b"))
    alone = tune("peaked", split, catalog(), space=axes, budget_seconds=30)
    as_tuple = tune("peaked", (split,), catalog(), space=axes, budget_seconds=30)
    assert (as_tuple.point, as_tuple.score, as_tuple.n_users) == (alone.point, alone.score, alone.n_users)
    twice = tune("peaked", (split, split), catalog(), space=axes, budget_seconds=30)
    assert twice.n_users == 2 * alone.n_users and twice.point == alone.point
    assert twice.score == pytest.approx(alone.score)


# -- the trials on an engine's workers (issue 18) ----------------------------------------------
def test_on_an_engine_the_axis_points_go_out_in_rounds_and_the_search_chooses_the_same(peaked, tmp_path) -> None:
    axes = (log_axis("x", (1.0, 2.0, 4.0, 8.0), 1.0, 1e-3, 1e4), choice_axis("kind", ("b", "a"), "b"))
    here = tune("peaked", planted_split(), catalog(), space=axes, budget_seconds=60)
    engine = Pickling(workers=2)
    there = tune("peaked", planted_split(), catalog(), space=axes, budget_seconds=60, engine=engine,
                 scratch=tmp_path)
    assert here.converged and there.converged
    assert (there.point, there.score, there.edges) == (here.point, here.score, here.edges)
    assert [t.point for t in there.trials] == [t.point for t in here.trials]   # the same points, in order
    assert [t.score for t in there.trials] == [t.score for t in here.trials]
    # The start alone, then the x grid (1 is the start, scored: 2, 4, 8 in a round of two and one),
    # then each step past the grid alone.
    assert engine.sent[:3] == [1, 2, 1] and max(engine.sent) == 2 and sum(engine.sent) == len(there.trials)
    assert there.worker_cpu_seconds > 0 and there.cpu_seconds >= there.worker_cpu_seconds
    assert not list(tmp_path.iterdir())          # the workers' input file is removed afterwards


def test_on_an_engine_the_budget_counts_the_workers_cpu(peaked, tmp_path) -> None:
    space = (log_axis("x", (1.0, 2.0, 4.0), 1.0, 1e-3, 1e4),)
    result = tune("peaked", planted_split(), catalog(), space=space, fixed={"delay": 0.1},
                  budget_seconds=0.25, engine=Pickling(workers=2), scratch=tmp_path)
    assert result.budget_exhausted and not result.converged
    assert 1 <= len(result.trials) <= 4


def test_the_workers_cpu_counts_against_the_budget(peaked, tmp_path) -> None:
    """Calls that report 10 CPU s each (as remote workers would, none of it this process's):
    a 15 s budget allows the start (10 s) and one round of two, then stops."""
    class Heavy(Pickling):
        def map(self, fn, items, on_done=None):  # type: ignore[no-untyped-def]
            return [(trial, 10.0) for trial, _cpu in super().map(fn, items, on_done)]

    space = (log_axis("x", (1.0, 2.0, 4.0, 8.0, 16.0), 1.0, 1e-3, 1e4),)
    result = tune("peaked", planted_split(), catalog(), space=space, budget_seconds=15, engine=Heavy(workers=2),
                  scratch=tmp_path)
    assert result.budget_exhausted and len(result.trials) == 3
    assert result.worker_cpu_seconds == 30.0 and result.cpu_seconds >= 30.0


def test_a_worker_that_cannot_read_the_inputs_says_where_they_should_be() -> None:
    from whyrec.tools.engine import EngineError
    from whyrec.tools.ranking.tuning import _trial_from

    with pytest.raises(EngineError, match="cannot read the tuning inputs .*volume every worker sees"):
        _trial_from(("/nonexistent/inputs.pickle", "token", {"x": 1.0}))


class Counted(Peaked):
    """Peaked whose ``kind`` only changes the scores (no refit), counting its fits."""

    name: ClassVar[str] = "counted"
    scoring_params: ClassVar[tuple[str, ...]] = ("kind",)
    fits: ClassVar[list[float]] = []

    def _fit(self) -> None:
        Counted.fits.append(self.x)


class FreshWorkers(Pickling):
    """Every call lands on a worker that has fitted nothing yet (its search state is new)."""

    def map(self, fn, items, on_done=None):  # type: ignore[no-untyped-def]
        from whyrec.tools.ranking.tuning import _search_from

        def fresh(item):  # type: ignore[no-untyped-def]
            _search_from.cache_clear()
            return fn(item)
        return super().map(fresh, items, on_done)


def test_a_worker_reads_the_ranker_another_worker_fitted_instead_of_fitting_it_again(monkeypatch, tmp_path) -> None:
    """Scoring a point whose fitted base (all but ``scoring_params``) another worker already
    fitted reads the ranker that worker published: each base is fitted once, as in-process —
    before, each worker fitted its own copy (at 1M events, an 18 CPU s EASE fit on both)."""
    monkeypatch.setitem(MODELS, "counted", Counted)
    monkeypatch.setattr(Counted, "fits", [])
    axes = (log_axis("x", (1.0, 2.0, 4.0), 1.0, 1e-3, 1e4), choice_axis("kind", ("b", "a", "c", "d"), "b"))
    here = tune("counted", planted_split(), catalog(), space=axes, budget_seconds=60)
    fitted_here = sorted(Counted.fits)
    Counted.fits.clear()
    there = tune("counted", planted_split(), catalog(), space=axes, budget_seconds=60, engine=FreshWorkers(workers=2),
                 scratch=tmp_path)
    assert (there.point, [t.point for t in there.trials]) == (here.point, [t.point for t in here.trials])
    # Without the published rankers, every one of these fresh workers fits for every point it
    # scores; with them, about as often as the one in-process search (which also refits a base
    # its two-ranker cache let go).
    assert len(Counted.fits) <= len(fitted_here) + 1 < len(there.trials)
    assert set(Counted.fits) == set(fitted_here)
    assert not list(tmp_path.iterdir())
