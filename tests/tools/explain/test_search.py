"""The counterfactual search against brute force: every set it returns drops the item, and it
calls a set the smallest only when no smaller set of supporting events does (checked by trying
every subset on random problems)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from whyrec.tools.explain.effects import TargetRanker
from whyrec.tools.explain.search import proven_smallest, smallest_removal

from .test_effects import CASES, N_EVENTS, K, brute_out, problem


def smallest_by_brute_force(ranker: TargetRanker, support: list[int]) -> int | None:
    for size in range(1, len(support) + 1):
        if any(brute_out(ranker, list(s)) for s in itertools.combinations(support, size)):
            return size
    return None


@pytest.mark.parametrize(("seed", "robust"), CASES)
@pytest.mark.parametrize("budget", [0, 400])
def test_sets_drop_the_item_and_smallest_means_smallest(seed: int, robust: bool, budget: int) -> None:
    ranker = problem(seed, robust)
    contributions = ranker.column(ranker.target)
    days = np.arange(N_EVENTS, dtype=float)
    search = smallest_removal(ranker, contributions, days, K, budget=budget)
    support = np.flatnonzero(contributions > 0).tolist()
    truth = smallest_by_brute_force(ranker, support)
    for candidate in search.candidates:
        assert set(candidate) <= set(support) and brute_out(ranker, list(candidate))
    if search.candidates and search.exact:
        assert len(search.candidates[0]) == truth
    if not search.candidates and search.exact:
        assert truth is None


@pytest.mark.parametrize(("seed", "robust"), CASES)
@pytest.mark.parametrize("budget", [0, 400])
def test_proven_smallest_only_when_nothing_smaller_exists(seed: int, robust: bool, budget: int) -> None:
    ranker = problem(seed, robust)
    contributions = ranker.column(ranker.target)
    support = np.flatnonzero(contributions > 0).tolist()
    truth = smallest_by_brute_force(ranker, support)
    if truth is None:
        return
    days = np.arange(N_EVENTS, dtype=float)
    for size in range(1, len(support) + 1):
        proven, _ = proven_smallest(ranker, contributions, days, K, size, budget=budget)
        if proven:
            assert size <= truth, f"claimed nothing below {size} drops it, but a set of {truth} does"
    assert proven_smallest(ranker, contributions, days, K, truth, budget=400)[0]
