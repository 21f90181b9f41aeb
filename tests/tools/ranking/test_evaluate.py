"""The evaluation: every model tuned on validation, records carry how, whyrec's margin is paired."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from whyrec.tools.ranking.evaluate import (
    EvalRecord,
    compare,
    evaluate,
    evaluate_cli,
    load_records,
    write_results,
)
from whyrec.tools.ranking.split import Protocol, Split

from ..engines import Pickling
from .test_tuning import cart_signal_split


class GivenSplits(Protocol):
    """Validation and test splits drawn separately from the same synthetic shop."""

    target = "purchase"

    def __init__(self) -> None:
        self.test_split, _ = cart_signal_split(seed=1)
        self.validation_split, _ = cart_signal_split(seed=0)

    def split(self, events: pd.DataFrame) -> Split:
        return self.test_split

    def validation(self, events: pd.DataFrame) -> Split:
        return self.validation_split

    def to_json(self) -> dict:
        return {"split": "given"}


def record(model: str, values: list[float]) -> EvalRecord:
    names = ["ndcg@20", "ndcg@10", "recall@20", "recall@10", "mrr", "coverage@20"]
    return EvalRecord(dataset="d", model=model, protocol={"exclude_seen": False},
                      metrics={n: float(np.mean(values)) for n in names},
                      stderr=dict.fromkeys(names, 0.0),
                      n_test_users=len(values), fit_seconds=0.0, tune_seconds=0.0,
                      per_user={"ndcg@20": np.array(values)})


def test_compare_picks_the_strongest_other_model_and_pairs_users() -> None:
    ours = record("whyrec", [0.5, 0.6, 0.7, 0.8])
    weak = record("popular", [0.0, 0.0, 0.1, 0.0])
    strong = record("ease", [0.4, 0.5, 0.6, 0.8])
    result = compare([ours, weak, strong])
    assert result is not None and result.baseline == "ease"
    assert result.difference == pytest.approx(0.075)
    diffs = np.array([0.1, 0.1, 0.1, 0.0])
    assert result.difference_stderr == pytest.approx(diffs.std(ddof=1) / 2)
    assert result.ratio == pytest.approx(0.65 / 0.575)
    assert compare([weak, strong]) is None


def test_evaluate_tunes_every_model_and_reports_it(tmp_path) -> None:
    protocol = GivenSplits()
    _, items = cart_signal_split()
    records = evaluate("planted", ["popular", "whyrec"], events=protocol.test_split.train,
                       items=items, protocol=protocol, exclude_seen=[False], budget_seconds=3)
    popular, whyrec = records
    for r in records:
        assert r.validation is not None and r.validation["n_trials"] >= 1
        assert {"score", "stderr", "n_users", "point", "edges", "converged"} <= set(r.validation)
        assert r.protocol["tuned_on"] == "validation"
    assert popular.validation["point"]["w:cart"] == popular.params["behaviour_weights"]["cart"]
    assert popular.comparison is None
    assert whyrec.comparison["baseline"] == "popular"
    assert np.isfinite(whyrec.comparison["difference_stderr"])
    write_results(records, tmp_path)
    data = json.loads((tmp_path / "ranking_planted.json").read_text())
    assert "per_user" not in data[0] and data[1]["comparison"]["baseline"] == "popular"
    assert [r.model for r in load_records(tmp_path)] == ["popular", "whyrec"]
    table = (tmp_path / "ranking_table.md").read_text()
    assert "w:cart=" in table and "validation NDCG@20" in table and "strongest other" in table


def test_cli_rebuilds_the_table_from_records(tmp_path, capsys) -> None:
    (tmp_path / "ranking_x.json").write_text(json.dumps([replace(record("whyrec", [0.5]),
                                                                 dataset="x").to_json()]))
    (tmp_path / "ranking_latency.json").write_text(json.dumps({"not": "records"}))
    assert evaluate_cli(["--table-only", "--out", str(tmp_path)]) == 0
    assert "| x | allowed | whyrec | not tuned |" in (tmp_path / "ranking_table.md").read_text()
    assert evaluate_cli(["--models", "nope", "--out", str(tmp_path)]) == 2


def test_rerunning_one_protocol_keeps_the_others(tmp_path) -> None:
    first = [replace(record("whyrec", [0.5]), dataset="x"),
             replace(record("ease", [0.4]), dataset="x", protocol={"exclude_seen": True})]
    write_results(first, tmp_path)
    again = [replace(record("whyrec", [0.7]), dataset="x")]
    write_results(again, tmp_path)
    kept = {(r.model, r.protocol["exclude_seen"]): r.metrics["ndcg@20"]
            for r in load_records(tmp_path)}
    assert kept == {("whyrec", False): 0.7, ("ease", True): 0.4}


def test_models_evaluated_on_a_two_worker_dask_cluster_give_the_in_process_records(tmp_path) -> None:
    """Issue 18: ``whyrec evaluate --engine dask`` runs each (model, setting) on a worker and
    gives the in-process records when every search converges within its budget."""
    from whyrec.tools.demo import DemoConfig, generate_shop
    from whyrec.tools.engine import DaskEngine

    shop = generate_shop(DemoConfig(users=150, items=120, days=40, seed=3))
    options = dict(events=shop.events, items=shop.items, exclude_seen=[False, True], budget_seconds=120,
                   windows=2)
    models = ["repeat", "popular", "whyrec"]
    alone = evaluate("demo", models, **options)
    calls: list[int] = []

    class Counted(DaskEngine):      # the same cluster; counts what was sent to it
        def map(self, fn, items, on_done=None):  # type: ignore[no-untyped-def, override]
            calls.append(len(items))
            return super().map(fn, items, on_done)

    with Counted(n_workers=2, memory_limit="2GB") as engine:
        spread = evaluate("demo", models, engine=engine, scratch=tmp_path, **options)
    assert calls == [6]                     # one call per (model, setting), all sent at once
    assert [(r.model, r.protocol["exclude_seen"]) for r in spread] == [
        (m, s) for s in (False, True) for m in models]
    for a, b in zip(alone, spread, strict=True):
        assert a.validation is not None and a.validation["converged"]   # else the budget decides
        assert (b.model, b.protocol, b.params, b.n_test_users) == (a.model, a.protocol, a.params, a.n_test_users)
        assert b.validation is not None and b.validation["point"] == a.validation["point"]
        assert b.metrics == pytest.approx(a.metrics, abs=1e-9)
        np.testing.assert_allclose(b.per_user["ndcg@20"], a.per_user["ndcg@20"], atol=1e-9)
        assert b.comparison == a.comparison or b.comparison["difference"] == pytest.approx(a.comparison["difference"])
    assert not list(tmp_path.iterdir())      # the workers' input file is removed afterwards


def test_cli_refuses_engine_options_that_cannot_work(tmp_path, capsys) -> None:
    for argv, message in ((["--address", "tcp://127.0.0.1:1"], "--address needs --engine dask"),
                          (["--engine", "dask", "--workers", "0"], "--workers must be at least 1"),
                          (["--scratch", str(tmp_path)], "--scratch needs --engine dask"),
                          (["--engine", "dask", "--scratch", str(tmp_path / "nope")], "no such folder"),
                          (["--engine", "dask", "--address", "tcp://127.0.0.1:1"],
                           "with --address, --scratch must name a folder every worker sees")):
        assert evaluate_cli(["--dataset", "demo", "--models", "popular", "--out", str(tmp_path), *argv]) == 2
        assert message in capsys.readouterr().out
    assert not list(tmp_path.iterdir())


def test_cli_reports_a_cluster_failure_and_keeps_the_datasets_before_it(tmp_path, capsys, monkeypatch) -> None:
    from whyrec.tools.engine import EngineError
    from whyrec.tools.ranking import evaluate as module

    def fake(dataset, models, *args, **kwargs):  # type: ignore[no-untyped-def]
        if dataset == "tmall2014":
            return [replace(record("popular", [0.5]), dataset="tmall2014")]
        raise EngineError("a Dask worker died running _evaluate_from")

    monkeypatch.setattr(module, "evaluate", fake)
    for spec in module.DATASETS.values():       # every dataset "there" (evaluate itself is faked)
        (tmp_path / "data" / spec.folder).mkdir(parents=True, exist_ok=True)
    assert evaluate_cli(["--dataset", "all", "--models", "popular", "--out", str(tmp_path / "out"),
                         "--data-dir", str(tmp_path / "data")]) == 2
    out = capsys.readouterr().out
    assert "error: movielens: a Dask worker died" in out and "Traceback" not in out
    assert [r.dataset for r in load_records(tmp_path / "out")] == ["tmall2014"]     # kept, not lost


def test_cli_starts_no_engine_when_no_dataset_is_there(tmp_path, capsys, monkeypatch) -> None:
    from whyrec.tools.ranking import evaluate as module

    def no_engine(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("an engine was started for nothing")

    monkeypatch.setattr(module, "open_engine", no_engine)
    assert evaluate_cli(["--dataset", "movielens", "--data-dir", str(tmp_path), "--engine", "dask",
                         "--out", str(tmp_path)]) == 1
    assert "nothing was evaluated (no data for movielens under" in capsys.readouterr().out


def test_the_cluster_path_restores_item_vectors_and_removes_its_inputs(tmp_path) -> None:
    from whyrec.tools.demo import DemoConfig, generate_shop

    shop = generate_shop(DemoConfig(users=60, items=50, days=30, seed=2))
    ids = shop.items["item_id"].astype(str).to_numpy()
    marker = {"item_vectors": (ids, np.random.default_rng(0).normal(size=(len(ids), 8)))}
    options = dict(events=shop.events, items=shop.items, exclude_seen=[False], tune_models=False)
    here = evaluate("demo", ["whyrec", "repeat"], model_params={"whyrec": marker}, **options)
    there = evaluate("demo", ["whyrec", "repeat"], model_params={"whyrec": marker}, engine=Pickling(),
                     scratch=tmp_path, **options)
    assert [r.params for r in there] == [r.params for r in here] and there[0].params["item_vectors"] is marker[
        "item_vectors"]
    assert [r.metrics for r in there] == [r.metrics for r in here]
    assert not list(tmp_path.iterdir())


def test_a_worker_that_cannot_read_the_inputs_says_where_they_should_be(tmp_path) -> None:
    from whyrec.tools.engine import EngineError
    from whyrec.tools.ranking.evaluate import _context_from

    with pytest.raises(EngineError, match="--scratch must be a folder every worker sees"):
        _context_from(str(tmp_path / "gone.pickle"), "token")


def test_datasets_go_to_the_cluster_together_and_a_failure_keeps_the_finished_ones() -> None:
    """On a cluster every dataset's runs are sent in one map (no idle workers while one
    dataset's longest run ends); when the engine fails, datasets whose runs all came back stay."""
    from whyrec.tools.engine import EngineError
    from whyrec.tools.ranking.evaluate import evaluate_datasets

    options = dict(exclude_seen=[False, True], tune_models=False)
    alone = evaluate("demo", ["popular", "repeat"], **options)

    class Failing(Pickling):
        def __init__(self, fail_at: int | None = None) -> None:
            super().__init__()
            self.fail_at = fail_at

        def map(self, fn, items, on_done=None):  # type: ignore[no-untyped-def]
            def each(position, record):  # type: ignore[no-untyped-def]
                if position == self.fail_at:
                    raise EngineError("a Dask worker died running _evaluate_from")
                if on_done is not None:
                    on_done(position, record)
            return super().map(fn, items, each)

    engine = Failing()
    together = evaluate_datasets(["demo", "demo"], ["popular", "repeat"], engine=engine, **options)
    assert engine.sent == [8] and together.failed is None
    assert [r.metrics for r in together.records] == [r.metrics for r in alone] * 2
    assert [r.comparison for r in together.records] == [r.comparison for r in alone] * 2
    broken = evaluate_datasets(["demo", "demo"], ["popular", "repeat"], engine=Failing(fail_at=5), **options)
    assert broken.failed and "worker died" in broken.failed
    assert [r.metrics for r in broken.records] == [r.metrics for r in alone]     # the first dataset, whole
