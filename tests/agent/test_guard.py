"""The grounding guard: numbers and titles in an answer must come from this turn's tool results."""

from __future__ import annotations

from whyrec.agent.guard import GroundingGuard, numbers_in

GUARD = GroundingGuard(["Ravn wool scarf", "Kvitfjell wireless mouse", "Saga Studio hyaluronic serum"])
EVIDENCE = ["recommendations: 1. Ravn wool scarf score=1.6757; top reason 24.7% of the score",
            "cart effect estimate 0.1998 (95% CI 0.1842..0.2371)"]


def test_rounded_and_percent_forms_of_tool_numbers_pass() -> None:
    answer = ("I recommend Ravn wool scarf (score 1.68, 25% from your cart). Adding to cart raises "
              "purchase by about 20 percentage points (0.184 to 0.237).")
    assert GUARD.check(answer, EVIDENCE).grounded


def test_invented_number_is_caught() -> None:
    result = GUARD.check("Adding to cart raises purchase by 35%.", EVIDENCE)
    assert not result.grounded and result.unsupported_numbers == ("35%",)


def test_title_not_returned_by_a_tool_is_caught() -> None:
    result = GUARD.check("You should also try the Kvitfjell wireless mouse.", EVIDENCE)
    assert not result.grounded and result.unsupported_titles == ("Kvitfjell wireless mouse",)


def test_list_positions_and_small_counts_are_allowed() -> None:
    assert GUARD.check("1. Ravn wool scarf\n2. ...", EVIDENCE).grounded


def test_numbers_parse_with_signs_percent_and_chinese_units() -> None:
    parsed = numbers_in("+0.21, −3.5%, 12 个百分点")
    assert [(v, percent) for _, v, _, percent in parsed] == [(0.21, False), (-3.5, True), (12.0, True)]
