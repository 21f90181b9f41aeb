"""The explainer: why an item is (or is not) recommended to a user, and what-if re-rankings.

Everything is computed from the ranker itself: contributions are its exact per-event terms, a
counterfactual is searched on those terms and then *verified* by re-ranking the history without
the chosen events, and what-ifs are plain re-rankings. The clock stays at the user's reference
time (``ranker.as_of(user)``) in every counterfactual, and the exclusion policy the list was made
with (``exclude``: ``"seen"`` by default, ``"purchased"`` or ``"none"``; see
:mod:`whyrec.tools.ranking.exclusion`) applies to the (hypothetical) history being ranked — a
reason is verified under the rule of the list it explains.

Counterfactual sets are *robust* by default: they drop the item without counting the items they
free, so they do not rest on similarity the ranker learned from the removed behaviours and they
survive refitting the ranker without them (see :mod:`.effects` and ``bench/RESULTS.md``). The
per-user terms and the filter's competition are built once and shared by every item explained
for that user — :meth:`Explainer.headlines` explains a whole list on one copy.

>>> import pandas as pd
>>> events = pd.DataFrame({"user_id": ["u1", "u1", "u2", "u2", "u3"],
...                        "item_id": ["a", "b", "a", "c", "c"],
...                        "behaviour": ["view", "cart", "view", "purchase", "view"],
...                        "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01",
...                                                     "2024-01-03", "2024-01-02"], utc=True)})
>>> from whyrec.tools.ranking import WhyrecRanker
>>> explainer = Explainer(WhyrecRanker().fit(events))
>>> why = explainer.explain("u1", "c", k=1)           # c is u1's only pick ...
>>> [(e.item_id, e.behaviour) for e in why.counterfactual.events], why.counterfactual.verified
([('a', 'view')], True)
>>> what_if = explainer.what_if("u1", remove=explainer.event_keys("u1", "a", "view"), k=1)
>>> [r.item_id for r in what_if.after]                 # ... without that view, a is unseen and wins
['a']
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..ranking.base import Ranker, UnknownItemError
from ..ranking.catalog import ItemFilter
from ..ranking.exclusion import check_policy
from ..ranking.history import BEHAVIOUR_CODE, SECONDS_PER_DAY, History, from_days
from ..ranking.topk import top_k
from ..schema import BEHAVIOURS
from .effects import Competition, TargetRanker, UserTerms
from .results import (
    BehaviourTotal,
    CausalStatement,
    ChartBar,
    Counterfactual,
    EventContribution,
    Explanation,
    Headline,
    HypotheticalEvent,
    RankedItem,
    RankMove,
    SuggestedAddition,
    WhatIfResult,
    WhyNot,
)
from .search import additions_that_lift, proven_smallest, smallest_removal

log = logging.getLogger(__name__)

#: Causal statements about one item of the user's funnel: ``(user_id, item_id, title, behaviours
#: the user did on it)`` -> statements (the causal tool answers; the explainer only asks).
CausalSource = Callable[[str, str, str, tuple[str, ...]], tuple[CausalStatement, ...]]

NAMES = np.asarray(BEHAVIOURS, dtype=object)
#: How far (a share of its score) a robust counterfactual must drop the item below the k-th item:
#: a refit without the removed behaviours moves the other items' scores a little (bench/RESULTS.md).
ROBUST_MARGIN = 0.01
#: Filter masks kept per explainer (a filter's mask is a regex pass over the catalog).
CACHED_FILTERS = 32

_UserState = UserTerms  # one user's history, clock, scores and per-event terms (cached per user)


class Explainer:
    """Explains a ranker's recommendations by the user's own behaviours.

    ``items`` gives titles (else the ranker's catalog titles); ``causal`` answers causal
    questions about an item of the user's own funnel (optional). ``max_contributions`` limits the
    listed events, ``search_budget`` the subsets tried when proving a counterfactual is the
    smallest, ``cache_users`` how many users' terms are kept between calls.

    ``robust`` (default on): counterfactual sets must drop the item without counting the items
    they free, by ``robust_margin`` of its score (see :mod:`.effects`), so that they survive
    refitting the ranker without the removed behaviours; when no such set exists the smallest
    plain (re-rank-only) set is returned with ``robust=False``.
    """

    def __init__(self, ranker: Ranker, items: pd.DataFrame | None = None,
                 causal: CausalSource | None = None, max_contributions: int = 10, max_bars: int = 8,
                 search_budget: int = 400, cache_users: int = 16, robust: bool = True,
                 robust_margin: float = ROBUST_MARGIN) -> None:
        self.ranker = ranker
        self.items = items
        self.causal = causal
        self.max_contributions = max_contributions
        self.max_bars = max_bars
        self.search_budget = search_budget
        self.cache_users = cache_users
        self.robust = robust
        self.robust_margin = robust_margin
        self._titles = self._title_lookup(ranker, items)
        self._cache: OrderedDict[str, _UserState] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._masks: OrderedDict[ItemFilter | None, np.ndarray] = OrderedDict()

    # -- public API -----------------------------------------------------------------------------
    def explain(self, user_id: str, item_id: str, k: int = 10,
                filters: ItemFilter | None = None, exclude: str = "seen") -> Explanation:
        """Why ``item_id`` is in ``user_id``'s top ``k`` — or, if it is not, why not
        (``Explanation.why_not`` is then set and ``rank`` is ``None``). ``exclude`` is the
        exclusion policy of the list (``"seen"``, ``"purchased"`` or ``"none"``): the top ``k``
        and every counterfactual re-rank leave out what it leaves out.

        Raises :class:`UnknownUserError` / :class:`UnknownItemError`; ``k`` must be >= 1 and
        ``exclude`` a policy (ValueError).
        """
        _check_k(k)
        policy = check_policy(exclude)
        state = self._state(user_id)
        position = self._position(item_id)
        contributions = self._column(state, position)
        top_ids, _ = self._top_of(state.scores, state.history, k, filters, policy)
        score, prior = float(state.scores[position]), float(state.prior[position])
        listed, by_behaviour, chart, prior_share = self._describe(state, contributions, prior)
        common: dict[str, Any] = dict(
            user_id=state.user_id, item_id=str(item_id), title=self._title(position), k=k, score=score,
            prior=prior, prior_share=prior_share, contributions=listed, n_events=len(state.history),
            n_supporting=int((contributions > 0).sum()), n_lowering=int((contributions < 0).sum()),
            by_behaviour=by_behaviour, chart=chart, causal=self._causal(state, position),
            as_of=from_days(state.now), exclude_seen=policy == "seen", exclusion=policy)
        if str(item_id) not in set(top_ids):
            why_not = self._why_not(state, position, k, filters, contributions, prior, top_ids, policy)
            return Explanation(rank=None, counterfactual=None, headline=Headline("not_in_top_k"),
                               reason="not_in_top_k", why_not=why_not, **common)
        rank = list(top_ids).index(str(item_id)) + 1
        counterfactual, reason, rank_without, headline = self._verified(
            state, position, k, filters, contributions, prior, top_ids, policy)
        return Explanation(rank=rank, counterfactual=counterfactual, headline=headline, reason=reason,
                           rank_without_support=rank_without, **common)

    def headlines(self, user_id: str, item_ids: Sequence[str], k: int = 10,
                  filters: ItemFilter | None = None, exclude: str = "seen") -> tuple[Headline, ...]:
        """The headline of each item's explanation (same order as ``item_ids``) — what
        :meth:`explain` would lead with — for a whole list at once: the user's terms, the top
        ``k`` and the filter mask are computed once and shared by every item's search.

        Raises like :meth:`explain`.
        """
        _check_k(k)
        policy = check_policy(exclude)
        state = self._state(user_id)
        positions = [self._position(item) for item in item_ids]
        top_ids, _ = self._top_of(state.scores, state.history, k, filters, policy)
        listed = set(top_ids)
        out = []
        for item_id, position in zip(item_ids, positions, strict=True):
            if str(item_id) not in listed:
                out.append(Headline("not_in_top_k"))
                continue
            contributions = self._column(state, position)
            prior = float(state.prior[position])
            out.append(self._verified(state, position, k, filters, contributions, prior, top_ids, policy)[3])
        return tuple(out)

    def why_not(self, user_id: str, item_id: str, k: int = 10,
                filters: ItemFilter | None = None, exclude: str = "seen") -> WhyNot:
        """Why ``item_id`` is not in the top ``k`` (``reason="in_top_k"`` if it is), and the
        smallest single added behaviour on a seen item that would bring it in, if any
        (``exclude``: the list's exclusion policy, as in :meth:`explain`)."""
        _check_k(k)
        policy = check_policy(exclude)
        state = self._state(user_id)
        position = self._position(item_id)
        contributions = self._column(state, position)
        top_ids, _ = self._top_of(state.scores, state.history, k, filters, policy)
        return self._why_not(state, position, k, filters, contributions,
                             float(state.prior[position]), top_ids, policy)

    def what_if(self, user_id: str, remove: Sequence[int] = (),
                add: Sequence[tuple[str, str]] = (), k: int = 10,
                remove_items: Sequence[tuple[str, str | None]] = (),
                filters: ItemFilter | None = None, exclude: str = "seen") -> WhatIfResult:
        """Re-rank ``user_id``'s history with events removed (``remove``: event keys;
        ``remove_items``: (item_id, behaviour or None) = all such events of the user) and
        behaviours added now (``add``: (item_id, behaviour)); old and new top ``k`` with moves,
        both leaving out what the exclusion policy ``exclude`` leaves out of that history.

        Raises ``ValueError`` for an event key that is not the user's or an unknown behaviour,
        :class:`UnknownItemError` for an unknown item.
        """
        _check_k(k)
        policy = check_policy(exclude)
        state = self._state(user_id)
        history = state.history
        keys = {int(key) for key in remove}
        for item_id, behaviour in remove_items:
            keys.update(self.event_keys(user_id, item_id, behaviour))
        own = {int(key) for key in history.keys}
        strangers = sorted(keys - own)
        if strangers:
            raise ValueError(f"event key(s) {strangers} are not events of user {state.user_id}; "
                             "use the event keys listed in the explanation")
        drop = np.isin(history.keys, np.array(sorted(keys), dtype=np.uint64))
        added = self._hypothetical(add, state.now)
        changed = _concat(history.take(~drop), added)
        before_ids, before_scores = self._top_of(state.scores, history, k, filters, policy)
        after_ids, after_scores = self._top(changed, k, filters, state.now, policy)
        removed = tuple(HypotheticalEvent(self._item_id(int(history.items[n])),
                                          self._title(int(history.items[n])),
                                          str(NAMES[history.behaviours[n]]), int(history.keys[n]))
                        for n in np.flatnonzero(drop))
        adds = tuple(HypotheticalEvent(str(item), self._title(self._position(item)), str(behaviour))
                     for item, behaviour in add)
        return WhatIfResult(state.user_id, k, removed, adds,
                            self._ranked(before_ids, before_scores),
                            self._ranked(after_ids, after_scores),
                            _moves(before_ids, after_ids, self._title_of), from_days(state.now),
                            exclude_seen=policy == "seen", exclusion=policy)

    def event_keys(self, user_id: str, item_id: str, behaviour: str | None = None) -> tuple[int, ...]:
        """Keys of the user's events on ``item_id`` (only ``behaviour`` ones if given) — e.g.
        "what if I hadn't added Y to my cart" is ``what_if(u, remove=event_keys(u, Y, "cart"))``."""
        state = self._state(user_id)
        if behaviour is not None and behaviour not in BEHAVIOUR_CODE:
            raise ValueError(f"unknown behaviour {behaviour!r}; expected one of {list(BEHAVIOURS)}")
        history = state.history
        mask = history.items == self._position(item_id)
        if behaviour is not None:
            mask &= history.behaviours == BEHAVIOUR_CODE[behaviour]
        return tuple(int(k) for k in history.keys[mask])

    # -- the pieces -----------------------------------------------------------------------------
    def _verified(self, state: _UserState, position: int, k: int, filters: ItemFilter | None,
                  contributions: np.ndarray, prior: float, top_ids: np.ndarray, policy: str = "seen"
                  ) -> tuple[Counterfactual | None, str, int | None, Headline]:
        """The counterfactual, its reason code, the rank without all support, and the headline."""
        counterfactual, reason, rank_without = self._counterfactual(
            state, position, k, filters, contributions, prior, top_ids, policy)
        if counterfactual is not None:
            return counterfactual, reason, rank_without, Headline(
                "verified", counterfactual.events, counterfactual.new_rank, counterfactual.replacement)
        denominator = prior_share_denominator(prior, contributions)
        largest = max(float(contributions.max()) / denominator if len(contributions) else 0.0, 0.0)
        prior_share = abs(prior) / denominator
        if reason == "no_support":
            kind = "popularity"
        elif reason == "popularity" and rank_without is not None and rank_without <= k:
            kind = "stays"   # verified: ranked again without all its support, it is still in the list
        else:
            kind = "many_signals"
        return None, reason, rank_without, Headline(kind, new_rank=rank_without if kind == "stays" else None,
                                                    prior_share=prior_share, largest_share=largest,
                                                    support=int((contributions > 0).sum()))

    def _counterfactual(self, state: _UserState, position: int, k: int, filters: ItemFilter | None,
                        contributions: np.ndarray, prior: float, top_ids: np.ndarray, policy: str = "seen"
                        ) -> tuple[Counterfactual | None, str, int | None]:
        """The verified smallest removal set, or why there is none: (set, reason code, rank of
        the item with every supporting event removed).

        The search runs on the robust rule first (sets that do not rest on the items they free);
        only if it finds none does it fall back to the plain re-rank rule. Either way the set is
        verified by the ranker re-scoring the history without it, and called smallest only when
        no smaller set of supporting events passes that same re-rank (:func:`proven_smallest`).
        """
        allowed = self._competition(state, filters, policy)
        plain = TargetRanker(state, position, allowed)
        searches = []
        if self.robust:
            robust = TargetRanker(state, position, allowed, robust=True, margin=self.robust_margin)
            searches.append((robust, smallest_removal(robust, contributions, state.history.days, k,
                                                      self.search_budget)))
        if not searches or not searches[0][1].candidates:
            searches.append((plain, smallest_removal(plain, contributions, state.history.days, k,
                                                     self.search_budget)))
        denominator = prior_share_denominator(prior, contributions)
        item_id = self._item_id(position)
        spent = 0
        for ranker, search in searches:
            spent += search.evaluations
            for candidate in search.candidates:
                keep = np.ones(len(state.history), dtype=bool)
                keep[list(candidate)] = False
                reduced = state.history.take(keep)
                # The verification: the ranker re-scores the reduced history from scratch.
                scores = np.asarray(self.ranker.score_history(reduced, now=state.now), dtype=np.float64)
                new_ids, _ = self._top_of(scores, reduced, k, filters, policy)
                if item_id in set(new_ids):
                    log.warning("counterfactual for %s/%s failed verification (%d events); trying the "
                                "next candidate", state.user_id, item_id, len(candidate))
                    continue
                counts = np.bincount(self._excluded(reduced, policy), minlength=len(scores))
                new_rank = (plain.ahead(scores, counts) + 1) if plain.eligible(counts) else None
                entering = [i for i in new_ids if i not in set(top_ids)]
                replacement = None
                if entering:
                    where = list(new_ids).index(entering[0])
                    replacement = RankedItem(entering[0], self._title_of(entering[0]),
                                             float(scores[self._position(entering[0])]), where + 1)
                events = self._events(state, sorted(candidate, key=lambda e: -contributions[e]),
                                      contributions, denominator)
                minimal = self._proven_minimal(state, plain, ranker, search, candidate, contributions, k)
                return Counterfactual(events, True, minimal, new_rank, float(scores[position]), replacement,
                                      spent, robust=ranker.robust), "history", None
        if not (contributions > 0).any():
            return None, "no_support", None
        rank = plain.rank_after_removal(np.flatnonzero(contributions > 0))
        if any(search.candidates for _, search in searches):
            return None, "unverified", None
        return None, "popularity", None if rank is None else rank + 1

    def _proven_minimal(self, state: _UserState, plain: TargetRanker, ranker: TargetRanker, search: Any,
                        candidate: tuple[int, ...], contributions: np.ndarray, k: int) -> bool:
        """True only when no smaller set of supporting events drops the item in the re-rank."""
        if len(candidate) == 1:
            return True  # the item is in the list: removing nothing cannot drop it
        if not state.exact:
            return False  # leave-one-out rows are estimates: nothing is proven about other sets
        if ranker is plain:
            return bool(search.exact and candidate == search.candidates[0])
        proven, _ = proven_smallest(plain, contributions, state.history.days, k, len(candidate),
                                    self.search_budget)
        return proven

    def _why_not(self, state: _UserState, position: int, k: int, filters: ItemFilter | None,
                 contributions: np.ndarray, prior: float, top_ids: np.ndarray, policy: str = "seen") -> WhyNot:
        history = state.history
        listed = self._listed(state, contributions, prior, positive_only=True)
        common: dict[str, Any] = dict(user_id=state.user_id, item_id=self._item_id(position),
                                      title=self._title(position), k=k, score=float(state.scores[position]),
                                      prior=prior, contributions=listed, exclude_seen=policy == "seen",
                                      exclusion=policy)
        cutoff = None
        if len(top_ids) >= k:
            last = top_ids[k - 1]
            cutoff = RankedItem(last, self._title_of(last), float(state.scores[self._position(last)]), k)
        ranker = TargetRanker(state, position, self._competition(state, filters, policy))
        if position in set(self._excluded(history, policy).tolist()):  # the policy leaves it out
            mine = history.behaviours[history.items == position]
            done = tuple(b for b in BEHAVIOURS if BEHAVIOUR_CODE[b] in set(mine.tolist()))
            return WhyNot(reason="seen", rank=None, cutoff=cutoff, seen_behaviours=done, **common)
        if not ranker.allowed[position]:
            return WhyNot(reason="filtered", rank=None, cutoff=cutoff, **common)
        rank = ranker.ahead(state.scores, ranker.counts) + 1
        if rank <= k:
            return WhyNot(reason="in_top_k", rank=rank, cutoff=cutoff, **common)
        addition, options = self._best_addition(state, position, k, filters, ranker, policy)
        return WhyNot(reason="outranked", rank=rank, cutoff=cutoff, addition=addition,
                      options=options, **common)

    def _best_addition(self, state: _UserState, position: int, k: int, filters: ItemFilter | None,
                       ranker: TargetRanker, policy: str = "seen") -> tuple[SuggestedAddition | None, int]:
        """The weakest single behaviour, on an item the user has seen, that lifts the item in."""
        history = state.history
        seen = np.unique(history.items[history.items >= 0])
        codes = np.array([BEHAVIOUR_CODE[b] for b in self.ranker.behaviours_seen() if b != "rating"],
                         dtype=np.int8)
        if not len(seen) or not len(codes):
            return None, 0
        items = np.repeat(seen, len(codes))
        behaviours = np.tile(codes, len(seen))
        candidates = History(items.astype(np.int64), behaviours, np.full(len(items), state.now),
                             np.arange(len(items), dtype=np.uint64), np.full(len(items), np.nan))
        rows = self.ranker.event_terms(candidates, now=state.now).matrix()
        options = additions_that_lift(ranker, rows, k)
        if not options:
            return None, 0
        strength = self._behaviour_strength()
        options.sort(key=lambda o: (strength[int(behaviours[o.index])], o.rank))
        for option in options:
            added = candidates.take(np.array([option.index]))
            changed = _concat(history, added)
            new_ids, new_scores = self._top(changed, k, filters, state.now, policy)
            hits = np.flatnonzero(new_ids == self._item_id(position))
            if len(hits):
                return SuggestedAddition(self._item_id(int(items[option.index])),
                                         self._title(int(items[option.index])),
                                         str(NAMES[behaviours[option.index]]), int(hits[0]) + 1,
                                         float(new_scores[hits[0]]), True), len(options)
        return None, len(options)

    def _behaviour_strength(self) -> dict[int, float]:
        weights = getattr(self.ranker, "behaviour_weight_map", None)
        if weights:
            return {BEHAVIOUR_CODE[b]: float(w) for b, w in weights.items()}
        return {BEHAVIOUR_CODE[b]: float(n) for n, b in enumerate(BEHAVIOURS)}

    def _causal(self, state: _UserState, position: int) -> tuple[CausalStatement, ...]:
        """Causal statements about this item, only when it is in the user's own funnel (looked at,
        saved or carted, not bought): the effect of a behaviour on buying *this* item."""
        if self.causal is None:
            return ()
        mine = state.history.behaviours[state.history.items == position]
        if not len(mine) or BEHAVIOUR_CODE["purchase"] in set(mine.tolist()):
            return ()
        done = tuple(b for b in BEHAVIOURS if BEHAVIOUR_CODE[b] in set(mine.tolist()))
        statements = self.causal(state.user_id, self._item_id(position), self._title(position), done)
        return tuple(s for s in statements if s.item_id == self._item_id(position))

    def _describe(self, state: _UserState, contributions: np.ndarray, prior: float
                  ) -> tuple[tuple[EventContribution, ...], tuple[BehaviourTotal, ...],
                             tuple[ChartBar, ...], float]:
        denominator = prior_share_denominator(prior, contributions)
        listed = self._listed(state, contributions, prior)
        totals = []
        behaviours = state.history.behaviours
        for code in sorted(set(behaviours[contributions != 0].tolist())):
            mask = (behaviours == code) & (contributions != 0)
            value = float(contributions[mask].sum())
            totals.append(BehaviourTotal(str(NAMES[code]), int(mask.sum()), value, value / denominator))
        totals.sort(key=lambda b: -b.contribution)
        return listed, tuple(totals), self._chart(state, contributions, prior, denominator), abs(prior) / denominator

    def _chart(self, state: _UserState, contributions: np.ndarray, prior: float,
               denominator: float) -> tuple[ChartBar, ...]:
        """Bars for the same behaviour on the same item, grouped; the largest ``max_bars`` drawn,
        the rest summed in one ``other`` bar; then the popularity/catalog prior."""
        history = state.history
        active = np.flatnonzero(contributions != 0)
        groups: dict[tuple[int, int], list[int]] = {}
        for n in active:
            groups.setdefault((int(history.behaviours[n]), int(history.items[n])), []).append(int(n))
        ordered = sorted(groups.items(), key=lambda kv: -abs(float(contributions[kv[1]].sum())))
        bars = []
        for (code, item), members in ordered[:self.max_bars]:
            value = float(contributions[members].sum())
            bars.append(ChartBar("event", value, value / denominator, str(NAMES[code]), self._item_id(item),
                                 self._title(item), len(members), from_days(float(history.days[members].max()))))
        rest = [n for _, members in ordered[self.max_bars:] for n in members]
        if rest:
            value = float(contributions[rest].sum())
            bars.append(ChartBar("other", value, value / denominator, count=len(rest)))
        bars.append(ChartBar("prior", prior, abs(prior) / denominator))
        return tuple(bars)

    def _listed(self, state: _UserState, contributions: np.ndarray, prior: float,
                positive_only: bool = False) -> tuple[EventContribution, ...]:
        denominator = prior_share_denominator(prior, contributions)
        chosen = np.flatnonzero(contributions > 0 if positive_only else contributions != 0)
        days = state.history.days[chosen]
        chosen = chosen[np.lexsort((-days, -np.abs(contributions[chosen])))][:self.max_contributions]
        return self._events(state, chosen.tolist(), contributions, denominator)

    def _events(self, state: _UserState, indices: Sequence[int], contributions: np.ndarray,
                denominator: float) -> tuple[EventContribution, ...]:
        """:meth:`_event` for each of ``indices`` (the timestamps made at once: sets can hold
        hundreds of events)."""
        history = state.history
        at = np.asarray(indices, dtype=np.int64)
        nanos = np.round(history.days[at] * SECONDS_PER_DAY * 1e9).astype(np.int64)  # as from_days
        times = pd.to_datetime(nanos, utc=True)
        names = NAMES[history.behaviours[at]]
        return tuple(EventContribution(int(history.keys[n]), str(name), self._item_id(int(history.items[n])),
                                       self._title(int(history.items[n])), time, float(contributions[n]),
                                       float(contributions[n]) / denominator)
                     for n, name, time in zip(at.tolist(), names, times, strict=True))

    def _event(self, state: _UserState, n: int, contributions: np.ndarray,
               denominator: float) -> EventContribution:
        history = state.history
        item = int(history.items[n])
        return EventContribution(int(history.keys[n]), str(NAMES[history.behaviours[n]]),
                                 self._item_id(item), self._title(item),
                                 from_days(float(history.days[n])), float(contributions[n]),
                                 float(contributions[n]) / denominator)

    # -- state and lookups ----------------------------------------------------------------------
    def _state(self, user_id: str) -> _UserState:
        key = str(user_id)
        with self._cache_lock:  # the server explains from several threads
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        history = self.ranker.user_history(key)   # raises UnknownUserError
        now = self.ranker.reference_day(key)
        terms = self.ranker.event_terms(history, now=now)
        state = UserTerms.build(key, history, now, terms.total, terms.matrix(), terms.exact, terms.prior)
        if self.cache_users > 0:
            with self._cache_lock:
                self._cache[key] = state
                while len(self._cache) > self.cache_users:
                    self._cache.popitem(last=False)
        return state

    def _column(self, state: _UserState, position: int) -> np.ndarray:
        return state.column(position)

    def _top(self, history: History, k: int, filters: ItemFilter | None,
             now: float, policy: str = "seen") -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` for a history: the ranker's scores, what ``policy`` leaves out excluded,
        ties broken by catalog position (the ranker's documented rule, applied to every tied item)."""
        scores = np.array(self.ranker.score_history(history, now=now), dtype=np.float64)
        return self._top_of(scores, history, k, filters, policy)

    def _top_of(self, scores: np.ndarray, history: History, k: int,
                filters: ItemFilter | None, policy: str = "seen") -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` of ``scores`` without the items ``policy`` leaves out of this history (the
        recommend tool's rule)."""
        allowed = self._allowed(filters).copy()
        allowed[self._excluded(history, policy)] = False
        top = top_k(scores, k, allowed)
        return np.asarray(self.ranker.item_ids[top], dtype=object).astype(str), scores[top]

    def _excluded(self, history: History, policy: str) -> np.ndarray:
        """Catalog positions of each event ``policy`` counts as excluding its item (with
        repeats: one per such event) — the ranker's own rule (:func:`excluded_items`) per event."""
        if policy == "none":
            return np.zeros(0, dtype=np.int64)
        items = history.items
        if policy == "purchased":
            items = items[history.behaviours == self._target_code]
        return items[items >= 0].astype(np.int64)

    @property
    def _target_code(self) -> int:
        """The behaviour the ranker predicts (what ``"purchased"`` leaves out)."""
        return BEHAVIOUR_CODE[str(getattr(self.ranker, "target_", "purchase"))]

    def _competition(self, state: _UserState, filters: ItemFilter | None, policy: str = "seen") -> Competition:
        """What targets compete with for this user under ``filters`` and the exclusion
        ``policy`` (kept with the user)."""
        key = None if filters is None or filters.is_empty() else filters
        allowed = self._allowed(filters)
        with self._cache_lock:
            return state.competition(key, allowed, policy, self._target_code)

    def _allowed(self, filters: ItemFilter | None) -> np.ndarray:
        """The items ``filters`` allow (read-only; cached per filter)."""
        key = None if filters is None or filters.is_empty() else filters
        with self._cache_lock:
            mask = self._masks.get(key)
            if mask is not None:
                self._masks.move_to_end(key)
                return mask
        computed = self.ranker.catalog.mask(key)
        mask = np.ones(len(self.ranker.item_ids), dtype=bool) if computed is None else computed
        mask.setflags(write=False)
        with self._cache_lock:
            self._masks[key] = mask
            while len(self._masks) > CACHED_FILTERS:
                self._masks.popitem(last=False)
        return mask

    def _hypothetical(self, add: Sequence[tuple[str, str]], now: float) -> History:
        if not add:
            return History.empty()
        positions, codes = [], []
        for item_id, behaviour in add:
            if behaviour not in BEHAVIOUR_CODE:
                raise ValueError(f"unknown behaviour {behaviour!r}; expected one of {list(BEHAVIOURS)}")
            positions.append(self._position(item_id))
            codes.append(BEHAVIOUR_CODE[behaviour])
        n = len(positions)
        return History(np.array(positions, dtype=np.int64), np.array(codes, dtype=np.int8),
                       np.full(n, now), np.arange(n, dtype=np.uint64), np.full(n, np.nan))

    def _ranked(self, ids: np.ndarray, scores: np.ndarray) -> tuple[RankedItem, ...]:
        return tuple(RankedItem(str(i), self._title_of(str(i)), float(s), n + 1)
                     for n, (i, s) in enumerate(zip(ids, scores)))

    def _position(self, item_id: str) -> int:
        try:
            position = self.ranker.catalog.index.get_loc(str(item_id))
        except KeyError:
            raise UnknownItemError(str(item_id)) from None
        if not isinstance(position, int | np.integer):  # not a unique id
            raise UnknownItemError(str(item_id))
        return int(position)

    def _item_id(self, position: int) -> str:
        return str(self.ranker.item_ids[position]) if position >= 0 else ""

    def _title(self, position: int) -> str:
        return str(self._titles[position]) if position >= 0 else ""

    def _title_of(self, item_id: str) -> str:
        return self._title(self._position(item_id))

    @staticmethod
    def _title_lookup(ranker: Ranker, items: pd.DataFrame | None) -> np.ndarray:
        titles = np.asarray(ranker.catalog.titles, dtype=object).copy()
        if items is not None and "title" in items.columns and len(items):
            given = items.dropna(subset=["title"])
            positions = ranker.catalog.positions(given["item_id"].astype(str))
            ok = positions >= 0
            titles[positions[ok]] = given["title"].astype(str).to_numpy(dtype=object)[ok]
        return titles


def prior_share_denominator(prior: float, contributions: np.ndarray) -> float:
    """``|prior| + sum |contributions|``: shares of the score that add up to 100%."""
    return max(abs(prior) + float(np.abs(contributions).sum()), 1e-12)


def _check_k(k: int) -> None:
    if int(k) < 1:
        raise ValueError(f"k must be at least 1, got {k}")


def _concat(first: History, second: History) -> History:
    if len(second) == 0:
        return first
    return History(np.concatenate([first.items, second.items]),
                   np.concatenate([first.behaviours, second.behaviours]),
                   np.concatenate([first.days, second.days]),
                   np.concatenate([first.keys, second.keys]),
                   np.concatenate([first.values, second.values]))


def _moves(before: np.ndarray, after: np.ndarray, title) -> tuple[RankMove, ...]:
    old = {str(i): n + 1 for n, i in enumerate(before)}
    new = {str(i): n + 1 for n, i in enumerate(after)}
    order = list(new) + [i for i in old if i not in new]
    return tuple(RankMove(i, title(i), old.get(i), new.get(i)) for i in order)
