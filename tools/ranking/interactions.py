"""The user x item interaction matrix every learned baseline fits on: weighted and aggregated.

A log holds several events per (user, item): a click, two more clicks, a cart, a purchase. The
baselines (item-kNN, ALS, EASE, most-popular) see one number per pair, built in two steps:

1. each event gets its behaviour's weight ``w[b]`` (``behaviour_weights``; a behaviour left out
   weighs ``1``, weight ``0`` drops the behaviour), times a recency factor when scoring a
   profile with ``half_life_days`` (``0.5 ** (age / half_life_days)``, age at the reference time);
2. the pair's events are combined by ``aggregation``:

   * ``"max"`` — the strongest event (with unit weights: the binary matrix);
   * ``"sum"`` — the summed weights (with unit weights: the event count);
   * ``"log"`` — ``log(1 + sum)`` (with unit weights: ``log(1 + count)``).

The same formula builds the training matrix (no recency) and a history's profile at scoring time,
so a known user scored from their row and the same events scored as a history agree exactly.

>>> spec = Interactions({"view": 1, "cart": 3, "purchase": 4}, aggregation="log")  # doctest: +SKIP
>>> matrix = spec.matrix(ranker.log_, len(ranker.catalog_))                         # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..schema import BEHAVIOURS
from .history import EventLog, History

AGGREGATIONS: tuple[str, ...] = ("max", "sum", "log")


def unit_weight_vector(weights: Mapping[str, float] | None,
                       defaults: np.ndarray | None = None) -> np.ndarray:
    """Behaviour weights by behaviour code: ``weights`` over ``defaults`` (default: all 1).

    Raises ``ValueError`` naming unknown behaviours or negative weights (a matrix entry is a
    confidence: it cannot be negative).
    """
    vector = (np.ones(len(BEHAVIOURS), dtype=np.float64) if defaults is None
              else np.array(defaults, dtype=np.float64, copy=True))
    for name, value in (weights or {}).items():
        if name not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {name!r} in behaviour_weights; "
                             f"expected one of {list(BEHAVIOURS)}")
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"behaviour_weights[{name!r}] = {value!r}: interaction weights "
                             "must be finite and >= 0 (0 drops the behaviour)")
        vector[BEHAVIOURS.index(name)] = float(value)
    return vector


def recency(age_days: np.ndarray, half_life_days: float | None) -> np.ndarray:
    """``0.5 ** (age / half_life_days)`` (ages below 0 count as 0); all ones without a half-life."""
    if half_life_days is None:
        return np.ones_like(age_days, dtype=np.float64)
    if half_life_days <= 0:
        raise ValueError(f"half_life_days must be > 0 or None, not {half_life_days!r}")
    return np.power(0.5, np.maximum(age_days, 0.0) / half_life_days)


def aggregate(rows: np.ndarray, items: np.ndarray, values: np.ndarray, shape: tuple[int, int],
              aggregation: str) -> sp.csr_matrix:
    """One entry per (row, item) from per-event ``values``, combined by ``aggregation``.

    Entries that come out 0 (all their events weighed 0) are removed.
    """
    if aggregation not in AGGREGATIONS:
        raise ValueError(f"aggregation must be one of {list(AGGREGATIONS)}, not {aggregation!r}")
    rows = np.asarray(rows, dtype=np.int64)
    items = np.asarray(items, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    if aggregation == "max":
        # Sort so the largest value of each pair comes last, then keep the last of each pair.
        order = np.lexsort((values, items, rows))
        rows, items, values = rows[order], items[order], values[order]
        last = np.ones(len(rows), dtype=bool)
        if len(rows) > 1:
            last[:-1] = (rows[1:] != rows[:-1]) | (items[1:] != items[:-1])
        matrix = sp.csr_matrix((values[last], (rows[last], items[last])), shape=shape)
    else:
        matrix = sp.csr_matrix((values, (rows, items)), shape=shape)
        matrix.sum_duplicates()
        if aggregation == "log":
            matrix.data = np.log1p(matrix.data)
    matrix.eliminate_zeros()
    matrix.sort_indices()
    return matrix


@dataclass(frozen=True)
class Interactions:
    """How events become matrix entries: behaviour weights, aggregation, profile recency."""

    behaviour_weights: Mapping[str, float] | None = None
    aggregation: str = "max"
    half_life_days: float | None = None

    def __post_init__(self) -> None:
        unit_weight_vector(self.behaviour_weights)  # validate early, with the field named
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {list(AGGREGATIONS)}, "
                             f"not {self.aggregation!r}")
        recency(np.zeros(1), self.half_life_days)

    @property
    def weights(self) -> np.ndarray:
        return unit_weight_vector(self.behaviour_weights)

    def matrix(self, log: EventLog, n_items: int) -> sp.csr_matrix:
        """Users x items training matrix (weights and aggregation; no recency)."""
        events = log.events
        known = events.items >= 0
        values = self.weights[events.behaviours[known]]
        return aggregate(log.user_rows()[known], events.items[known], values,
                         (log.n_users, n_items), self.aggregation)

    def profiles(self, log: EventLog, rows: np.ndarray, n_items: int) -> sp.csr_matrix:
        """Profiles of training users ``rows`` (len(rows) x items), recency at each one's last event."""
        rows = np.asarray(rows, dtype=np.int64)
        starts, stops = log.indptr[rows], log.indptr[rows + 1]
        lengths = stops - starts
        owner = np.repeat(np.arange(len(rows)), lengths)
        index = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        index += np.repeat(starts, lengths)
        events = log.events.take(index)
        values = self.weights[events.behaviours]
        if self.half_life_days is not None and len(index):
            last = np.maximum.reduceat(events.days, np.cumsum(lengths) - lengths)
            values = values * recency(last[owner] - events.days, self.half_life_days)
        known = events.items >= 0
        return aggregate(owner[known], events.items[known], values[known], (len(rows), n_items),
                         self.aggregation)

    def profile(self, history: History, now: float, n_items: int) -> sp.csr_matrix:
        """One history's profile (1 x items) at day ``now``; only known items count."""
        hist = history.known()
        values = self.weights[hist.behaviours] * recency(now - hist.days, self.half_life_days)
        return aggregate(np.zeros(len(hist), dtype=np.int64), hist.items, values, (1, n_items),
                         self.aggregation)


__all__ = ["AGGREGATIONS", "Interactions", "aggregate", "recency", "unit_weight_vector"]
