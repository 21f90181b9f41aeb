"""Verdicts: supported only when nothing argues against the effect; every reason is listed."""

from __future__ import annotations

from whyrec.tools.causal.results import MethodEstimate, Refutation, Sensitivity
from whyrec.tools.causal.settings import LINEAR_REGRESSION, PROPENSITY_WEIGHTING, EffectSettings
from whyrec.tools.causal.verdict import judge

SETTINGS = EffectSettings()
SOLID = Sensitivity(robustness_value=0.08, robustness_value_estimate=0.15, e_value=2.5, e_value_ci=1.8, baseline=0.1)
AGREE = (MethodEstimate(PROPENSITY_WEIGHTING, 0.11, 0.07, 0.15), MethodEstimate(LINEAR_REGRESSION, 0.3, 0.28, 0.32))
PASSED = (Refutation("placebo_treatment_refuter", 0.0, True, "ok", 0.4, 6),)


def codes(result):
    return [r.code for r in result[1]]


def test_a_clean_effect_is_supported_even_if_regression_disagrees():
    verdict, reasons = judge(0.12, (0.08, 0.16), 0.01, AGREE, PASSED, SOLID, SETTINGS)
    assert verdict == "supported" and reasons == ()


def test_each_rule_makes_it_inconclusive():
    assert codes(judge(0.02, (-0.01, 0.05), 0.0, (), PASSED, SOLID, SETTINGS)) == ["interval_spans_zero"]
    assert codes(judge(0.12, (0.08, 0.16), 0.3, AGREE, PASSED, SOLID, SETTINGS)) == ["poor_overlap"]
    apart = (MethodEstimate(PROPENSITY_WEIGHTING, 0.3, 0.2, 0.4),)
    assert codes(judge(0.12, (0.08, 0.16), 0.0, apart, PASSED, SOLID, SETTINGS)) == ["estimators_disagree"]
    failed = (Refutation("dummy_outcome_refuter", 0.05, False, "no", 0.01, 6),)
    assert codes(judge(0.12, (0.08, 0.16), 0.0, AGREE, failed, SOLID, SETTINGS)) == ["refuter_failed"]
    not_run = (Refutation("dummy_outcome_refuter", None, False, "could not run: x", None, 0, ran=False),)
    assert codes(judge(0.12, (0.08, 0.16), 0.0, AGREE, not_run, SOLID, SETTINGS)) == ["refuter_not_run"]
    fragile = Sensitivity(0.005, 0.02, 1.3, 1.05, 0.1)
    assert codes(judge(0.12, (0.08, 0.16), 0.0, AGREE, PASSED, fragile, SETTINGS)) == ["sensitivity_low"]
    assert codes(judge(0.12, (0.08, 0.16), 0.0, AGREE, (), SOLID, SETTINGS, ("placebo_treatment_refuter",))) == [
        "refuter_failed"]


def test_all_reasons_are_listed_and_worded_in_both_languages():
    verdict, reasons = judge(0.02, (-0.01, 0.05), 0.3, (MethodEstimate(PROPENSITY_WEIGHTING, 0.3, 0.2, 0.4),),
                             (Refutation("placebo_treatment_refuter", 0.1, False, "no", 0.0, 6),), SOLID, SETTINGS)
    assert verdict == "inconclusive" and len(reasons) == 4
    english = reasons[0].text("en")
    assert "includes zero" in english and "-1.0" in english and "+5.0" in english
    assert "区间" in reasons[0].text("zh") and "30.0%" in reasons[1].text("zh")
