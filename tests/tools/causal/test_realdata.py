"""Real logs (Tmall 2014, REES46): estimates with honest verdicts, or refusals that give counts."""

from __future__ import annotations

from dataclasses import replace

import pytest

from whyrec.tools.causal import build_decisions, choose_windows, estimate_report
from whyrec.tools.ingest.pipeline import read_preset

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


@pytest.fixture(scope="module")
def reports(tmall_dir, rees46_dir, fast_settings):
    settings = replace(fast_settings, refuters=(), max_rows=30_000)
    out = {}
    for preset, folder in (("tmall2014", tmall_dir), ("rees46", rees46_dir)):
        events, items = read_preset(preset, folder)
        table = build_decisions(events, items, choose_windows(events))
        out[preset] = (table, estimate_report(table, settings))
    return out


def test_every_effect_is_an_estimate_with_a_verdict_or_a_counted_refusal(reports):
    for preset, (_table, report) in reports.items():
        assert [e.behaviour for e in report.effects] == ["view", "favourite", "cart"], preset
        for effect in report.effects:
            assert effect.verdict in ("supported", "inconclusive", "cannot_estimate")
            if effect.ok:
                assert effect.ci_low <= effect.estimate <= effect.ci_high
            else:
                assert effect.reason.startswith("cannot estimate because")
                assert any(c.isdigit() for c in effect.reason) or "no events" in effect.reason


def test_tmall_cart_is_not_presented_as_a_finding(reports):
    table, report = reports["tmall2014"]
    cart = report.effect("cart")
    counts = table.counts("cart")
    assert counts.treated < 100 and table.event_counts["cart"] == 153
    assert cart.verdict != "supported"
    assert f"{counts.followed_up:,}" in cart.reason or "set aside" in cart.reason


def test_rees46_short_log_adapts_and_says_what_is_missing(reports):
    table, report = reports["rees46"]
    assert table.windows.adapted and table.windows.horizon.total_seconds() < 3_600
    assert "no events of saving it to favourites" in report.effect("favourite").reason
    assert report.effect("view").ok
