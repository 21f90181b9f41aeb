"""Truthfulness: every sentence type says exactly what its computation means.

* the headline of an explanation is the verified counterfactual set — and names nothing else;
* model reasons are shares of the score in the model, never negative "reasons";
* causal sentences appear only about the explained item (see the explainer's tests too);
* no sentence claims "mainly" or "smallest" — those words are not in the catalogue at all;
* every number a shopper reads is one the result holds (rounded as shown);
* Chinese answers hold no English outside quoted data (titles).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from whyrec.agent.render import card_reason, render
from whyrec.prompts.catalogue import catalogue
from whyrec.tools.explain.results import ChartBar
from whyrec.tools.service import Explanation, WhyrecService
from whyrec.tools.settings import Settings

QUOTED = re.compile(r"“[^”]*”")
NUMBER = re.compile(r"\d+(?:\.\d+)?")


@pytest.fixture(scope="module")
def service(demo_workspace_template: Path) -> WhyrecService:
    return WhyrecService(Settings(workspace=demo_workspace_template))


@pytest.fixture(scope="module")
def explanations(service: WhyrecService) -> list[Explanation]:
    """Explanations of the top 5 of 12 users, and of a few items outside their lists."""
    out = []
    for user in service.users()[:12]:
        recs = service.recommend(user, k=5)
        out += [service.explain(user, item.item_id, k=5) for item in recs.items]
        outside = service.recommend(user, k=40).items[-1]
        out.append(service.explain(user, outside.item_id, k=5))
    return out


def test_no_overclaiming_words_exist_in_the_catalogue() -> None:
    for language in ("en", "zh"):
        words = " ".join(catalogue(language).values()).lower()
        assert "mainly" not in words and "smallest" not in words and "最小" not in words
        # "mostly because it is popular" was said of items whose score was 90% the user's own
        # behaviours: what was verified is that they stay without them, not why they are there.
        assert "mostly" not in words and "主要" not in words
        assert "causal influence" not in words


def test_the_headline_is_the_verified_set(explanations: list[Explanation]) -> None:
    verified = 0
    for e in explanations:
        if e.why_not is not None:
            assert e.headline.kind == "not_in_top_k"
            continue
        if e.counterfactual is not None:
            verified += 1
            assert e.headline.kind == "verified" and e.counterfactual.verified
            assert [x.event_key for x in e.headline.events] == [x.event_key for x in e.counterfactual.events]
        else:
            assert e.headline.kind in ("popularity", "many_signals") and not e.headline.events
    assert verified > 10


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_lead_sentence_names_only_the_verified_behaviours(explanations: list[Explanation],
                                                              language: str) -> None:
    for e in explanations:
        if e.counterfactual is None:
            continue
        lead = render(e, language).split("\n")[0]
        named = set(QUOTED.findall(lead))
        allowed = {f"“{x.title}”" for x in e.counterfactual.events} | {f"“{e.title}”"}
        if e.counterfactual.replacement is not None:
            allowed.add(f"“{e.counterfactual.replacement.title}”")
        assert named <= allowed, (lead, named - allowed)
        top = sorted(e.counterfactual.events, key=lambda x: -x.contribution)[:2]
        assert {f"“{x.title}”" for x in top} <= named


@pytest.mark.parametrize("language", ["en", "zh"])
def test_model_reasons_never_list_a_lowering_behaviour(explanations: list[Explanation], language: str) -> None:
    for e in explanations:
        text = render(e, language)
        for bar in e.chart:
            if bar.kind == "event" and bar.value < 0 and bar.title:
                for line in text.split("\n"):
                    if line.startswith("•") and f"“{bar.title}”" in line:
                        pytest.fail(f"a behaviour that lowers the score is listed as a reason: {line}")


@pytest.mark.parametrize("language", ["en", "zh"])
def test_model_reasons_are_listed_by_share_popularity_in_its_place(explanations: list[Explanation],
                                                                   language: str) -> None:
    """Before: the top three behaviours, then popularity whatever its share — a 6% popularity line
    under behaviours of 35/17/16% while two of 7.1% were left out read as a ranking that was wrong."""
    from whyrec.agent.render import _model_reasons, percent
    from whyrec.prompts.catalogue import message

    rest_line = re.compile(re.escape(message("explain.model.rest", language, n=999)).replace("999", r"\d+"))
    popularity_lead = message("explain.model.popularity", language, share="@").split("@")[0]
    from dataclasses import replace

    # The test shop's tuned ranker gives popularity no weight: also each explanation with its
    # popularity share set between its third and fourth behaviour (the case that was misread).
    variants = list(explanations)
    for e in explanations:
        shares = sorted((b.share for b in e.chart if b.kind == "event" and b.value > 0), reverse=True)
        for above in (3, 4):   # popularity between the 3rd and 4th behaviour, or the 4th and 5th
            if len(shares) > above and shares[above] > 0.05 and shares[above - 1] > shares[above]:
                middle = (shares[above - 1] + shares[above]) / 2
                chart = [replace(b, share=middle) if b.kind == "prior" else b for b in e.chart]
                if not any(b.kind == "prior" for b in chart):
                    chart.append(ChartBar(kind="prior", value=middle, share=middle))
                variants.append(replace(e, chart=chart))
    placed = 0
    for e in variants:
        lines = _model_reasons(e, language)
        if not lines:
            continue
        events = [b for b in e.chart if b.kind == "event" and b.value > 0]
        prior = next((b for b in e.chart if b.kind == "prior" and b.share >= 0.05), None)
        body = lines[1:]
        has_rest = rest_line.fullmatch(body[-1]) is not None
        listed = body[:-1] if has_rest else body
        ranked = sorted([*events, *([prior] if prior is not None else [])], key=lambda b: -b.share)
        expected = ranked[:len(listed)]
        for line, bar in zip(listed, expected, strict=True):
            assert line.endswith(percent(bar.share, language)), (line, bar)
            assert line.startswith(popularity_lead) == (bar is prior), line
        hidden = [b for b in events if not any(b is x for x in expected)]
        assert has_rest == bool(hidden)
        assert all(h.share <= expected[-1].share for h in hidden)
        placed += prior is not None and any(b.share < prior.share for b in events)
    assert placed > 0   # popularity was listed above some behaviour: its place was checked


def _supported(number: str, data: str, text: str) -> bool:
    """A number of the text is in the result: as given, as a rounded percentage or point value,
    or as a day of a date the result holds."""
    if number in data:
        return True
    values = [float(v) for v in NUMBER.findall(data)]
    x = float(number)
    return any(round(v) == x or round(v, 1) == x or round(100 * v, 1) == x or round(100 * v) == x
               for v in values)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_every_number_read_is_in_the_result(explanations: list[Explanation], language: str) -> None:
    for e in explanations:
        text = QUOTED.sub("", render(e, language))
        data = json.dumps(e.to_json(), ensure_ascii=False)
        missing = [n for n in NUMBER.findall(text) if not _supported(n, data, text)]
        assert not missing, (text, missing)


def test_chinese_answers_hold_no_english_outside_data(service: WhyrecService,
                                                      explanations: list[Explanation]) -> None:
    user = service.users()[0]
    texts = [render(e, "zh") for e in explanations]
    texts.append(render(service.recommend(user, k=5), "zh"))
    texts.append(render(service.effects(), "zh"))
    for text in texts:
        stripped = QUOTED.sub("", text)
        for line in stripped.split("\n"):
            # recommendation lines start with the item's title (data), unquoted
            line = re.sub(r"^\d+\. .*? —— ", "", line)
            assert not re.search(r"[A-Za-z]{2,}", line), line


def test_card_reasons_follow_the_headline(service: WhyrecService) -> None:
    for user in service.users()[:10]:
        for item in service.recommend(user, k=5).items:
            reason = card_reason(item.headline, "en")
            assert item.headline is not None
            if item.headline.kind == "verified":
                first = max(item.headline.events, key=lambda e: e.contribution)
                assert f"“{first.title}”" in reason
            else:
                assert "“" not in reason


@pytest.mark.parametrize(("language", "expected"), [
    ("en", "Because you bought “Fjord lamp” and added it to your cart"),
    ("zh", "因为你购买了“Fjord lamp”，还把它加入了购物车"),
])
def test_a_card_names_an_item_once_when_both_verified_behaviours_are_on_it(language: str, expected: str) -> None:
    import pandas as pd

    from whyrec.tools.explain.results import EventContribution, Headline

    when = pd.Timestamp("2026-10-01", tz="UTC")
    events = (EventContribution(1, "purchase", "i1", "Fjord lamp", when, 2.0, 0.5),
              EventContribution(2, "cart", "i1", "Fjord lamp", when, 1.0, 0.25))
    assert card_reason(Headline("verified", events), language) == expected
    other = (events[0], EventContribution(3, "cart", "i2", "Oslo mug", when, 1.0, 0.25))
    assert "“Oslo mug”" in card_reason(Headline("verified", other), language)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_an_item_that_stays_without_its_support_is_said_to_stay_with_the_checked_rank(
        service: WhyrecService, language: str) -> None:
    """The verified fact (ranked again without every supporting behaviour, it is still in the
    list) is the headline, with the rank that re-ranking gave; popularity's share is a model
    attribution said as such, whatever its size. (It was "mostly because it is popular (10% of its
    score)" while the user's own behaviours made up the other 90%.)"""
    stays = [e for user in service.users()[:60] for item in service.recommend(user, k=5).items
             if (e := service.explain(user, item.item_id, k=5)).reason == "popularity"]
    assert stays   # two on this shop (u041, u054)
    for e in stays:
        assert e.headline.kind == "stays" and e.headline.support > 0
        assert e.headline.new_rank == e.rank_without_support and e.headline.new_rank <= e.k
        text = render(e, language)
        lead = text.split("\n")[0]
        rank = f"#{e.headline.new_rank}" if language == "en" else f"第 {e.headline.new_rank} 名"
        assert rank in lead and str(e.k) in lead
        assert card_reason(e.headline, language) != card_reason(None, language)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_an_inconclusive_effect_is_not_given_a_direction(service: WhyrecService, language: str) -> None:
    """Only a supported effect "raises" or "lowers" the chance of buying; an inconclusive one
    says the data do not settle it, with its signed estimate. ("Doing it next lowers the chance
    … by 3.5 points … verdict: inconclusive" was said where the true effect was +6.0.)"""
    effects = service.effects(segment="category")
    text = render(effects, language)
    up, down, unclear = {"en": ("next raises the chance", "next lowers the chance", "do not settle"),
                         "zh": ("可能性提高", "可能性降低", "无法确定")}[language]
    kinds = {e.verdict for e in effects.effects if e.ok and e.estimate is not None}
    assert {"supported", "inconclusive"} <= kinds
    lines = [line for line in text.split("\n") if line.startswith("•")]
    shown = [e for e in effects.effects if e.ok and e.estimate is not None]
    said = [line for line in lines if unclear in line or up in line or down in line]
    assert len(said) == len(shown)
    for effect, line in zip(shown, said, strict=True):
        if effect.verdict == "supported":
            assert (up if effect.estimate >= 0 else down) in line and unclear not in line
        else:
            assert unclear in line and up not in line and down not in line
            assert f"{100 * effect.estimate:+.1f}" in line


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_plain_comparison_keeps_its_sign_and_is_not_called_a_difference_when_equal(
        service: WhyrecService, language: str) -> None:
    """Before: a plain comparison was shown without its sign (−3.0 read as "3.0 percentage
    points"), and one equal to the estimate was still said to "mix in who tends to do this"."""
    from dataclasses import replace

    from whyrec.agent.render import signed_points
    from whyrec.prompts.catalogue import message

    effects = service.effects()
    effect = next(e for e in effects.effects if e.ok and e.estimate is not None)
    opposite = replace(effects, effects=(replace(effect, naive=-0.03),))
    text = render(opposite, language)
    assert message("chat.effects.naive", language, naive=signed_points(-0.03, language)) in text
    equal = replace(effects, effects=(replace(effect, naive=effect.estimate),))
    text = render(equal, language)
    assert message("chat.effects.naive_same", language, naive=signed_points(effect.estimate, language)) in text


@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_list_no_pick_of_which_rests_on_the_shopper_says_it_is_not_personal_yet(
        service: WhyrecService, language: str) -> None:
    """Before: a shopper with one view got "Here are 5 picks for you" with every card saying it
    would stay without their behaviours, and no word that the list was not personal."""
    from dataclasses import replace

    from whyrec.prompts.catalogue import message
    from whyrec.tools.service.results import Headline

    note = message("chat.recommend.not_personal", language)
    user = service.users()[0]
    result = service.recommend(user, k=5)
    assert any(i.headline is not None and i.headline.kind == "verified" for i in result.items)
    assert note not in render(result, language)
    stays = replace(result, items=tuple(replace(i, headline=Headline("stays")) for i in result.items))
    assert note in render(stays, language)
