"""Counterfactual search: the smallest set of a user's events whose removal drops an item out of
the top-k (PRINCE-style: greedy by contribution, then prune, then exhaustive when small), and the
single added behaviour that would bring an item in.

Everything here runs on a :class:`~.effects.TargetRanker` (exact for additive rankers); the
explainer verifies what it returns with the ranker's own re-ranking.
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass

import numpy as np

from .effects import TargetRanker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RemovalSearch:
    """Candidate removal sets (event indices), best first, and how the best one was found."""

    candidates: tuple[tuple[int, ...], ...]
    exact: bool          # True: no smaller set of supporting events exists (enumerated)
    evaluations: int
    greedy_size: int     # size of the greedy prefix before pruning (0 if none)


def supporting_order(contributions: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Indices of events with a positive contribution, largest first (ties: most recent first)."""
    support = np.flatnonzero(contributions > 0)
    return support[np.lexsort((-days[support], -contributions[support]))]


def greedy_prefix(ranker: TargetRanker, order: np.ndarray, k: int) -> list[int] | None:
    """The shortest prefix of ``order`` whose removal puts the target at rank >= k."""
    scores = ranker.base.copy()
    counts = ranker.counts.copy()
    effects = ranker.effects
    for n, event in enumerate(order):
        start, stop = effects.indptr[event], effects.indptr[event + 1]
        scores[effects.indices[start:stop]] -= effects.data[start:stop]
        item = ranker.event_items[event]
        if item >= 0:
            counts[item] -= 1
        if ranker.ahead(scores, counts) >= k:
            return [int(e) for e in order[:n + 1]]
    return None


def prune(ranker: TargetRanker, chosen: list[int], contributions: np.ndarray, k: int) -> tuple[list[int], int]:
    """Drop every event the set does not need (weakest first); returns the set and evaluations."""
    kept = list(chosen)
    evaluations = 0
    for event in sorted(chosen, key=lambda e: contributions[e]):
        trial = [e for e in kept if e != event]
        if not trial:
            continue
        evaluations += 1
        rank = ranker.rank_after_removal(np.array(trial))
        if rank is None or rank >= k:
            kept = trial
    return kept, evaluations


def smallest_removal(ranker: TargetRanker, contributions: np.ndarray, days: np.ndarray, k: int,
                     budget: int = 400) -> RemovalSearch:
    """Search the removal sets that drop the target out of the top ``k``.

    Only events that support the target (positive contribution) are candidates: removing any
    other event can only lower the target's competitors. Sizes below the pruned greedy set are
    enumerated exhaustively while the number of subsets fits ``budget``.
    """
    order = supporting_order(contributions, days)
    greedy = greedy_prefix(ranker, order, k) if len(order) else None
    if greedy is None:
        return RemovalSearch((), False, len(order), 0)
    pruned, evaluations = prune(ranker, greedy, contributions, k)
    evaluations += len(greedy)
    best = tuple(pruned)
    if len(best) > 1:
        evaluations += len(order)
        single = _best_single(ranker, order, k)
        if single is not None:
            best = (single,)
    exact = len(best) == 1
    if not exact:
        needed = sum(math.comb(len(order), size) for size in range(2, len(best)))
        if needed <= budget:
            found = _enumerate(ranker, order, k, len(best))
            evaluations += needed
            exact = True
            if found is not None:
                best = found
    candidates = [best]
    for extra in (tuple(pruned), tuple(greedy)):
        if extra not in candidates:
            candidates.append(extra)
    return RemovalSearch(tuple(candidates), exact, evaluations, len(greedy))


def _best_single(ranker: TargetRanker, order: np.ndarray, k: int) -> int | None:
    """The strongest single supporting event whose removal alone drops the target (confirmed)."""
    ranks = ranker.singles(order)
    for event in order[ranks >= k - 1]:  # margin of one rank for ignored ties; confirmed below
        rank = ranker.rank_after_removal(np.array([event]))
        if rank is None or rank >= k:
            return int(event)
    return None


def _enumerate(ranker: TargetRanker, order: np.ndarray, k: int, below: int) -> tuple[int, ...] | None:
    """The first (strongest-first) valid subset of size < ``below``, by increasing size."""
    for size in range(2, below):
        for subset in itertools.combinations(order.tolist(), size):
            rank = ranker.rank_after_removal(np.array(subset))
            if rank is None or rank >= k:
                return tuple(subset)
    return None


@dataclass(frozen=True)
class AdditionOption:
    """One hypothetical event (row ``index`` of the candidate list) and the target's new rank."""

    index: int
    rank: int


def additions_that_lift(ranker: TargetRanker, rows, k: int) -> list[AdditionOption]:  # rows: csr
    """Candidate added events (rows of an event x item matrix) that put the target in the top ``k``.

    Adding an event on an already-seen item does not change which items are excluded.
    """
    options = []
    for index in range(rows.shape[0]):
        start, stop = rows.indptr[index], rows.indptr[index + 1]
        if start == stop:
            continue
        scores = ranker.base.copy()
        scores[rows.indices[start:stop]] += rows.data[start:stop]
        rank = ranker.ahead(scores, ranker.counts)
        if rank < k:
            options.append(AdditionOption(index, rank))
    return options
