"""The service's result objects: frozen, typed, each with ``to_json()``.

The explainer's results (:class:`~whyrec.tools.explain.results.Explanation`, ``WhyNot``,
``WhatIfResult``), the causal tool's effects and the store's search hits are returned as the
domain made them; this module adds what the service itself assembles. Words are not made here:
``whyrec.agent.render`` turns any result into text in the user's language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..behaviour_store import BehaviourHit, ItemHit
from ..causal.results import BehaviourEffect
from ..explain.results import Headline
from ..ranking.catalog import ItemFilter
from ..workspace import WorkspaceStats


def _time(value: pd.Timestamp) -> str:
    return pd.Timestamp(value).isoformat()


@dataclass(frozen=True)
class Reason:
    """One of the user's behaviours behind a recommended item, with its exact contribution."""

    event_key: int
    behaviour: str
    item_id: str
    title: str
    timestamp: pd.Timestamp
    contribution: float
    share: float  # of the item's score, 0..1

    def to_json(self) -> dict[str, Any]:
        return {"event_key": str(self.event_key), "behaviour": self.behaviour, "item_id": self.item_id,
                "title": self.title, "timestamp": _time(self.timestamp),
                "contribution": round(self.contribution, 4), "share": round(self.share, 4)}


@dataclass(frozen=True)
class RecommendedItem:
    item_id: str
    title: str
    category: str | None
    score: float
    rank: int
    reasons: tuple[Reason, ...]  # model reasons: behaviours with a positive contribution, largest first
    price: float | None = None
    headline: Headline | None = None  # the verified reason (what the card leads with)

    def to_json(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "title": self.title, "category": self.category,
                "price": self.price, "score": round(self.score, 4), "rank": self.rank,
                "headline": None if self.headline is None else self.headline.to_json(),
                "reasons": [r.to_json() for r in self.reasons[:5]]}


@dataclass(frozen=True)
class Recommendations:
    """A user's top ``k`` (optionally within a category and/or matching a query)."""

    user_id: str
    items: tuple[RecommendedItem, ...]
    k: int
    category: str | None = None
    query: str | None = None
    filters: ItemFilter | None = None  # what the list was ranked under (for follow-up explanations)
    data_version: int = 0
    exclusion: str = "seen"            # which of the user's own items it leaves out (ranking.exclusion)

    def influence(self, top: int = 5) -> tuple[list[tuple[Reason, float, list[str]]], dict[str, float]]:
        """The user's behaviours that matter most across this list: (reason, summed contribution,
        titles of the items it supports), largest first; and the sum per behaviour type."""
        totals: dict[int, float] = {}
        first: dict[int, Reason] = {}
        supported: dict[int, list[str]] = {}
        by_type: dict[str, float] = {}
        for item in self.items:
            for reason in item.reasons:
                totals[reason.event_key] = totals.get(reason.event_key, 0.0) + reason.contribution
                first.setdefault(reason.event_key, reason)
                supported.setdefault(reason.event_key, []).append(item.title)
                by_type[reason.behaviour] = by_type.get(reason.behaviour, 0.0) + reason.contribution
        ranked = sorted(totals, key=lambda key: -totals[key])[:top]
        ordered_types = dict(sorted(by_type.items(), key=lambda kv: -kv[1]))
        return [(first[key], totals[key], supported[key]) for key in ranked], ordered_types

    def to_json(self) -> dict[str, Any]:
        influence, by_type = self.influence()
        return {"user_id": self.user_id, "k": self.k, "category": self.category, "query": self.query,
                "exclusion": self.exclusion,
                "data_version": self.data_version, "items": [i.to_json() for i in self.items],
                "influence": [{"event_key": str(r.event_key), "behaviour": r.behaviour, "item_id": r.item_id,
                               "title": r.title, "timestamp": _time(r.timestamp), "total": round(total, 3),
                               "supports": titles[:3]} for r, total, titles in influence],
                "by_behaviour": {b: round(v, 3) for b, v in by_type.items()}}


@dataclass(frozen=True)
class Effects:
    """Causal effects of behaviours on purchase (population, or per segment value)."""

    effects: tuple[BehaviourEffect, ...]
    data_version: int
    segment: str | None = None
    #: A behaviour asked about that the report holds no estimate of (``effects`` are then the
    #: ones it does hold): said so, never answered with another behaviour's number.
    not_estimated: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"data_version": self.data_version, "segment": self.segment,
                "effects": [e.to_json() for e in self.effects], "not_estimated": self.not_estimated}


@dataclass(frozen=True)
class CausalGraph:
    """The causal graph of one decision point, by layer (time runs left to right): what was
    known before the first look, what happened on the item so far, the next action, the
    outcome within the horizon. Every earlier layer points at every later one."""

    baseline: tuple[str, ...]
    history: tuple[str, ...]
    behaviours: tuple[str, ...]
    outcome: str
    horizon_seconds: float | None

    def to_json(self) -> dict[str, Any]:
        return {"baseline": list(self.baseline), "history": list(self.history),
                "behaviours": list(self.behaviours), "outcome": self.outcome,
                "horizon_seconds": self.horizon_seconds}


@dataclass(frozen=True)
class ItemSearch:
    """Catalog items by meaning."""

    query: str
    hits: tuple[ItemHit, ...]
    category: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": "items", "query": self.query, "category": self.category,
                "hits": [h.to_json() for h in self.hits]}


@dataclass(frozen=True)
class HistorySearch:
    """The user's own behaviours by meaning (never another user's)."""

    query: str
    hits: tuple[BehaviourHit, ...]
    behaviours: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"kind": "behaviours", "query": self.query, "behaviours": list(self.behaviours),
                "hits": [h.to_json() for h in self.hits]}


@dataclass(frozen=True)
class HistoryEvent:
    """One recorded behaviour of a user, with the item's title."""

    event_key: int
    item_id: str
    title: str
    behaviour: str
    timestamp: pd.Timestamp
    value: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"event_key": str(self.event_key), "item_id": self.item_id, "title": self.title,
                "behaviour": self.behaviour, "timestamp": _time(self.timestamp), "value": self.value}


@dataclass(frozen=True)
class UserHistory:
    """A user's most recent behaviours (newest first) and how many they have in all."""

    user_id: str
    total: int
    events: tuple[HistoryEvent, ...]

    def to_json(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "total": self.total, "events": [e.to_json() for e in self.events]}


@dataclass(frozen=True)
class UserStats:
    """One user's own figures."""

    user_id: str
    events: int
    behaviours: dict[str, int]
    first_event: pd.Timestamp | None
    last_event: pd.Timestamp | None

    def to_json(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "events": self.events, "behaviours": self.behaviours,
                "first_event": None if self.first_event is None else _time(self.first_event),
                "last_event": None if self.last_event is None else _time(self.last_event)}


@dataclass(frozen=True)
class ItemInfo:
    """A catalog item as users see it."""

    item_id: str
    title: str
    category: str | None = None
    brand: str | None = None
    price: float | None = None

    def to_json(self) -> dict[str, Any]:
        return {"item_id": self.item_id, "title": self.title, "category": self.category,
                "brand": self.brand, "price": self.price}


@dataclass(frozen=True)
class EventsAdded:
    """New behaviours committed (all or nothing)."""

    added: int
    already_present: int
    data_version: int

    def to_json(self) -> dict[str, Any]:
        return {"added": self.added, "already_present": self.already_present,
                "data_version": self.data_version}


@dataclass(frozen=True)
class ServiceStatus:
    """Which data the service holds and which it serves (a refit may be under way)."""

    data_version: int          # the workspace's latest committed events
    served_version: int | None  # the data version of the model answering requests now
    refitting: bool            # a newer model is being built in the background
    warm: bool                 # everything a first request needs is built
    causal_version: int | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"data_version": self.data_version, "served_version": self.served_version,
                "refitting": self.refitting, "warm": self.warm, "causal_version": self.causal_version,
                **self.details}


#: The exclusion policy of lists (interactive and batch) while the workspace has learned none (no
#: tuning yet): every item the user has seen is left out. Once tuned, lists use the policy learned
#: on validation, and explanations are verified under the same policy (a request may override it).
DEFAULT_EXCLUSION = "seen"


@dataclass(frozen=True)
class ServiceStats:
    """What the workspace holds (:class:`~whyrec.tools.workspace.WorkspaceStats`) and how its
    ranker was tuned (``tuning``: the stored auto-tuning record, or None before the first fit)."""

    workspace: WorkspaceStats
    tuning: dict[str, Any] | None = None
    tuning_text: str = ""

    def __getattr__(self, name: str) -> Any:  # the workspace figures, as before (stats.events ...)
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.__dict__["workspace"], name)

    @property
    def exclusion(self) -> str:
        """The exclusion policy lists are served with: the learned one, else the default."""
        return str((self.tuning or {}).get("exclusion_policy") or DEFAULT_EXCLUSION)

    def to_text(self) -> str:
        lines = [self.workspace.to_text()]
        if self.tuning is None:
            lines.append("ranker         not tuned yet (the first recommendation or `whyrec tune` tunes it)")
        else:
            lines.append(self.tuning_text)
            left_out = {"none": "none of the user's own items", "purchased": "the items the user bought",
                        "seen": "every item the user has seen"}.get(self.exclusion, self.exclusion)
            lines.append(f"served         lists leave out {left_out} (exclusion {self.exclusion}, learned on "
                         "validation; explanations are verified under the same rule; a request may override it)")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        tuning = None
        if self.tuning is not None:
            tuning = {**self.tuning, "served_exclusion": {"interactive": self.exclusion,
                                                           "batch": self.exclusion}}
        return {**self.workspace.to_json(), "tuning": tuning}
