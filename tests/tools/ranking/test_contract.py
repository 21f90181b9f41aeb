"""Every ranker passes the shared contract on the tiny shop."""

from __future__ import annotations

from whyrec.tools.ranking import ALS, EASE, ItemKNN, MostPopular, RepeatRanker, WhyrecRanker
from whyrec.tools.ranking.sequential import SequentialRules

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


class TestWhyrecWithCycle(RankerContract):
    def make(self) -> WhyrecRanker:
        return WhyrecRanker(neighbours=10, shrink=0.0, cycle_weight=1.0)


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


class TestItemKNNWeighted(RankerContract):
    def make(self) -> ItemKNN:
        return ItemKNN(neighbours=10, shrink=0.0, behaviour_weights={"click": 0.3, "cart": 3.0},
                       aggregation="log", half_life_days=5.0)


class TestEASEWeighted(RankerContract):
    def make(self) -> EASE:
        return EASE(l2=1.0, min_users=1, behaviour_weights={"view": 0.1, "purchase": 4.0},
                    aggregation="sum", half_life_days=3.0)


class TestALSWeighted(RankerContract):
    def make(self) -> ALS:
        return ALS(factors=8, regularization=0.01, alpha=20.0, iterations=30,
                   behaviour_weights={"click": 0.5, "purchase": 2.0}, aggregation="log",
                   half_life_days=10.0)


class TestMostPopularWeighted(RankerContract):
    collaborative = False

    def make(self) -> MostPopular:
        return MostPopular(behaviour_weights={"click": 0.2}, aggregation="sum", window_days=30.0)


class TestSequential(RankerContract):
    def make(self) -> SequentialRules:
        return SequentialRules(steps=3, half_life_days=None)


class TestSequentialRecent(RankerContract):
    def make(self) -> SequentialRules:
        return SequentialRules(steps=2, step_power=0.5, max_gap_days=5.0, alpha=1.0,
                               to_target=True, behaviour_weights={"cart": 2.0},
                               half_life_days=2.0, last_n=2, popularity_weight=0.01)
