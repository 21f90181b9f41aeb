"""Sequential baseline: recency-weighted item-to-item transitions ("sequential rules").

The session-aware peer a reviewer asks for: *SR* (sequential rules), a simple method that was
competitive with GRU4Rec and other neural session recommenders in comparisons under identical
conditions (Kamehkhosh, Jannach & Ludewig 2017; Ludewig et al. 2021), and fits on two CPU cores
in seconds. Training counts, over every user's
time-ordered events, how often an event on item ``i`` is followed within ``steps`` events by one
on item ``j``, each pair weighted ``d ** -step_power`` by its distance ``d`` (and dropped when the
two events are more than ``max_gap_days`` apart)::

    T[i, j] = sum of pair weights (i -> j) / (outgoing weight of i) ** alpha

Scoring sums the rows of the items the user touched, each event weighted by its behaviour and
its recency at the reference time; only the user's ``last_n`` events count when set::

    score(j) = popularity_weight * pop_j + sum_e w[b_e] * 0.5 ** (age_e / half_life_days) * T[i_e, j]

With ``self_transitions`` a pair on the same item counts too (returning to an item), so the model
learns from data how much re-engagement predicts the next event; ``to_target`` keeps only pairs
whose later event is the target behaviour (what leads to a purchase).

>>> SequentialRules(steps=5, half_life_days=7, last_n=20).fit(events, items)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from .base import Ranker
from .history import BEHAVIOUR_CODE, EventLog, History
from .interactions import recency, unit_weight_vector
from .popular import tiebreak_scores
from .similarity import item_user_counts


def transition_counts(log: EventLog, n_items: int, steps: int, step_power: float = 1.0,
                      max_gap_days: float | None = None, to_code: int | None = None,
                      self_transitions: bool = True,
                      collapse_repeats: bool = True) -> sp.csr_matrix:
    """Items x items summed pair weights over every user's time-ordered events (see module)."""
    events = log.events
    rows = log.user_rows()
    keep = events.items >= 0
    if collapse_repeats and len(events):
        # An event that repeats the previous one (same user, item and behaviour) adds no step.
        repeat = np.zeros(len(events), dtype=bool)
        repeat[1:] = ((rows[1:] == rows[:-1]) & (events.items[1:] == events.items[:-1])
                      & (events.behaviours[1:] == events.behaviours[:-1]))
        keep &= ~repeat
    index = np.flatnonzero(keep)
    rows, items = rows[index], events.items[index]
    days, behaviours = events.days[index], events.behaviours[index]
    sources, targets, weights = [], [], []
    for d in range(1, max(int(steps), 0) + 1):
        if d >= len(index):
            break
        mask = rows[d:] == rows[:-d]
        if max_gap_days is not None:
            mask &= (days[d:] - days[:-d]) <= max_gap_days
        if to_code is not None:
            mask &= behaviours[d:] == to_code
        if not self_transitions:
            mask &= items[d:] != items[:-d]
        sources.append(items[:-d][mask])
        targets.append(items[d:][mask])
        weights.append(np.full(int(mask.sum()), float(d) ** -step_power))
    if not sources:
        return sp.csr_matrix((n_items, n_items))
    matrix = sp.csr_matrix((np.concatenate(weights), (np.concatenate(sources),
                                                      np.concatenate(targets))),
                           shape=(n_items, n_items))
    matrix.sum_duplicates()
    return matrix


class SequentialRules(Ranker):
    """Recency-weighted item-to-item transitions (see the module docstring)."""

    name: ClassVar[str] = "sequential"
    scoring_params: ClassVar[tuple[str, ...]] = (
        "behaviour_weights", "half_life_days", "last_n", "popularity_weight")

    def __init__(self, steps: int = 5, step_power: float = 1.0, max_gap_days: float | None = None,
                 alpha: float = 0.5, to_target: bool = False, self_transitions: bool = True,
                 collapse_repeats: bool = True,
                 behaviour_weights: Mapping[str, float] | None = None,
                 half_life_days: float | None = 7.0, last_n: int | None = None,
                 popularity_weight: float = 0.0, target: str | None = None) -> None:
        self.steps = steps
        self.step_power = step_power
        self.max_gap_days = max_gap_days
        self.alpha = alpha
        self.to_target = to_target
        self.self_transitions = self_transitions
        self.collapse_repeats = collapse_repeats
        self.behaviour_weights = behaviour_weights
        self.half_life_days = half_life_days
        self.last_n = last_n
        self.popularity_weight = popularity_weight
        self.target = target

    def _fit(self) -> None:
        n_items = len(self.catalog_)
        counts = transition_counts(
            self.log_, n_items, self.steps, self.step_power, self.max_gap_days,
            BEHAVIOUR_CODE[self.target_] if self.to_target else None, self.self_transitions,
            self.collapse_repeats)
        outgoing = np.asarray(counts.sum(axis=1)).ravel()
        scale = np.power(np.maximum(outgoing, 1e-12), -self.alpha)
        self.transitions_ = sp.csr_matrix(sp.diags(scale) @ counts)
        popularity = item_user_counts(self.log_, n_items, BEHAVIOUR_CODE[self.target_])
        self.popularity_ = popularity / max(float(popularity.max()), 1e-12)
        self.tiebreak_ = tiebreak_scores(self)
        self._refresh()

    def _refresh(self) -> None:
        if self.last_n is not None and self.last_n < 1:
            raise ValueError(f"last_n must be >= 1 or None, not {self.last_n!r}")
        recency(np.zeros(1), self.half_life_days)  # validates the half-life
        self.weights_ = unit_weight_vector(self.behaviour_weights)
        self.prior_ = self.popularity_weight * self.popularity_ + self.tiebreak_

    def _event_mass(self, behaviours: np.ndarray, days: np.ndarray, now: float | np.ndarray) -> np.ndarray:
        return self.weights_[behaviours] * recency(now - days, self.half_life_days)

    def _score(self, history: History, now: float) -> np.ndarray:
        hist = history.known()
        hist = hist.take(np.argsort(hist.days, kind="stable"))
        if self.last_n is not None:
            hist = hist.take(slice(max(len(hist) - self.last_n, 0), len(hist)))
        profile = sp.csr_matrix((self._event_mass(hist.behaviours, hist.days, now),
                                 (np.zeros(len(hist), dtype=np.int64), hist.items)),
                                shape=(1, len(self.catalog_)))
        return (profile @ self.transitions_).toarray()[0] + self.prior_

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        starts, stops = self.log_.indptr[rows], self.log_.indptr[rows + 1]
        last = np.array([self.log_.last_day(int(r)) for r in rows])
        owners, positions = [], []
        for n, (start, stop) in enumerate(zip(starts, stops, strict=True)):
            index = np.arange(start, stop)
            index = index[self.log_.events.items[index] >= 0]
            if self.last_n is not None:
                index = index[-self.last_n:]
            owners.append(np.full(len(index), n, dtype=np.int64))
            positions.append(index)
        owner = np.concatenate(owners) if owners else np.zeros(0, dtype=np.int64)
        index = np.concatenate(positions) if positions else np.zeros(0, dtype=np.int64)
        events = self.log_.events.take(index)
        mass = self._event_mass(events.behaviours, events.days, last[owner])
        profiles = sp.csr_matrix((mass, (owner, events.items)),
                                 shape=(len(rows), len(self.catalog_)))
        return (profiles @ self.transitions_).toarray() + self.prior_[None, :]
