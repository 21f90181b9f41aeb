"""The contract every ranker passes (mixin; subclasses set ``make`` and flags)."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest

from whyrec.tools.ranking import ItemFilter, NotFittedError, Ranker, UnknownUserError

from .tiny import history_frame, tiny_events, tiny_items


class RankerContract:
    """Subclass with ``make()`` returning an unfitted ranker; pytest collects ``Test*`` subclasses."""

    #: Does the ranker learn from other users' co-occurrence (b1 -> b2)?
    collaborative: bool = True

    def make(self) -> Ranker:
        raise NotImplementedError

    @pytest.fixture(scope="class")
    @classmethod
    def fitted(cls) -> Ranker:
        return cls().make().fit(tiny_events(), tiny_items())

    # -- the sklearn-style shape ---------------------------------------------------------------
    def test_init_only_stores_parameters(self) -> None:
        ranker = self.make()
        signature = set(inspect.signature(type(ranker).__init__).parameters) - {"self"}
        assert set(vars(ranker)) <= signature
        assert not [k for k in vars(ranker) if k.endswith("_")]

    def test_fit_returns_self_with_learned_state(self) -> None:
        ranker = self.make()
        assert ranker.fit(tiny_events(), tiny_items()) is ranker
        assert [k for k in vars(ranker) if k.endswith("_")]

    def test_unfitted_raises(self) -> None:
        with pytest.raises(NotFittedError):
            self.make().recommend("t")

    # -- the known answer --------------------------------------------------------------------
    def test_top_item_is_known_by_construction(self, fitted: Ranker) -> None:
        ids, scores = fitted.recommend("t", k=3)
        assert ids[0] == "a2"

    def test_recommend_shapes_order_and_seen(self, fitted: Ranker) -> None:
        ids, scores = fitted.recommend("t", k=4)
        assert ids.dtype.kind == "U" and scores.dtype.kind == "f"
        assert len(ids) == len(scores) == 4
        assert np.all(np.diff(scores) <= 1e-12)
        assert not {"a1", "c2"} & set(ids)
        all_ids, _ = fitted.recommend("t", k=100, exclude_seen=False)
        assert len(all_ids) == len(tiny_items())

    def test_unknown_user_has_clear_error(self, fitted: Ranker) -> None:
        with pytest.raises(UnknownUserError) as info:
            fitted.recommend("nobody")
        assert isinstance(info.value, KeyError)
        assert "nobody" in str(info.value) and "rank_history" in str(info.value)

    def test_cold_history_gets_popular(self, fitted: Ranker) -> None:
        ids, _ = fitted.rank_history(history_frame([], [], []), k=2)
        assert ids[0] == "a2"

    def test_new_user_history(self, fitted: Ranker) -> None:
        ids, _ = fitted.rank_history(history_frame(["b1"], ["click"], [20]), k=2,
                                     exclude_items=["b1"])
        assert ids[0] == ("b2" if self.collaborative else "a2")

    def test_recommend_equals_rank_history_of_own_history(self, fitted: Ranker) -> None:
        ids, scores = fitted.recommend("t", k=5)
        history = fitted.history("t")
        ids2, scores2 = fitted.rank_history(history, k=5, exclude_items=history["item_id"])
        assert list(ids) == list(ids2)
        np.testing.assert_allclose(scores, scores2, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(fitted.score_history(history, list(ids)), scores,
                                   rtol=1e-6, atol=1e-9)

    def test_batch_equals_single(self, fitted: Ranker) -> None:
        users = ["t", "ga0", "gb1", "p2"]
        ids, scores = fitted.recommend_batch(users, k=3)
        for n, user in enumerate(users):
            one_ids, one_scores = fitted.recommend(user, k=3)
            assert list(ids[n, :len(one_ids)]) == list(one_ids)
            np.testing.assert_allclose(scores[n, :len(one_ids)], one_scores, rtol=1e-6, atol=1e-9)
        full = fitted.score_batch(users)
        assert full.shape == (4, len(fitted.item_ids))

    def test_filters(self, fitted: Ranker) -> None:
        ids, _ = fitted.recommend("t", k=10, filters=ItemFilter(category_prefix="audio"))
        assert set(ids) == {"b1", "b2"}
        ids, _ = fitted.recommend("t", k=10, filters=ItemFilter(brand="Fleet"), exclude_seen=False)
        assert set(ids) == {"a1", "a2"}
        ids, _ = fitted.recommend("t", k=10, filters=ItemFilter(max_price=12.0))
        assert set(ids) == {"c1", "d1"}
        ids, _ = fitted.recommend("t", k=10, filters=ItemFilter.allow(["b2", "zz"]))
        assert list(ids) == ["b2"]

    # -- contributions ------------------------------------------------------------------------
    def test_contributions_cover_history_and_are_exact(self, fitted: Ranker) -> None:
        history = fitted.history("t")
        now = fitted.as_of("t")
        for item in ("a2", "b2", "a1"):
            contributions = fitted.contributions("t", item)
            assert sorted(c.event_key for c in contributions) == sorted(history["event_key"])
            full = fitted.score_history(history, [item], now=now)[0]
            for c in contributions:
                rest = history[history["event_key"] != c.event_key]
                loo = fitted.score_history(rest, [item], now=now)[0]
                assert abs((full - loo) - c.contribution) < 1e-6
            if fitted.additive:
                total = fitted.prior(item) + sum(c.contribution for c in contributions)
                assert abs(total - full) < 1e-6

    def test_save_load_roundtrip(self, fitted: Ranker, tmp_path) -> None:
        path = fitted.save(tmp_path / "ranker.pkl")
        loaded = Ranker.load(path)
        assert type(loaded) is type(fitted)
        ids, scores = fitted.recommend("t", k=5)
        ids2, scores2 = loaded.recommend("t", k=5)
        assert list(ids) == list(ids2)
        np.testing.assert_allclose(scores, scores2)

    def test_events_without_required_columns_are_refused(self) -> None:
        with pytest.raises(ValueError, match="timestamp"):
            self.make().fit(pd.DataFrame({"user_id": ["u"], "item_id": ["i"],
                                          "behaviour": ["view"]}), None)
