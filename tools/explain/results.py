"""Result objects of the explainer: why an item is (or is not) recommended, and what-if re-rankings.

Three kinds of statement, kept apart here and everywhere they are shown:

* **model reasons** — :class:`EventContribution` / :class:`ChartBar`: each behaviour's exact term
  in the ranker's score (an attribution in the model, never a cause);
* **the verified reason** — :class:`Headline` / :class:`Counterfactual`: the behaviours without
  which the item leaves the list, checked by re-ranking; it is the headline of every explanation;
* **causal effects** — :class:`CausalStatement`: an effect from the causal tool, with its
  estimand and verdict, only about the same item the user is still deciding on.

These objects hold numbers, never words: ``whyrec.agent.render`` words them in the user's
language from the message catalogue. ``to_json()`` rounds numbers to the precision they are
shown with, so every number a user reads can be found in the JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

SCORE_DIGITS = 4
SHARE_DIGITS = 1
EFFECT_DIGITS = 3

#: Why an item is (or is not) explained by the user's history (``Explanation.reason``).
REASONS = ("history", "no_support", "popularity", "unverified", "not_in_top_k")
#: What the headline rests on (``Headline.kind``).
HEADLINE_KINDS = ("verified", "stays", "popularity", "many_signals", "not_in_top_k")
#: Why an item is not in the top-k (``WhyNot.reason``).
WHY_NOT_REASONS = ("seen", "filtered", "outranked", "in_top_k")


def rounded(value: float | None, digits: int = SCORE_DIGITS) -> float | None:
    return None if value is None else round(float(value), digits)


def share_pct(share: float) -> float:
    return round(100.0 * share, SHARE_DIGITS)


def iso(timestamp: Any) -> str | None:
    return None if timestamp is None else pd.Timestamp(timestamp).isoformat()


def day(timestamp: Any) -> str:
    return "" if timestamp is None else pd.Timestamp(timestamp).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class RankedItem:
    """One item in a ranking (1-based rank; ``None`` when outside the list)."""

    item_id: str
    title: str
    score: float
    rank: int | None

    def to_json(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "title": self.title, "score": rounded(self.score), "rank": self.rank}


@dataclass(frozen=True)
class EventContribution:
    """One past behaviour of the user and what it adds to the item's score (a model reason)."""

    event_key: int
    behaviour: str
    item_id: str
    title: str
    timestamp: Any  # pd.Timestamp (UTC)
    contribution: float
    share: float    # contribution / (|prior| + sum |contributions|)

    def ref(self) -> dict[str, Any]:
        """The event as the headline names it."""
        # Event keys are 64-bit: as JSON strings, so JavaScript clients keep every digit.
        return {"event_key": str(int(self.event_key)), "behaviour": self.behaviour, "item_id": self.item_id,
                "title": self.title, "timestamp": iso(self.timestamp)}

    def to_json(self) -> dict[str, Any]:
        return {**self.ref(), "date": day(self.timestamp), "contribution": rounded(self.contribution),
                "share_pct": share_pct(self.share)}


@dataclass(frozen=True)
class BehaviourTotal:
    """The summed contribution of all the user's events of one behaviour type."""

    behaviour: str
    events: int
    contribution: float
    share: float

    def to_json(self) -> dict[str, Any]:
        return {"behaviour": self.behaviour, "events": self.events,
                "contribution": rounded(self.contribution), "share_pct": share_pct(self.share)}


@dataclass(frozen=True)
class ChartBar:
    """One bar of the contribution chart: the same behaviour on the same item, grouped.

    ``kind`` is ``event`` (one or more events: ``count``, ``last`` time), ``other`` (the
    ``count`` behaviours not drawn) or ``prior`` (popularity and catalog match).
    """

    kind: str
    value: float
    share: float
    behaviour: str | None = None
    item_id: str | None = None
    title: str | None = None
    count: int = 1
    last: Any = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "behaviour": self.behaviour, "item_id": self.item_id, "title": self.title,
                "count": self.count, "last": iso(self.last), "date": day(self.last) or None,
                "value": rounded(self.value), "share_pct": share_pct(self.share)}


@dataclass(frozen=True)
class Counterfactual:
    """A set of the user's events whose removal drops the item out of the top-k.

    ``verified``: the ranker itself re-scored the history without these events and the item was
    not in the top-k. ``proven_minimal``: no smaller set of the user's supporting events (those
    adding to the item's score) drops it in that same re-ranking — proven by a size bound, by
    trying every single event and by exhaustive enumeration of the sizes in between; otherwise the
    set is small but not proven smallest. ``robust``: the set drops the item even when the items
    it frees (items whose every event it removes, which the re-rank lets back into the list) are
    not counted — so it does not rest on similarity the ranker learned from the removed
    behaviours themselves, the usual reason a set fails once the ranker is refitted without them.
    """

    events: tuple[EventContribution, ...]
    verified: bool
    proven_minimal: bool
    new_rank: int | None
    new_score: float
    replacement: RankedItem | None
    evaluations: int
    robust: bool = False

    @property
    def event_keys(self) -> tuple[int, ...]:
        return tuple(e.event_key for e in self.events)

    def to_json(self) -> dict[str, Any]:
        return {"events": [e.to_json() for e in self.events], "event_keys": [str(int(k)) for k in self.event_keys],
                "size": len(self.events), "verified": self.verified, "proven_minimal": self.proven_minimal,
                "new_rank": self.new_rank, "new_score": rounded(self.new_score),
                "replacement": None if self.replacement is None else self.replacement.to_json(),
                "evaluations": self.evaluations, "robust": self.robust}


@dataclass(frozen=True)
class Headline:
    """What the explanation leads with — always what was verified, never a guess.

    ``verified``: ``events`` are the verified counterfactual set. ``stays``: ranked again without
    every one of the ``support`` behaviours that count towards it, the item is still in the list
    (at ``new_rank``), so no set of them is what keeps it there. ``popularity``: no behaviour of
    the user counts towards the item. ``many_signals``: the user's behaviours carry it together but
    no set the search tried drops it (``largest_share`` is the biggest single one).
    ``not_in_top_k``: a why-not. ``prior_share``: how much of its score is popularity and catalog
    match (a model attribution, said as such; never the reason unless nothing else counts).
    """

    kind: str
    events: tuple[EventContribution, ...] = ()
    new_rank: int | None = None
    replacement: RankedItem | None = None
    prior_share: float = 0.0
    largest_share: float = 0.0
    support: int = 0   # the user's behaviours that count towards the item

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "events": [e.ref() for e in self.events], "new_rank": self.new_rank,
                "replacement": None if self.replacement is None else self.replacement.to_json(),
                "prior_share_pct": share_pct(self.prior_share), "largest_share_pct": share_pct(self.largest_share),
                "support": self.support}


@dataclass(frozen=True)
class CausalStatement:
    """A causal effect that answers a question about *this* item: the effect of doing
    ``behaviour`` on the item on buying that same item, for shoppers like this user."""

    behaviour: str
    item_id: str
    title: str
    estimand: str          # the estimand in plain words (from the causal tool)
    estimate: float        # difference in purchase probability (0..1 scale)
    ci_low: float | None
    ci_high: float | None
    verdict: str           # supported | inconclusive | cannot_estimate
    scope: str = "shoppers_like_you"   # or "all_shoppers"
    #: The statement as the causal tool words it, per language (estimand, number, interval and
    #: verdict in one sentence); empty when the caller words it from the fields.
    texts: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"behaviour": self.behaviour, "item_id": self.item_id, "title": self.title,
                "estimand": self.estimand, "estimate": rounded(self.estimate, EFFECT_DIGITS),
                "ci_low": rounded(self.ci_low, EFFECT_DIGITS), "ci_high": rounded(self.ci_high, EFFECT_DIGITS),
                "verdict": self.verdict, "scope": self.scope, "texts": dict(self.texts)}


@dataclass(frozen=True)
class SuggestedAddition:
    """One behaviour on an item the user has seen that would bring the target into the top-k."""

    item_id: str
    title: str
    behaviour: str
    new_rank: int
    new_score: float
    verified: bool

    def to_json(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "title": self.title, "behaviour": self.behaviour,
                "new_rank": self.new_rank, "new_score": rounded(self.new_score), "verified": self.verified}


@dataclass(frozen=True)
class WhyNot:
    """Why an item is not in the user's top-k, and the smallest change that would bring it in."""

    user_id: str
    item_id: str
    title: str
    k: int
    reason: str                 # one of WHY_NOT_REASONS
    rank: int | None            # 1-based rank among eligible items (None if excluded)
    score: float
    prior: float
    cutoff: RankedItem | None   # the k-th item, the one it has to beat
    contributions: tuple[EventContribution, ...]
    seen_behaviours: tuple[str, ...] = ()
    addition: SuggestedAddition | None = None
    options: int = 0            # how many single additions would bring it in
    exclude_seen: bool = True
    exclusion: str = "seen"     # the list's exclusion policy (ranking.exclusion)

    @property
    def gap(self) -> float | None:
        """How much the item's score falls short of the k-th item's."""
        return None if self.cutoff is None else self.cutoff.score - self.score

    def to_json(self) -> dict[str, Any]:
        return {"kind": "why_not", "user_id": self.user_id, "item_id": self.item_id, "title": self.title,
                "k": self.k, "reason": self.reason, "rank": self.rank, "score": rounded(self.score),
                "prior": rounded(self.prior), "cutoff": None if self.cutoff is None else self.cutoff.to_json(),
                "gap": rounded(self.gap), "contributions": [c.to_json() for c in self.contributions],
                "seen_behaviours": list(self.seen_behaviours),
                "addition": None if self.addition is None else self.addition.to_json(),
                "options": self.options, "exclude_seen": self.exclude_seen,
                "exclusion": self.exclusion}


@dataclass(frozen=True)
class Explanation:
    """Why ``item_id`` is recommended to ``user_id``: the verified reason (headline), the model
    reasons (exact contributions, chart) and, where one applies, a causal statement."""

    user_id: str
    item_id: str
    title: str
    k: int
    rank: int | None              # 1-based rank in the top-k, None when not in it
    score: float
    prior: float
    prior_share: float
    headline: Headline
    contributions: tuple[EventContribution, ...]   # the largest, up to the explainer's limit
    n_events: int
    n_supporting: int             # events with a positive contribution
    n_lowering: int               # events with a negative contribution
    by_behaviour: tuple[BehaviourTotal, ...]
    chart: tuple[ChartBar, ...]
    counterfactual: Counterfactual | None
    causal: tuple[CausalStatement, ...]
    reason: str                   # one of REASONS
    why_not: WhyNot | None = None
    rank_without_support: int | None = None   # rank with every supporting event removed
    as_of: Any = None             # the fixed clock of every counterfactual
    exclude_seen: bool = True
    exclusion: str = "seen"     # the list's exclusion policy (ranking.exclusion)

    @property
    def in_top_k(self) -> bool:
        return self.rank is not None

    @property
    def explained_by_history(self) -> bool:
        return self.counterfactual is not None

    def to_json(self) -> dict[str, Any]:
        return {"kind": "explanation", "user_id": self.user_id, "item_id": self.item_id, "title": self.title,
                "k": self.k, "rank": self.rank, "in_top_k": self.in_top_k, "score": rounded(self.score),
                "prior": rounded(self.prior), "prior_share_pct": share_pct(self.prior_share),
                "headline": self.headline.to_json(),
                "counterfactual": None if self.counterfactual is None else self.counterfactual.to_json(),
                "contributions": [c.to_json() for c in self.contributions],
                "n_events": self.n_events, "n_supporting": self.n_supporting, "n_lowering": self.n_lowering,
                "by_behaviour": [b.to_json() for b in self.by_behaviour],
                "chart": [b.to_json() for b in self.chart], "causal": [c.to_json() for c in self.causal],
                "reason": self.reason, "rank_without_support": self.rank_without_support,
                "why_not": None if self.why_not is None else self.why_not.to_json(),
                "as_of": iso(self.as_of), "exclude_seen": self.exclude_seen,
                "exclusion": self.exclusion}


@dataclass(frozen=True)
class RankMove:
    """How one item moved between the old and the new top-k."""

    item_id: str
    title: str
    old_rank: int | None
    new_rank: int | None

    @property
    def move(self) -> str:
        if self.old_rank is None:
            return "new"
        if self.new_rank is None:
            return "dropped"
        return "up" if self.new_rank < self.old_rank else "down" if self.new_rank > self.old_rank else "same"

    def to_json(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "title": self.title, "old_rank": self.old_rank,
                "new_rank": self.new_rank, "move": self.move}


@dataclass(frozen=True)
class HypotheticalEvent:
    """An event added (or removed) in a what-if."""

    item_id: str
    title: str
    behaviour: str
    event_key: int | None = None
    timestamp: Any = None

    def to_json(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "title": self.title, "behaviour": self.behaviour,
                "event_key": None if self.event_key is None else str(int(self.event_key)),
                "timestamp": iso(self.timestamp)}


@dataclass(frozen=True)
class WhatIfResult:
    """The user's top-k before and after a hypothetical change of their history."""

    user_id: str
    k: int
    removed: tuple[HypotheticalEvent, ...]
    added: tuple[HypotheticalEvent, ...]
    before: tuple[RankedItem, ...]
    after: tuple[RankedItem, ...]
    moves: tuple[RankMove, ...]
    as_of: Any = None
    exclude_seen: bool = True
    exclusion: str = "seen"     # the list's exclusion policy (ranking.exclusion)

    @property
    def changed(self) -> bool:
        return [r.item_id for r in self.before] != [r.item_id for r in self.after]

    def to_json(self) -> dict[str, Any]:
        return {"kind": "what_if", "user_id": self.user_id, "k": self.k,
                "removed": [e.to_json() for e in self.removed], "added": [e.to_json() for e in self.added],
                "before": [r.to_json() for r in self.before], "after": [r.to_json() for r in self.after],
                "moves": [m.to_json() for m in self.moves], "changed": self.changed,
                "as_of": iso(self.as_of), "exclude_seen": self.exclude_seen,
                "exclusion": self.exclusion}
