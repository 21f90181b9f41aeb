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


def greedy_prefix(ranker: TargetRanker, order: np.ndarray, k: int,
                  longest: int | None = None) -> list[int] | None:
    """The shortest prefix of ``order`` whose removal puts the target at rank >= k (robustly),
    or ``None`` (also when it would be longer than ``longest``)."""
    scores = ranker.base.copy()
    counts = ranker.counts.copy()
    margin = ranker.margin
    for n, event in enumerate(order):
        if longest is not None and n >= longest:
            return None
        ranker.remove_event(event, scores, counts)
        if ranker.ahead(scores, counts, margin) >= k:
            return [int(e) for e in order[:n + 1]]
    return None


def adaptive_greedy(ranker: TargetRanker, candidates: np.ndarray, k: int,
                    longest: int | None = None) -> list[int] | None:
    """Remove, one at a time, the event that most narrows the gap between the target and the
    item it must fall behind (the k-th best other item) — PRINCE's rule, re-aimed every step."""
    scores = ranker.base.copy()
    counts = ranker.counts.copy()
    effects = ranker.effects
    margin = ranker.margin
    target_column = ranker.column(ranker.target)
    left = np.zeros(effects.shape[0], dtype=bool)
    left[candidates] = True
    chosen: list[int] = []
    while left.any() and (longest is None or len(chosen) < longest):
        eligible = ranker.eligible_items(counts).copy()
        eligible[ranker.target] = False
        others = np.flatnonzero(eligible)
        if len(others) < k:
            return None
        rival = others[np.argpartition(-scores[others], k - 1)[k - 1]]
        gain = np.where(left, target_column - ranker.column(int(rival)), -np.inf)
        event = int(np.argmax(gain))
        if not np.isfinite(gain[event]) or gain[event] <= 0:
            return None
        left[event] = False
        chosen.append(event)
        ranker.remove_event(event, scores, counts)
        if ranker.ahead(scores, counts, margin) >= k:
            return chosen
    return None


def prune(ranker: TargetRanker, chosen: list[int], contributions: np.ndarray, k: int) -> tuple[list[int], int]:
    """Put back every event the set does not need (weakest first); returns the set and the
    number of evaluations. Incremental: each trial adds one event's row back."""
    scores, counts = ranker.after_removal(np.asarray(chosen, dtype=np.int64))
    effects = ranker.effects
    margin = ranker.margin
    kept = set(chosen)
    evaluations = 0
    for event in sorted(chosen, key=lambda e: contributions[e]):
        if len(kept) == 1:
            break
        start, stop = effects.indptr[event], effects.indptr[event + 1]
        columns, values = effects.indices[start:stop], effects.data[start:stop]
        item = ranker.event_items[event]
        scores[columns] += values
        if item >= 0:
            counts[item] += 1
        evaluations += 1
        if ranker.eligible(counts) and ranker.ahead(scores, counts, margin) < k:
            scores[columns] -= values  # still needed: take it out again
            if item >= 0:
                counts[item] -= 1
        else:
            kept.discard(event)
    return [e for e in chosen if e in kept], evaluations


def smallest_removal(ranker: TargetRanker, contributions: np.ndarray, days: np.ndarray, k: int,
                     budget: int = 400, rivals: int = 3) -> RemovalSearch:
    """Search the removal sets that drop the target out of the top ``k``.

    Only events that support the target (positive contribution) are candidates: removing any
    other event can only lower the target's competitors. Greedy sets come from three rules —
    by contribution, PRINCE's adaptive rule, and PRINCE's fixed-rival orders for the ``rivals``
    items just outside the top-k — each pruned; then single events are all tried, and sizes below
    the best set are enumerated exhaustively while the number of subsets fits ``budget``.
    """
    order = supporting_order(contributions, days)
    if not len(order):
        return RemovalSearch((), False, 0, 0)
    found: list[list[int]] = []
    greedy = greedy_prefix(ranker, order, k)
    if greedy is None:
        return RemovalSearch((), False, len(order), 0)
    found.append(greedy)
    adaptive = adaptive_greedy(ranker, order, k, longest=len(greedy))
    if adaptive is not None:
        found.append(adaptive)
    for rival in _rivals(ranker, k, rivals):
        gain = contributions[order] - ranker.column(int(rival))[order]
        fixed = greedy_prefix(ranker, order[np.argsort(-gain, kind="stable")], k,
                              longest=min(len(f) for f in found))
        if fixed is not None:
            found.append(fixed)
    evaluations = sum(len(f) for f in found)
    pruned = []
    for candidate in sorted(found, key=len)[:3]:
        kept, spent = prune(ranker, candidate, contributions, k)
        evaluations += spent
        pruned.append(tuple(kept))
    pruned.sort(key=len)
    best = pruned[0]
    if len(best) > 1:
        evaluations += len(order)
        single = _best_single(ranker, order, k)
        if single is not None:
            best = (single,)
    exact = len(best) == 1
    if not exact:
        needed = sum(math.comb(len(order), size) for size in range(2, len(best)))
        if needed <= budget:
            smaller = _enumerate(ranker, order, k, len(best))
            evaluations += needed
            exact = True
            if smaller is not None:
                best = smaller
    candidates = [best]
    for extra in pruned + [tuple(greedy)]:
        if extra not in candidates:
            candidates.append(extra)
    return RemovalSearch(tuple(candidates), exact, evaluations, len(greedy))


def _rivals(ranker: TargetRanker, k: int, n: int) -> np.ndarray:
    """The ``n`` best eligible items outside the current top-k (the target's likely successors)."""
    eligible = ranker.eligible_items(ranker.counts).copy()
    eligible[ranker.target] = False
    others = np.flatnonzero(eligible)
    if len(others) <= k - 1:
        return np.zeros(0, dtype=np.int64)
    take = min(len(others), k - 1 + n)
    best = others[np.argpartition(-ranker.base[others], take - 1)[:take]]
    best = best[np.argsort(-ranker.base[best], kind="stable")]
    return best[k - 1:]


def _best_single(ranker: TargetRanker, order: np.ndarray, k: int) -> int | None:
    """The strongest single supporting event whose removal alone drops the target (confirmed)."""
    ranks = ranker.singles(order)
    for event in order[ranks >= k - 1]:  # margin of one rank for ignored ties; confirmed below
        if ranker.drops(np.array([event]), k):
            return int(event)
    return None


def _enumerate(ranker: TargetRanker, order: np.ndarray, k: int, below: int) -> tuple[int, ...] | None:
    """The first (strongest-first) valid subset of size 2 .. ``below - 1``, by increasing size."""
    for size in range(2, below):
        for subset in itertools.combinations(order.tolist(), size):
            if ranker.drops(np.array(subset), k):
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
        rank = ranker.ahead(scores, ranker.counts, -ranker.margin)
        if rank < k:
            options.append(AdditionOption(index, rank))
    return options
