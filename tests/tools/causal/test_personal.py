"""Personal effects: the heterogeneous effect for shoppers like this one, checked against the truth."""

from __future__ import annotations

import numpy as np
import pytest

from whyrec.tools.causal import personal_effects


def test_segment_effects_track_the_true_heterogeneity(adversarial_report, adversarial_shop):
    truth = adversarial_shop.ground_truth
    covered, total = 0, 0
    for behaviour in ("view", "favourite", "cart"):
        for band in ("low", "mid", "high"):
            effect = adversarial_report.effect(behaviour, f"price_band={band}")
            true = truth.effect(behaviour, f"price_band={band}")
            total += 1
            covered += effect.ci_low <= true <= effect.ci_high
    assert covered >= total - 1, covered


def test_the_heterogeneous_model_points_the_right_way(adversarial_report, adversarial_shop, adversarial_table):
    """θ(x) against the simulator's per-decision truth: it follows the part of the true effect
    that the modifiers can show (the best linear predictor of the truth on them) and, more
    weakly, the truth itself (most of whose variation comes from traits nobody observes)."""
    cate = adversarial_report.effect("cart").cate
    rows = adversarial_table.rows("cart")
    decisions = adversarial_shop.decisions
    truth = decisions[decisions["behaviour"] == "cart"][["user_id", "item_id", "k", "effect"]]
    merged = rows.merge(truth, on=["user_id", "item_id", "k"])
    x = np.column_stack([np.ones(len(merged))] + [merged[m].to_numpy(float) for m in cate.modifiers])
    predicted = x @ np.asarray(cate.coef)
    best = x @ np.linalg.lstsq(x, merged["effect"].to_numpy(), rcond=None)[0]
    assert np.corrcoef(predicted, best)[0, 1] > 0.5
    assert np.corrcoef(predicted, merged["effect"])[0, 1] > 0.15


def test_personal_effects_for_a_shoppers_funnel(adversarial_report, adversarial_shop):
    events, items = adversarial_shop.events, adversarial_shop.items
    carts = events[events["behaviour"] == "cart"]
    bought = set(map(tuple, events[events["behaviour"] == "purchase"][["user_id", "item_id"]].astype(str).values))
    carted_open = [(u, i) for u, i in carts[["user_id", "item_id"]].astype(str).values if (u, i) not in bought]
    user, item = carted_open[0]
    mine = events[events["user_id"].astype(str) == user]
    effects = personal_effects(adversarial_report, user, behaviour="cart", events=events, items=items)
    viewed = set(mine.loc[mine["behaviour"].isin(["view", "click"]), "item_id"].astype(str))
    purchased = set(mine.loc[mine["behaviour"] == "purchase", "item_id"].astype(str))
    assert {e.item_id for e in effects} == viewed - purchased
    carted = next(e for e in effects if e.item_id == item)
    assert carted.done and carted.ci_low < carted.estimate < carted.ci_high
    cart_time = mine.loc[(mine["behaviour"] == "cart") & (mine["item_id"].astype(str) == item), "timestamp"].min()
    assert carted.at is not None and carted.at < cart_time.isoformat()
    cate = adversarial_report.effect("cart").cate
    x = np.array([1.0] + [carted.modifiers[m] for m in cate.modifiers])
    assert carted.estimate == pytest.approx(float(x @ np.asarray(cate.coef)))
    assert carted.verdict == ("supported" if carted.ci_low > 0 else "inconclusive")
    # The moment the statement is about is dated (it may lie months before the log's end).
    # Dates as the chat writes them (was ISO "2026-10-06" here and "6 Oct" everywhere else).
    import pandas as pd

    stamp = pd.Timestamp(carted.at)
    assert f"as you did on {stamp.day} {stamp.strftime('%b')} {stamp.year}" in carted.text("en")
    assert f"像你 {stamp.year}年{stamp.month}月{stamp.day}日 那样" in carted.text("zh")
    assert carted.title in carted.text("en") and carted.to_json()["estimand"]["behaviour"] == "cart"
    still_open = [e for e in effects if not e.done and e.at is not None and e.estimate is not None]
    assert still_open
    for effect in still_open:   # "next" is the next step after the user's last decision point, said with its date
        moment = f"next, right after what you did on {effect.title} on {effect.day_words('en')}, would have changed"
        assert moment in effect.text("en")
        assert f"在你 {effect.day_words('zh')} 对{effect.title}的那次行为之后" in effect.text("zh")


def test_items_outside_the_funnel_say_why(adversarial_report, adversarial_shop):
    events, items = adversarial_shop.events, adversarial_shop.items
    buy = events[events["behaviour"] == "purchase"].iloc[0]
    never = items.loc[~items["item_id"].isin(events.loc[events["user_id"] == buy["user_id"], "item_id"]), "item_id"]
    effects = personal_effects(adversarial_report, buy["user_id"], [buy["item_id"], never.iloc[0]],
                               behaviour="cart", events=events, items=items)
    assert [e.verdict for e in effects] == ["cannot_estimate", "cannot_estimate"]
    assert "already bought" in effects[0].text("en") and "not viewed" in effects[1].text("en")
    assert effects[0].estimate is None
    with pytest.raises(ValueError, match="unknown behaviour"):
        personal_effects(adversarial_report, "u1", behaviour="rating", events=events)


def test_statements_for_the_explainer(adversarial_report, adversarial_shop):
    """The explainer's CausalSource: one statement per behaviour with a personal estimate, each
    the personal effect's numbers and verdict, worded with the item's title; none without a report."""
    from whyrec.tools.causal import causal_statements, statement_source
    from whyrec.tools.explain.results import CausalStatement

    events, items = adversarial_shop.events, adversarial_shop.items
    bought = set(map(tuple, events[events["behaviour"] == "purchase"][["user_id", "item_id"]].astype(str).values))
    carts = events[events["behaviour"] == "cart"][["user_id", "item_id"]].astype(str).values
    buyers = {u for u, _ in bought}
    user, item = next((u, i) for u, i in carts if (u, i) not in bought and u in buyers)
    bought_item = next(i for u, i in bought if u == user)
    mine = events[events["user_id"].astype(str) == user]
    statements = causal_statements(adversarial_report, mine, items, user, item, "Trap <b>title</b>")
    assert statements and all(isinstance(s, CausalStatement) for s in statements)
    by_behaviour = {s.behaviour: s for s in statements}
    assert "cart" in by_behaviour and set(by_behaviour) <= {"view", "favourite", "cart"}
    cart = by_behaviour["cart"]
    expected = personal_effects(adversarial_report, user, [item], "cart", events=events, items=items)[0]
    assert (cart.estimate, cart.ci_low, cart.ci_high, cart.verdict) == (
        expected.estimate, expected.ci_low, expected.ci_high, expected.verdict)
    assert cart.item_id == item and cart.scope == "shoppers_like_you"
    assert "Trap <b>title</b>" in cart.estimand and "as you did" in cart.estimand
    assert f"{100 * cart.estimate:+.1f} percentage points" in cart.estimand
    assert "加入购物车" in cart.texts["zh"] and "Trap <b>title</b>" in cart.texts["zh"]
    assert cart.texts["en"].startswith("For shoppers like you") and expected.verdict_text("en") in cart.texts["en"]
    # A bought item has no personal estimate: no statement.
    assert causal_statements(adversarial_report, mine, items, user, bought_item) == ()
    source = statement_source(lambda: adversarial_report, lambda u: events[events["user_id"].astype(str) == u],
                              lambda: items)
    assert source(user, item, "Trap <b>title</b>", ("view", "cart")) == statements
    assert statement_source(lambda: None, lambda u: events, lambda: items)(user, item, "x", ("cart",)) == ()


def _far_shopper(events, looks: int = 40):
    """A new shopper who viewed one item ``looks`` times (nobody in the shop comes near) and
    added it to the cart: their cart decision point lies far outside the fitted modifiers."""
    import pandas as pd

    first = events[events["behaviour"] == "view"].iloc[0]
    start = pd.Timestamp(first["timestamp"])
    rows = [first.to_dict() | {"user_id": "u_far", "timestamp": start + pd.Timedelta(minutes=i)} for i in range(looks)]
    rows.append(rows[-1] | {"behaviour": "cart", "timestamp": start + pd.Timedelta(minutes=looks)})
    far = pd.DataFrame(rows).astype(events.dtypes.to_dict())
    return pd.concat([events, far], ignore_index=True), str(first["item_id"])


def test_no_personal_number_outside_the_fitted_range(adversarial_report, adversarial_shop):
    """θ(x) is a line: 40 looks lie beyond every shopper it was fitted on. No personal number
    then — the effect across all shoppers, with the reason in words (regression: a shopper far
    from the average got a 95% interval of +0.7 to +122.9 percentage points)."""
    events, item = _far_shopper(adversarial_shop.events)
    effect = personal_effects(adversarial_report, "u_far", [item], "cart", events=events,
                              items=adversarial_shop.items)[0]
    population = adversarial_report.effect("cart")
    cate = population.cate
    assert effect.modifiers["looks_so_far"] == 40
    low, high = cate.support[cate.modifiers.index("looks_so_far")]
    assert not low <= 40 <= high
    assert effect.scope == "all_shoppers" and effect.withheld is not None
    assert effect.withheld.code == "outside_support" and effect.withheld.fields["modifier"] == "looks_so_far"
    assert (effect.estimate, effect.ci_low, effect.ci_high, effect.verdict) == (
        population.estimate, population.ci_low, population.ci_high, population.verdict)
    text = effect.text("en")
    assert "No personal estimate" in text and "the number of times you have viewed the item is 40" in text
    assert "Across all shoppers" in text and f"{100 * population.estimate:+.1f}" in text
    assert "没有关于" in effect.text("zh") and "全体顾客" in effect.text("zh")
    statement = effect.statement()
    assert statement is not None and statement.scope == "all_shoppers"
    assert statement.estimate == population.estimate and "not for you in particular" in statement.estimand
    assert effect.to_json()["withheld"]["code"] == "outside_support"


def test_no_personal_interval_beyond_the_possible_range(adversarial_report, adversarial_shop):
    """Inside the fitted range but with an interval leaving [−1, 1] (a model this uncertain
    says nothing about one shopper): withheld too."""
    from dataclasses import replace

    events, items = adversarial_shop.events, adversarial_shop.items
    population = adversarial_report.effect("cart")
    personal = (e for u in events["user_id"].astype(str).unique()[:50]
                for e in personal_effects(adversarial_report, u, behaviour="cart", events=events, items=items))
    mine = next(e for e in personal if e.scope == "shoppers_like_you" and e.estimate is not None)
    assert -1 <= mine.ci_low and mine.ci_high <= 1
    wide = replace(population.cate, cov=tuple(tuple(100.0 * v for v in row) for row in population.cate.cov))
    report = replace(adversarial_report, effects=tuple(replace(e, cate=wide) if e is population else e
                                                       for e in adversarial_report.effects))
    again = personal_effects(report, mine.user_id, [mine.item_id], "cart", events=events, items=items)[0]
    assert again.scope == "all_shoppers" and again.withheld.code == "interval_out_of_range"
    assert again.estimate == population.estimate


def test_a_not_supported_effect_is_never_worded_as_a_change(adversarial_report, adversarial_shop):
    """Before: an inconclusive personal effect read "saving it to favourites, as you did on …,
    changed the chance of buying it … by +2.5 percentage points (95% interval -3.8 to +8.8);
    verdict: inconclusive" — a change the data do not settle. Only a supported one says so."""
    from dataclasses import replace

    events, items = adversarial_shop.events, adversarial_shop.items
    effect = None
    carts = events[events["behaviour"] == "cart"][["user_id", "item_id"]].astype(str).values
    for user, item in carts[:50]:
        found = personal_effects(adversarial_report, user, [item], "cart", events=events, items=items)
        if found and found[0].estimate is not None and found[0].scope == "shoppers_like_you":
            effect = found[0]
            break
    assert effect is not None
    for done in (True, False):
        for verdict, changed in (("supported", True), ("inconclusive", False), ("cannot_estimate", False)):
            said = replace(effect, done=done, verdict=verdict, verdict_reasons=())
            statement = said.statement()
            assert statement is not None
            for language, change, unsettled in (("en", "changed the chance", "do not settle whether"),
                                                ("zh", "的概率变化", "数据无法确定")):
                text = said.text(language)
                assert (change in text) is changed and (unsettled in text) is not changed, text
                assert statement.texts[language] == text
            assert statement.texts["en"].startswith(statement.estimand)
            assert f"{100 * effect.estimate:+.1f} percentage points" in statement.estimand
    general = replace(effect, scope="all_shoppers", verdict="inconclusive", verdict_reasons=())
    assert "do not settle whether" in general.text("en") and "changes the chance" not in general.text("en")
    assert "not for you in particular" in general.statement().estimand
