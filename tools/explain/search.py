"""Counterfactual search: the smallest set of a user's events whose removal drops an item out of
the top-k, and the single added behaviour that would bring an item in.

The order of work: a size bound (how much the item must lose against what its strongest events
give) rules out small sets or all of them; every single event is tried; then greedy sets (by
contribution, PRINCE's adaptive rule, PRINCE's fixed-rival orders) are pruned, and the sizes
between the bound and the best set are enumerated while they fit the budget — only then is a set
called the smallest. Long histories stay exact and fast because every step is incremental on a
:class:`~.effects.Trial` (a removal touches its row's items only; rank checks look at a focus of
items) and prefix scans and prunes are answered a block at a time.

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
    n = ranker.first_drop(order, k, longest)
    return None if n is None else [int(e) for e in order[:n]]


def adaptive_greedy(ranker: TargetRanker, candidates: np.ndarray, k: int,
                    longest: int | None = None) -> list[int] | None:
    """Remove, one at a time, the event that most narrows the gap between the target and the
    item it must fall behind (the k-th best other item) — PRINCE's rule, re-aimed every step
    (the gains are recomputed only when that item changes)."""
    trial = ranker.trial(k)
    target_column = ranker.column(ranker.target)
    left = np.zeros(ranker.terms.n_events, dtype=bool)
    left[candidates] = True
    chosen: list[int] = []
    rival: int | None = None
    gain = np.zeros(0)
    while longest is None or len(chosen) < longest:
        now = trial.kth_other(k)
        if now is None:
            return None
        if now != rival:
            rival = now
            gain = np.where(left, target_column - ranker.column(rival), -np.inf)
        event = int(np.argmax(gain))
        if not gain[event] > 0:
            return None
        gain[event] = -np.inf
        left[event] = False
        chosen.append(event)
        trial.remove(event)
        if trial.out(k):
            return chosen
    return None


def prune(ranker: TargetRanker, chosen: list[int], contributions: np.ndarray, k: int,
          block: int = 64) -> tuple[list[int], int]:
    """Put back every event the set does not need (weakest first); returns the set and the
    number of evaluations. Each event is tried from the state the earlier ones left, and the
    tries are answered a run at a time: while events are needed the state stays as it is (each
    put back alone), while they are not it grows by each (put back together)."""
    trial = ranker.trial(k)
    trial.remove_many(np.asarray(chosen, dtype=np.int64))
    queue = sorted(chosen, key=lambda e: contributions[e])
    kept = set(chosen)
    evaluations = 0
    at = 0
    while at < len(queue) and len(kept) > 1:
        ahead = np.asarray(queue[at:at + block], dtype=np.int64)
        alone = trial.outs_if_restored(ahead, k)
        if not alone[0]:  # a run of needed events
            if not alone.any():
                evaluations += len(ahead)
                at += len(ahead)
                continue
            run = int(np.argmax(alone))
            evaluations += run
            at += run  # the state is unchanged: the next event is known to be put back alone
            ahead = np.asarray(queue[at:at + block], dtype=np.int64)
        together = trial.outs_if_restored_together(ahead, k)
        run = int(np.argmin(together)) if not together.all() else len(ahead)
        run = min(run, len(kept) - 1)
        for event in ahead[:run].tolist():
            trial.restore(event)
            kept.discard(event)
        evaluations += run
        at += run
    return [e for e in chosen if e in kept], evaluations


def smallest_removal(ranker: TargetRanker, contributions: np.ndarray, days: np.ndarray, k: int,
                     budget: int = 400, rivals: int = 3) -> RemovalSearch:
    """Search the removal sets that drop the target out of the top ``k``.

    Only events that support the target (positive contribution) are candidates: removing any
    other event can only lower the target's competitors. Greedy sets come from three rules —
    by contribution, PRINCE's adaptive rule, and PRINCE's fixed-rival orders for the ``rivals``
    items just outside the top-k — each pruned; then single events are all tried, and sizes below
    the best set are enumerated exhaustively while the number of subsets fits ``budget`` (sizes
    below :meth:`TargetRanker.size_bound` need no enumeration: no set that small can work).
    """
    order = supporting_order(contributions, days)
    if not len(order):
        return RemovalSearch((), False, 0, 0)
    bound = ranker.size_bound(contributions, k)
    if bound is None:  # proven: no set of supporting events can drop it
        return RemovalSearch((), True, 0, 0)
    evaluations = 0
    if bound <= 1:  # one event may do: nothing can be smaller
        evaluations += len(order)
        single = _best_single(ranker, order, k)
        if single is not None:
            return RemovalSearch(((single,),), True, evaluations, 1)
        bound = 2
    found: list[list[int]] = []
    greedy = greedy_prefix(ranker, order, k)
    if greedy is None:
        return RemovalSearch((), False, evaluations + len(order), 0)
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
    evaluations += sum(len(f) for f in found)
    pruned = []
    for candidate in sorted(found, key=len)[:3]:
        kept, spent = prune(ranker, candidate, contributions, k)
        evaluations += spent
        pruned.append(tuple(kept))
    pruned.sort(key=len)
    best = pruned[0]
    exact, smaller, spent = _prove(ranker, order, k, len(best), bound, budget)
    evaluations += spent
    if smaller is not None:
        best, exact = smaller, True
    candidates = [best]
    for extra in pruned + [tuple(greedy)]:
        if extra not in candidates:
            candidates.append(extra)
    return RemovalSearch(tuple(candidates), exact, evaluations, len(greedy))


def proven_smallest(ranker: TargetRanker, contributions: np.ndarray, days: np.ndarray, k: int,
                    size: int, budget: int = 400) -> tuple[bool, int]:
    """Whether no set of fewer than ``size`` supporting events drops the target under
    ``ranker``'s rule (proven by the size bound, by trying every single event, and by
    enumerating the sizes in between while they fit ``budget``), and the evaluations spent."""
    order = supporting_order(contributions, days)
    bound = ranker.size_bound(contributions, k)
    if bound is None:
        bound = len(order) + 1
    exact, smaller, spent = _prove(ranker, order, k, size, bound, budget)
    return exact and smaller is None, spent


def _prove(ranker: TargetRanker, order: np.ndarray, k: int, size: int, bound: int,
           budget: int) -> tuple[bool, tuple[int, ...] | None, int]:
    """Search below ``size``: (proven that nothing smaller exists — or found the smaller set
    returned, which is then the smallest; evaluations spent)."""
    if size <= max(bound, 1):
        return True, None, 0
    start = max(bound, 2)
    needed = 0
    for n in range(start, size):
        needed += math.comb(len(order), n) if n <= 8 or len(order) < 64 else budget + 1
        if needed > budget:
            # Nothing can be proven: a single event that drops the target would only say the
            # same (not the smallest), so the singles need no check either.
            return False, None, 0
    evaluations = 0
    if bound <= 1:
        evaluations += len(order)
        single = _best_single(ranker, order, k)
        if single is not None:
            return True, (single,), evaluations
    evaluations += needed
    return True, _enumerate(ranker, order, k, start, size), evaluations


def _rivals(ranker: TargetRanker, k: int, n: int) -> np.ndarray:
    """The ``n`` best eligible items outside the current top-k (the target's likely successors)."""
    eligible = ranker.eligible_now.copy()
    eligible[ranker.target] = False
    others = np.flatnonzero(eligible)
    if len(others) <= k - 1:
        return np.zeros(0, dtype=np.int64)
    take = min(len(others), k - 1 + n)
    best = others[np.argpartition(-ranker.base[others], take - 1)[:take]]
    best = best[np.argsort(-ranker.base[best], kind="stable")]
    return best[k - 1:]


def _best_single(ranker: TargetRanker, order: np.ndarray, k: int) -> int | None:
    """The strongest single supporting event whose removal alone drops the target (exact: the
    pool decides most events at once; the rest are screened, then checked one by one)."""
    trial = ranker.trial(k)
    drops, unsure = trial.single_removals(order, k)
    if unsure.any():
        screened = np.zeros(len(order), dtype=bool)
        screened[np.flatnonzero(unsure)] = ranker.singles(order[unsure]) >= k - 1  # ties: confirmed below
        unsure = screened
    for at in np.flatnonzero(drops | unsure):
        event = int(order[at])
        if drops[at]:
            return event
        trial.remove(event)
        if trial.out(k):
            return event
        trial.restore(event)
    return None


def _enumerate(ranker: TargetRanker, order: np.ndarray, k: int, start: int,
               below: int, chunk: int = 256) -> tuple[int, ...] | None:
    """The first (strongest-first) valid subset of size ``start`` .. ``below - 1``, by size
    (subsets checked a chunk at a time, in :func:`itertools.combinations` order)."""
    trial = ranker.trial(k)
    contributions = ranker.column(ranker.target)
    needed = ranker.needed_drop(k)  # subsets that cannot take this much away need no check
    for size in range(start, below):
        combos = itertools.combinations(order.tolist(), size)
        step = max(1, min(chunk, 200_000 // (size * max(len(trial.pool.items), 1))))
        while True:
            batch = np.array(list(itertools.islice(combos, 4 * chunk)), dtype=np.int64).reshape(-1, size)
            if not len(batch):
                break
            if needed is not None:
                batch = batch[contributions[batch].sum(axis=1) > needed]
            for at in range(0, len(batch), step):
                part = batch[at:at + step]
                hits = np.flatnonzero(trial.subsets_out(part, k))
                if len(hits):
                    return tuple(int(e) for e in part[hits[0]])
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
