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


# -- faithfulness: sentences the results do not support ---------------------------------------------
import pytest  # noqa: E402

from whyrec.agent.guard import FaithfulnessCheck  # noqa: E402

RESULTS = ("Here are 3 picks for you:\n"
           "1. Ravn wool scarf — Because you bought “Kvitfjell wireless mouse”\n"
           "2. Saga Studio hyaluronic serum — Popular with shoppers; none of your behaviours counts towards it\n"
           "Ask “why the first one?” and I'll show you what a pick rests on.")
EFFECTS = ("What each behaviour does to the chance of buying (causal estimates):\n"
           "• Adding an item to the cart: shoppers who do it are 17.1 percentage points more likely to buy that "
           "item (95% range: +12.2 to +21.9 percentage points). Supported: the estimate holds up under the checks.")
ZH_RESULTS = "为你挑了 2 件商品：\n1. Ravn wool scarf —— 因为你购买了“Kvitfjell wireless mouse”"


@pytest.fixture(scope="module")
def faithfulness() -> FaithfulnessCheck:
    from whyrec.tools.embeddings import default_embedder

    return FaithfulnessCheck(default_embedder().embed, ["Ravn wool scarf", "Kvitfjell wireless mouse",
                                                        "Saga Studio hyaluronic serum", "Ravn silk scarf"])


@pytest.mark.parametrize(("sentence", "evidence", "causal", "faithful"), [
    ("My top pick for you is Ravn wool scarf.", RESULTS, False, True),
    ("I'd start with Ravn wool scarf, because you bought Kvitfjell wireless mouse.", RESULTS, False, True),
    ("Here are five picks for you.", RESULTS, False, True),
    ("Adding to cart raises the chance of buying by about 17 percentage points.", EFFECTS, True, True),
    ("这是为你挑选的几件商品。", ZH_RESULTS, False, True),
    # says the shopper did something the results do not say
    ("You bought Saga Studio hyaluronic serum last week, so you'll love Ravn wool scarf.", RESULTS, False, False),
    # a fact about an item nothing returned
    ("Ravn wool scarf is perfect for winter and very durable.", RESULTS, False, False),
    # a causal claim in a turn without a causal result
    ("Adding Ravn wool scarf to your cart makes you more likely to buy it.", RESULTS, False, False),
    # the small local model's invented openings (issue 15)
    ("I'm sorry for your loss, but as an AI designed to assist users with creative writing, I can help.",
     RESULTS, False, False),
    ("All of these are on sale this week.", RESULTS, False, False),
    ("Favouriting has no effect at all.", EFFECTS, True, False),
    ("这些商品都在打折。", ZH_RESULTS, False, False),
    ("很抱歉听到你的损失，作为一个写作助手我可以帮忙。", ZH_RESULTS, False, False),
])
def test_faithfulness(faithfulness: FaithfulnessCheck, sentence: str, evidence: str, causal: bool,
                      faithful: bool) -> None:
    language = "zh" if any("\u4e00" <= c <= "\u9fff" for c in sentence) else "en"
    result = faithfulness.check(sentence, [evidence], language, causal_results=causal)
    assert result.faithful == faithful, result.describe()


def test_one_bad_sentence_fails_the_answer_and_is_named(faithfulness: FaithfulnessCheck) -> None:
    result = faithfulness.check("My top pick for you is Ravn wool scarf. It is on sale this week.", [RESULTS])
    assert not result.faithful and [s for s, _ in result.unsupported] == ["It is on sale this week."]
