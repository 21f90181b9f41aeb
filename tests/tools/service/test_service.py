"""The service facade: typed results, one family of errors, and refits that never block readers."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from whyrec.tools.service import (
    Explanation,
    Forbidden,
    InvalidRequest,
    Recommendations,
    UnknownItem,
    UnknownUser,
    WhyrecService,
)
from whyrec.tools.settings import Settings


@pytest.fixture(scope="module")
def service(demo_workspace_template: Path) -> WhyrecService:
    return WhyrecService(Settings(workspace=demo_workspace_template))


@pytest.fixture(scope="module")
def user(service: WhyrecService) -> str:
    events = service.workspace.events()
    return str(events[events["behaviour"] == "cart"]["user_id"].value_counts().index[0])


def test_recommend_returns_typed_items_with_exact_reasons(service: WhyrecService, user: str) -> None:
    recs = service.recommend(user, k=5)
    assert isinstance(recs, Recommendations) and len(recs.items) == 5
    assert [i.rank for i in recs.items] == [1, 2, 3, 4, 5]
    scores = [i.score for i in recs.items]
    assert scores == sorted(scores, reverse=True)
    for item in recs.items:
        assert item.title == service.item(item.item_id).title
        contributions = [r.contribution for r in item.reasons]
        assert contributions == sorted(contributions, reverse=True) and all(c > 0 for c in contributions)
        # The reasons are the ranker's exact terms: prior + every term == the score.
        explanation = service.explain(user, item.item_id, k=5)
        assert explanation.score == pytest.approx(item.score)
    assert recs.to_json()["items"][0]["item_id"] == recs.items[0].item_id


def test_category_and_query_narrow_the_list(service: WhyrecService, user: str) -> None:
    categories = service.workspace.items()["category"].dropna().str.split(".").str[0]
    top = str(categories.value_counts().index[0])
    in_category = service.recommend(user, k=5, category=top)
    assert in_category.items and all((i.category or "").startswith(top) for i in in_category.items)
    queried = service.recommend(user, k=5, query="a warm scarf")
    assert queried.filters is not None and queried.filters.item_ids is not None
    assert {i.item_id for i in queried.items} <= set(queried.filters.item_ids)


def test_explain_what_if_and_effects(service: WhyrecService, user: str) -> None:
    top = service.recommend(user, k=5).items[0]
    explanation = service.explain(user, top.item_id, k=5)
    assert isinstance(explanation, Explanation) and explanation.rank == 1
    keys = service.event_keys(user, explanation.contributions[0].item_id)
    what_if = service.what_if(user, remove=keys, k=5)
    assert [r.item_id for r in what_if.before] == [i.item_id for i in service.recommend(user, k=5).items]
    effects = service.effects(behaviour="cart")
    assert [e.behaviour for e in effects.effects] == ["cart"]


def test_errors_are_one_family_with_a_status(service: WhyrecService, user: str) -> None:
    with pytest.raises(UnknownUser) as unknown:
        service.recommend("nobody-at-all", k=5)
    assert unknown.value.status == 404 and "nobody-at-all" in str(unknown.value)
    with pytest.raises(UnknownItem):
        service.explain(user, "no-such-item")
    with pytest.raises(UnknownItem):
        service.resolve_item("Definitely not a title")
    with pytest.raises(InvalidRequest, match="unknown behaviour"):
        service.what_if(user, add=[(service.recommend(user, k=1).items[0].item_id, "teleport")])
    with pytest.raises(InvalidRequest, match="unknown segment"):
        service.effects(segment="zodiac")


def test_resolve_item_by_id_title_and_picker_label(service: WhyrecService) -> None:
    first = service.items(limit=1)[0]
    assert service.resolve_item(first.item_id) == first.item_id
    assert service.resolve_item(first.title.upper()) == service.resolve_item(first.title)
    assert service.resolve_item(f"{first.title} ({first.item_id})") == first.item_id


def test_a_user_bound_caller_cannot_create_catalog_items(demo_workspace: Path) -> None:
    service = WhyrecService(Settings(workspace=demo_workspace))
    user = service.users()[0]
    before = len(service.workspace.items())
    event = {"user_id": user, "item_id": "brand-new-item", "behaviour": "view",
             "timestamp": "2026-10-01T10:00:00Z"}
    with pytest.raises(Forbidden) as refused:
        service.add_events([event], allow_new_items=False)
    assert refused.value.status == 403 and refused.value.problems[0].value == "brand-new-item"
    service.refresh()
    assert len(service.workspace.items()) == before
    assert not (service.workspace.events()["item_id"] == "brand-new-item").any()


def test_reads_continue_while_a_refit_is_in_progress(demo_workspace: Path) -> None:
    """A refit on new events runs in the background; other users' requests keep being answered
    by the current model meanwhile, and the new model is swapped in when it is ready."""
    from whyrec.tools.ranking import WhyrecRanker

    started, release = threading.Event(), threading.Event()
    fits: list[int] = []

    def slow_factory(workspace):  # type: ignore[no-untyped-def]
        fits.append(workspace.data_version)
        if len(fits) > 1:  # the refit on new events: hold it until the test has read
            started.set()
            release.wait(60)
        return WhyrecRanker().fit(workspace.events(), workspace.items())

    service = WhyrecService(Settings(workspace=demo_workspace), ranker_factory=slow_factory)
    users = service.users()
    writer, reader = users[0], users[1]
    before = service.recommend(reader, k=5)
    item = service.recommend(writer, k=1).items[0].item_id
    latest = service.workspace.events()["timestamp"].max()
    service.add_events([{"user_id": writer, "item_id": item, "behaviour": "purchase",
                         "timestamp": latest.isoformat()}])
    assert started.wait(60), "the refit did not start"
    assert service.status().refitting
    t0 = time.perf_counter()
    during = service.recommend(reader, k=5)  # answered by the old model, without waiting
    waited = time.perf_counter() - t0
    assert waited < 2.0 and during.data_version == before.data_version
    assert service.status().served_version == before.data_version < service.status().data_version
    release.set()
    assert service.models.wait(60)
    after = service.recommend(writer, k=5)
    assert after.data_version == service.status().data_version == before.data_version + 1
    assert item not in {i.item_id for i in after.items}  # now seen: the new model knows the purchase


def test_forget_removes_the_user_and_invalidates_the_model(demo_workspace: Path) -> None:
    service = WhyrecService(Settings(workspace=demo_workspace))
    user = service.users()[-1]
    service.recommend(user, k=3)
    result = service.forget(user)
    assert result.events_removed > 0
    with pytest.raises(UnknownUser):
        service.recommend(user, k=3)
