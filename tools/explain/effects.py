"""Fast re-ranking of one target item over a user's per-event terms: the counterfactual search's engine.

The rows come from :meth:`Ranker.event_terms <whyrec.tools.ranking.base.Ranker.event_terms>`:
for an additive ranker the scores after removing a set of events are the base scores minus
those events' rows — no re-scoring needed, so the search can try thousands of sets. Every set the
explainer returns is still verified by the ranker re-scoring the reduced history; for a
non-additive ranker the rows are leave-one-out differences and verification decides.

Two pieces:

* :class:`UserTerms` — one history's rows, by event and by item, built once per user and shared
  by every item explained for that user (a list of headlines searches ten targets on one copy);
* :class:`TargetRanker` / :class:`Trial` — the target's rank while events are taken out one at a
  time. A trial keeps the scores of the items that may currently be recommended and, when no term
  is negative (removing events never raises a score), a small *pool* that provably holds every
  item that can get ahead of the target; a rank check then costs the pool, not the catalog, which
  is what keeps searches over thousand-event histories fast.

**Robust mode.** Removing all of a user's events on an item makes that item recommendable again
(the exclude-seen rule) — and a re-rank then scores it with similarities the ranker learned partly
*from those very events*. Refitted without them (ACCENT's test), that self-made similarity is
gone and the freed item usually falls back. A robust target ranker therefore never counts a
freed item as a competitor: the target must fall behind items the user never touched, whose
scores a refit without the removed events leaves unchanged (for co-occurrence similarity: their
co-occurrence counts do not involve this user's removed interactions). Freed items can only push
the target further down, so a robust set is also valid in the plain re-rank.

>>> import numpy as np, scipy.sparse as sp
>>> from whyrec.tools.ranking.history import History
>>> history = History(np.array([0, 1]), np.zeros(2, np.int8), np.zeros(2), np.arange(2, dtype=np.uint64),
...                   np.full(2, np.nan))
>>> rows = sp.csr_matrix(np.array([[0.5, 0.0, 0.4, 0.1], [0.0, 0.5, 0.3, 0.0]]))
>>> terms = UserTerms.build("u", history, 0.0, np.array([0.6, 0.5, 0.8, 0.3]), rows)
>>> ranker = TargetRanker(terms, target=2, allowed=np.ones(4, dtype=bool))
>>> ranker.drops(np.array([0]), k=1), ranker.drops(np.array([0, 1]), k=1)  # item 3 is 0.2 then
(False, True)
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..ranking.history import History
from ..ranking.topk import rank_of

log = logging.getLogger(__name__)

#: Items kept in a trial's pool beyond the ``k`` needed (a larger pool is rebuilt less often).
POOL_SLACK = 64
#: A pool's terms are kept dense (one vector operation per removed event) up to this many cells.
MAX_DENSE_POOL = 4_000_000


@dataclass(frozen=True)
class UserTerms:
    """One history's per-event terms, by event (``rows``) and by item (``columns``), its base
    scores and per-item event counts — everything a target's search needs, built once."""

    user_id: str
    history: History
    now: float
    scores: np.ndarray        # every item's score for the whole history
    rows: sp.csr_matrix       # event x item: what each event adds to each item's score
    columns: sp.csc_matrix    # the same terms, column-major (an item's contributions)
    counts: np.ndarray        # events per item (the exclude-seen rule)
    nonnegative: bool         # no term is negative: removing events never raises a score
    exact: bool = True        # additive ranker: removing events subtracts exactly their rows

    @classmethod
    def build(cls, user_id: str, history: History, now: float, scores: np.ndarray,
              rows: sp.csr_matrix, exact: bool = True) -> UserTerms:
        """From a ranker's terms: ``scores`` its total, ``rows`` its (expanded) event x item
        matrix, ``exact`` whether the ranker is additive (else rows are leave-one-out estimates)."""
        rows = sp.csr_matrix(rows, dtype=np.float64)
        rows.sort_indices()
        n_items = rows.shape[1]
        known = history.items[history.items >= 0]
        return cls(str(user_id), history, float(now), np.asarray(scores, dtype=np.float64), rows,
                   rows.tocsc(), np.bincount(known, minlength=n_items),
                   bool(rows.nnz == 0 or float(rows.data.min()) >= 0.0), bool(exact))

    @property
    def n_events(self) -> int:
        return int(self.rows.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.rows.shape[1])

    def column(self, item: int) -> np.ndarray:
        """Every event's term on ``item`` (its contributions, dense over the events)."""
        out = np.zeros(self.n_events)
        start, stop = self.columns.indptr[item], self.columns.indptr[item + 1]
        out[self.columns.indices[start:stop]] = self.columns.data[start:stop]
        return out


class TargetRanker:
    """Rank of one target item after removing events and/or adding hypothetical rows.

    Follows the ranker's tie rule (higher score first, then lower catalog position) and the
    ``exclude_seen`` rule applied to the *hypothetical* history: an item is excluded while any of
    its events remains. With ``robust=True`` an item freed by the removal is never counted as a
    competitor (see the module docstring).
    """

    def __init__(self, terms: UserTerms, target: int, allowed: np.ndarray, robust: bool = False,
                 exclude_seen: bool = True) -> None:
        self.terms = terms
        self.target = int(target)
        self.allowed = allowed
        self.robust = robust
        self.exclude_seen = exclude_seen
        self.base = terms.scores
        self.effects = terms.rows
        self.event_items = terms.history.items
        self.counts = terms.counts
        self.eligible_now = allowed & (terms.counts == 0) if exclude_seen else allowed.copy()
        self.frees = exclude_seen and not robust
        self.margin = 1e-9 * max(1.0, float(np.abs(self.base).max()) if len(self.base) else 1.0)
        self._columns: dict[int, np.ndarray] = {}
        self._pools: dict[int | None, Pool] = {}
        freeable = np.zeros(0, dtype=np.int64)
        if self.frees:
            items = self.event_items
            freeable = np.unique(items[items >= 0])
            freeable = freeable[allowed[freeable] & (freeable != self.target)]
        self.freeable = freeable
        self.event_item_list: list[int] = self.event_items.tolist()

    # -- whole-array checks (ranks reported to users) --------------------------------------------
    def eligible_items(self, counts: np.ndarray) -> np.ndarray:
        """Items that may be recommended with per-item event counts ``counts``."""
        if not self.frees:
            return self.eligible_now
        return self.allowed & (counts == 0)

    def eligible(self, counts: np.ndarray) -> bool:
        """Whether the target itself may be recommended."""
        return bool(self.allowed[self.target] and (not self.exclude_seen or counts[self.target] == 0))

    def ahead(self, scores: np.ndarray, counts: np.ndarray, margin: float = 0.0) -> int:
        """How many eligible items rank above the target (its 0-based rank if it is eligible).

        With ``margin > 0`` only items ahead by more than ``margin`` count (robust to the rounding
        of a from-scratch re-score); with ``margin < 0`` items within ``-margin`` count as ahead.
        """
        return rank_of(scores, self.target, self.eligible_items(counts), margin)

    def column(self, item: int) -> np.ndarray:
        """Every event's effect on ``item``'s score (cached per item)."""
        out = self._columns.get(int(item))
        if out is None:
            out = self._columns[int(item)] = self.terms.column(int(item))
        return out

    def after_removal(self, removed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scores and per-item event counts with the events at ``removed`` (indices) gone."""
        removed = np.asarray(removed, dtype=np.int64)
        mask = np.zeros(self.terms.n_events)
        mask[removed] = 1.0
        scores = self.base - np.asarray(self.effects.T @ mask).ravel()
        gone = self.event_items[removed]
        counts = self.counts - np.bincount(gone[gone >= 0], minlength=len(self.base))
        return scores, counts

    def rank_after_removal(self, removed: np.ndarray, margin: float = 0.0) -> int | None:
        """0-based rank of the target with ``removed`` events gone (None if it is excluded)."""
        scores, counts = self.after_removal(np.asarray(removed, dtype=np.int64))
        if not self.eligible(counts):
            return None
        return self.ahead(scores, counts, margin)

    # -- incremental checks (the search) ---------------------------------------------------------
    def pool(self, size: int | None) -> Pool:
        """The tracked items of a trial (``size`` best plus the freeable ones; None: all)."""
        pool = self._pools.get(size)
        if pool is None:
            pool = self._pools[size] = Pool.build(self, size)
        return pool

    def first_drop(self, order: np.ndarray, k: int, longest: int | None = None,
                   size: int | None = -1) -> int | None:
        """The length of the shortest prefix of ``order`` whose removal drops the target out of
        the top ``k`` (robustly), or ``None`` — evaluated for whole blocks of prefixes at once.

        Equivalent to removing ``order`` one event at a time and checking after each (what a
        :class:`Trial` does); ``size`` is the pool size (default ``k`` + slack, None: every item).
        """
        order = np.asarray(order, dtype=np.int64)[:longest]
        if not len(order) or not self.eligible(self.counts):
            return None if len(order) else None
        pool = self.pool(k + POOL_SLACK if size == -1 else size)
        threshold = (float(self.base[self.target]) - np.cumsum(self.column(self.target)[order])
                     + self.margin)
        opens_at = np.where(pool.open, -1, np.iinfo(np.int64).max)
        if self.frees and len(pool.items):
            items = self.event_items[order]
            known = items >= 0
            removed = np.bincount(items[known], minlength=len(self.base))
            last = np.full(len(self.base), -1, dtype=np.int64)
            np.maximum.at(last, items[known], np.flatnonzero(known))
            freed = ((removed[pool.items] == self.counts[pool.items]) & (self.counts[pool.items] > 0)
                     & self.allowed[pool.items])
            opens_at = np.where(freed, last[pool.items], opens_at)
        block = max(8, 2_000_000 // max(len(pool.items), 1))
        current = pool.base.copy()
        for start in range(0, len(order), block):
            stop = min(start + block, len(order))
            rows = (pool.dense[order[start:stop]] if pool.dense is not None
                    else pool.rows[order[start:stop]].toarray())
            scores = current[None, :] - np.cumsum(rows, axis=0)
            steps = np.arange(start, stop)
            ahead = ((scores > threshold[start:stop, None])
                     & (opens_at[None, :] <= steps[:, None])).sum(axis=1)
            hits = np.flatnonzero(ahead >= k)
            blind = np.flatnonzero(threshold[start:stop] < pool.floor)
            if len(blind) and (not len(hits) or blind[0] <= hits[0]):
                bigger = len(pool.items) * 4
                return self.first_drop(order, k, size=bigger if bigger < len(self.base) // 2 else None)
            if len(hits):
                return start + int(hits[0]) + 1
            current = scores[-1]
        return None

    def trial(self, k: int) -> Trial:
        """A fresh incremental state with nothing removed, for checks against the top ``k``."""
        return Trial(self, k)

    def drops(self, removed: np.ndarray, k: int) -> bool:
        """True when removing ``removed`` puts the target out of the top ``k`` (robustly)."""
        trial = self.trial(k)
        for event in np.asarray(removed, dtype=np.int64):
            trial.remove(int(event))
        return trial.out(k)

    def singles(self, events: np.ndarray) -> np.ndarray:
        """0-based rank of the target after removing each event in ``events`` alone (vectorised;
        ties between equal scores are ignored, so callers confirm with :meth:`drops`)."""
        events = np.asarray(events, dtype=np.int64)
        eligible = self.eligible_now.copy()
        eligible[self.target] = False
        ranked = np.sort(self.base[eligible])
        rows = self.effects[events]
        target_new = self.base[self.target] - np.asarray(rows[:, self.target].toarray()).ravel()
        ahead = len(ranked) - np.searchsorted(ranked, target_new, side="right")
        coo = rows.tocoo()
        touched = eligible[coo.col]
        row, col, val = coo.row[touched], coo.col[touched], coo.data[touched]
        before = self.base[col] > target_new[row]
        after = self.base[col] - val > target_new[row]
        np.add.at(ahead, row, after.astype(np.int64) - before.astype(np.int64))
        if self.frees:
            items = self.event_items[events]
            safe = np.maximum(items, 0)
            freed = ((items >= 0) & (items != self.target) & (self.counts[safe] == 1) & self.allowed[safe])
            if freed.any():
                own = np.asarray(rows[np.flatnonzero(freed), items[freed]]).ravel()
                ahead[freed] += (self.base[items[freed]] - own > target_new[freed]).astype(np.int64)
        return ahead

    def size_bound(self, contributions: np.ndarray, k: int) -> int | None:
        """A lower bound on the size of any removal set that drops the target, or ``None`` when
        no set of supporting events can (only when no term is negative; else 1).

        No score rises when events are removed, so at least ``k`` items must already score above
        what the target falls to: the target must lose more than ``score - U_k`` (``U_k`` the
        ``k``-th best score among the items that could compete), and ``m`` events can take at most
        the ``m`` largest contributions away.
        """
        if not self.terms.nonnegative:
            return 1
        rivals = (self.allowed.copy() if self.frees else self.eligible_now.copy())
        rivals[self.target] = False
        candidates = self.base[rivals]
        if len(candidates) < k:
            return None
        kth = float(np.partition(-candidates, k - 1)[k - 1]) * -1.0
        needed = float(self.base[self.target]) + self.margin - kth
        support = np.sort(contributions[contributions > 0])[::-1]
        reach = np.cumsum(support)
        enough = np.flatnonzero(reach > needed)
        return int(enough[0]) + 1 if len(enough) else None


@dataclass(frozen=True)
class Pool:
    """The items a trial tracks: the ``size`` best recommendable ones (by base score) and every
    item a removal could free, with their columns of the terms. No score rises when events are
    removed (no negative term), so every other item scores at most ``floor`` in every trial."""

    items: np.ndarray         # catalog positions
    floor: float              # best base score of an untracked item (-inf: every item tracked)
    rows: sp.csr_matrix       # event x pool item
    base: np.ndarray          # base scores of the pool items
    open: np.ndarray          # recommendable before any removal
    index: np.ndarray         # catalog position -> pool index (-1: not tracked)
    dense: np.ndarray | None  # ``rows`` as a dense array when small enough (fast row updates)

    @classmethod
    def build(cls, ranker: TargetRanker, size: int | None) -> Pool:
        open_now = ranker.eligible_now.copy()
        open_now[ranker.target] = False
        candidates = np.flatnonzero(open_now)
        if size is None or not ranker.terms.nonnegative or len(candidates) <= size:
            top, floor = candidates, -np.inf
        else:
            part = np.argpartition(-ranker.base[candidates], size)
            top = candidates[part[:size]]
            floor = float(ranker.base[candidates[part[size:]]].max())
        items = np.union1d(top, ranker.freeable)
        index = np.full(len(ranker.base), -1, dtype=np.int64)
        index[items] = np.arange(len(items))
        rows = sp.csr_matrix(ranker.terms.columns[:, items])
        rows.sort_indices()
        dense = rows.toarray() if rows.shape[0] * rows.shape[1] <= MAX_DENSE_POOL else None
        return cls(items, floor, rows, ranker.base[items], open_now[items], index, dense)


class Trial:
    """The target's rank while events are removed and put back one at a time.

    Tracks the scores of the pool's items only (``live``: ``-inf`` while an item may not be
    recommended); while the target stays above the pool's floor no other item can be ahead of it,
    and when it falls below, the pool grows (rebuilt from the events removed so far).
    """

    def __init__(self, ranker: TargetRanker, k: int) -> None:
        self.ranker = ranker
        self.counts = ranker.counts.copy()
        self.removed = np.zeros(ranker.terms.n_events, dtype=bool)
        self.target_score = float(ranker.base[ranker.target])
        self._target_column = ranker.column(ranker.target)
        self._target_terms = self._target_column.tolist()
        self._items = ranker.event_item_list
        self._frees = ranker.frees
        self._use(ranker.pool(k + POOL_SLACK))

    def _use(self, pool: Pool) -> None:
        self.pool = pool
        scores = pool.base.copy()
        if self.removed.any():
            scores -= np.asarray(pool.rows[np.flatnonzero(self.removed)].sum(axis=0)).ravel()
        opened = pool.open.copy()
        if self._frees:
            opened |= (self.counts[pool.items] == 0) & self.ranker.allowed[pool.items]
        self.scores = scores
        self.live = np.where(opened, scores, -np.inf)
        self._dense = pool.dense
        self._indptr = pool.rows.indptr.tolist()
        self._indices = pool.rows.indices
        self._data = pool.rows.data

    def _grow(self) -> bool:
        """Track more items (4x, then all); False when every item is tracked already."""
        if self.pool.floor == -np.inf:
            return False
        size = len(self.pool.items) * 4
        self._use(self.ranker.pool(size if size < len(self.ranker.base) // 2 else None))
        return True

    def remove(self, event: int) -> None:
        self.removed[event] = True
        self.target_score -= self._target_terms[event]
        if self._dense is not None:
            self.live -= self._dense[event]
            if self._frees:
                self.scores -= self._dense[event]
        else:
            start, stop = self._indptr[event], self._indptr[event + 1]
            if start < stop:
                columns, values = self._indices[start:stop], self._data[start:stop]
                self.live[columns] -= values
                if self._frees:
                    self.scores[columns] -= values
        item = self._items[event]
        if item >= 0:
            self.counts[item] -= 1
            if self._frees and self.counts[item] == 0:
                where = self.pool.index[item]
                if where >= 0 and self.ranker.allowed[item]:
                    self.live[where] = self.scores[where]

    def restore(self, event: int) -> None:
        self.removed[event] = False
        self.target_score += self._target_terms[event]
        item = self._items[event]
        if item >= 0:
            if self._frees and self.counts[item] == 0:
                where = self.pool.index[item]
                if where >= 0:
                    self.live[where] = -np.inf
            self.counts[item] += 1
        if self._dense is not None:
            self.live += self._dense[event]
            if self._frees:
                self.scores += self._dense[event]
        else:
            start, stop = self._indptr[event], self._indptr[event + 1]
            if start < stop:
                columns, values = self._indices[start:stop], self._data[start:stop]
                self.live[columns] += values
                if self._frees:
                    self.scores[columns] += values

    def target_eligible(self) -> bool:
        return self.ranker.eligible(self.counts)

    def ahead(self, margin: float | None = None) -> int:
        """How many recommendable items score more than the target (by more than ``margin``;
        default the ranker's rounding margin)."""
        threshold = self.target_score + (self.ranker.margin if margin is None else margin)
        while threshold < self.pool.floor and self._grow():
            pass
        return int(np.count_nonzero(self.live > threshold))

    def out(self, k: int) -> bool:
        """The target is out of the top ``k`` (excluded, or ``k`` items ahead by the margin)."""
        return not self.target_eligible() or self.ahead() >= k

    def restoring_keeps_out(self, events: np.ndarray, k: int) -> np.ndarray:
        """For each event of ``events`` (each removed now): whether putting back that one event
        alone, from the current state, leaves the target out of the top ``k`` (vectorised; the
        same answer as :meth:`restore` then :meth:`out` for each)."""
        events = np.asarray(events, dtype=np.int64)
        target = self.target_score + self._target_column[events]
        threshold = target + self.ranker.margin
        # Putting events back raises the target: the pool stays sufficient if it is now.
        while float(threshold.min(initial=np.inf)) < self.pool.floor and self._grow():
            pass
        rows = self.pool.dense[events] if self.pool.dense is not None else self.pool.rows[events].toarray()
        live = self.live[None, :] + rows
        if self._frees:
            items = self.ranker.event_items[events]
            safe = np.maximum(items, 0)
            closes = (items >= 0) & (self.counts[safe] == 0)
            where = self.pool.index[safe]
            rows = np.flatnonzero(closes & (where >= 0))
            live[rows, where[rows]] = -np.inf
        ahead = (live > threshold[:, None]).sum(axis=1)
        eligible = np.ones(len(events), dtype=bool)
        if self.ranker.exclude_seen:
            eligible = self.ranker.event_items[events] != self.ranker.target
            eligible &= bool(self.target_eligible())
        return ~eligible | (ahead >= k)

    def single_removals(self, events: np.ndarray, k: int, block: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """For each event of ``events`` (each still in the history): does removing that one event
        alone, from the current state, drop the target out of the top ``k``? Returns
        ``(drops, unsure)``: ``drops`` is certain; ``unsure`` marks events whose removal takes the
        target below the pool's floor without ``k`` pool items ahead (callers check those)."""
        events = np.asarray(events, dtype=np.int64)
        threshold = self.target_score - self._target_column[events] + self.ranker.margin
        drops = np.zeros(len(events), dtype=bool)
        for start in range(0, len(events), block):
            part = events[start:start + block]
            rows = self.pool.dense[part] if self.pool.dense is not None else self.pool.rows[part].toarray()
            live = self.live[None, :] - rows
            if self._frees:
                items = self.ranker.event_items[part]
                safe = np.maximum(items, 0)
                where = self.pool.index[safe]
                freed = np.flatnonzero((items >= 0) & (self.counts[safe] == 1) & (where >= 0)
                                       & self.ranker.allowed[safe])
                live[freed, where[freed]] = self.scores[where[freed]] - rows[freed, where[freed]]
            drops[start:start + block] = (live > threshold[start:start + len(part), None]).sum(axis=1) >= k
        return drops, ~drops & (threshold < self.pool.floor)

    def kth_other(self, k: int) -> int | None:
        """The ``k``-th best recommendable item other than the target (None if there are fewer)."""
        while np.count_nonzero(self.live > self.pool.floor) < k:
            if not self._grow():
                break
        if np.count_nonzero(np.isfinite(self.live)) < k:
            return None
        return int(self.pool.items[np.argpartition(-self.live, k - 1)[k - 1]])
