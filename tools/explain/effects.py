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
scores a refit without the removed events leaves nearly unchanged (for co-occurrence
similarity their co-occurrence counts do not involve this user's removed interactions; only the
top-neighbour cut of each similarity row can shift). Freed items can only push the target
further down, so a robust set is also valid in the plain re-rank. ``margin`` (a share of the
target's score) asks the target to fall behind by that much more, for what the refit does shift.

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
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from ..ranking.exclusion import check_policy
from ..ranking.history import BEHAVIOUR_CODE, History
from ..ranking.topk import rank_of

log = logging.getLogger(__name__)

#: Items kept in a trial's pool beyond the ``k`` needed (a larger pool is rebuilt less often).
POOL_SLACK = 64
#: A pool's terms are kept dense (one vector operation per removed event) up to this many cells.
MAX_DENSE_POOL = 400_000


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
    counts: np.ndarray        # events per item (the exclusion policies count their own: Competition)
    nonnegative: bool         # no term is negative: removing events never raises a score
    exact: bool = True        # additive ranker: removing events subtracts exactly their rows
    prior: np.ndarray = field(default_factory=lambda: np.zeros(0))  # score with no history
    competitions: dict[Any, Competition] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def build(cls, user_id: str, history: History, now: float, scores: np.ndarray,
              rows: sp.csr_matrix, exact: bool = True, prior: np.ndarray | None = None) -> UserTerms:
        """From a ranker's terms: ``scores`` its total, ``rows`` its (expanded) event x item
        matrix, ``exact`` whether the ranker is additive (else rows are leave-one-out estimates),
        ``prior`` the scores of an empty history (default: ``scores`` minus every row)."""
        rows = sp.csr_matrix(rows, dtype=np.float64)
        rows.sort_indices()
        n_items = rows.shape[1]
        known = history.items[history.items >= 0]
        return cls(str(user_id), history, float(now), np.asarray(scores, dtype=np.float64), rows,
                   rows.tocsc(), np.bincount(known, minlength=n_items),
                   bool(rows.nnz == 0 or float(rows.data.min()) >= 0.0), bool(exact),
                   np.asarray(scores - rows.sum(axis=0) if prior is None else prior, dtype=np.float64).ravel())

    @property
    def n_events(self) -> int:
        return int(self.rows.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.rows.shape[1])

    def competition(self, key: Any, allowed: np.ndarray, exclude: str = "seen",
                    target_code: int = BEHAVIOUR_CODE["purchase"]) -> Competition:
        """The :class:`Competition` under the filter ``key`` (whose mask is ``allowed``) and the
        exclusion policy ``exclude``, kept."""
        found = self.competitions.get((key, exclude, target_code))
        if found is None:
            found = self.competitions[(key, exclude, target_code)] = Competition(
                self, allowed, exclude=exclude, target_code=target_code)
            while len(self.competitions) > 8:
                self.competitions.pop(next(iter(self.competitions)))
        return found

    def column(self, item: int) -> np.ndarray:
        """Every event's term on ``item`` (its contributions, dense over the events)."""
        out = np.zeros(self.n_events)
        start, stop = self.columns.indptr[item], self.columns.indptr[item + 1]
        out[self.columns.indices[start:stop]] = self.columns.data[start:stop]
        return out


class TargetRanker:
    """Rank of one target item after removing events and/or adding hypothetical rows.

    Follows the ranker's tie rule (higher score first, then lower catalog position) and the
    list's exclusion policy (:mod:`whyrec.tools.ranking.exclusion`) applied to the *hypothetical*
    history: an item is excluded while any of its excluding events remains (under ``"seen"`` every
    event, under ``"purchased"`` the target-behaviour ones, under ``"none"`` none). With
    ``robust=True`` an item freed by the removal is never counted as a competitor (see the module
    docstring). ``exclude_seen`` is the older switch between ``"seen"`` and ``"none"``.
    """

    def __init__(self, terms: UserTerms, target: int, allowed: np.ndarray | Competition,
                 robust: bool = False, exclude_seen: bool = True, margin: float = 0.0,
                 exclude: str | None = None, target_code: int = BEHAVIOUR_CODE["purchase"]) -> None:
        policy = exclude if exclude is not None else ("seen" if exclude_seen else "none")
        competition = (allowed if isinstance(allowed, Competition)
                       else Competition(terms, allowed, exclude=policy, target_code=target_code))
        self.competition = competition
        self.terms = terms
        self.target = int(target)
        self.allowed = competition.allowed
        self.robust = robust
        self.exclude_seen = competition.exclude_seen
        self.exclude = competition.exclude
        self.base = terms.scores
        self.effects = terms.rows
        #: Each event's item if the event excludes it under the policy, else -1 (a removal can
        #: free only those items); ``counts`` are the excluding events per item.
        self.event_items = competition.event_items
        self.counts = competition.counts
        self.eligible_now = competition.eligible_now
        self.frees = self.exclude != "none" and not robust
        #: Score difference the search asks for (rounding, plus the robustness margin).
        self.margin = max(competition.rounding, float(margin) * abs(float(self.base[self.target])))
        self._columns: dict[int, np.ndarray] = {}
        freeable = competition.freeable if self.frees else np.zeros(0, dtype=np.int64)
        self.freeable = freeable[freeable != self.target]
        self.event_item_list = competition.event_item_list

    # -- whole-array checks (ranks reported to users) --------------------------------------------
    def eligible_items(self, counts: np.ndarray) -> np.ndarray:
        """Items that may be recommended with per-item excluding-event counts ``counts``."""
        if not self.frees:
            return self.eligible_now
        return self.allowed & (counts == 0)

    def eligible(self, counts: np.ndarray) -> bool:
        """Whether the target itself may be recommended."""
        return bool(self.allowed[self.target] and counts[self.target] == 0)

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
        """Scores and per-item excluding-event counts with the events at ``removed`` (indices) gone."""
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
        """The tracked items of a trial (``size`` best others plus the freeable ones; None: all)."""
        return self.competition.pool(None if size is None else size + 1, self.frees)

    def first_drop(self, order: np.ndarray, k: int, longest: int | None = None,
                   block: int = 256) -> int | None:
        """The length of the shortest prefix of ``order`` whose removal drops the target out of
        the top ``k`` (robustly), or ``None`` — the same answer as removing ``order`` one event
        at a time and checking after each (a :class:`Trial`), computed a block of prefixes at
        once over a focus of items: the best ones now and every item the block could free. As
        only removals happen, no item outside the focus can rise above the best of them."""
        order = np.asarray(order, dtype=np.int64)[:longest]
        if not len(order) or not self.eligible(self.counts):
            return None
        threshold = (float(self.base[self.target]) - np.cumsum(self.column(self.target)[order])
                     + self.margin)
        live = self.competition.live.copy()
        live[self.target] = -np.inf
        scores = self.base.copy()
        counts = self.counts.copy()
        rows = self.effects
        size = k + POOL_SLACK
        pool: Pool | None = self.pool(size)  # the first focus: its rows are ready
        at = 0
        while at < len(order):
            part = order[at:at + block]
            if pool is not None:
                focus, floor = pool.items, pool.floor
                sub = pool.dense[part] if pool.dense is not None else pool.rows[part].toarray()
                pool = None
            else:
                focus, floor = _top_with(live, size, self.freeable)
                sub = rows[part][:, focus].toarray()
            after = scores[focus][None, :] - np.cumsum(sub, axis=0)
            opened = np.broadcast_to(np.isfinite(live[focus]), after.shape).copy()
            if self.frees and len(self.freeable):
                items = self.event_items[part]
                known = items >= 0
                left = counts.copy()
                step_freed = np.full(len(self.base), np.iinfo(np.int64).max)
                for n, item in zip(np.flatnonzero(known).tolist(), items[known].tolist(), strict=True):
                    left[item] -= 1
                    if left[item] == 0 and item != self.target and self.allowed[item]:
                        step_freed[item] = n
                opened |= step_freed[focus][None, :] <= np.arange(len(part))[:, None]
            ahead = ((after > threshold[at:at + len(part), None]) & opened).sum(axis=1)
            hits = np.flatnonzero(ahead >= k)
            blind = np.flatnonzero(threshold[at:at + len(part)] < floor)
            stop = len(part)
            if len(blind) and (not len(hits) or blind[0] <= hits[0]):
                stop = int(blind[0])
                if stop == 0:  # blind at once: widen the focus and try the block again
                    if floor == -np.inf:
                        break
                    size *= 4
                    continue
            elif len(hits):
                return at + int(hits[0]) + 1
            taken = part[:stop]
            change = np.asarray(rows[taken].sum(axis=0)).ravel()
            scores -= change
            live -= change
            gone = self.event_items[taken]
            gone = gone[gone >= 0]
            np.subtract.at(counts, gone, 1)
            if self.frees:
                freed = np.unique(gone[(counts[gone] == 0) & self.allowed[gone] & (gone != self.target)])
                live[freed] = scores[freed]
            at += stop
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

    def needed_drop(self, k: int) -> float | None:
        """How much the target's score must fall, at least, for any removal to drop it out of
        the top ``k`` (``inf``: no removal can; None: unknown, some term is negative).

        No score rises when events are removed, so at least ``k`` items must already score above
        what the target falls to: it must lose more than ``score + margin - U_k``, ``U_k`` the
        ``k``-th best score among the items that could compete.
        """
        if not self.terms.nonnegative:
            return None
        rivals = self.allowed.copy() if self.frees else self.eligible_now.copy()
        rivals[self.target] = False
        candidates = self.base[rivals]
        if len(candidates) < k:
            return np.inf
        kth = -float(np.partition(-candidates, k - 1)[k - 1])
        return float(self.base[self.target]) + self.margin - kth

    def size_bound(self, contributions: np.ndarray, k: int) -> int | None:
        """A lower bound on the size of any removal set that drops the target, or ``None`` when
        no set of supporting events can (only when no term is negative; else 1): ``m`` events take
        at most the ``m`` largest contributions away, and the target must lose
        :meth:`needed_drop`.
        """
        needed = self.needed_drop(k)
        if needed is None:
            return 1
        if needed == np.inf:
            return None
        support = np.sort(contributions[contributions > 0])[::-1]
        reach = np.cumsum(support)
        enough = np.flatnonzero(reach > needed)
        return int(enough[0]) + 1 if len(enough) else None


@dataclass(frozen=True)
class Pool:
    """The items a trial tracks first: the ``size`` best recommendable ones (by base score) and
    every item a removal could free, with their columns of the terms. No score rises when events are
    removed (no negative term), so every other item scores at most ``floor`` in every trial."""

    items: np.ndarray         # catalog positions (may include a target: callers mask it)
    floor: float              # best base score of an untracked item (-inf: every item tracked)
    rows: sp.csr_matrix       # event x pool item
    index: np.ndarray         # catalog position -> pool index (-1: not tracked)
    dense: np.ndarray | None  # ``rows`` as a dense array when small enough (fast row updates)

    @classmethod
    def build(cls, competition: Competition, size: int | None, frees: bool) -> Pool:
        terms = competition.terms
        candidates = np.flatnonzero(competition.eligible_now)
        if size is None or not terms.nonnegative or len(candidates) <= size:
            top, floor = candidates, -np.inf
        else:
            part = np.argpartition(-terms.scores[candidates], size)
            top = candidates[part[:size]]
            floor = float(terms.scores[candidates[part[size:]]].max())
        items = np.union1d(top, competition.freeable) if frees else np.sort(top)
        index = np.full(len(terms.scores), -1, dtype=np.int64)
        index[items] = np.arange(len(items))
        rows = sp.csr_matrix(terms.columns[:, items])
        rows.sort_indices()
        dense = rows.toarray() if rows.shape[0] * rows.shape[1] <= MAX_DENSE_POOL else None
        return cls(items, floor, rows, index, dense)


class Competition:
    """What every target of one user competes with under one filter: the items that may be
    recommended now, those a removal could free, and pools of the best of them — built once and
    shared by every item explained (a list of headlines searches ten targets over one of these)."""

    def __init__(self, terms: UserTerms, allowed: np.ndarray, exclude_seen: bool = True,
                 exclude: str | None = None, target_code: int = BEHAVIOUR_CODE["purchase"]) -> None:
        self.terms = terms
        self.allowed = allowed
        self.exclude = check_policy(exclude if exclude is not None else ("seen" if exclude_seen else "none"))
        self.exclude_seen = self.exclude == "seen"
        history = terms.history
        items = history.items
        if self.exclude == "seen":
            excluding = items
        elif self.exclude == "purchased":
            excluding = np.where(history.behaviours == target_code, items, -1)
        else:
            excluding = np.full(len(items), -1, dtype=np.int64)
        self.event_items = np.asarray(excluding, dtype=np.int64)
        known = self.event_items[self.event_items >= 0]
        self.counts = np.bincount(known, minlength=terms.n_items)
        self.eligible_now = allowed & (self.counts == 0)
        known = np.unique(known)
        self.freeable = known[allowed[known]]
        base = terms.scores
        self.rounding = 1e-9 * max(1.0, float(np.abs(base).max()) if len(base) else 1.0)
        self.live = np.where(self.eligible_now, base, -np.inf)
        self.event_item_list: list[int] = self.event_items.tolist()
        self._pools: dict[tuple[int | None, bool], Pool] = {}

    def pool(self, size: int | None, frees: bool) -> Pool:
        """The ``size`` best recommendable items (None: all), plus the freeable ones if ``frees``."""
        key = (size, frees)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = Pool.build(self, size, frees)
        return pool


def _gather(matrix: sp.csr_matrix, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The entries of ``matrix``'s rows ``rows`` as (position in ``rows``, column, value)."""
    starts = matrix.indptr[rows]
    lengths = matrix.indptr[rows + 1] - starts
    which = np.repeat(np.arange(len(rows)), lengths)
    offsets = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths) + starts[which]
    return which, matrix.indices[offsets], matrix.data[offsets]


def _top_with(values: np.ndarray, size: int, extra: np.ndarray) -> tuple[np.ndarray, float]:
    """The ``size`` largest finite ``values`` plus ``extra`` (positions), and the largest value
    left out (``-inf`` when nothing is)."""
    if size >= len(values):
        return np.arange(len(values)), -np.inf
    part = np.argpartition(-values, size)
    return np.union1d(part[:size], extra), float(values[part[size]])


class Trial:
    """The target's rank while events are removed and put back one at a time.

    ``live`` holds every item's score while it may be recommended (``-inf`` otherwise, and for
    the target); a removal or a put-back updates only the entries its row touches. Rank checks
    look at a small ``focus`` of items and a ``floor`` that no item outside it exceeds — kept true
    by every update (a put-back raises the floor to what it raised outside the focus), and
    re-taken from the current scores when the target falls below it.
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
        self.live = ranker.competition.live.copy()
        self.live[ranker.target] = -np.inf
        self.scores = ranker.base.copy() if self._frees else self.live
        rows = ranker.effects
        self._indptr = rows.indptr.tolist()
        self._indices = rows.indices
        self._data = rows.data
        self.pool = ranker.pool(k + POOL_SLACK)
        self.focus_size = k + POOL_SLACK
        self._set_focus(self.pool.items, self.pool.floor)
        self._settled = False   # the floor was just re-taken: re-taking it again gains nothing

    def _set_focus(self, focus: np.ndarray, floor: float) -> None:
        self.focus, self.floor = focus, floor
        self.in_focus = np.zeros(len(self.live), dtype=bool)
        self.in_focus[focus] = True

    def _raise_floor(self, columns: np.ndarray) -> None:
        if self.floor == -np.inf:
            return
        outside = self.live[columns][~self.in_focus[columns]]
        if len(outside):
            top = float(outside.max())
            if top > self.floor:
                self.floor = top
                self._settled = False

    def remove(self, event: int) -> None:
        self.removed[event] = True
        self.target_score -= self._target_terms[event]
        start, stop = self._indptr[event], self._indptr[event + 1]
        if start < stop:
            columns, values = self._indices[start:stop], self._data[start:stop]
            self.live[columns] -= values
            if self._frees:
                self.scores[columns] -= values
            if not self.ranker.terms.nonnegative:
                self._raise_floor(columns)
        item = self._items[event]
        if item >= 0:
            self.counts[item] -= 1
            if self._frees and self.counts[item] == 0 and item != self.ranker.target and self.ranker.allowed[item]:
                self.live[item] = self.scores[item]
                self._raise_floor(np.array([item]))

    def remove_many(self, events: np.ndarray) -> None:
        """:meth:`remove` for each of ``events`` (distinct, none removed yet), at once."""
        events = np.asarray(events, dtype=np.int64)
        if not len(events):
            return
        self.removed[events] = True
        self.target_score -= float(self._target_column[events].sum())
        change = np.asarray(self.ranker.effects[events].sum(axis=0)).ravel()
        self.live -= change
        if self._frees:
            self.scores -= change
        if not self.ranker.terms.nonnegative:
            self._raise_floor(np.flatnonzero(change < 0))
        gone = self.ranker.event_items[events]
        gone = gone[gone >= 0]
        np.subtract.at(self.counts, gone, 1)
        if self._frees:
            freed = np.unique(gone[(self.counts[gone] == 0) & self.ranker.allowed[gone]
                                   & (gone != self.ranker.target)])
            self.live[freed] = self.scores[freed]
            self._raise_floor(freed)

    def restore(self, event: int) -> None:
        self.removed[event] = False
        self.target_score += self._target_terms[event]
        item = self._items[event]
        if item >= 0:
            if self._frees and self.counts[item] == 0 and item != self.ranker.target:
                self.live[item] = -np.inf
            self.counts[item] += 1
        start, stop = self._indptr[event], self._indptr[event + 1]
        if start < stop:
            columns, values = self._indices[start:stop], self._data[start:stop]
            self.live[columns] += values
            if self._frees:
                self.scores[columns] += values
            self._raise_floor(columns)

    def _refocus(self) -> bool:
        """Re-take the focus and floor from the current scores (False if that cannot help)."""
        if self._settled or self.floor == -np.inf:
            return False
        self._settled = True
        size = self.focus_size
        if size >= len(self.live):
            self._set_focus(np.arange(len(self.live)), -np.inf)
            return True
        part = np.argpartition(-self.live, size)
        self._set_focus(np.union1d(part[:size], self.ranker.freeable), float(self.live[part[size]]))
        self.focus_size *= 2  # a target this low tends to fall further: look wider next time
        return True

    def target_eligible(self) -> bool:
        return self.ranker.eligible(self.counts)

    def ahead(self, margin: float | None = None) -> int:
        """How many recommendable items score more than the target (by more than ``margin``;
        default the ranker's rounding margin)."""
        threshold = self.target_score + (self.ranker.margin if margin is None else margin)
        if threshold >= self.floor or (self._refocus() and threshold >= self.floor):
            return int(np.count_nonzero(self.live[self.focus] > threshold))
        return int(np.count_nonzero(self.live > threshold))

    def out(self, k: int) -> bool:
        """The target is out of the top ``k`` (excluded, or ``k`` items ahead by the margin)."""
        return not self.target_eligible() or self.ahead() >= k

    def out_if_restored(self, event: int, k: int) -> bool:
        """Whether putting ``event`` back (it is removed now) would leave the target out of the
        top ``k`` — answered without changing the state (what :meth:`restore` then :meth:`out`
        would say)."""
        item = self._items[event]
        if not self.target_eligible() or item == self.ranker.target:  # it would exclude the target
            return True
        threshold = self.target_score + self._target_terms[event] + self.ranker.margin
        if threshold < self.floor and not (self._refocus() and threshold >= self.floor):
            self.restore(event)
            answer = self.out(k)
            self.remove(event)
            return answer
        start, stop = self._indptr[event], self._indptr[event + 1]
        columns, values = self._indices[start:stop], self._data[start:stop]
        before = self.live[columns]
        after = before + values
        count = (np.count_nonzero(self.live[self.focus] > threshold)
                 - np.count_nonzero(before[self.in_focus[columns]] > threshold)
                 + np.count_nonzero(after > threshold))
        if self._frees and item >= 0 and self.counts[item] == 0:  # it would be excluded again
            hit = np.flatnonzero(columns == item)
            value = after[hit[0]] if len(hit) else self.live[item]
            if value > threshold and (len(hit) or self.in_focus[item]):
                count -= 1
        return bool(count >= k)

    def outs_if_restored(self, events: np.ndarray, k: int) -> np.ndarray:
        """:meth:`out_if_restored` for each of ``events`` (each removed now, each put back alone
        from the current state), vectorised over the events."""
        events = np.asarray(events, dtype=np.int64)
        if not self.target_eligible():
            return np.ones(len(events), dtype=bool)
        threshold = self.target_score + self._target_column[events] + self.ranker.margin
        if float(threshold.min(initial=np.inf)) < self.floor:
            self._refocus()
        answer = np.zeros(len(events), dtype=bool)
        sure = threshold >= self.floor
        for at in np.flatnonzero(~sure):  # the focus cannot decide: one at a time
            answer[at] = self.out_if_restored(int(events[at]), k)
        chosen = events[sure]
        if not len(chosen):
            return answer
        limit = threshold[sure]
        count = (self.live[self.focus][None, :] > limit[:, None]).sum(axis=1)
        row, col, val = _gather(self.ranker.effects, chosen)
        before = self.live[col]
        after = before + val
        change = ((after > limit[row]).astype(np.int64)
                  - (self.in_focus[col] & (before > limit[row])).astype(np.int64))
        count += np.bincount(row, weights=change, minlength=len(chosen)).astype(np.int64)
        items = self.ranker.event_items[chosen]
        if self._frees:  # an item freed now would be excluded again: uncount it
            safe = np.maximum(items, 0)
            closing = (items >= 0) & (self.counts[safe] == 0)
            own = np.zeros(len(chosen))
            hit = (col == items[row]) & closing[row]
            own[row[hit]] = val[hit]
            touched = np.zeros(len(chosen), dtype=bool)
            touched[row[hit]] = True
            value = self.live[safe] + own
            count -= (closing & (value > limit) & (touched | self.in_focus[safe])).astype(np.int64)
        mine = items == self.ranker.target
        answer[np.flatnonzero(sure)] = mine | (count >= k)
        return answer

    def outs_if_restored_together(self, events: np.ndarray, k: int) -> np.ndarray:
        """For each ``j``: would putting back ``events[0..j]`` together (each removed now), from
        the current state, leave the target out of the top ``k``? Vectorised over the prefixes."""
        events = np.asarray(events, dtype=np.int64)
        if not self.target_eligible():
            return np.ones(len(events), dtype=bool)
        threshold = self.target_score + np.cumsum(self._target_column[events]) + self.ranker.margin
        if len(events) and threshold[0] < self.floor:
            self._refocus()
        if len(events) and threshold[0] < self.floor:  # the focus cannot decide: step by step
            answer = np.zeros(len(events), dtype=bool)
            for at, event in enumerate(events.tolist()):
                self.restore(event)
                answer[at] = self.out(k)
            for event in reversed(events.tolist()):
                self.remove(event)
            return answer
        row, col, val = _gather(self.ranker.effects, events)
        # A touched item outside the focus counts only if the whole block could lift it over the
        # lowest threshold (it starts at most at the floor): the rest need no column.
        outside = ~self.in_focus[col]
        if outside.any():
            gain = np.bincount(col[outside], weights=np.maximum(val[outside], 0.0), minlength=len(self.live))
            useful = ~outside
            useful[outside] = self.live[col[outside]] + gain[col[outside]] > threshold[0]
            row, col, val = row[useful], col[useful], val[useful]
        columns = np.union1d(self.focus, col)
        delta = np.zeros((len(events), len(columns)))
        delta[row, np.searchsorted(columns, col)] = val
        values = self.live[columns][None, :] + np.cumsum(delta, axis=0)
        items = self.ranker.event_items[events]
        if self._frees:
            for at, item in enumerate(items.tolist()):
                if item >= 0 and self.counts[item] == 0 and item != self.ranker.target:
                    where = np.searchsorted(columns, item)
                    if where < len(columns) and columns[where] == item:
                        values[at:, where] = -np.inf
        answer = (values > threshold[:, None]).sum(axis=1) >= k
        mine = items == self.ranker.target
        return answer | (np.cumsum(mine) > 0)

    def subsets_out(self, subsets: np.ndarray, k: int) -> np.ndarray:
        """For each row of ``subsets`` (event indices, none removed now): does removing those
        events together, from the current state, drop the target out of the top ``k``?
        Vectorised over the pool; subsets it cannot decide (the target would fall below the pool's
        floor, or an item could be freed) are checked one by one."""
        subsets = np.asarray(subsets, dtype=np.int64)
        pool = self.pool
        threshold = self.target_score - self._target_column[subsets].sum(axis=1) + self.ranker.margin
        flat = subsets.ravel()
        rows = self._pool_rows(flat).reshape(subsets.shape[0], subsets.shape[1], -1).sum(axis=1)
        count = ((self.live[pool.items][None, :] - rows) > threshold[:, None]).sum(axis=1)
        answer = (count >= k) | (not self.target_eligible())
        unsure = threshold < pool.floor
        if self._frees:
            items = self.ranker.event_items[subsets]
            unsure |= ((items >= 0) & (self.counts[np.maximum(items, 0)] <= subsets.shape[1])).any(axis=1)
        for at in np.flatnonzero(unsure):
            for event in subsets[at]:
                self.remove(int(event))
            answer[at] = self.out(k)
            for event in subsets[at]:
                self.restore(int(event))
        return answer

    def kth_other(self, k: int) -> int | None:
        """The ``k``-th best recommendable item other than the target (None if there are fewer)."""
        while True:
            values = self.live[self.focus]
            if np.count_nonzero(values > self.floor) >= k:
                return int(self.focus[np.argpartition(-values, k - 1)[k - 1]])
            if not self._refocus():
                break
        if np.count_nonzero(np.isfinite(self.live)) < k:
            return None
        return int(np.argpartition(-self.live, k - 1)[k - 1])

    def _pool_rows(self, events: np.ndarray) -> np.ndarray:
        pool = self.pool
        return pool.dense[events] if pool.dense is not None else pool.rows[events].toarray()

    def single_removals(self, events: np.ndarray, k: int, block: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """For each event of ``events`` (each still in the history): does removing that one event
        alone, from the current state, drop the target out of the top ``k``? Returns
        ``(drops, unsure)``: ``drops`` is certain; ``unsure`` marks events whose removal takes the
        target below the pool's floor without ``k`` pool items ahead (callers check those)."""
        events = np.asarray(events, dtype=np.int64)
        pool = self.pool
        threshold = self.target_score - self._target_column[events] + self.ranker.margin
        drops = np.zeros(len(events), dtype=bool)
        base_live = self.live[pool.items]
        for start in range(0, len(events), block):
            part = events[start:start + block]
            rows = self._pool_rows(part)
            live = base_live[None, :] - rows
            if self._frees:
                items = self.ranker.event_items[part]
                safe = np.maximum(items, 0)
                where = pool.index[safe]
                freed = np.flatnonzero((items >= 0) & (self.counts[safe] == 1) & (where >= 0)
                                       & self.ranker.allowed[safe] & (items != self.ranker.target))
                live[freed, where[freed]] = self.scores[pool.items[where[freed]]] - rows[freed, where[freed]]
            drops[start:start + block] = (live > threshold[start:start + len(part), None]).sum(axis=1) >= k
        return drops, ~drops & (threshold < pool.floor)
