"""Estimates with refutations on real logs (Tmall 2014, REES46): results or clear refusals."""

from __future__ import annotations

import pytest

from whyrec.tools.causal import EffectSettings, build_units, estimate_report
from whyrec.tools.ingest.pipeline import read_preset

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


@pytest.mark.parametrize("preset, fixture", [("tmall2014", "tmall_dir"), ("rees46", "rees46_dir")])
def test_real_logs_give_estimates_or_reasons(preset, fixture, request):
    events, items = read_preset(preset, request.getfixturevalue(fixture))
    table = build_units(events, items)
    assert len(table.frame) > 1_000
    report = estimate_report(table, EffectSettings(num_simulations=5))
    assert [e.behaviour for e in report.effects] == ["view", "favourite", "cart"]
    for effect in report.effects:
        if effect.ok:
            assert effect.ci_low <= effect.estimate <= effect.ci_high
            assert len(effect.refutations) == 3
            assert all(r.reason for r in effect.refutations)
        else:
            assert effect.reason.startswith("cannot estimate because")
    if preset == "rees46":  # no favourites in that log
        assert not report.effect("favourite").ok
    assert any(e.ok for e in report.effects)
