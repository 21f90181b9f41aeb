"""The UI's view functions on hand-made tool results (no runtime, no Gradio)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from whyrec.prompts.catalogue import catalogue, message
from whyrec.ui import views

TRAP = "![x](http://evil.invalid/x.png) <img src=x onerror=alert(1)> *Blue* kettle"

EXPLANATION = {
    "kind": "explanation", "user_id": "u1", "item_id": "i9", "title": TRAP, "k": 5, "rank": 2,
    "in_top_k": True, "score": 1.25, "prior": 0.05, "prior_share_pct": 4.0, "n_events": 9, "n_supporting": 8,
    "n_lowering": 1, "rank_without_support": 40, "as_of": "2026-01-03T00:00:00+00:00",
    "headline": {"kind": "verified", "events": [{"event_key": "11", "behaviour": "cart", "item_id": "i1",
                                                 "title": "Red mug", "timestamp": "2026-01-02T10:00:00+00:00"}]},
    "text": {"headline": {"en": "I recommend it because you added “Red mug” to your cart.",
                          "zh": "我向你推荐它，因为你把“Red mug”加入了购物车。"}},
    "chart": [{"kind": "event", "behaviour": "cart", "title": "Red mug", "count": 1,
               "last": "2026-01-02T10:00:00+00:00", "value": 0.6, "share_pct": 48.0},
              {"kind": "event", "behaviour": "view", "title": "Red mug", "count": 3,
               "last": "2026-01-01T10:00:00+00:00", "value": 0.3, "share_pct": 24.0},
              {"kind": "event", "behaviour": "view", "title": "Green teapot", "count": 1,
               "last": "2025-12-30T10:00:00+00:00", "value": -0.05, "share_pct": -4.0},
              {"kind": "other", "behaviour": None, "count": 4, "value": 0.3, "share_pct": 20.0},
              {"kind": "prior", "behaviour": None, "count": 1, "value": 0.05, "share_pct": 4.0}],
    "counterfactual": {
        "size": 4, "verified": True, "proven_minimal": True, "new_rank": 8, "new_score": 0.4012,
        "evaluations": 12,
        "replacement": {"item_id": "i3", "title": "Green teapot", "score": 0.9, "rank": 5},
        "events": [{"event_key": "11", "behaviour": "cart", "item_id": "i1", "title": "Red mug",
                    "timestamp": "2026-01-02T10:00:00+00:00", "date": "2026-01-02", "contribution": 0.6,
                    "share_pct": 48.0}]
        + [{"event_key": str(20 + n), "behaviour": "view", "item_id": "i1", "title": "Red mug",
            "timestamp": f"2026-01-0{n}T09:00:00+00:00", "date": f"2026-01-0{n}", "contribution": 0.1,
            "share_pct": 8.0} for n in (1, 2, 3)]},
    "contributions": [{"event_key": "11", "behaviour": "cart", "item_id": "i1", "title": "Red mug",
                       "timestamp": "2026-01-02T10:00:00+00:00", "contribution": 0.6, "share_pct": 48.0}],
    "causal": [{"behaviour": "cart", "item_id": "i9", "title": TRAP, "estimand": "carting it", "estimate": 0.21,
                "ci_low": 0.18, "ci_high": 0.24, "verdict": "supported", "scope": "shoppers_like_you"}],
    "reason": "history", "why_not": None,
}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


def _visible(html: str) -> str:
    """The text of ``html`` outside the Details toggles."""
    return "".join(_parse(re.sub(r"<details.*?</details>", "", html, flags=re.S)).text)


def test_data_is_text_never_markup() -> None:
    html = views.explanation_html(EXPLANATION, "en")
    parsed = _parse(html)
    assert "img" not in parsed.tags and "em" not in parsed.tags
    assert TRAP in "".join(parsed.text)  # shown exactly as stored
    assert views.chat_text(TRAP) == TRAP.replace("<", "&lt;").replace(">", "&gt;")
    card = views.card_html({"item_id": "i9", "title": TRAP, "rank": 1, "category": "home.kitchen_ware",
                            "price": 12.5, "reason_text": {"en": TRAP}}, "en")
    assert "img" not in _parse(card).tags and "".join(_parse(card).text).count(TRAP) == 2


def test_explanation_leads_with_the_headline_and_hides_the_numbers() -> None:
    html = views.explanation_html(EXPLANATION, "en")
    text = _visible(html)
    assert text.index("Why “") < text.index("I recommend it because") < text.index("Without these 4 behaviours")
    assert not re.search(r"\d\.\d{4}", text)  # scores and priors only under Details
    assert "0.4012" in html and "1.2500" in html and "#40" in html
    # the verified set, grouped: one line for the three views of the same item
    verified = _visible(re.search(r'<div class="wr-cf">.*?</div>', html, flags=re.S).group(0))
    assert "You viewed “Red mug” (3×)" in verified and verified.count("You viewed “Red mug”") == 1
    assert "would drop to #8, and “Green teapot” would take its place" in text
    assert "Checked by ranking again · no smaller set does it" in text


def test_without_a_verified_set_the_reason_is_said_and_why_not_has_no_set() -> None:
    popular = dict(EXPLANATION, counterfactual=None, reason="no_support")
    assert message("ui.reason.no_support", "en") in _visible(views.explanation_html(popular, "en"))
    why_not = dict(EXPLANATION, rank=None, why_not={"reason": "seen"},
                   text={"headline": {"en": "I don't recommend it because you already bought it."}})
    text = _visible(views.explanation_html(why_not, "en"))
    assert text.startswith("Why not “") and "already bought it" in text and "Without these" not in text
    assert views.explanation_html(None, "zh").count(message("ui.explain.empty", "zh")) == 1


def test_chart_has_full_labels_dates_legend_axis_and_explains_other() -> None:
    html = views.chart_html(EXPLANATION["chart"], "en")
    text = "".join(_parse(html).text)
    assert "You added “Red mug” to your cart" in text and "2 Jan" in text
    assert "You viewed “Red mug” (3×)" in text and "last on 1 Jan" in text
    assert "4 other behaviours" in text and "“Other” adds up 4 smaller behaviours" in text
    assert "(lowers it)" in text and "−4%" in text
    legend = re.search(r'<ul class="wr-legend".*?</ul>', html).group(0)
    assert [name for name in ("add to cart", "view", "Lowers the score", "Other behaviours",
                              "Popularity and catalog match") if name in legend] == \
        ["add to cart", "view", "Lowers the score", "Other behaviours", "Popularity and catalog match"]
    assert message("ui.explain.axis", "en") in text
    ticks = re.findall(r'class="wr-tick"[^>]*>([^<]*)<', html)
    assert ticks == ["0", "25", "50"]  # a round axis end just above the largest bar (48%)
    widths = [float(w) for w in re.findall(r"width:([\d.]+)%", html)]
    assert widths[0] == 96.0 and widths[1] == 48.0  # bars to scale


def test_chinese_views_hold_no_english_words_outside_data() -> None:
    data = ["Red mug", "Green teapot", TRAP, "kitchen", "ware", "garden"]
    pages = [views.explanation_html(EXPLANATION, "zh"),
             views.card_html({"item_id": "i9", "title": "Red mug", "rank": 1, "category": "home.kitchen_ware",
                              "price": 3.0, "reason_text": {"zh": "因为你把“Green teapot”加入了购物车"}}, "zh"),
             views.effects_html(EFFECTS_ZH, "all", "zh", GRAPH),
             views.effects_html(EFFECTS_ZH, "category", "zh", GRAPH),
             views.whatif_html(WHAT_IF, "zh"), views.status_html("offline", True, {"users": 1}, "zh"),
             views.history_html([{"timestamp": "2026-01-02T00:00:00", "behaviour": "cart", "title": "Red mug"}],
                                3, "zh")]
    for html in pages:
        text = "".join(_parse(html).text)
        for d in sorted(data, key=len, reverse=True):
            text = text.replace(d, " ")
        assert re.findall(r"[A-Za-z]{2,}", text) == [], text


EFFECTS = [
    {"behaviour": "view", "segment": "all", "status": "ok", "estimate": 0.077, "ci_low": 0.033, "ci_high": 0.121,
     "naive": 0.13, "method": "backdoor.linear_regression", "n": 1296, "n_treated": 355, "verdict": "supported",
     "refutations": [{"name": "placebo_treatment_refuter", "passed": True}],
     "alternatives": [{"method": "backdoor.propensity_score_weighting", "estimate": 0.066}]},
    {"behaviour": "favourite", "segment": "all", "status": "ok", "estimate": 0.025, "ci_low": -0.033,
     "ci_high": 0.084, "naive": 0.11, "method": "backdoor.linear_regression", "n": 1296, "n_treated": 170,
     "verdict": "inconclusive", "refutations": [{"name": "data_subset_refuter", "passed": False}],
     "verdict_words": "inconclusive (the 95% interval (-3.3 to +8.4 percentage points) includes zero)",
     "estimand_words": "At each decision point — … — the effect of saving it to favourites next …"},
    {"behaviour": "cart", "segment": "category=garden", "status": "cannot_estimate", "estimate": None, "n": 80,
     "n_treated": 9, "reason": "cannot estimate because only 80 units", "verdict": "cannot_estimate",
     "verdict_words": "cannot estimate (only 80 decision points (at least 200 needed))", "refutations": []},
    {"behaviour": "cart", "segment": "price_band=high", "status": "ok", "estimate": -0.012, "ci_low": -0.05,
     "ci_high": 0.03, "method": "backdoor.linear_regression", "n": 400, "n_treated": 90,
     "verdict": "inconclusive", "verdict_words": "inconclusive (the interval includes zero)", "refutations": []},
]
# The causal tool's words come in the page's language (the callbacks ask for them so).
EFFECTS_ZH = [{**e, **{k: "不确定（区间包含零）" if k == "verdict_words" else "在每个决策点……"
                       for k in ("verdict_words", "estimand_words") if k in e}} for e in EFFECTS]
GRAPH = {"baseline": ["user_activity", "log_price", "category"], "history": ["looks_so_far", "cart_so_far"],
         "behaviours": ["view", "favourite", "cart"], "outcome": "purchase", "horizon_seconds": 7 * 86400.0}
WHAT_IF = {"k": 2, "changed": True,
           "removed": [{"item_id": "i1", "title": "Red mug", "behaviour": "cart"},
                       {"item_id": "i2", "title": "Green teapot", "behaviour": "view"}],
           "added": [],
           "moves": [{"item_id": "a", "title": "A", "old_rank": 1, "new_rank": None, "move": "dropped"},
                     {"item_id": "b", "title": "B", "old_rank": 2, "new_rank": 1, "move": "up"},
                     {"item_id": "c", "title": "C", "old_rank": None, "new_rank": 2, "move": "new"}]}


def test_effects_in_plain_words_with_verdicts_and_the_graph_named_from_the_catalogue() -> None:
    html = views.effects_html(EFFECTS, "all", "en", GRAPH)
    text = _visible(html)
    assert "Looking at an item again" in text and "+7.7 points" in text
    assert "Doing it next raises the chance of buying that item by 7.7 percentage points" in text
    # The inconclusive favourite effect (+2.5, interval -3.3 to +8.4) is given no direction.
    assert "The data do not settle whether doing it next raises or lowers the chance of buying that item " \
           "(estimate +2.5 percentage points)" in text
    assert "raises the chance of buying that item by 2.5" not in text
    # Its card's headline is the verdict, not the number (was a bold "+2.5 points").
    headlines = re.findall(r'<p class="wr-effect-value">(.*?)</p>', html)
    assert "+7.7 points" in headlines and message("ui.effects.unsettled", "en") in headlines
    assert not any("2.5" in h for h in headlines)
    assert message("ui.verdict.supported", "en") in text and message("ui.verdict.inconclusive", "en") in text
    assert "the 95% interval (-3.3 to +8.4 percentage points) includes zero" in text  # the tool's own reasons
    assert "What this measures: At each decision point" in text  # the estimand in plain words
    assert "backdoor" not in text and "placebo" not in text  # technical names only under Details
    assert "linear regression adjusted" in html and "placebo treatment passed" in html
    assert "data subsets failed" in html and "propensity-score weighting" in html
    for node in ("user_activity", "log_price", "category", "looks_so_far", "cart_so_far", "view", "favourite", "cart"):
        assert message(f"ui.graph.node.{node}", "en") in text
    assert "Bought it within 7 days" in text and message("ui.graph.history", "en") in text


def test_segment_table_names_groups_and_marks_verdicts() -> None:
    html = views.effects_html(EFFECTS, "price_band", "en", None)
    rows = re.findall(r"<tr>(.*?)</tr>", html)
    assert "<th scope=\"col\">Group</th>" in rows[0] and "Looked again" in rows[0]
    assert rows[1].startswith('<th scope="row">Everyone</th>')
    # Not settled: the mark leads, the estimate follows in brackets (was "-1.2 ?", a number first).
    assert "high" in rows[2] and '? <span class="wr-muted">(-1.2)</span>' in rows[2] and "-1.2 ?" not in rows[2]
    assert "garden" not in html  # another segment's rows stay out
    high = next(e for e in EFFECTS if e.get("segment") == "price_band=high")
    banded = [*EFFECTS, {**high, "segment": "price_band=low"}, {**high, "segment": "price_band=mid"}]
    groups = re.findall(r'<th scope="row">(.*?)</th>', views.effects_html(banded, "price_band", "en", None))
    assert len([g for g in groups if g in ("low", "middle", "high")]) == 3
    bands = [g for g in groups if g in ("low", "middle", "high")]
    assert bands == sorted(bands, key=["low", "middle", "high"].index)   # was alphabetical: high, low, mid
    zh = views.effects_html(EFFECTS, "price_band", "zh", None)
    assert "<th scope=\"row\">高</th>" in zh and "<th scope=\"row\">全体顾客</th>" in zh
    garden = views.effects_html(EFFECTS, "category", "en", None)
    assert '<th scope="row">garden</th>' in garden and "only 80 decision points (at least 200 needed)" in garden


def test_what_if_names_every_change_and_lists_the_moves() -> None:
    html = views.whatif_html(WHAT_IF, "en")
    text = _visible(html)
    assert text.startswith("If you hadn't added “Red mug” to your cart and viewed “Green teapot”:")
    assert "“B” would move up from #2 to #1" in text and "“C” would enter at #2" in text
    rows = re.findall(r"<tr>(.*?)</tr>", html)
    assert [re.sub(r"<.*?>", "|", r).strip("|").split("|")[0] for r in rows[1:]] == ["B", "C", "A"]
    assert views.whatif_html(None, "en") == f'<p class="wr-muted">{message("ui.whatif.intro", "en")}</p>'


def test_cards_status_and_history() -> None:
    card = views.card_html({"item_id": "i9", "title": "Blue kettle", "category": "home.kitchen_ware",
                            "price": 1234.5, "score": 1.25, "rank": 1,
                            "reason_text": {"en": "Because you added “Red mug” to your cart"}}, "en")
    text = "".join(_parse(card).text)
    assert "Blue kettle" in text and "kitchen ware" in text and "Price 1,234.50" in text
    assert "Because you added “Red mug” to your cart" in text and "1.25" not in text  # no raw scores
    line = views.status_html("offline", True, {"users": 3000, "catalog_items": 4, "events": 5}, "en")
    assert "Offline" in line and "3,000 shoppers" in line
    warn = views.status_html("gpt", False, None, "en", "llm_unavailable")
    assert message("ui.status.fallback_llm", "en") in "".join(_parse(warn).text)
    history = views.history_html([{"timestamp": "2026-01-02T00:00:00", "behaviour": "cart", "title": "Red mug"}],
                                 3, "en")
    assert "You added “Red mug” to your cart" in history and "…and 2 earlier" in history


def test_every_ui_message_is_used_or_reached_by_a_code() -> None:
    """The ui area holds no dead words: each key is named in the UI's code (or is the entry for
    a code from data: ordinals, tool names, methods, refuters, nodes, levels, reasons)."""
    import inspect

    from whyrec.ui import app, callbacks

    source = "".join(inspect.getsource(m) for m in (views, app, callbacks))
    dynamic = ("ui.ordinal.", "ui.tool.", "ui.method.", "ui.refuter.", "ui.graph.node.", "ui.effects.level.",
               "ui.effects.short.", "ui.reason.", "ui.verdict.", "ui.causal.scope.", "ui.whatif.col.",
               "ui.whatif.move.", "ui.effects.segment_", "ui.explain.legend_")
    unused = [k for k in catalogue("en") if k.startswith("ui.") and not k.startswith(dynamic)
              and f'"{k[3:]}"' not in source]
    assert unused == []


@pytest.mark.parametrize("language", ["en", "zh"])
def test_the_status_line_says_what_the_served_ranker_was_measured_at(language: str) -> None:
    stats = {"users": 400, "catalog_items": 300, "events": 12_000,
             "tuning": {"tuned": True, "validation": {"ndcg@20": 0.2127, "stderr": 0.02},
                        "baselines": {"repeat": {"ndcg@20": 0.1538}, "popular": {"ndcg@20": 0.15}}}}
    line = views.status_html("offline", True, stats, language)
    assert "0.213" in line and "0.154" in line
    untuned = views.status_html("offline", True, {**stats, "tuning": {**stats["tuning"], "tuned": False}}, language)
    assert "0.213" not in untuned and "0.213" not in views.status_html("offline", True, {"users": 1}, language)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_details_say_whose_effect_a_causal_number_is(language: str) -> None:
    # A personal number withheld (outside the data's support) falls back to all shoppers' estimate:
    # the details line must say so, or the population number reads as this shopper's own.
    withheld = {**EXPLANATION, "causal": [{**EXPLANATION["causal"][0], "scope": "all_shoppers"}]}
    assert views.t("causal.scope.all_shoppers", language) in views.explanation_details_html(withheld, language)
    mine = views.explanation_details_html(EXPLANATION, language)
    assert views.t("causal.scope.shoppers_like_you", language) in mine


def test_the_what_if_list_says_when_it_holds_only_the_newest_behaviours() -> None:
    """Before: 20 of a shopper's 29 behaviours were offered under "Your behaviours", and one an
    explanation named (older) could not be found there."""
    assert views.whatif_label(20, 20, "en") == message("ui.whatif.remove", "en")
    label = views.whatif_label(20, 29, "en")
    assert "20 most recent" in label and "29" in label
    assert "20" in views.whatif_label(20, 29, "zh") and "29" in views.whatif_label(20, 29, "zh")
