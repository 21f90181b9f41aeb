"""The explainer on a shop where the right answer is known by construction."""

from __future__ import annotations

import pandas as pd
import pytest

from whyrec.tools.explain import Explainer
from whyrec.tools.ranking import UnknownItemError, UnknownUserError

from .shop import key_of


def test_one_cart_event_is_the_whole_counterfactual(explainer, ranker, events) -> None:
    cart = key_of(events, "u", "x", "cart")
    explanation = explainer.explain("u", "t", k=3)
    assert explanation.rank == 1 and explanation.explained_by_history
    cf = explanation.counterfactual
    assert cf is not None and cf.event_keys == (cart,)
    assert cf.verified and cf.proven_minimal and cf.new_rank is not None and cf.new_rank > 3
    assert explanation.headline.kind == "verified" and explanation.headline.events == cf.events
    assert cf.replacement is not None and cf.replacement.item_id.startswith("p")
    # the ranker itself, re-ranking the history without that event, drops the item
    history = ranker.history("u")
    rest = history[history["event_key"] != cart]
    ids, _ = ranker.rank_history(rest, 3, exclude_items=rest["item_id"], now=ranker.as_of("u"))
    assert "t" not in set(ids)
    assert "t" not in {r.item_id for r in explainer.what_if("u", remove=[cart], k=3).after}


def test_contributions_are_the_rankers_exact_terms(explainer, ranker) -> None:
    explanation = explainer.explain("u", "t", k=3)
    exact = {c.event_key: c.contribution for c in ranker.contributions("u", "t")}
    for c in explanation.contributions:
        assert c.contribution == pytest.approx(exact[c.event_key], abs=1e-12)
    assert explanation.prior + sum(exact.values()) == pytest.approx(explanation.score, abs=1e-9)
    assert explanation.contributions[0].behaviour == "cart"
    assert explanation.contributions[0].title == "Espresso machine"
    assert [b.behaviour for b in explanation.by_behaviour] == ["cart"]
    shares = sum(c.share for c in explanation.contributions) + explanation.prior_share
    assert shares == pytest.approx(1.0)
    assert {(bar.kind, bar.behaviour) for bar in explanation.chart} == {("event", "cart"), ("prior", None)}


def test_popular_item_is_honestly_not_explained_by_history(explainer) -> None:
    explanation = explainer.explain("u", "p1", k=3)
    assert explanation.rank == 3
    assert not explanation.explained_by_history and explanation.counterfactual is None
    assert explanation.reason == "no_support"
    assert explanation.headline.kind == "popularity" and explanation.headline.events == ()


def test_why_not_finds_the_weakest_single_addition(explainer) -> None:
    why = explainer.why_not("w", "t", k=3)
    assert why.reason == "outranked" and why.rank is not None and why.rank > 3
    assert why.cutoff is not None and why.gap is not None and why.gap > 0
    assert why.addition is not None and why.addition.verified
    assert (why.addition.item_id, why.addition.behaviour) == ("x", "view")
    after = explainer.what_if("w", add=[("x", "view")], k=3).after
    assert "t" in {r.item_id for r in after}
    # explain() answers "why not" for an item outside the top-k
    explanation = explainer.explain("w", "t", k=3)
    assert explanation.rank is None and explanation.why_not is not None
    assert explanation.why_not.addition == why.addition


def test_already_purchased_item_gets_a_clear_answer(explainer) -> None:
    explanation = explainer.explain("b", "t", k=3)
    assert explanation.rank is None and explanation.why_not.reason == "seen"
    assert "purchase" in explanation.why_not.seen_behaviours
    assert explanation.headline.kind == "not_in_top_k" and explanation.causal == ()  # bought: not in the funnel


def test_unknown_user_and_item_raise_clear_errors(explainer) -> None:
    with pytest.raises(UnknownUserError, match="unknown user"):
        explainer.explain("nobody", "t")
    with pytest.raises(UnknownItemError, match="unknown item"):
        explainer.explain("u", "no-such-item")
    with pytest.raises(ValueError, match="k must be"):
        explainer.explain("u", "t", k=0)


def test_what_if_without_change_is_identical(explainer, ranker) -> None:
    result = explainer.what_if("u", k=5)
    assert [r.item_id for r in result.before] == [r.item_id for r in result.after]
    assert not result.changed and all(m.move == "same" for m in result.moves)
    ids, scores = ranker.recommend("u", 5)
    assert [r.score for r in result.before] == pytest.approx(list(scores))


def test_what_if_without_any_history_is_cold_start(explainer, ranker, events) -> None:
    keys = events.loc[events["user_id"] == "u", "event_key"].tolist()
    result = explainer.what_if("u", remove=keys, k=5)
    empty = pd.DataFrame({"item_id": [], "behaviour": [], "timestamp": []})
    cold, scores = ranker.rank_history(empty, 5)
    assert [r.score for r in result.after] == pytest.approx(list(scores))
    assert {r.item_id for r in result.after} == set(cold)
    assert len(result.removed) == len(keys)


def test_what_if_remove_by_item_and_behaviour(explainer, events) -> None:
    assert explainer.event_keys("u", "x", "cart") == (key_of(events, "u", "x", "cart"),)
    by_item = explainer.what_if("u", remove_items=[("x", "cart")], k=3)
    by_key = explainer.what_if("u", remove=[key_of(events, "u", "x", "cart")], k=3)
    assert [r.item_id for r in by_item.after] == [r.item_id for r in by_key.after]
    assert any(m.item_id == "t" and m.move == "dropped" for m in by_item.moves)


def test_what_if_rejects_foreign_keys_and_bad_behaviours(explainer, events) -> None:
    foreign = key_of(events, "b", "t", "purchase")
    with pytest.raises(ValueError, match="not events of user u"):
        explainer.what_if("u", remove=[foreign])
    with pytest.raises(ValueError, match="unknown behaviour"):
        explainer.what_if("u", add=[("x", "teleport")])
    with pytest.raises(UnknownItemError):
        explainer.what_if("u", add=[("nope", "view")])


def test_causal_statements_only_about_an_item_in_the_users_funnel(ranker) -> None:
    """The causal tool is asked only about an item the user looked at and did not buy, and only
    statements about that same item are kept."""
    from whyrec.tools.explain import CausalStatement

    asked: list[tuple[str, str, tuple[str, ...]]] = []

    def source(user_id, item_id, title, done):  # type: ignore[no-untyped-def]
        asked.append((user_id, item_id, done))
        same = CausalStatement("cart", item_id, title, "carting it", 0.2, 0.1, 0.3, "supported")
        other = CausalStatement("cart", "p1", "Phone case", "carting it", 0.2, 0.1, 0.3, "supported")
        return (same, other)

    explainer = Explainer(ranker, causal=source)
    assert explainer.explain("u", "t", k=3).causal == ()      # t is not in u's funnel: nothing asked
    assert explainer.explain("b", "t", k=3).causal == ()      # bought: not in the funnel either
    assert asked == []
    seen = explainer.explain("u", "n1", k=3)                  # u viewed n1 and did not buy it
    assert asked == [("u", "n1", ("view",))]
    assert [(c.item_id, c.behaviour) for c in seen.causal] == [("n1", "cart")]


def test_filters_narrow_the_list(explainer) -> None:
    from whyrec.tools.ranking import ItemFilter

    explanation = explainer.explain("u", "t", k=1, filters=ItemFilter(category_prefix="kitchen"))
    assert explanation.rank == 1
    why = explainer.why_not("u", "p1", k=1, filters=ItemFilter(category_prefix="kitchen"))
    assert why.reason == "filtered"


@pytest.mark.parametrize("name", ["itemknn", "ease"])
def test_non_additive_rankers_get_verified_counterfactuals(name, events) -> None:
    from whyrec.tools.ranking import make_ranker

    from .shop import shop_items

    ranker = make_ranker(name).fit(events, shop_items())
    explanation = Explainer(ranker).explain("u", "t", k=3)
    assert explanation.counterfactual is not None and explanation.counterfactual.verified
    assert explanation.counterfactual.event_keys == (key_of(events, "u", "x", "cart"),)


def _top_after_refit(events: pd.DataFrame, ranker, user: str, keys: tuple[int, ...], k: int) -> list[str]:
    """ACCENT's test: the ranker refitted from scratch without ``keys``, the user re-ranked."""
    kept = events[~events["event_key"].isin(list(keys))]
    refitted = ranker.clone().fit(kept)
    rest = kept[kept["user_id"] == user]
    ids, _ = refitted.rank_history(rest, k, exclude_items=rest["item_id"].unique(), now=ranker.as_of(user))
    return [str(i) for i in ids]


def test_counterfactual_survives_refitting_without_its_events() -> None:
    from whyrec.tools.ranking import WhyrecRanker

    from .shop import refit_shop_events

    events = refit_shop_events()
    ranker = WhyrecRanker().fit(events)
    assert [str(i) for i in ranker.recommend("u", 1)[0]] == ["t"]
    cart, view = key_of(events, "u", "y", "cart"), key_of(events, "u", "z", "view")
    # The plain re-rank set: the cart alone — it frees y, whose score is u's own co-occurrence.
    plain = Explainer(ranker, robust=False).explain("u", "t", k=1).counterfactual
    assert plain is not None and plain.event_keys == (cart,) and not plain.robust
    assert plain.replacement is not None and plain.replacement.item_id == "y"
    assert _top_after_refit(events, ranker, "u", plain.event_keys, 1) == ["t"]  # brittle
    # The robust set does not count on y, and survives the refit.
    cf = Explainer(ranker).explain("u", "t", k=1).counterfactual
    assert cf is not None and cf.verified and cf.robust
    assert set(cf.event_keys) == {cart, view}
    assert "t" not in _top_after_refit(events, ranker, "u", cf.event_keys, 1)
    # Not the smallest set that passes the re-rank (the cart alone does), so not called so.
    assert not cf.proven_minimal


def test_headlines_for_a_list_are_the_explanations_headlines(explainer, ranker) -> None:
    from whyrec.tools.ranking import ItemFilter

    for user, k, filters in [("u", 3, None), ("w", 3, None), ("u", 2, ItemFilter(category_prefix="electronics"))]:
        ids = [str(i) for i in ranker.recommend(user, k, filters=filters)[0]]
        items = ids + [next(str(i) for i in ranker.item_ids if str(i) not in ids)]  # and one not in it
        headlines = explainer.headlines(user, items, k=k, filters=filters)
        assert headlines == tuple(explainer.explain(user, i, k=k, filters=filters).headline for i in items)
        assert headlines[-1].kind == "not_in_top_k"
    assert explainer.headlines("u", [], k=3) == ()
    with pytest.raises(UnknownItemError):
        explainer.headlines("u", ["no-such-item"], k=3)


# -- the list's exclusion policy (issue 14): reasons verified under the rule the list was made with --
def test_a_bought_item_is_explained_under_the_none_policy(explainer, ranker, events) -> None:
    """Under "none" b's own purchase of t is allowed back into the list, and the verified reason is
    b's own behaviours — checked by the ranker re-ranking b's history without them, with nothing
    left out, as the list was made."""
    explanation = explainer.explain("b", "t", k=3, exclude="none")
    assert explanation.rank == list(ranker.recommend("b", 3, exclude="none")[0]).index("t") + 1
    assert explanation.exclusion == "none" and not explanation.exclude_seen
    assert explanation.to_json()["exclusion"] == "none"
    cf = explanation.counterfactual
    assert cf is not None and cf.verified
    assert key_of(events, "b", "t", "purchase") in cf.event_keys
    assert explanation.headline.kind == "verified" and explanation.headline.events == cf.events
    history = ranker.history("b")
    rest = history[~history["event_key"].isin(cf.event_keys)]
    ids, _ = ranker.rank_history(rest, 3, now=ranker.as_of("b"))  # nothing excluded
    assert "t" not in set(ids)
    # the replacement and the new rank are those of the "none" re-rank
    assert cf.replacement is not None and cf.replacement.item_id in set(ids)
    # under "purchased" the same item is left out, and said to be so
    assert explainer.explain("b", "t", k=3, exclude="purchased").why_not.reason == "seen"


def test_purchased_policy_keeps_looked_at_items_and_verifies_under_it(explainer, ranker) -> None:
    ids = list(ranker.recommend("b", 3, exclude="purchased")[0])
    assert "x" in ids and "t" not in ids           # b clicked x (allowed) and bought t (left out)
    explanation = explainer.explain("b", "x", k=3, exclude="purchased")
    assert explanation.rank == ids.index("x") + 1 and explanation.exclusion == "purchased"
    cf = explanation.counterfactual
    assert cf is not None
    history = ranker.history("b")
    rest = history[~history["event_key"].isin(cf.event_keys)]
    bought = rest.loc[rest["behaviour"] == "purchase", "item_id"]
    after, _ = ranker.rank_history(rest, 3, exclude_items=bought, now=ranker.as_of("b"))
    assert "x" not in set(after)
    headlines = explainer.headlines("b", ids, k=3, exclude="purchased")
    assert headlines == tuple(explainer.explain("b", i, k=3, exclude="purchased").headline for i in ids)


def test_what_if_and_why_not_follow_the_policy(explainer, ranker) -> None:
    same = explainer.what_if("b", k=3, exclude="none")
    assert [r.item_id for r in same.before] == list(ranker.recommend("b", 3, exclude="none")[0])
    assert same.exclusion == "none" and not same.changed
    assert explainer.why_not("b", "t", k=3, exclude="none").reason == "in_top_k"
    assert explainer.why_not("b", "t", k=3).reason == "seen"   # the default stays "seen"


def test_an_unknown_exclusion_policy_is_refused(explainer) -> None:
    with pytest.raises(ValueError, match="none, purchased, seen"):
        explainer.explain("u", "t", k=3, exclude="bought")
