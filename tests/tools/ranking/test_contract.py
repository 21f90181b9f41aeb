"""Every ranker passes the shared contract on the tiny shop."""

from __future__ import annotations

from whyrec.tools.ranking import ALS, EASE, ItemKNN, MostPopular, RepeatRanker, WhyrecRanker

from .contract import RankerContract
from .tiny import tiny_events, tiny_items


class TestWhyrec(RankerContract):
    def make(self) -> WhyrecRanker:
        return WhyrecRanker(neighbours=10, shrink=0.0)


class TestWhyrecWithText(RankerContract):
    def make(self) -> WhyrecRanker:
        import numpy as np

        ids = np.array(["a1", "a2", "b1", "b2", "c1", "c2", "d1"])
        vectors = np.eye(7)[[0, 0, 1, 1, 2, 2, 3]] + 0.01
        return WhyrecRanker(neighbours=10, shrink=0.0, text_weight=0.1, item_vectors=(ids, vectors))


class TestRepeat(RankerContract):
    collaborative = False

    def make(self) -> RepeatRanker:
        return RepeatRanker()

    def test_repeat_ranks_own_items_first(self) -> None:
        ranker = self.make().fit(tiny_events(), tiny_items())
        ids, _ = ranker.recommend("t", k=3, exclude_seen=False)
        assert list(ids[:2]) == ["a1", "c2"]   # carted+clicked a1 beats viewed c2
        assert ids[2] == "a2"                  # then the most popular


class TestMostPopular(RankerContract):
    collaborative = False

    def make(self) -> MostPopular:
        return MostPopular()


class TestItemKNN(RankerContract):
    def make(self) -> ItemKNN:
        return ItemKNN(neighbours=10, shrink=0.0)


class TestEASE(RankerContract):
    def make(self) -> EASE:
        return EASE(l2=1.0, min_users=1)


class TestALS(RankerContract):
    def make(self) -> ALS:
        return ALS(factors=8, regularization=0.01, alpha=20.0, iterations=30)
