"""The causal benchmark's summaries: bias, coverage and refuter rates computed as documented."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench import bench_causal


def _effect(behaviour, truth, dr, passed=True, verdict="supported"):
    return {"behaviour": behaviour, "segment": None, "truth": truth, "verdict": verdict,
            "reasons": [] if verdict == "supported" else ["interval_spans_zero"], "n": 100, "naive": truth + 0.1,
            "trimmed_share": 0.0, "robustness": 0.1,
            "refutations": {"placebo_treatment_refuter": {"passed": passed, "p": 0.5, "mean": 0.0, "spread": 0.01}},
            "estimators": {"dr": list(dr)}}


def test_stats_bias_rmse_and_coverage():
    out = bench_causal._stats(np.array([0.1, 0.3]), np.array([0.0, 0.25]), np.array([0.2, 0.28]),
                              np.array([0.2, 0.2]))
    assert out["bias"] == pytest.approx(0.0) and out["rmse"] == pytest.approx(0.1)
    assert out["coverage"] == 0.5 and out["mean_width"] == pytest.approx(0.115)
    assert out["rel_bias"] == pytest.approx(0.0)
    assert bench_causal._stats(np.array([0.01, -0.01]), None, None, np.array([0.0, 0.0]))["rel_bias"] is None


def test_accuracy_summary_counts_seeds_coverage_and_false_fails(tmp_path, monkeypatch):
    path = tmp_path / "acc.jsonl"
    records = [
        {"scenario": "adversarial", "seed": 1, "users": 50, "events": 10, "seconds": 1.0,
         "effects": [_effect("cart", 0.4, (0.38, 0.35, 0.41)), _effect("favourite", 0.0, (0.01, -0.02, 0.04),
                                                                       verdict="inconclusive")]},
        {"scenario": "adversarial", "seed": 2, "users": 50, "events": 10, "seconds": 1.0,
         "effects": [_effect("cart", 0.4, (0.46, 0.42, 0.50), passed=False)]},
        {"scenario": "adversarial", "seed": 3, "users": 99, "events": 10, "seconds": 1.0, "effects": []},
    ]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    monkeypatch.setattr(bench_causal, "ACCURACY", path)
    summary = bench_causal.summarise_accuracy(50)
    data = summary["scenarios"]["adversarial"]
    assert data["seeds"] == 2                                         # the other shop size is left out
    cart = next(b for b in data["behaviours"] if b["behaviour"] == "cart")
    assert cart["estimators"]["dr"]["coverage"] == 0.5
    assert cart["estimators"]["dr"]["bias"] == pytest.approx(0.02)
    assert cart["refuters_passed"]["placebo_treatment_refuter"] == 0.5 and cart["false_fail_any"] == 0.5
    favourite = next(b for b in data["behaviours"] if b["behaviour"] == "favourite")
    assert favourite["verdicts"] == {"inconclusive": 1} and favourite["seeds"] == 1
    assert favourite["estimators"]["dr"]["rel_bias"] is None          # a zero truth has no relative bias


def test_power_summary_true_fail_rates(tmp_path, monkeypatch):
    path = tmp_path / "power.jsonl"
    rows = []
    for seed, (placebo, dummy) in enumerate([(True, False), (True, False), (True, True), (False, False)]):
        rows.append({"scenario": "default", "seed": seed, "users": 50, "behaviour": "cart", "truth": 0.1,
                     "sound_estimate": 0.1, "broken_estimate": 0.2, "seconds": 1.0,
                     "refutations": {"placebo_treatment_refuter": {"passed": placebo, "ran": True},
                                     "dummy_outcome_refuter": {"passed": dummy, "ran": True}}})
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    monkeypatch.setattr(bench_causal, "POWER", path)
    data = bench_causal.summarise_power(50)["scenarios"]["default"]
    assert data["true_fail"] == {"placebo_treatment_refuter": 0.25, "dummy_outcome_refuter": 0.75}
    assert data["any_fail"] == 0.75 and data["broken_bias"] == pytest.approx(0.1)


def test_wilson_interval():
    low, high = bench_causal.wilson(26, 30)
    assert low == pytest.approx(0.7032, abs=1e-3) and high == pytest.approx(0.9469, abs=1e-3)
    assert bench_causal.wilson(30, 30)[1] == pytest.approx(1.0)


def test_coverage_summary(tmp_path, monkeypatch):
    def row(truth, estimate, se, se_user):
        return {"behaviour": "view", "truth": truth, "n": 10, "kept_share": 0.99, "truth_kept": truth + 0.001,
                "estimate": estimate, "naive": estimate + 0.1, "se": se, "se_user": se_user,
                "dr": [estimate - 1.96 * se, estimate + 1.96 * se],
                "dr_user": [estimate - 1.96 * se_user, estimate + 1.96 * se_user],
                "regression": [estimate, estimate - 0.1, estimate + 0.1], "weighting": None}
    path = tmp_path / "cov.jsonl"
    records = [{"scenario": "adversarial", "seed": s, "users": 50, "events": 10, "seconds": 1.0,
                "effects": [row(0.1, 0.1 + d, 0.01, 0.005)]} for s, d in enumerate([0.0, 0.015, -0.03])]
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    monkeypatch.setattr(bench_causal, "COVERAGE", path)
    view = bench_causal.summarise_coverage(50)["scenarios"]["adversarial"]["behaviours"][0]
    dr, user = view["estimators"]["dr"], view["estimators"]["dr_user"]
    assert dr["covered"] == 2 and user["covered"] == 1 and dr["n"] == 3
    assert dr["wilson"] == pytest.approx(bench_causal.wilson(2, 3))
    assert view["z_mean"] == pytest.approx(-0.5) and view["kept_share_min"] == 0.99
    assert view["truth_kept_minus_truth"] == pytest.approx(0.001)
    assert "weighting" not in view["estimators"] and dr["excludes_zero"] == 3
