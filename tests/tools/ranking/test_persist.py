"""load_or_fit: a server start reuses the fitted ranker while the data version is unchanged."""

from __future__ import annotations

from whyrec.tools.ranking import WhyrecRanker, load_or_fit
from whyrec.tools.workspace import Workspace

from .tiny import tiny_events, tiny_items


def test_load_or_fit_caches_by_data_version(tmp_path) -> None:
    workspace = Workspace.create(tmp_path / "ws")
    with workspace.lock():
        workspace.commit(tiny_events(), tiny_items(), [])
    calls = []

    def factory() -> WhyrecRanker:
        calls.append(1)
        return WhyrecRanker(neighbours=10)

    first = load_or_fit(workspace, factory)
    second = load_or_fit(workspace, factory)
    assert len(calls) == 1
    assert list(first.recommend("t", k=3)[0]) == list(second.recommend("t", k=3)[0])
    with workspace.lock():
        workspace.commit(tiny_events().head(3).assign(event_key=lambda f: f["event_key"] + 1), None, [])
    load_or_fit(workspace, factory)
    assert len(calls) == 2


def test_each_new_fit_removes_fits_older_than_the_one_before(tmp_path) -> None:
    """Before: every commit of new events left one more ranker pickle in derived/, never removed
    (an attacker with a user-bound key posting one event a second filled the disk at 1.5 MB/s on
    the demo shop). The fit before the newest stays: another replica may still be loading it."""
    from whyrec.tools.ranking.persist import load_or_tune

    workspace = Workspace.create(tmp_path / "ws")
    with workspace.lock():
        workspace.commit(tiny_events(), tiny_items(), [])
    unrelated = workspace.derived_path / "ranker-tuned-notes.pkl"
    unrelated.parent.mkdir(parents=True, exist_ok=True)
    unrelated.write_bytes(b"kept")
    for n in range(4):
        with workspace.lock():
            workspace.commit(tiny_events().head(2).assign(event_key=lambda f, n=n: f["event_key"] + 100 * (n + 1)),
                             None, [])
        load_or_tune(workspace, budget_seconds=1.0)
        load_or_fit(workspace, lambda: WhyrecRanker(neighbours=5))
    version = workspace.data_version
    assert sorted(p.name for p in workspace.derived_path.glob("ranker-*v*.pkl")) == sorted(
        [f"ranker-tuned-v{version - 1}.pkl", f"ranker-tuned-v{version}.pkl",
         f"ranker-v{version - 1}.pkl", f"ranker-v{version}.pkl"])
    assert unrelated.read_bytes() == b"kept"


def _tiny_workspace(tmp_path) -> Workspace:
    workspace = Workspace.create(tmp_path / "ws")
    with workspace.lock():
        workspace.commit(tiny_events(), tiny_items(), [])
    return workspace


def test_the_served_fit_reads_the_lean_frame_and_serves_what_the_full_frame_gives(tmp_path, monkeypatch) -> None:
    """The served fit never loads the string frame (25 GB at 100M events), and fits the ranker
    the full frame fits: same users, items, scores and lists."""
    import numpy as np

    from whyrec.tools.ranking.autotune import fit_tuned
    from whyrec.tools.ranking.persist import latest_tuning, load_or_tune

    workspace = _tiny_workspace(tmp_path)
    full = workspace.events()

    def refuse(self) -> None:
        raise AssertionError("the served fit read Workspace.events()")

    monkeypatch.setattr(Workspace, "events", refuse)
    served = load_or_tune(workspace, budget_seconds=2.0, retune=True)
    tuning = latest_tuning(workspace)
    assert tuning is not None and not tuning.sample
    reference = fit_tuned(tuning, full, tiny_items())
    assert list(served.user_ids) == list(reference.user_ids) and list(served.item_ids) == list(reference.item_ids)
    users = list(reference.user_ids)
    assert np.array_equal(served.score_batch(users), reference.score_batch(users))
    for policy in ("none", "seen"):
        assert np.array_equal(served.recommend_batch(users, 3, exclude=policy)[0],
                              reference.recommend_batch(users, 3, exclude=policy)[0])


def test_a_log_over_the_cap_is_tuned_on_a_seeded_sample_of_users_and_fitted_on_all(tmp_path) -> None:
    from whyrec.tools.frames import sample_users
    from whyrec.tools.ranking.autotune import AutoTuneResult
    from whyrec.tools.ranking.persist import latest_tuning, load_or_tune

    workspace = _tiny_workspace(tmp_path)
    events = workspace.lean_events()
    sample, drawn = sample_users(events, 40, seed=3)
    again, _ = sample_users(events, 40, seed=3)
    assert sample.equals(again) and 0 < len(sample) <= 40
    assert drawn == {"users": sample["user_id"].nunique(), "of_users": 22, "events": len(sample), "seed": 3,
                     "max_events": 40}
    per_user = events.groupby("user_id", observed=True).size()
    taken = sample.groupby("user_id", observed=True).size()
    assert taken.to_dict() == per_user[taken.index].to_dict()  # whole users: every event of each
    assert sample_users(events, len(events))[1] == {}  # at or under the cap: the whole log

    ranker = load_or_tune(workspace, budget_seconds=2.0, retune=True, tune_max_events=40)
    tuning = latest_tuning(workspace)
    assert tuning is not None and tuning.sample["of_users"] == 22 and tuning.sample["users"] < 22
    assert tuning.events == len(events)  # retuning follows the whole log's growth
    assert AutoTuneResult.from_json(tuning.to_json()).sample == tuning.sample
    assert "on a sample of" in tuning.to_text()
    assert len(ranker.user_ids) == 22  # refitted on every user


def test_a_large_catalog_caps_the_tuning_sample_by_users_times_items(tmp_path) -> None:
    """Every trial scores each validation user against the whole catalog: the sample is sized
    by users × catalog items, not only by events (at 1M items a 10M-event sample's first trial
    took 1,750 CPU s)."""
    from whyrec.tools.ranking.persist import latest_tuning, load_or_tune

    workspace = _tiny_workspace(tmp_path)
    events = workspace.lean_events()
    catalog = max(len(workspace.items()), events["item_id"].nunique())
    load_or_tune(workspace, budget_seconds=2.0, retune=True, tune_max_events=len(events),
                 tune_max_user_items=catalog * 10)
    tuning = latest_tuning(workspace)
    assert tuning is not None and tuning.sample["users"] == 10 and tuning.sample["max_users"] == 10
    assert tuning.sample["of_users"] == 22
    load_or_tune(workspace, budget_seconds=2.0, retune=True, tune_max_events=len(events),
                 tune_max_user_items=catalog * 22)
    tuning = latest_tuning(workspace)
    assert tuning is not None and not tuning.sample  # 22 users fit: the whole log


def test_the_served_refit_on_a_two_worker_dask_cluster_is_the_in_process_model(demo_workspace) -> None:
    """Issue 18: with an engine, the refit's similarity rows are computed on its workers (the
    served fit of ``whyrec tune --engine dask``); the model is the one fitted in this process."""
    import numpy as np

    from whyrec.tools.engine import DaskEngine
    from whyrec.tools.ranking.autotune import fit_tuned
    from whyrec.tools.ranking.persist import latest_tuning, load_or_tune

    workspace = Workspace.open(demo_workspace)
    events, items = workspace.lean_events(), workspace.items()
    users = sorted(events["user_id"].astype(str).unique())[:40]
    with DaskEngine(n_workers=2, memory_limit="2GB") as engine:
        served = load_or_tune(workspace, budget_seconds=5.0, retune=True, engine=engine)
        cosine = {"similarity": "cosine", "neighbours": 12, "alpha": 0.7, "shrink": 2.0}
        there = WhyrecRanker(**cosine).fit(events, items, engine=engine, scratch=workspace.derived_path)
    tuning = latest_tuning(workspace)
    assert tuning is not None
    for remote, local in ((served, fit_tuned(tuning, events, items)),
                          (there, WhyrecRanker(**cosine).fit(events, items))):
        assert remote.similarity_.nnz > 0
        for name in ("indptr", "indices", "data"):
            np.testing.assert_array_equal(getattr(remote.similarity_, name), getattr(local.similarity_, name))
        np.testing.assert_array_equal(remote.score_batch(users), local.score_batch(users))
    assert not list(workspace.derived_path.glob("whyrec-*"))   # the jobs' folders are removed
