"""The served ranker is auto-tuned on the workspace's own data; stats say how; the exclusion
policy can be overridden per request."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from whyrec.tools.service import InvalidRequest, WhyrecService
from whyrec.tools.settings import Settings


@pytest.fixture
def service(demo_workspace: Path) -> WhyrecService:
    for done in [*demo_workspace.glob("derived/tuning-*"), *demo_workspace.glob("derived/ranker-*")]:
        done.unlink()  # the shared template may have been tuned by another test: start untuned
    return WhyrecService(Settings(workspace=demo_workspace, tune_budget_seconds=3))


def test_the_first_fit_tunes_and_stats_show_the_tuning(service: WhyrecService) -> None:
    assert service.stats().tuning is None
    assert "not tuned yet" in service.stats().to_text()
    user = service.users()[0]
    service.recommend(user, k=5)
    stats = service.stats()
    tuning = stats.to_json()["tuning"]
    assert tuning is not None and tuning["tuned"]
    assert tuning["budget_seconds"] == 3
    assert tuning["protocol"]["split"] == "fraction_cut"        # the demo's timestamps spread
    assert tuning["exclusion_policy"] in ("none", "purchased", "seen")
    assert set(tuning["baselines"]) == {"repeat", "popular"}
    assert tuning["validation"]["ndcg@20"] >= tuning["defaults"]["ndcg@20"]
    assert tuning["served_exclusion"]["interactive"] == tuning["exclusion_policy"]  # the learned one
    assert "validation     NDCG@20" in stats.to_text() and "exclusion" in stats.to_text()
    assert stats.events == stats.workspace.events                # the workspace figures, as before
    json.dumps(stats.to_json())
    # The served ranker carries the parameters tuned for the chosen policy, and lists use it.
    served = service._fitted().ranker.get_params()
    chosen = tuning["params"]
    assert service.recommend(user, k=5).exclusion == tuning["exclusion_policy"]
    assert served["half_life_days"] == chosen.get("half_life_days", served["half_life_days"])


def test_the_exclusion_policy_is_overridable_per_request(service: WhyrecService) -> None:
    events = service.workspace.events()
    user = str(events[events["behaviour"] == "purchase"]["user_id"].value_counts().index[0])
    seen = set(events.loc[events["user_id"] == user, "item_id"].astype(str))
    bought = set(events.loc[(events["user_id"] == user) & (events["behaviour"] == "purchase"), "item_id"])
    default = service.recommend(user, k=20, exclude="seen")
    assert not seen & {i.item_id for i in default.items} and default.exclusion == "seen"
    assert all(i.headline is not None for i in default.items)
    everything = service.recommend(user, k=160, exclude="none")
    assert seen <= {i.item_id for i in everything.items}
    assert all(i.headline is not None for i in everything.items)  # verified under "none" too
    purchased = service.recommend(user, k=160, exclude="purchased")
    assert not bought & {i.item_id for i in purchased.items}
    assert (seen - bought) <= {i.item_id for i in purchased.items}
    with pytest.raises(InvalidRequest, match="exclusion policy"):
        service.recommend(user, exclude="bought")


def test_refits_reuse_the_tuning_until_the_events_grow_by_the_set_fraction(demo_workspace: Path) -> None:
    for done in [*demo_workspace.glob("derived/tuning-*"), *demo_workspace.glob("derived/ranker-*")]:
        done.unlink()
    derived = demo_workspace / "derived"

    def add(service: WhyrecService, n: int) -> int:
        events = service.workspace.events()
        user, item = str(events["user_id"].iloc[0]), str(events["item_id"].iloc[0])
        latest = events["timestamp"].max()
        result = service.add_events([{"user_id": user, "item_id": item, "behaviour": "view",
                                      "timestamp": (latest + pd.Timedelta(minutes=m + 1)).isoformat()}
                                     for m in range(n)])
        service.recommend(user, k=3)             # waits for the background refit on its events
        service.wait_for_background()
        return result.data_version

    patient = WhyrecService(Settings(workspace=demo_workspace, tune_budget_seconds=2, retune_fraction=10.0))
    patient.recommend(patient.users()[0], k=3)
    assert [p.name for p in derived.glob("tuning-*")] == ["tuning-v1.json"]
    version = add(patient, 5)                    # a little more data: refit with the same choice
    assert (derived / f"ranker-tuned-v{version}.pkl").exists()   # the chosen policy's parameters
    assert [p.name for p in derived.glob("tuning-*")] == ["tuning-v1.json"]
    eager = WhyrecService(Settings(workspace=demo_workspace, tune_budget_seconds=2, retune_fraction=0.0))
    version = add(eager, 5)                      # any growth retunes (in the background refit)
    assert (derived / f"tuning-v{version}.json").exists()
    assert eager.stats().tuning["data_version"] == version


def _learned(workspace: Path, policy: str) -> None:
    """Store a tuning record that chose ``policy`` (what auto-tuning writes)."""
    from whyrec.tools.ranking.autotune import AutoTuneResult
    from whyrec.tools.ranking.persist import save_tuning
    from whyrec.tools.workspace import Workspace

    save_tuning(Workspace.open(workspace), AutoTuneResult.from_json({"exclusion_policy": policy}))


def test_interactive_lists_use_the_learned_policy_and_verify_reasons_under_it(demo_workspace: Path) -> None:
    """Issue 14: lists follow the exclusion policy the workspace learned (here "none"), and each
    item's verified reason is the one an explanation under that same policy gives."""
    from whyrec.tools.ranking import WhyrecRanker

    for done in [*demo_workspace.glob("derived/tuning-*"), *demo_workspace.glob("derived/ranker-*")]:
        done.unlink()
    _learned(demo_workspace, "none")
    service = WhyrecService(Settings(workspace=demo_workspace),
                            ranker_factory=lambda ws: WhyrecRanker().fit(ws.events(), ws.items()))
    events = service.workspace.events()
    user = str(events["user_id"].value_counts().index[0])
    seen = set(events.loc[events["user_id"] == user, "item_id"].astype(str))
    listed = service.recommend(user, k=30)
    assert listed.exclusion == "none" and listed.to_json()["exclusion"] == "none"
    assert seen & {i.item_id for i in listed.items}          # seen items may come back under "none"
    ranker = service._fitted().ranker
    assert [i.item_id for i in listed.items] == list(ranker.recommend(user, 30, exclude="none")[0])
    for item in listed.items[:5]:
        explanation = service.explain(user, item.item_id, k=30)
        assert explanation.exclusion == "none" and explanation.rank == item.rank
        assert item.headline == explanation.headline
        if explanation.counterfactual is not None:           # verified by the re-rank under "none"
            assert item.headline.events == explanation.counterfactual.events
    assert service.what_if(user, k=5).exclusion == "none"
    overridden = service.recommend(user, k=30, exclude="seen")   # a request overrides it
    assert overridden.exclusion == "seen" and not seen & {i.item_id for i in overridden.items}
    assert service.explain(user, overridden.items[0].item_id, k=30, exclude="seen").rank == 1
    assert service.stats().to_json()["tuning"]["served_exclusion"]["interactive"] == "none"
    with pytest.raises(InvalidRequest, match="exclusion policy"):
        service.explain(user, listed.items[0].item_id, exclude="bought")
