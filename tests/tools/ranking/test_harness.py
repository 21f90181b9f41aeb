"""The evaluation harness: a perfect oracle scores Recall@k = 1, a random model about k / n."""

from __future__ import annotations

import json
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest

from whyrec.tools.ranking.base import Ranker
from whyrec.tools.ranking.evaluate import evaluate, markdown_table, write_results
from whyrec.tools.ranking.harness import measure
from whyrec.tools.ranking.history import History
from whyrec.tools.ranking.metrics import user_metrics
from whyrec.tools.ranking.split import FractionCut, LastPositive, TimeCut

N_USERS, N_ITEMS = 300, 1000
CUT = pd.Timestamp("2024-02-01", tz="UTC")


def planted_log(seed: int = 0) -> tuple[pd.DataFrame, dict[str, set[str]]]:
    """Random views before ``CUT``; after it each user buys 1-3 planted items."""
    rng = np.random.default_rng(seed)
    rows, planted = [], {}
    for u in range(N_USERS):
        for _ in range(5):
            rows.append((f"u{u}", f"i{rng.integers(N_ITEMS)}", "view",
                         CUT - pd.Timedelta(days=float(rng.uniform(1, 30)))))
        bought = {f"i{i}" for i in rng.choice(N_ITEMS, size=rng.integers(1, 4), replace=False)}
        planted[f"u{u}"] = bought
        rows += [(f"u{u}", item, "purchase", CUT + pd.Timedelta(days=2)) for item in bought]
    events = pd.DataFrame(rows, columns=["user_id", "item_id", "behaviour", "timestamp"])
    events["event_key"] = np.arange(len(events), dtype=np.uint64)
    return events, planted


def catalog() -> pd.DataFrame:
    return pd.DataFrame({"item_id": [f"i{i}" for i in range(N_ITEMS)],
                         "title": [f"Item {i}" for i in range(N_ITEMS)]})


class Oracle(Ranker):
    """Knows the answer: scores the planted items 1, everything else 0."""

    name: ClassVar[str] = "oracle"

    def __init__(self, answers: dict[str, set[str]] | None = None) -> None:
        self.answers = answers

    def _fit(self) -> None:
        pass

    def _score(self, history: History, now: float) -> np.ndarray:
        return np.zeros(len(self.catalog_))

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        out = np.zeros((len(rows), len(self.catalog_)))
        for n, row in enumerate(rows):
            positions = self.catalog_.positions(self.answers[self.log_.users[row]])
            out[n, positions] = 1.0
        return out


class RandomScores(Oracle):
    name: ClassVar[str] = "random"

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        return np.random.default_rng(1).random((len(rows), len(self.catalog_)))


def test_oracle_scores_perfectly() -> None:
    events, planted = planted_log()
    split = TimeCut(CUT, CUT + pd.Timedelta(days=30)).split(events)
    assert split.n_test_users == N_USERS
    assert {u: set(v) for u, v in split.test.items()} == planted
    result = measure(Oracle(planted).fit(split.train, catalog()), split, exclude_seen=False)
    assert result.n_users == N_USERS
    for name in ("recall@10", "recall@20", "ndcg@10", "ndcg@20", "mrr"):
        assert result.metrics[name] == pytest.approx(1.0)


def test_random_model_scores_about_k_over_n() -> None:
    events, planted = planted_log()
    split = TimeCut(CUT, CUT + pd.Timedelta(days=30)).split(events)
    result = measure(RandomScores(planted).fit(split.train, catalog()), split, exclude_seen=False)
    for k in (10, 20):
        expected = k / N_ITEMS
        assert abs(result.metrics[f"recall@{k}"] - expected) < 4 * result.stderr[f"recall@{k}"] + 1e-3
    assert result.metrics["mrr"] < 0.05


def test_exclude_seen_drops_seen_items_from_truth_and_ranking() -> None:
    events, planted = planted_log()
    user = "u0"
    seen_item = next(iter(planted[user]))
    extra = pd.DataFrame([{"user_id": user, "item_id": seen_item, "behaviour": "view",
                           "timestamp": CUT - pd.Timedelta(days=1), "event_key": 10**9}])
    events = pd.concat([events, extra], ignore_index=True)
    split = TimeCut(CUT, CUT + pd.Timedelta(days=30)).split(events)
    oracle = Oracle(planted).fit(split.train, catalog())
    allowed = measure(oracle, split, exclude_seen=False)
    excluded = measure(oracle, split, exclude_seen=True)
    assert allowed.metrics["recall@20"] == pytest.approx(1.0)
    assert excluded.metrics["recall@20"] == pytest.approx(1.0)   # the seen item left the truth
    assert excluded.n_users == N_USERS - (len(planted[user]) == 1)


def test_metric_values_by_hand() -> None:
    scores = np.array([[0.9, 0.8, 0.7, 0.1]])
    out = user_metrics(scores, [np.array([1, 3])], ks=(2,))
    assert out["recall@2"][0] == pytest.approx(0.5)
    assert out["ndcg@2"][0] == pytest.approx((1 / np.log2(3)) / (1 + 1 / np.log2(3)))
    assert out["mrr"][0] == pytest.approx(0.5)


def test_last_positive_split_holds_out_the_last_positive() -> None:
    t = pd.Timestamp("2024-01-01", tz="UTC")
    events = pd.DataFrame({
        "user_id": ["u", "u", "u", "u", "u", "v", "v"],
        "item_id": ["e", "a", "b", "c", "d", "a", "b"],
        "behaviour": ["view", "favourite", "click", "favourite", "view", "favourite", "favourite"],
        "timestamp": [t - pd.Timedelta(days=1), t, t + pd.Timedelta(days=1),
                      t + pd.Timedelta(days=2), t + pd.Timedelta(days=3), t,
                      t + pd.Timedelta(days=1)],
        "event_key": np.arange(7, dtype=np.uint64)})
    split = LastPositive("favourite").split(events)
    assert {u: list(v) for u, v in split.test.items()} == {"u": ["c"], "v": ["b"]}
    assert set(split.train["item_id"][split.train["user_id"] == "u"]) == {"e", "a", "b"}
    validation = LastPositive("favourite").validation(events)
    # v's remaining positive has no earlier event, so v is not a validation user
    assert {u: list(v) for u, v in validation.test.items()} == {"u": ["a"]}


def test_fraction_cut() -> None:
    events, _ = planted_log()
    split = FractionCut(0.8).split(events)
    assert split.train["timestamp"].max() < CUT + pd.Timedelta(days=2)
    assert split.n_test_users > 0


def test_evaluate_api_writes_records(tmp_path) -> None:
    events, _ = planted_log()
    records = evaluate("planted", ["popular", "repeat"], events=events, items=catalog(),
                       protocol=TimeCut(CUT, CUT + pd.Timedelta(days=30)), tune_models=False,
                       exclude_seen=[False, True])
    assert [(r.model, r.protocol["exclude_seen"]) for r in records] == [
        ("popular", False), ("repeat", False), ("popular", True), ("repeat", True)]
    paths = write_results(records, tmp_path)
    data = json.loads((tmp_path / "ranking_planted.json").read_text())
    assert {"dataset", "model", "protocol", "metrics", "fit_seconds"} <= set(data[0])
    assert {"recall@20", "ndcg@20", "recall@10", "ndcg@10", "mrr", "coverage@20"} <= set(data[0]["metrics"])
    assert "| planted |" in markdown_table(records) and len(paths) == 2


def test_pooling_leaves_out_a_window_with_nobody_to_score() -> None:
    """Review finding: a window whose test users all drop out (nothing left to find) had no
    per-user values, and pooling it raised KeyError and stopped the whole tuning."""
    from whyrec.tools.ranking.harness import Measurement, pool

    scored = Measurement({"ndcg@20": 0.5, "coverage@20": 0.1}, {"ndcg@20": 0.1}, 2, ("a", "b"),
                         {"ndcg@20": np.array([0.4, 0.6])})
    empty = Measurement({"ndcg@20": float("nan"), "coverage@20": 0.0}, {"ndcg@20": float("nan")}, 0, (), {})
    assert pool([empty, scored]) is scored and pool([scored, empty]) is scored
    both = pool([scored, scored])
    assert both.n_users == 4 and both.metrics["ndcg@20"] == 0.5 and len(both.users) == 4
