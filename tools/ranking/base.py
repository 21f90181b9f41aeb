"""The ranker contract every model shares: fit, recommend, batch scoring, contributions.

A ranker learns from an event log and scores items for a *history* of events. Known users are
scored by their training history; any other history (a new user, a counterfactual with some
behaviours removed, a what-if with an event added) goes through :meth:`Ranker.rank_history` /
:meth:`Ranker.score_history` without refitting.

``contributions(user, item)`` says how much each past behaviour adds to the item's score. For
an additive ranker (``additive = True``) ``score == prior + sum(contributions)`` exactly, and
removing one event changes the score by exactly its contribution. For the other rankers a
contribution is the leave-one-out counterfactual ``score(history) - score(history without e)``.

Time: scores may depend on the age of each event at a reference time ``now`` (days). By default
``now`` is the latest event of the history being scored (for a known user: their latest training
event, see :meth:`Ranker.as_of`). A counterfactual that removes behaviours should keep the clock
fixed — pass ``now=ranker.as_of(user)`` — so that removing the latest event does not move time.

The package docstring (:mod:`whyrec.tools.ranking`) shows the contract on a five-event log.
"""

from __future__ import annotations

import copy
import inspect
import logging
import pickle
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..engine import Engine
from ..frames import distinct_strings
from ..schema import BEHAVIOURS, FUNNEL
from .catalog import ItemCatalog, ItemFilter
from .exclusion import check_policy, excluded_items
from .history import BEHAVIOUR_CODE, EventLog, History, from_days, history_from_frame
from .terms import EventTerms
from .topk import static_order, top_k, top_k_rows, top_k_sparse_rows

log = logging.getLogger(__name__)

PICKLE_FORMAT = 1
#: Most score cells (users x items) held at once when many users are scored: the user chunk
#: shrinks for large catalogs (64M cells, 0.5 GB of float64: 512 users at 100k items, 64 at 1M).
BLOCK_CELLS = 1 << 26
#: Batch scoring ranks a block from its users' sparse part when that stores at most one cell in
#: this many (:func:`~.topk.top_k_sparse_rows`; the same lists as the dense block). A stored cell
#: costs about 30 dense cells (bench/bench_ranking_batch.py: 512 users × 10k items with 11% of
#: the cells stored ranked in 155 ms sparse, about 45 ms dense).
SPARSE_SHARE = 32


def chunk_rows(chunk: int, n_items: int) -> int:
    """Users per block: ``chunk``, or fewer so a block of scores stays within :data:`BLOCK_CELLS`."""
    return max(1, min(int(chunk), BLOCK_CELLS // max(int(n_items), 1)))


class _StaticOrders:
    """The last static part's :func:`~.topk.static_order` (no filter): a batch job ranks every
    block against the same prior, and ordering 1M items takes about 0.1 s."""

    def __init__(self) -> None:
        self._last: tuple[np.ndarray, np.ndarray] | None = None  # swapped whole: safe across threads

    def order(self, static: np.ndarray) -> np.ndarray:
        last = self._last
        if last is None or last[0] is not static:
            last = (static, static_order(static))
            self._last = last
        return last[1]


_ORDERS = _StaticOrders()


class UnknownUserError(KeyError):
    """The user has no events in the data the ranker was fitted on."""

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        super().__init__(
            f"unknown user {user_id!r}: the ranker has no events for this user. Ingest their "
            "events and refit, or score their events directly with rank_history(history, k).")

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class UnknownItemError(KeyError):
    """The item is not in the catalog the ranker was fitted on."""

    def __init__(self, item_id: str) -> None:
        self.item_id = item_id
        super().__init__(f"unknown item {item_id!r}: not in the catalog the ranker was fitted on")

    def __str__(self) -> str:
        return str(self.args[0])


class NotFittedError(RuntimeError):
    """The ranker was used before ``fit``."""


@dataclass(frozen=True)
class Contribution:
    """How much one past behaviour adds to one item's score."""

    event_key: int
    item_id: str
    behaviour: str
    timestamp: pd.Timestamp
    value: float | None
    contribution: float


def resolve_target(behaviours: Iterable[str], target: str | None = None) -> str:
    """The behaviour to predict: ``target`` if given, else the strongest one present."""
    present = set(behaviours)
    if target is not None:
        return target
    for name in ("purchase", "cart", "favourite", "rating", "click", "view"):
        if name in present:
            return name
    return "purchase"


class Ranker(ABC):
    """Base class of every whyrec ranker (sklearn-style: params in ``__init__``, state ends in ``_``)."""

    #: Short model name used by the evaluation ("whyrec", "ease", ...).
    name: ClassVar[str] = "ranker"
    #: True when ``score == prior + sum(contributions)`` holds exactly.
    additive: ClassVar[bool] = False

    # -- fitting ----------------------------------------------------------------------------
    def fit(self, events: pd.DataFrame, items: pd.DataFrame | None = None, *,
            engine: Engine | None = None, scratch: str | Path | None = None) -> Self:
        """Learn from ``events`` (canonical event table); ``items`` is the catalog to rank over.

        ``engine``: the part of the fit that can be cut up (whyrec's and item-kNN's co-occurrence
        similarity) runs on its workers, which read their inputs from a temporary folder under
        ``scratch`` (a remote cluster's workers must see it); the fitted model is the same."""
        missing = [c for c in ("user_id", "item_id", "behaviour", "timestamp") if c not in events]
        if missing:
            raise ValueError(f"events need columns user_id, item_id, behaviour, timestamp; "
                             f"missing {missing}")
        self.catalog_ = ItemCatalog.build(events, items)
        self.log_ = EventLog.from_events(events, self.catalog_.index)
        self.target_ = resolve_target(distinct_strings(events["behaviour"]),
                                      getattr(self, "target", None))
        self._fit_on(engine, scratch)
        log.info("%s fitted on %d events, %d users, %d items", self.name, len(self.log_.events),
                 self.log_.n_users, len(self.catalog_))
        return self

    @abstractmethod
    def _fit(self) -> None:
        """Learn model state from ``self.log_`` and ``self.catalog_``."""

    def _fit_on(self, engine: Engine | None, scratch: str | Path | None) -> None:
        """:meth:`_fit` with the engine given to :meth:`fit` (override where part of it runs there)."""
        self._fit()

    @abstractmethod
    def _score(self, history: History, now: float) -> np.ndarray:
        """Scores of every catalog item for ``history`` (only known items) at day ``now``."""

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        """Scores of every item for the training users at ``rows`` (override to vectorise)."""
        out = np.empty((len(rows), len(self.catalog_)), dtype=np.float64)
        for n, row in enumerate(rows):
            out[n] = self._score(self.log_.history(row).known(), self.log_.last_day(row))
        return out

    def _score_items(self, history: History, now: float, items: np.ndarray) -> np.ndarray:
        """Scores of the catalog positions ``items`` only (override when cheaper)."""
        return self._score(history, now)[items]

    # -- fitted-state helpers ---------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "log_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted: call fit(events, items) first")

    def _user_row(self, user_id: str) -> int:
        self._check_fitted()
        row = self.log_.users.get_indexer([str(user_id)])[0]
        if row < 0:
            raise UnknownUserError(str(user_id))
        return int(row)

    def _item_position(self, item_id: str) -> int:
        self._check_fitted()
        position = int(self.catalog_.positions([item_id])[0])
        if position < 0:
            raise UnknownItemError(str(item_id))
        return position

    def _to_history(self, history: pd.DataFrame | History) -> History:
        if isinstance(history, History):
            return history
        return history_from_frame(history, self.catalog_.index)

    @staticmethod
    def _clock(history: History, now: float | pd.Timestamp | None) -> float:
        if now is None:
            last = history.last_day()
            return 0.0 if last is None else last
        if isinstance(now, (pd.Timestamp, str)):
            return float(pd.Timestamp(now).value) / 1e9 / 86_400.0
        return float(now)

    # -- public API ---------------------------------------------------------------------------
    @property
    def item_ids(self) -> np.ndarray:
        """Item ids in score-column order."""
        self._check_fitted()
        return self.catalog_.ids

    @property
    def catalog(self) -> ItemCatalog:
        """The items this ranker ranks over (ids, titles, categories, prices) and their filters."""
        self._check_fitted()
        return self.catalog_

    def user_history(self, user_id: str) -> History:
        """The user's training events as arrays (time order), the input of :meth:`event_terms`."""
        return self.log_.history(self._user_row(user_id))

    def behaviours_seen(self) -> tuple[str, ...]:
        """The behaviour types present in the training events."""
        self._check_fitted()
        codes = np.unique(self.log_.events.behaviours)
        return tuple(BEHAVIOURS[int(c)] for c in codes)

    @property
    def user_ids(self) -> pd.Index:
        """Users the ranker knows (those with training events)."""
        self._check_fitted()
        return self.log_.users

    def knows_user(self, user_id: str) -> bool:
        self._check_fitted()
        return str(user_id) in self.log_.users

    def as_of(self, user_id: str) -> pd.Timestamp:
        """The reference time used for the user's scores: their latest training event."""
        return from_days(self.reference_day(user_id))

    def reference_day(self, user_id: str) -> float:
        """:meth:`as_of` in days since the epoch (the ``now`` of :meth:`event_terms`)."""
        return self.log_.last_day(self._user_row(user_id))

    def history(self, user_id: str) -> pd.DataFrame:
        """The user's training events (item_id, behaviour, timestamp, event_key, value)."""
        hist = self.log_.history(self._user_row(user_id))
        return pd.DataFrame({
            "event_key": hist.keys,
            "user_id": str(user_id),
            "item_id": self.catalog_.ids[hist.items],
            "behaviour": np.asarray(BEHAVIOURS, dtype=object)[hist.behaviours],
            "timestamp": pd.to_datetime(np.round(hist.days * 86_400e9).astype("int64"), utc=True),
            "value": hist.values,
        })

    def recommend(self, user_id: str, k: int = 10, exclude_seen: bool = True,
                  filters: ItemFilter | None = None,
                  exclude: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` items for a known user as ``(item_ids, scores)``, best first.

        ``exclude`` is an exclusion policy (:data:`~.exclusion.POLICIES`: ``"none"``,
        ``"purchased"``, ``"seen"``); when given it replaces ``exclude_seen``.
        Raises :class:`UnknownUserError` for users without training events.
        """
        row = self._user_row(user_id)
        scores = self._score_rows(np.array([row]))[0]
        return self._top_k(scores, k, self.excluded(row, exclude_seen, exclude), filters)

    def recommend_batch(self, user_ids: Sequence[str], k: int = 10, exclude_seen: bool = True,
                        filters: ItemFilter | None = None, chunk: int = 256,
                        exclude: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` for many known users: ``(ids, scores)`` arrays of shape (n_users, k).

        Rows with fewer than ``k`` allowed items are padded with ``""`` and ``-inf``.
        """
        rows = np.array([self._user_row(u) for u in user_ids], dtype=np.int64)
        positions, scores = self.recommend_rows(rows, k, filters, exclude if exclude is not None
                                                else ("seen" if exclude_seen else "none"), chunk)
        ids = np.full(positions.shape, "", dtype=object)
        ids[positions >= 0] = self.catalog_.ids[positions[positions >= 0]].astype(str)
        return ids, scores

    def recommend_rows(self, rows: np.ndarray, k: int, filters: ItemFilter | None = None,
                       exclude: str = "seen", chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`recommend_batch` for user rows (``user_ids[rows]``): catalog positions and
        scores, shape (n_users, k), padded with -1 and ``-inf``. Scored ``chunk`` users at a time:
        from the block's sparse part and the static order when the ranker's scores split that
        way (:meth:`_split_scores`) and the part is sparse (:data:`SPARSE_SHARE`), else densely
        (fewer users at a time for a large catalog, :func:`chunk_rows`) — the same lists either way,
        ranked by :func:`~.topk.top_k_rows` (the one ranking rule, for a block at once)."""
        check_policy(exclude)
        rows = np.asarray(rows, dtype=np.int64)
        allowed = self.catalog_.mask(filters)
        positions = np.full((len(rows), k), -1, dtype=np.int64)
        out = np.full((len(rows), k), -np.inf)
        dense_chunk = chunk_rows(chunk, len(self.catalog_))
        order = None
        for start in range(0, len(rows), chunk):
            part = rows[start:start + chunk]
            split = self._split_scores(part)
            if split is not None and split[0].nnz * SPARSE_SHARE <= len(part) * len(self.catalog_):
                # Exactly the dense block's top k, at a cost that follows the stored entries.
                order = order if order is not None else (
                    _ORDERS.order(split[1]) if allowed is None else static_order(split[1], allowed))
                which, items = self.excluded_pairs(part, exclude)
                top, scores = top_k_sparse_rows(split[0], split[1], k, which, items, allowed, order)
                positions[start:start + len(part)], out[start:start + len(part)] = top, scores
                continue
            for sub in range(0, len(part), dense_chunk):
                piece = part[sub:sub + dense_chunk]
                if split is None:
                    block = np.asarray(self._score_rows(piece), dtype=np.float64)  # a fresh array: ours to edit
                else:  # what _score_rows computes: the same additions
                    block = split[0][sub:sub + len(piece)].toarray()
                    block += split[1][None, :]
                at = slice(start + sub, start + sub + len(piece))
                positions[at], out[at] = self._dense_top(piece, block, k, allowed, exclude)
        return positions, out

    def _dense_top(self, rows: np.ndarray, block: np.ndarray, k: int, allowed: np.ndarray | None,
                   exclude: str) -> tuple[np.ndarray, np.ndarray]:
        """The top ``k`` (positions, scores) of ``rows`` from their dense ``block`` of scores
        (edited in place)."""
        if allowed is not None:
            block[:, ~allowed] = -np.inf
        which, items = self.excluded_pairs(rows, exclude)
        block[which, items] = -np.inf
        top = top_k_rows(block, k)
        found = top >= 0
        scores = np.full(top.shape, -np.inf)
        scores[found] = block[np.nonzero(found)[0], top[found]]
        return top, scores

    def _split_scores(self, rows: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray] | None:
        """``(user part, static part)`` with ``_score_rows(rows) == user_part.toarray() + static``
        exactly (the same float additions), the static part the same for every row and call;
        None when the scores do not split that way (the default: scored densely)."""
        return None

    def excluded_pairs(self, rows: np.ndarray, exclude: str) -> tuple[np.ndarray, np.ndarray]:
        """(index into ``rows``, catalog position) of every item ``exclude`` leaves out for the
        training users at ``rows`` (the vectorised form of :meth:`excluded`)."""
        check_policy(exclude)
        if exclude == "none" or not len(rows):
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        indptr = self.log_.indptr
        lengths = indptr[rows + 1] - indptr[rows]
        which = np.repeat(np.arange(len(rows)), lengths)
        index = np.repeat(indptr[rows] - np.cumsum(np.concatenate([[0], lengths[:-1]])), lengths) + np.arange(
            int(lengths.sum()))
        items = self.log_.events.items[index]
        keep = items >= 0
        if exclude == "purchased":
            keep &= self.log_.events.behaviours[index] == BEHAVIOUR_CODE[self.target_]
        return which[keep], items[keep].astype(np.int64)

    def excluded(self, row: int, exclude_seen: bool = True, exclude: str | None = None) -> np.ndarray:
        """Catalog positions left out of training user ``row``'s list (``exclude``: a policy of
        :mod:`.exclusion`; without one, ``exclude_seen`` chooses between "seen" and "none")."""
        policy = exclude if exclude is not None else ("seen" if exclude_seen else "none")
        return excluded_items(self.log_.history(row), policy, BEHAVIOUR_CODE[self.target_])

    def score_batch(self, user_ids: Sequence[str]) -> np.ndarray:
        """Scores of every item (columns in :attr:`item_ids` order) for known users."""
        rows = np.array([self._user_row(u) for u in user_ids], dtype=np.int64)
        return self._score_rows(rows)

    def seen_items(self, user_id: str) -> np.ndarray:
        """Catalog positions of the items in the user's training history."""
        return np.unique(self.log_.history(self._user_row(user_id)).items)

    def rank_history(self, history: pd.DataFrame | History, k: int = 10,
                     exclude_items: Iterable[str] = (), filters: ItemFilter | None = None,
                     now: pd.Timestamp | float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` items for an arbitrary history of events (same columns as the event table).

        Nothing is refitted: a new user, a counterfactual or a what-if history all work. An empty
        history gets the cold-start ranking (popular items for most rankers).
        """
        self._check_fitted()
        hist = self._to_history(history)
        scores = self._score(hist.known(), self._clock(hist, now))
        excluded = self.catalog_.positions(list(exclude_items))
        return self._top_k(scores, k, excluded[excluded >= 0], filters)

    def score_history(self, history: pd.DataFrame | History, item_ids: Sequence[str] | None = None,
                      now: pd.Timestamp | float | None = None) -> np.ndarray:
        """Scores of ``item_ids`` (default: every item, in :attr:`item_ids` order) for a history."""
        self._check_fitted()
        hist = self._to_history(history)
        clock = self._clock(hist, now)
        if item_ids is None:
            return self._score(hist.known(), clock)
        positions = np.array([self._item_position(i) for i in item_ids], dtype=np.int64)
        return self._score_items(hist.known(), clock, positions)

    def prior(self, item_id: str) -> float:
        """The item's score for an empty history (for additive rankers: the baseline term)."""
        position = self._item_position(item_id)
        return float(self._score_items(History.empty(), 0.0, np.array([position]))[0])

    def contributions(self, user_id: str, item_id: str) -> list[Contribution]:
        """What each of the user's training events adds to ``item_id``'s score, largest first."""
        row = self._user_row(user_id)
        hist = self.log_.history(row)
        terms = self._event_terms(hist, self.log_.last_day(row))
        return self._as_contributions(hist, terms.column(self._item_position(item_id)))

    def history_contributions(self, history: pd.DataFrame | History, item_id: str,
                              now: pd.Timestamp | float | None = None) -> list[Contribution]:
        """Like :meth:`contributions` for an arbitrary history."""
        self._check_fitted()
        hist = self._to_history(history)
        terms = self._event_terms(hist, self._clock(hist, now))
        return self._as_contributions(hist, terms.column(self._item_position(item_id)))

    def event_terms(self, history: pd.DataFrame | History,
                    now: pd.Timestamp | float | None = None) -> EventTerms:
        """What each event of ``history`` adds to every item's score (see :mod:`.terms`).

        Scores, contributions and counterfactual re-ranks are all computed from these terms.
        Pass ``now=ranker.as_of(user)`` for a counterfactual of a known user's history.
        """
        self._check_fitted()
        hist = self._to_history(history)
        return self._event_terms(hist, self._clock(hist, now))

    def _event_terms(self, hist: History, now: float) -> EventTerms:
        """Leave-one-out rows (additive rankers override with their exact terms)."""
        known = hist.items >= 0
        total = self._score(hist.take(known), now)
        prior = self._score(History.empty(), now)
        rows = np.zeros((len(hist), len(self.catalog_)))
        for n in np.flatnonzero(known):
            keep = known.copy()
            keep[n] = False
            rows[n] = total - self._score(hist.take(keep), now)
        matrix = sp.csr_matrix(rows)
        matrix.eliminate_zeros()
        return EventTerms(prior, total, matrix, exact=False)

    def _as_contributions(self, hist: History, values: np.ndarray) -> list[Contribution]:
        order = np.argsort(-values, kind="stable")
        names = np.asarray(BEHAVIOURS, dtype=object)
        result = []
        for n in order:
            item = hist.items[n]
            value = hist.values[n]
            result.append(Contribution(
                event_key=int(hist.keys[n]),
                item_id=str(self.catalog_.ids[item]) if item >= 0 else "",
                behaviour=str(names[hist.behaviours[n]]),
                timestamp=from_days(float(hist.days[n])),
                value=None if np.isnan(value) else float(value),
                contribution=float(values[n]),
            ))
        return result

    def _top_k(self, scores: np.ndarray, k: int, excluded: np.ndarray | None,
               filters: ItemFilter | None) -> tuple[np.ndarray, np.ndarray]:
        allowed = self.catalog_.mask(filters)
        if excluded is not None and len(excluded):
            allowed = np.ones(len(self.catalog_), dtype=bool) if allowed is None else allowed.copy()
            allowed[excluded] = False
        top = top_k(scores, k, allowed)
        return self.catalog_.ids[top].astype(str), np.asarray(scores, dtype=np.float64)[top]

    # -- configuration and persistence --------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        """Constructor parameters (as in scikit-learn: the names of ``__init__``'s arguments)."""
        names = [p.name for p in inspect.signature(type(self).__init__).parameters.values()
                 if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        return {name: getattr(self, name) for name in names}

    def clone(self, **params: Any) -> Self:
        """An unfitted copy with some parameters changed."""
        merged = {**self.get_params(), **params}
        return type(self)(**merged)

    def with_params(self, **params: Any) -> Self:
        """A fitted copy with *scoring* parameters changed, sharing the fitted state (no refit).

        Subclasses list which parameters can change this way in ``scoring_params``.
        """
        allowed = getattr(self, "scoring_params", ())
        bad = [p for p in params if p not in allowed]
        if bad:
            raise ValueError(f"{type(self).__name__}: {bad} need a refit; only {list(allowed)} "
                             "can change on a fitted ranker")
        other = copy.copy(self)
        for key, value in params.items():
            setattr(other, key, value)
        other._refresh()
        return other

    def _refresh(self) -> None:  # noqa: B027 - optional hook, deliberately empty by default
        """Recompute derived scoring state after :meth:`with_params` (default: nothing)."""

    def save(self, path: str | Path) -> Path:
        """Write the fitted ranker to ``path`` (pickle), atomically."""
        self._check_fitted()
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        with open(tmp, "wb") as handle:
            pickle.dump({"format": PICKLE_FORMAT, "ranker": self}, handle,
                        protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(target)
        return target

    @classmethod
    def load(cls, path: str | Path) -> Ranker:
        """Read a ranker written by :meth:`save` (only load files you wrote: this is pickle)."""
        with open(path, "rb") as handle:
            data = pickle.load(handle)
        if not isinstance(data, dict) or data.get("format") != PICKLE_FORMAT:
            raise ValueError(f"{path} is not a whyrec ranker file (format {PICKLE_FORMAT})")
        ranker = data["ranker"]
        if not isinstance(ranker, cls):
            raise TypeError(f"{path} holds a {type(ranker).__name__}, not a {cls.__name__}")
        return ranker

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"


#: Default strength of each behaviour (later learned from data or set by the causal tool).
DEFAULT_BEHAVIOUR_WEIGHTS: dict[str, float] = {
    "view": 0.1, "click": 0.2, "favourite": 0.6, "cart": 0.8, "purchase": 1.0, "rating": 0.6,
}


def weight_vector(weights: dict[str, float] | None) -> np.ndarray:
    """Behaviour weights as an array indexed by behaviour code (unknown names raise)."""
    merged = dict(DEFAULT_BEHAVIOUR_WEIGHTS)
    if weights:
        bad = [b for b in weights if b not in BEHAVIOURS]
        if bad:
            raise ValueError(f"unknown behaviour(s) {bad} in weights; expected {list(BEHAVIOURS)}")
        merged.update({k: float(v) for k, v in weights.items()})
    return np.array([merged[b] for b in BEHAVIOURS], dtype=np.float64)


__all__ = [
    "Contribution", "DEFAULT_BEHAVIOUR_WEIGHTS", "FUNNEL", "ItemFilter", "NotFittedError",
    "Ranker", "UnknownItemError", "UnknownUserError", "resolve_target", "weight_vector",
]
