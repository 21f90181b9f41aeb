"""The influence report: cached per data version, segments, the --json interface, the CLI."""

from __future__ import annotations

import json
import warnings
from dataclasses import replace

import pandas as pd
import pytest

from whyrec.tools.causal import (
    InfluenceReport,
    decision_table,
    effects_cli,
    graph_picture,
    load_or_estimate,
    pair_behaviours,
    pair_effects,
)
from whyrec.tools.causal import report as report_module
from whyrec.tools.causal.report import report_path
from whyrec.tools.demo import DemoConfig, build_demo_workspace
from whyrec.tools.workspace import Workspace

ROW_KEYS = ["behaviour", "outcome", "estimand", "estimate", "ci_low", "ci_high", "naive", "method", "primary", "n",
            "verdict", "refutations", "sensitivity"]


@pytest.fixture(scope="module")
def report(demo_workspace, fast_settings) -> InfluenceReport:
    return load_or_estimate(demo_workspace, settings=fast_settings)


@pytest.fixture(scope="module")
def by_category(demo_workspace, fast_settings) -> InfluenceReport:
    return load_or_estimate(demo_workspace, "category", replace(fast_settings, refuters=()))


def test_every_effect_has_an_estimand_a_verdict_and_its_checks(report, demo_workspace):
    truth = json.loads((demo_workspace.path / "ground_truth.json").read_text())
    truths = {e["behaviour"]: e["effect"] for e in truth["effects"] if "segment" not in e}
    assert [e.behaviour for e in report.effects] == ["view", "favourite", "cart"]
    for effect in report.effects:
        assert effect.ok and effect.method == "backdoor.econml.dr.LinearDRLearner"
        assert effect.ci_low < effect.estimate < effect.ci_high
        assert effect.ci_low <= truths[effect.behaviour] <= effect.ci_high, effect.summary()
        assert "within 7 days" in effect.estimand_text("en") and "7 天" in effect.estimand_text("zh")
        assert effect.verdict in ("supported", "inconclusive")
        assert [r.name for r in effect.refutations] == ["placebo_treatment_refuter", "data_subset_refuter",
                                                        "dummy_outcome_refuter"]
        assert effect.sensitivity is not None and effect.sensitivity.robustness_value >= 0
        assert {a.method for a in effect.alternatives} == {"backdoor.linear_regression", "propensity_weighting"}
    cart = report.effect("cart")
    assert cart.verdict == "supported" and cart.naive > cart.ci_high      # the naive contrast is confounded
    # What the pages draw the graph from: the adjusters known before the decision point, the
    # funnel, the outcome and its horizon; every adjuster of every trial is listed somewhere.
    from whyrec.tools.causal.graph import graph_spec

    graph = graph_spec()
    assert graph["behaviours"] == ["view", "favourite", "cart"] and graph["outcome"] == "purchase"
    assert report.settings["windows"]["horizon_seconds"] == pd.Timedelta(days=7).total_seconds()
    assert "graph" not in report.settings and "horizon" not in report.settings   # nobody read them
    listed = set(graph["confounders"]) | set(graph["also_adjusted"]) | {"looks_so_far", "favourite_so_far",
                                                                           "cart_so_far"}
    from whyrec.tools.causal.estimate import prepare

    for behaviour in ("view", "favourite", "cart"):
        adjusters = prepare(decision_table(demo_workspace).rows(behaviour), behaviour).adjusters
        assert {a.split("_")[0] if a.startswith("category_") else a for a in adjusters} - {"category"} <= listed
    assert report.weights()["cart"].verdict == "supported"


def test_interface_json_has_exactly_the_issue_shape(report):
    rows = report.interface_json()["effects"]
    assert len(rows) == 3 * 3                              # primary + regression + weighting, per behaviour
    for row in rows:
        assert list(row) == ROW_KEYS
        assert all(set(r) == {"name", "passed", "p_value"} for r in row["refutations"])
    primaries = [r for r in rows if r["primary"]]
    assert [r["behaviour"] for r in primaries] == ["view", "favourite", "cart"]
    cart = next(r for r in primaries if r["behaviour"] == "cart")
    assert cart["verdict"] == "supported" and "robustness_value" in cart["sensitivity"]
    assert "hidden factor" in cart["sensitivity"]["text"]
    assert InfluenceReport.from_json(json.loads(json.dumps(report.to_json()))) == report


def test_segments_have_one_primary_row_each(by_category, report, demo_workspace):
    segments = by_category.segments()
    assert segments[0] == "all" and len(segments) == 9
    rows = by_category.interface_json()["effects"]
    primary = [(r["behaviour"], r.get("segment", "all")) for r in rows if r["primary"]]
    assert len(primary) == len(set(primary)) == 3 * 9
    books = by_category.effect("cart", "category=books")
    assert books.n < by_category.effect("cart").n and books.verdict in ("supported", "inconclusive",
                                                                          "cannot_estimate")
    assert sum(by_category.effect("cart", s).n for s in segments[1:]) == by_category.effect("cart").n
    assert by_category.effect("cart").estimate == pytest.approx(report.effect("cart").estimate)


def test_report_is_stored_and_reloaded_without_refitting(tmp_path, fast_settings, monkeypatch):
    build_demo_workspace(tmp_path / "ws", DemoConfig(users=200, items=120, days=40, seed=5))
    workspace = Workspace.open(tmp_path / "ws")
    settings = replace(fast_settings, refuters=())
    first = load_or_estimate(workspace, settings=settings)
    assert report_path(workspace, None, settings).exists()
    monkeypatch.setattr(report_module, "estimate_behaviour", lambda *a, **k: pytest.fail("re-estimated"))
    assert load_or_estimate(Workspace.open(workspace.path), settings=settings) == first
    monkeypatch.undo()
    events = workspace.events()
    extra = events.head(3).assign(timestamp=events["timestamp"].max() + pd.Timedelta(minutes=1))
    from whyrec.tools.schema import compute_event_keys

    extra["event_key"] = compute_event_keys(extra.assign(session_id="new"))
    with workspace.lock():
        workspace.commit(extra.assign(session_id="new"), None, [])
    second = load_or_estimate(workspace, settings=settings)
    assert second.data_version == first.data_version + 1
    assert list(workspace.derived_path.glob(f"influence_report-v{first.data_version}-*")) == []


def test_a_horizon_the_log_cannot_hold_is_a_reason_with_counts(tmp_path, fast_settings):
    build_demo_workspace(tmp_path / "short", DemoConfig(users=200, items=120, days=8, seed=3))
    workspace = Workspace.open(tmp_path / "short")
    settings = replace(fast_settings, horizon_days=7.0, refuters=())
    table = decision_table(workspace, settings)
    report = load_or_estimate(workspace, settings=settings)
    cart = report.effect("cart")
    counts = table.counts("cart")
    assert cart.verdict == "cannot_estimate"
    assert f"a 7 days horizon leaves {counts.followed_up:,} of {counts.in_window:,} decision points" in cart.reason
    span = table.windows.span.total_seconds() / 86_400
    assert f"the log covers {span:.1f} days" in cart.verdict_text("en") and "日志只覆盖" in cart.verdict_text("zh")
    # The horizon chosen for this log's span gives estimates.
    adapted = load_or_estimate(workspace, settings=replace(fast_settings, refuters=()))
    assert any(e.ok for e in adapted.effects)
    assert adapted.settings["windows"]["adapted_to_short_log"] is True


def test_pair_effects_use_the_behaviours_the_user_did(by_category, demo_workspace):
    events, items = demo_workspace.events(), demo_workspace.items()
    carted = events[events["behaviour"] == "cart"].iloc[0]
    pair = pair_effects(by_category, events, items, carted["user_id"], carted["item_id"])
    assert "cart" in pair.behaviours
    assert pair.behaviours == pair_behaviours(events, carted["user_id"], carted["item_id"])
    category = items.set_index("item_id").loc[carted["item_id"], "category"].split(".")[0]
    assert pair.segment == f"category={category}"
    counts = events.groupby(["user_id", "item_id"], observed=True).size()
    single = counts[counts == 1].index[0]
    assert pair_effects(by_category, events, items, *single).effects == ()


def test_graph_picture_is_cached_in_derived(demo_workspace):
    path = graph_picture(demo_workspace, highlight=("cart",))
    assert path.parent == demo_workspace.derived_path and path.read_bytes()[:4] == b"\x89PNG"


def test_effects_cli_table_json_personal_and_errors(demo_workspace, report, capfd, tmp_path):
    ws = str(demo_workspace.path)
    with warnings.catch_warnings():
        warnings.simplefilter("default")                   # let any library warning show
        assert effects_cli(["--workspace", ws, "--no-refute"]) == 0
    out, err = capfd.readouterr()
    assert "favourite" in out and "verdict" in out and "Warning" not in out + err
    assert effects_cli(["--workspace", ws, "--json", "--behaviour", "cart", "--no-refute"]) == 0
    data = json.loads(capfd.readouterr().out)
    assert {r["behaviour"] for r in data["effects"]} == {"cart"} and list(data) == ["effects"]
    user = demo_workspace.events().query("behaviour == 'view'")["user_id"].iloc[0]
    assert effects_cli(["--workspace", ws, "--user", str(user), "--no-refute", "--json"]) == 0
    assert "personal_effects" in json.loads(capfd.readouterr().out)
    assert effects_cli(["--workspace", str(tmp_path / "nope")]) == 2
    assert "no whyrec workspace" in capfd.readouterr().err
    assert effects_cli(["--workspace", ws, "--segment", "colour"]) == 2
    assert "unknown segment" in capfd.readouterr().err
    assert effects_cli(["--workspace", ws, "--behaviour", "rating"]) == 2
    assert effects_cli(["--workspace", ws, "--simulations", "1"]) == 2
    assert "at least 2" in capfd.readouterr().err
    empty = Workspace.create(tmp_path / "empty")
    assert effects_cli(["--workspace", str(empty.path)]) == 2


def test_a_segment_report_reuses_the_stored_population_refutations(tmp_path, fast_settings, monkeypatch):
    """The refuters are seeded, so a segment report reuses the stored population's results
    instead of re-running them (the API answers a segment request without the refuters' cost)."""
    from whyrec.tools.causal import effect as effect_module
    from whyrec.tools.causal import estimate_report

    build_demo_workspace(tmp_path / "ws", DemoConfig(users=200, items=120, days=40, seed=5))
    workspace = Workspace.open(tmp_path / "ws")
    settings = replace(fast_settings, num_simulations=2, refute_max_rows=1_000)
    fresh = estimate_report(decision_table(workspace, settings), settings, "price_band", workspace.data_version)
    population = load_or_estimate(workspace, settings=settings)
    monkeypatch.setattr(effect_module, "refute", lambda *a, **k: pytest.fail("refuters re-run"))
    segmented = load_or_estimate(workspace, "price_band", settings)
    assert len(segmented.effects) == len(fresh.effects) > 3
    for new, old in zip(segmented.effects, fresh.effects, strict=True):
        assert (new.behaviour, new.segment, new.estimate, new.verdict) == (old.behaviour, old.segment, old.estimate,
                                                                           old.verdict)
        assert new.refutations == old.refutations
    assert segmented.effect("cart").refutations == population.effect("cart").refutations != ()


def test_behaviours_in_worker_processes_give_the_same_report(small_table, fast_settings):
    """Large tables are estimated one behaviour per worker process; only the trial's rows travel.
    The numbers are those of the one-process run (same seeds, same folds; the trees' floating
    point sums may differ in the last digits between processes)."""
    from whyrec.tools.causal import estimate_report

    settings = replace(fast_settings, refuters=())
    alone = estimate_report(small_table, replace(settings, jobs=1))
    workers = estimate_report(small_table, replace(settings, jobs=2, parallel_min_rows=0))
    assert [(e.behaviour, e.segment, e.n, e.verdict) for e in alone.effects] == [
        (e.behaviour, e.segment, e.n, e.verdict) for e in workers.effects]
    for a, b in zip(alone.effects, workers.effects):
        assert (b.estimate, b.ci_low, b.ci_high) == pytest.approx((a.estimate, a.ci_low, a.ci_high), abs=1e-4)
    assert replace(settings, jobs=2).cache_key() == replace(settings, jobs=1).cache_key()
    with pytest.raises(ValueError, match="jobs"):
        replace(settings, jobs=0)


def test_behaviours_on_a_two_worker_dask_cluster_give_the_in_process_report(small_table, fast_settings):
    """Issue 18: the causal estimation runs on a cluster, one behaviour per call, and gives the
    in-process numbers (refuters included: they are seeded)."""
    from whyrec.tools.causal import estimate_report
    from whyrec.tools.engine import DaskEngine

    settings = replace(fast_settings, jobs=1)
    alone = estimate_report(small_table, settings)
    with DaskEngine(n_workers=2, memory_limit="2GB") as engine:
        spread = estimate_report(small_table, settings, engine=engine)
    assert len(alone.effects) == len(spread.effects) == len(settings.behaviours)
    for a, b in zip(alone.effects, spread.effects, strict=True):
        assert (b.behaviour, b.segment, b.n, b.verdict) == (a.behaviour, a.segment, a.n, a.verdict)
        assert (b.estimate, b.ci_low, b.ci_high) == pytest.approx((a.estimate, a.ci_low, a.ci_high), abs=1e-4)
        assert [(r.name, r.passed) for r in b.refutations] == [(r.name, r.passed) for r in a.refutations]
    assert any(e.refutations for e in spread.effects)


def test_effects_cli_refuses_engine_options_that_cannot_work(demo_workspace, capsys):
    from whyrec.tools.causal.cli import effects_cli

    ws = str(demo_workspace.path)
    for argv, message in ((["--address", "tcp://127.0.0.1:1"], "--address needs --engine dask"),
                          (["--workers", "2"], "--workers needs --engine dask"),
                          (["--engine", "dask", "--workers", "0"], "--workers must be at least 1"),
                          (["--engine", "dask", "--workers", "-1"], "--workers must be at least 1"),
                          (["--engine", "dask", "--workers", "2", "--address", "tcp://127.0.0.1:1"],
                           "with --address the cluster's own workers run")):
        assert effects_cli(["--workspace", ws, "--no-refute", "--refresh", *argv]) == 2, argv
        assert message in capsys.readouterr().err


def test_effects_cli_answers_from_a_stored_report_without_starting_an_engine(
        demo_workspace, small_table, fast_settings, tmp_path, capsys):
    import shutil

    from whyrec.tools.causal import estimate_report
    from whyrec.tools.causal.cli import effects_cli
    from whyrec.tools.causal.report import report_path, stored_report
    from whyrec.tools.causal.settings import EffectSettings

    shutil.copytree(demo_workspace.path, tmp_path / "ws")
    workspace = Workspace.open(tmp_path / "ws")
    cli_settings = replace(EffectSettings(), refuters=())          # what --no-refute asks for
    report = estimate_report(small_table, replace(fast_settings, refuters=()), data_version=workspace.data_version)
    report_path(workspace, None, cli_settings).write_text(json.dumps(report.to_json()), encoding="utf-8")
    assert stored_report(workspace, None, cli_settings) is not None
    # A scheduler that does not exist: reaching for it would fail with exit 2.
    assert effects_cli(["--workspace", str(workspace.path), "--no-refute", "--json", "--engine", "dask",
                        "--address", "tcp://127.0.0.1:1"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown == json.loads(json.dumps(InfluenceReport.from_json(report.to_json()).interface_json()))
    assert len(shown["effects"]) >= 3


def test_a_log_over_the_table_cap_builds_the_table_of_a_user_sample_with_whole_log_baselines(
        demo_workspace, fast_settings):
    whole = decision_table(demo_workspace, fast_settings)
    capped = replace(fast_settings, table_max_events=len(demo_workspace.events()) // 2)
    table = decision_table(demo_workspace, capped)
    assert table.sample["of_users"] == demo_workspace.events()["user_id"].nunique()
    assert 0 < table.sample["users"] < table.sample["of_users"] and table.sample["events"] <= capped.table_max_events
    assert table.event_counts == whole.event_counts  # the whole log's counts
    assert table.windows == whole.windows
    for behaviour in ("view", "cart"):
        rows = table.rows(behaviour)
        users = set(rows["user_id"].astype(str))
        full = whole.rows(behaviour)
        full = full[full["user_id"].astype(str).isin(users)]
        key = ["user_id", "item_id", "k"]
        pd.testing.assert_frame_equal(rows.sort_values(key).reset_index(drop=True),
                                      full.sort_values(key).reset_index(drop=True))
    report = report_module.estimate_report(table, replace(capped, behaviours=("view",), refuters=()))
    assert report.settings["table_sample"] == table.sample
    assert any("random sample of whole shoppers" in note for note in report.effects[0].notes)


@pytest.mark.parametrize("capped", [False, True], ids=["whole log", "user sample"])
def test_the_decision_table_built_on_an_engine_is_the_in_process_table(demo_workspace, fast_settings, monkeypatch,
                                                                         capped):
    """Issue 18: with an engine, each user partition's exposures and decision points are built by
    one call (its arguments and results pickled, as on a cluster) and put together: the in-process
    table row for row — for the whole log and for a log over the table cap (a user sample)."""
    from ..engines import Pickling

    monkeypatch.setattr(report_module, "TABLE_PARTITION_ROWS", 1_000)  # the demo shop in several partitions
    settings = fast_settings
    if capped:
        settings = replace(fast_settings, table_max_events=demo_workspace.event_count() // 2)
    alone = report_module.decision_table(demo_workspace, settings)
    engine = Pickling(workers=2)
    spread = report_module.decision_table(demo_workspace, settings, engine)
    assert engine.sent[0] >= 8
    assert spread.units.frame.equals(alone.units.frame) and len(alone.units.frame) > 1_000
    assert spread.frame.equals(alone.frame)
    assert (spread.event_counts, spread.sample, spread.windows) == (alone.event_counts, alone.sample, alone.windows)
    assert bool(spread.sample) == capped
    assert not list(demo_workspace.derived_path.glob("whyrec-table-*"))  # the job's folder is removed


def test_the_effects_on_a_two_worker_dask_cluster_build_the_in_process_table(demo_workspace, fast_settings,
                                                                             monkeypatch):
    """The decision table on a real two-worker cluster (workers read their partitions of the
    workspace themselves) equals the in-process one."""
    from whyrec.tools.engine import DaskEngine

    monkeypatch.setattr(report_module, "TABLE_PARTITION_ROWS", 2_000)
    alone = report_module.decision_table(demo_workspace, fast_settings)
    with DaskEngine(n_workers=2, memory_limit="2GB") as engine:
        spread = report_module.decision_table(demo_workspace, fast_settings, engine)
    assert spread.frame.equals(alone.frame) and spread.units.frame.equals(alone.units.frame)
