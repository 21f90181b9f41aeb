"""The UI's view functions on hand-made tool results (no runtime, no Gradio)."""

from __future__ import annotations

import pandas as pd

from whyrec.ui import views
from whyrec.ui.i18n import label

EXPLANATION = {
    "kind": "explanation", "user_id": "u1", "item_id": "i9", "title": "Blue *kettle*", "k": 5, "rank": 2,
    "in_top_k": True, "score": 1.25, "prior": 0.05, "prior_share_pct": 4.0, "n_events": 7,
    "chart": [{"kind": "event", "behaviour": "cart", "title": "Red mug", "count": 1, "value": 0.6},
              {"kind": "event", "behaviour": "view", "title": "Red mug", "count": 2, "value": 0.3},
              {"kind": "event", "behaviour": "view", "title": "Red mug, the long edition with a name",
               "count": 1, "value": 0.1},
              {"kind": "other", "behaviour": None, "count": 4, "value": 0.3},
              {"kind": "prior", "behaviour": None, "count": 1, "value": 0.05}],
    "counterfactual": {
        "size": 2, "verified": True, "proven_minimal": True, "new_rank": 8, "new_score": 0.4,
        "replacement": {"item_id": "i3", "title": "Green teapot", "score": 0.9, "rank": 5},
        "events": [{"event_key": 11, "behaviour": "cart", "item_id": "i1", "title": "Red mug",
                    "date": "2026-01-02", "contribution": 0.6, "share_pct": 48.0},
                   {"event_key": 12, "behaviour": "view", "item_id": "i1", "title": "Red mug",
                    "date": "2026-01-01", "contribution": 0.2, "share_pct": 16.0}]},
    "causal": [{"behaviour": "cart", "item_id": "i9", "title": "Blue *kettle*", "estimand": "carting it",
                "estimate": 0.21, "ci_low": 0.18, "ci_high": 0.24, "verdict": "supported"}],
    "reason": "history", "why_not": None,
}


def test_counterfactual_names_the_drop_and_the_replacement_in_both_languages() -> None:
    en = views.counterfactual_markdown(EXPLANATION, "en")
    assert "Without these 2 behaviours" in en
    assert "drops to **#8**" in en and "'Green teapot' takes its place" in en
    assert "verified by re-ranking" in en and "smallest" in en
    assert "Blue \\*kettle\\*" in en  # catalog text cannot inject markdown
    zh = views.counterfactual_markdown(EXPLANATION, "zh")
    assert "如果没有这 2 个行为" in zh and "第 **8** 名" in zh and "Green teapot" in zh


def test_counterfactual_without_a_set_gives_the_reason() -> None:
    popular = dict(EXPLANATION, counterfactual=None, reason="no_support")
    assert "popularity" in views.counterfactual_markdown(popular, "en")
    dropped = dict(EXPLANATION, counterfactual=dict(EXPLANATION["counterfactual"], new_rank=None,
                                                    replacement=None))
    assert "drops out of the list" in views.counterfactual_markdown(dropped, "en")


def test_chart_frame_keeps_order_and_makes_labels_unique() -> None:
    frame = views.chart_frame(EXPLANATION, "en")
    assert list(frame.columns) == list(views.CHART_COLUMNS)
    assert frame["contribution"].tolist() == [0.6, 0.3, 0.1, 0.3, 0.05]
    assert frame["label"].is_unique
    assert frame["label"].iloc[0] == "add to cart: Red mug" and frame["label"].iloc[1] == "view: Red mug ×2"
    zh = views.chart_frame(EXPLANATION, "zh")
    assert zh["label"].iloc[0] == "加购: Red mug" and zh["label"].iloc[-1] == "热度先验"
    assert views.chart_frame(None, "en").empty


def test_causal_statements_show_estimate_interval_and_verdict() -> None:
    frame = views.causal_frame(EXPLANATION["causal"], "en")
    assert frame.iloc[0].tolist() == ["add to cart", "+21.0", "+18.0 .. +24.0", "supported", "carting it"]


def test_behaviour_effects_frame_flags_refuted_estimates() -> None:
    effects = [{"behaviour": "view", "segment": "all", "status": "ok", "estimate": 0.05, "ci_low": 0.01,
                "ci_high": 0.09, "naive": 0.11, "method": "m", "n": 10, "reason": "estimated",
                "refutations": [{"name": "placebo_treatment_refuter", "passed": False}]},
               {"behaviour": "cart", "segment": "category=home", "status": "cannot_estimate",
                "estimate": None, "n": 3, "reason": "cannot estimate because too few units",
                "refutations": []}]
    frame = views.behaviour_effects_frame(effects, "en")
    assert frame.iloc[0]["refutations"] == "REFUTED: placebo_treatment_refuter"
    assert frame.iloc[1]["effect"] == "—" and "too few" in frame.iloc[1]["status"]


def test_cards_show_title_category_and_the_verified_reason() -> None:
    item = {"item_id": "i9", "title": "Blue kettle", "category": "home.kitchen", "score": 1.25, "rank": 1,
            "reason_text": {"en": "Because you added “Red mug” to your cart", "zh": "因为你把“Red mug”加入了购物车"}}
    text = views.card_markdown(item, "en")
    assert "**1. Blue kettle**" in text and "kitchen" in text and "Red mug" in text
    assert "1.25" not in text  # no raw scores on a card
    assert "加入了购物车" in views.card_markdown(item, "zh")


def test_what_if_table_and_history() -> None:
    result = {"k": 2, "changed": True, "moves": [
        {"item_id": "a", "title": "A", "old_rank": 1, "new_rank": None, "move": "dropped"},
        {"item_id": "b", "title": "B", "old_rank": 2, "new_rank": 1, "move": "up"},
        {"item_id": "c", "title": "C", "old_rank": None, "new_rank": 2, "move": "new"}]}
    table = views.whatif_frame(result, "en")
    assert table["item"].tolist() == ["B (b)", "C (c)", "A (a)"]  # new order first, dropped last
    history = pd.DataFrame({"event_key": [2**63 + 5], "behaviour": ["cart"], "item_id": ["i1"],
                            "title": ["Red mug"], "timestamp": [pd.Timestamp("2026-01-02", tz="UTC")]})
    assert views.whatif_choices(history, "en") == [("2026-01-02 · add to cart · Red mug", str(2**63 + 5))]
    assert views.history_frame(history, "zh").iloc[0].tolist() == ["2026-01-02", "加购", "Red mug"]


def test_status_line_names_backend_and_offline_mode() -> None:
    stats = {"users": 3, "catalog_items": 4, "events": 5}
    line = views.status_markdown("offline", True, stats, "en")
    assert "offline" in line and "composed from the tool results" in line and "3 users" in line
    assert label("fallback_llm", "en") in views.status_markdown("openai", False, None, "en", "llm_unavailable")
