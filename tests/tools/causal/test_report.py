"""The influence report: cached per data version, segments, text/JSON, pairs, the CLI."""

from __future__ import annotations

import json
from dataclasses import replace

import pandas as pd
import pytest

from whyrec.tools.causal import (
    InfluenceReport,
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


@pytest.fixture()
def fresh_workspace(tmp_path) -> Workspace:
    build_demo_workspace(tmp_path / "ws", DemoConfig(users=300, items=120, days=40, seed=5))
    return Workspace.open(tmp_path / "ws")


def test_report_is_stored_and_reloaded_without_refitting(fresh_workspace, fast_settings, monkeypatch):
    first = load_or_estimate(fresh_workspace, settings=fast_settings)
    assert report_path(fresh_workspace, None, fast_settings).exists()
    calls = []
    monkeypatch.setattr(report_module, "estimate_behaviour",
                        lambda *a, **k: calls.append(a) or pytest.fail("re-estimated"))
    again = load_or_estimate(Workspace.open(fresh_workspace.path), settings=fast_settings)
    assert again == first and not calls


def test_new_events_trigger_re_estimation(fresh_workspace, fast_settings):
    first = load_or_estimate(fresh_workspace, settings=fast_settings)
    events = fresh_workspace.events()
    extra = events.head(3).assign(timestamp=events["timestamp"].max() + pd.Timedelta(minutes=1))
    from whyrec.tools.schema import compute_event_keys

    extra["event_key"] = compute_event_keys(extra.assign(session_id="new"))
    with fresh_workspace.lock():
        fresh_workspace.commit(extra.assign(session_id="new"), None, [])
    second = load_or_estimate(fresh_workspace, settings=fast_settings)
    assert second.data_version == first.data_version + 1
    assert second.created_at >= first.created_at
    stale = list(fresh_workspace.derived_path.glob(f"influence_report-v{first.data_version}-*"))
    assert stale == []


def test_json_and_text_have_what_the_chatbot_cites(demo_workspace, fast_settings):
    report = load_or_estimate(demo_workspace, settings=fast_settings)
    data = report.to_json()
    assert [e["behaviour"] for e in data["effects"]] == ["view", "favourite", "cart"]
    for entry in data["effects"]:
        for key in ("behaviour", "outcome", "estimate", "ci_low", "ci_high", "naive", "method", "n",
                    "refutations", "segment", "status"):
            assert key in entry, key
        assert entry["ci_low"] < entry["estimate"] < entry["ci_high"]
        assert all({"name", "passed", "reason"} <= set(r) for r in entry["refutations"])
    assert InfluenceReport.from_json(json.loads(json.dumps(data))) == report
    text = report.to_text()
    assert "cart" in text and "95% CI" in text and "3/3 pass" in text
    assert f"{report.effect('cart').estimate:+.3f}" in text


def test_segments_by_category_and_one_value(demo_workspace, fast_settings):
    report = load_or_estimate(demo_workspace, "category", fast_settings)
    segments = report.segments()
    assert segments[0] == "all" and len(segments) == 9
    books = report.effect("cart", "category=books")
    assert books.ok and books.n < report.effect("cart").n
    per_segment = [report.effect("cart", s).n for s in segments[1:]]
    assert sum(per_segment) == report.effect("cart").n          # the categories partition the units
    one = load_or_estimate(demo_workspace, "category=books", fast_settings)
    assert one.segments() == ("all", "category=books")
    assert one.effect("cart", "category=books").estimate == pytest.approx(books.estimate)


def test_a_tiny_segment_is_a_cannot_estimate_result(demo_workspace, fast_settings):
    settings = replace(fast_settings, min_units=5_000)
    report = load_or_estimate(demo_workspace, "price_band", settings)
    banded = [e for e in report.effects if e.segment.startswith("price_band=")]
    assert banded and all(not e.ok and "at least 5,000 needed" in e.reason for e in banded)
    assert "cannot estimate because" in report.to_text()


def test_pair_effects_use_the_behaviours_the_user_did(demo_workspace, fast_settings):
    report = load_or_estimate(demo_workspace, "category", fast_settings)
    events, items = demo_workspace.events(), demo_workspace.items()
    carted = events[events["behaviour"] == "cart"].iloc[0]
    pair = pair_effects(report, events, items, carted["user_id"], carted["item_id"])
    assert "cart" in pair.behaviours
    assert pair.behaviours == pair_behaviours(events, carted["user_id"], carted["item_id"])
    category = items.set_index("item_id").loc[carted["item_id"], "category"].split(".")[0]
    assert pair.segment == f"category={category}"
    cart_effect = next(e for e in pair.effects if e.behaviour == "cart")
    assert cart_effect.segment in (pair.segment, "all")
    counts = events.groupby(["user_id", "item_id"]).size()
    single = counts[counts == 1].index[0]          # a single view and nothing else
    assert pair_effects(report, events, items, *single).effects == ()


def test_graph_picture_is_cached_in_derived(demo_workspace, fast_settings):
    path = graph_picture(demo_workspace, fast_settings, highlight=("cart",))
    assert path.parent == demo_workspace.derived_path and path.read_bytes()[:4] == b"\x89PNG"


def test_effects_cli_table_json_and_errors(demo_workspace, capsys, tmp_path):
    assert effects_cli(["--workspace", str(demo_workspace.path), "--simulations", "3"]) == 0
    assert "favourite" in capsys.readouterr().out
    assert effects_cli(["--workspace", str(demo_workspace.path), "--simulations", "3", "--json",
                        "--behaviour", "cart"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [e["behaviour"] for e in data["effects"]] == ["cart"]
    assert effects_cli(["--workspace", str(tmp_path / "nope")]) == 2
    assert "no whyrec workspace" in capsys.readouterr().err
    assert effects_cli(["--workspace", str(demo_workspace.path), "--segment", "colour"]) == 2
    assert "unknown segment" in capsys.readouterr().err
    empty = Workspace.create(tmp_path / "empty")
    assert effects_cli(["--workspace", str(empty.path)]) == 2
