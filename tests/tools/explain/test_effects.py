"""The incremental re-ranker against brute force: every answer the search relies on (rank checks
after removals and put-backs, block-wise prefix scans, single removals, the size bound) equals
re-ranking from scratch, on random problems big enough that the focus and floor logic is used."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from whyrec.tools.explain.effects import POOL_SLACK, TargetRanker, UserTerms
from whyrec.tools.ranking.history import History

K = 3
N_ITEMS = 3 * (K + POOL_SLACK)   # more items than a trial's first focus
N_EVENTS = 9


def problem(seed: int, robust: bool, negative: bool = False) -> TargetRanker:
    """A random history and a target, the best unseen item. Odd seeds are *crowded*: every event
    lifts the same hundred items a lot, so removing events takes the target (and its rivals) far
    below items the events never touched — past the first focus of a trial."""
    rng = np.random.default_rng(seed)
    items = rng.choice(N_ITEMS, size=N_EVENTS)           # repeats: items with several events
    items[rng.integers(N_EVENTS)] = -1                   # one event on an unknown item
    dense = np.zeros((N_EVENTS, N_ITEMS))
    crowd = rng.choice(N_ITEMS, size=100, replace=False)
    for e in range(N_EVENTS):
        touched = rng.choice(N_ITEMS, size=rng.integers(3, 40), replace=False)
        dense[e, touched] = rng.exponential(0.3, len(touched)) * (rng.random(len(touched)) < 0.9)
        if seed % 2:
            dense[e, crowd] = rng.uniform(0.5, 1.5, len(crowd))
        if negative:
            dense[e, touched[:2]] *= -1
    prior = rng.exponential(0.2, N_ITEMS) if seed % 2 == 0 else rng.uniform(0.0, 6.0, N_ITEMS)
    history = History(items.astype(np.int64), np.zeros(N_EVENTS, np.int8), np.arange(N_EVENTS, dtype=float),
                      np.arange(N_EVENTS, dtype=np.uint64), np.full(N_EVENTS, np.nan))
    rows = sp.csr_matrix(dense)
    scores = prior + dense.sum(axis=0)
    terms = UserTerms.build("u", history, 10.0, scores, rows)
    allowed = rng.random(N_ITEMS) < 0.9
    seen = np.zeros(N_ITEMS, dtype=bool)
    seen[items[items >= 0]] = True
    # The target: the allowed unseen item the events lift most (even seeds) or the best one (odd).
    rank_by = dense.sum(axis=0) if seed % 2 == 0 else scores
    candidates = np.flatnonzero(allowed & ~seen)
    target = int(candidates[np.argmax(rank_by[candidates])])
    return TargetRanker(terms, target, allowed, robust=robust)


def brute_ahead(ranker: TargetRanker, removed: list[int]) -> int | None:
    """Items ahead of the target (by the ranker's margin) with ``removed`` gone, from scratch."""
    dense = ranker.effects.toarray()
    keep = np.ones(dense.shape[0], dtype=bool)
    keep[removed] = False
    scores = ranker.base - dense[~keep].sum(axis=0)
    counts = np.bincount(ranker.event_items[keep & (ranker.event_items >= 0)], minlength=N_ITEMS)
    if counts[ranker.target] or not ranker.allowed[ranker.target]:
        return None
    eligible = ranker.eligible_now if ranker.robust else ranker.allowed & (counts == 0)
    others = eligible.copy()
    others[ranker.target] = False
    return int(np.count_nonzero(others & (scores > scores[ranker.target] + ranker.margin)))


def brute_out(ranker: TargetRanker, removed: list[int]) -> bool:
    ahead = brute_ahead(ranker, removed)
    return ahead is None or ahead >= K


CASES = [(seed, robust) for seed in range(16) for robust in (False, True)]


@pytest.mark.parametrize(("seed", "robust"), CASES)
def test_trial_matches_reranking_after_removals_and_put_backs(seed: int, robust: bool) -> None:
    ranker = problem(seed, robust)
    rng = np.random.default_rng(100 + seed)
    trial = ranker.trial(K)
    removed: list[int] = []
    for _ in range(40):
        if removed and rng.random() < 0.4:
            event = removed.pop(int(rng.integers(len(removed))))
            trial.restore(event)
        else:
            left = [e for e in range(N_EVENTS) if e not in removed]
            if not left:
                continue
            event = int(rng.choice(left))
            trial.remove(event)
            removed.append(event)
        assert trial.out(K) == brute_out(ranker, removed), removed
        for event in removed:  # putting any one back, without changing the state
            assert trial.out_if_restored(event, K) == brute_out(ranker, [e for e in removed if e != event])
        answers = trial.outs_if_restored(np.array(removed, dtype=np.int64), K)
        assert answers.tolist() == [brute_out(ranker, [e for e in removed if e != x]) for x in removed]
        back = rng.permutation(removed).tolist()  # putting several back, one after the other
        together = trial.outs_if_restored_together(np.array(back, dtype=np.int64), K)
        assert together.tolist() == [brute_out(ranker, [e for e in removed if e not in back[:j + 1]])
                                     for j in range(len(back))]
        assert trial.out(K) == brute_out(ranker, removed)  # and the state is as it was


@pytest.mark.parametrize(("seed", "robust"), CASES)
def test_prune_equals_putting_back_one_at_a_time(seed: int, robust: bool) -> None:
    from whyrec.tools.explain.search import prune

    ranker = problem(seed, robust)
    contributions = ranker.column(ranker.target)
    chosen = np.random.default_rng(seed).permutation(N_EVENTS).tolist()
    if not brute_out(ranker, chosen):
        return
    removed = list(chosen)
    for event in sorted(chosen, key=lambda e: contributions[e]):  # the rule, step by step
        if len(removed) == 1:
            break
        if brute_out(ranker, [e for e in removed if e != event]):
            removed.remove(event)
    for block in (1, 2, 64):
        kept, _ = prune(ranker, chosen, contributions, K, block=block)
        assert sorted(kept) == sorted(removed)


@pytest.mark.parametrize(("seed", "robust"), CASES)
def test_block_prefix_scan_equals_one_at_a_time(seed: int, robust: bool) -> None:
    ranker = problem(seed, robust)
    order = np.random.default_rng(seed).permutation(N_EVENTS)
    expected = next((n + 1 for n in range(N_EVENTS) if brute_out(ranker, order[:n + 1].tolist())), None)
    assert ranker.first_drop(order, K) == expected
    assert ranker.first_drop(order, K, block=2) == expected


@pytest.mark.parametrize(("seed", "robust"), CASES)
def test_single_removals_and_kth_item(seed: int, robust: bool) -> None:
    ranker = problem(seed, robust)
    trial = ranker.trial(K)
    drops, unsure = trial.single_removals(np.arange(N_EVENTS), K)
    truth = [brute_out(ranker, [e]) for e in range(N_EVENTS)]
    assert all(t for t, d in zip(truth, drops, strict=True) if d)              # certain when it says so
    assert not any(t for t, d, u in zip(truth, drops, unsure, strict=True) if not d and not u)
    for event in range(N_EVENTS):
        trial.remove(event)
        eligible = np.isfinite(trial.live)
        expected = np.flatnonzero(eligible)[np.argsort(-trial.live[eligible], kind="stable")]
        got = trial.kth_other(K)
        if len(expected) < K:
            assert got is None
        else:
            assert trial.live[got] == trial.live[expected[K - 1]]


@pytest.mark.parametrize(("seed", "robust"), CASES)
def test_size_bound_is_a_lower_bound(seed: int, robust: bool) -> None:
    ranker = problem(seed, robust)
    contributions = ranker.column(ranker.target)
    bound = ranker.size_bound(contributions, K)
    smallest = next((size for size in range(1, N_EVENTS + 1)
                     for subset in itertools.combinations(range(N_EVENTS), size)
                     if brute_out(ranker, list(subset))), None)
    if bound is None:
        assert smallest is None
    elif smallest is not None:
        assert bound <= smallest


def test_negative_terms_fall_back_to_whole_catalog_checks() -> None:
    ranker = problem(3, robust=False, negative=True)
    assert not ranker.terms.nonnegative and ranker.size_bound(ranker.column(ranker.target), K) == 1
    trial = ranker.trial(K)
    for event in range(N_EVENTS):
        trial.remove(event)
        assert trial.out(K) == brute_out(ranker, list(range(event + 1)))
