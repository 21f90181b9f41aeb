"""whyrec's ranker: a sparse additive score whose terms are the user's own behaviours.

For a candidate item ``j`` and a history of events ``e`` (item ``i_e``, behaviour ``b_e``, age
``a_e`` days at the reference time)::

    score(j) = prior_j + sum_e  w[b_e] * decay(a_e) * ( S[i_e, j]                 # co-occurrence
                                                       + rho_j * [i_e == j]       # repeat term
                                                       + t * cos(v_{i_e}, v_j) )  # text meaning
               + sum_e  c * [b_e == target] * [i_e == j] * cycle(a_e / g_j)      # repurchase cycle

* ``w`` — behaviour weights (defaults, tuned on validation, or the causal tool's estimates via
  :meth:`WhyrecRanker.with_behaviour_weights`);
* ``decay(a) = floor + (1 - floor) * 0.5 ** (a / half_life_days)``;
* ``S`` — item-item similarity learned from co-occurrence over all users (top neighbours):
  cosine, or EASE's regression weights (``similarity="ease"``, small catalogs);
* ``rho_j = repeat_weight * (conversion_j / mean conversion) ** repeat_conversion`` — re-engaging
  with an item the user already touched, stronger for items that convert;
* ``v`` — optional item text vectors (the behaviour store's embeddings): the "near by meaning"
  candidates;
* ``g_j`` — item ``j``'s typical gap between two purchases by the same user (median over
  repurchases, shrunk towards the median over all items); ``cycle(r) = exp(-(ln r)^2 / (2 *
  CYCLE_WIDTH^2))`` peaks when the purchase is as old as that gap: the item is due again.
  ``c = cycle_weight`` (0 = off; the tuner turns it on only where it helps on validation);
* ``prior_j = popularity_weight * log-popularity_j + conversion_weight * conversion_j`` — what
  a cold user gets.

Every term is a sum over events, so a contribution is exactly that event's term and removing the
event changes the score by exactly its contribution (at a fixed reference time).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..engine import Engine
from .base import Ranker, weight_vector
from .history import BEHAVIOUR_CODE, History
from .similarity import conversion_rates, cooccurrence_similarity, ease_similarity, interaction_matrix, item_user_counts
from .terms import EventTerms

log = logging.getLogger(__name__)

ItemVectors = tuple[np.ndarray, np.ndarray]

#: Width (in ln of age / gap) of the repurchase-cycle bump; one octave either side is ~0.37 of the peak.
CYCLE_WIDTH = 0.7
#: Repurchases an item needs before its own median gap outweighs the all-items median.
CYCLE_SHRINK = 3.0


class WhyrecRanker(Ranker):
    """Additive per-behaviour ranker with exact contributions (see the module docstring).

    >>> from whyrec.tools.ranking import WhyrecRanker
    >>> import pandas as pd
    >>> events = pd.DataFrame({"user_id": ["u1", "u1", "u2", "u2", "u3"],
    ...                        "item_id": ["a", "b", "a", "c", "c"],
    ...                        "behaviour": ["view", "cart", "view", "purchase", "view"],
    ...                        "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01",
    ...                                                     "2024-01-03", "2024-01-02"], utc=True)})
    >>> ranker = WhyrecRanker(half_life_days=14).fit(events)
    >>> score = ranker.score_history(ranker.history("u1"), ["c"])[0]
    >>> terms = ranker.contributions("u1", "c")
    >>> bool(abs(score - ranker.prior("c") - sum(t.contribution for t in terms)) < 1e-12)
    True
    """

    name: ClassVar[str] = "whyrec"
    additive: ClassVar[bool] = True
    scoring_params: ClassVar[tuple[str, ...]] = (
        "behaviour_weights", "half_life_days", "recency_floor", "repeat_weight",
        "repeat_conversion", "similarity_weight", "popularity_weight", "conversion_weight",
        "text_weight", "cycle_weight")
    #: Rankers pickled before the repurchase-cycle term existed load with the term off.
    cycle_weight: float = 0.0

    def __init__(self, behaviour_weights: Mapping[str, float] | None = None,
                 half_life_days: float = 30.0, recency_floor: float = 0.05,
                 neighbours: int = 100, alpha: float = 0.5, shrink: float = 5.0,
                 similarity: str = "cosine", l2: float = 200.0,
                 similarity_weight: float = 1.0, repeat_weight: float = 1.0,
                 repeat_conversion: float = 0.0, popularity_weight: float = 0.05,
                 conversion_weight: float = 0.0, text_weight: float = 0.0,
                 item_vectors: ItemVectors | None = None, target: str | None = None,
                 cycle_weight: float = 0.0) -> None:
        self.behaviour_weights = behaviour_weights
        self.half_life_days = half_life_days
        self.recency_floor = recency_floor
        self.neighbours = neighbours
        self.alpha = alpha
        self.shrink = shrink
        self.similarity = similarity
        self.l2 = l2
        self.similarity_weight = similarity_weight
        self.repeat_weight = repeat_weight
        self.repeat_conversion = repeat_conversion
        self.popularity_weight = popularity_weight
        self.conversion_weight = conversion_weight
        self.text_weight = text_weight
        self.item_vectors = item_vectors
        self.target = target
        self.cycle_weight = cycle_weight

    def __repr__(self) -> str:
        params = {k: v for k, v in self.get_params().items() if k != "item_vectors"}
        params["item_vectors"] = None if self.item_vectors is None else len(self.item_vectors[0])
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in params.items())})"

    # -- fitting ------------------------------------------------------------------------------
    def _fit(self) -> None:
        self._fit_on(None, None)

    def _fit_on(self, engine: Engine | None, scratch: str | Path | None) -> None:
        n_items = len(self.catalog_)
        target_code = BEHAVIOUR_CODE[self.target_]
        touched = item_user_counts(self.log_, n_items)
        converted = item_user_counts(self.log_, n_items, target_code)
        self.popularity_ = np.log1p(converted + 0.1 * touched)
        self.popularity_ /= max(float(self.popularity_.max()), 1e-12)
        self.conversion_ = conversion_rates(touched, converted)
        self.similarity_ = self._learn_similarity(n_items, engine, scratch)
        self.similarity_t_ = self.similarity_.T.tocsr()
        self.similarity_t_.sort_indices()
        self.vectors_ = self._align_vectors(self.item_vectors)
        self.cycle_gap_ = self._repurchase_gaps(n_items, target_code)
        self._refresh()

    def _repurchase_gaps(self, n_items: int, target_code: int) -> np.ndarray | None:
        """Per item, the typical days between two target events of one user on it (distinct
        days), shrunk towards the all-items median; None when no user repeated any item."""
        events = self.log_.events
        users = np.repeat(np.arange(self.log_.n_users), np.diff(self.log_.indptr))
        mask = (events.behaviours == target_code) & (events.items >= 0)
        frame = pd.DataFrame({"u": users[mask], "i": events.items[mask],
                              "d": np.floor(events.days[mask])}).drop_duplicates()
        frame = frame.sort_values(["u", "i", "d"])
        same = (frame["u"].to_numpy()[1:] == frame["u"].to_numpy()[:-1]) & (
            frame["i"].to_numpy()[1:] == frame["i"].to_numpy()[:-1])
        gaps = np.diff(frame["d"].to_numpy())[same]
        if len(gaps) == 0:
            return None
        items = frame["i"].to_numpy()[1:][same]
        overall = float(np.median(gaps))
        per_item = pd.Series(gaps).groupby(items).agg(["median", "size"])
        out = np.full(n_items, overall)
        n = per_item["size"].to_numpy(dtype=float)
        out[per_item.index.to_numpy()] = (n * per_item["median"].to_numpy() + CYCLE_SHRINK * overall) / (
            n + CYCLE_SHRINK)
        return np.maximum(out, 1.0)

    def _learn_similarity(self, n_items: int, engine: Engine | None, scratch: str | Path | None) -> sp.csr_matrix:
        if self.neighbours <= 0:
            return sp.csr_matrix((n_items, n_items))
        matrix = interaction_matrix(self.log_, n_items)
        if self.similarity == "ease":
            return ease_similarity(matrix, self.l2, self.neighbours)
        if self.similarity != "cosine":
            raise ValueError(f"similarity must be 'cosine' or 'ease', not {self.similarity!r}")
        return cooccurrence_similarity(matrix, self.neighbours, self.alpha, self.shrink, engine=engine, scratch=scratch)

    def _align_vectors(self, item_vectors: ItemVectors | None) -> np.ndarray | None:
        if item_vectors is None:
            return None
        ids, matrix = item_vectors
        matrix = np.asarray(matrix, dtype=np.float32)
        if len(ids) != matrix.shape[0]:
            raise ValueError(f"item_vectors: {len(ids)} ids but {matrix.shape[0]} vectors")
        aligned = np.zeros((len(self.catalog_), matrix.shape[1]), dtype=np.float32)
        positions = self.catalog_.positions([str(i) for i in ids])
        aligned[positions[positions >= 0]] = matrix[positions >= 0]
        norms = np.linalg.norm(aligned, axis=1, keepdims=True)
        return aligned / np.where(norms > 0, norms, 1.0)

    def _refresh(self) -> None:
        self.weights_ = weight_vector(dict(self.behaviour_weights) if self.behaviour_weights else None)
        relative = self.conversion_ / max(float(self.conversion_.mean()), 1e-12)
        self.rho_ = self.repeat_weight * np.power(relative, self.repeat_conversion)
        self.prior_ = (self.popularity_weight * self.popularity_
                       + self.conversion_weight * self.conversion_ / max(float(self.conversion_.max()), 1e-12))

    def with_behaviour_weights(self, weights: Mapping[str, float]) -> WhyrecRanker:
        """A fitted copy scoring with other behaviour weights (e.g. causal effect estimates).

        Behaviours not in ``weights`` keep their current weight; nothing is refitted.
        """
        current = dict(self.behaviour_weights or {})
        current.update({str(k): float(v) for k, v in weights.items()})
        return self.with_params(behaviour_weights=current)

    @property
    def behaviour_weight_map(self) -> dict[str, float]:
        """The behaviour weights in use, by behaviour name."""
        return {name: float(self.weights_[code]) for name, code in BEHAVIOUR_CODE.items()}

    # -- scoring ------------------------------------------------------------------------------
    def cycle_terms(self, history: History, now: float) -> np.ndarray:
        """Each event's repurchase-cycle term on its own item (0 for other behaviours or when
        the term is off): ``cycle_weight * exp(-(ln((age + 0.5) / (g + 0.5)))^2 / (2 w^2))``."""
        gaps = getattr(self, "cycle_gap_", None)
        if not self.cycle_weight or gaps is None or len(history) == 0:
            return np.zeros(len(history))
        age = np.maximum(now - history.days, 0.0)
        target = history.behaviours == BEHAVIOUR_CODE[self.target_]
        ratio = np.log((age + 0.5) / (gaps[np.maximum(history.items, 0)] + 0.5))
        return np.where(target & (history.items >= 0),
                        self.cycle_weight * np.exp(-0.5 * (ratio / CYCLE_WIDTH) ** 2), 0.0)

    def event_weights(self, history: History, now: float) -> np.ndarray:
        """``w[b_e] * decay(age_e)`` for each event (age clipped at 0 for future events)."""
        age = np.maximum(now - history.days, 0.0)
        decay = self.recency_floor + (1.0 - self.recency_floor) * np.power(
            0.5, age / max(self.half_life_days, 1e-9))
        return self.weights_[history.behaviours] * decay

    def _kernel(self, mass: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray | None]:
        """``mass @ K`` — the one definition of what behaviour on item ``i`` adds to item ``j``::

            K[i, j] = similarity_weight * S[i, j] + rho_j * [i == j] + text_weight * cos(v_i, v_j)

        ``mass`` is rows x items (summed event weights per item). Returns the sparse part and the
        embedding part's left factor ``text_weight * mass @ V`` (to be multiplied by ``V.T``).
        """
        sparse = sp.csr_matrix(mass.multiply(self.rho_[None, :]))
        if self.similarity_weight:
            sparse = sparse + self.similarity_weight * (mass @ self.similarity_)
        factor = None
        if self.text_weight and self.vectors_ is not None:
            factor = self.text_weight * np.asarray(mass @ self.vectors_)
        return sp.csr_matrix(sparse), factor

    def _event_terms(self, history: History, now: float) -> EventTerms:
        """Row ``e`` is ``event_weight_e * K[i_e, :]``; the score is ``prior + sum of rows``."""
        n_items = len(self.catalog_)
        known = np.flatnonzero(history.items >= 0)
        mass = sp.csr_matrix((self.event_weights(history.take(known), now),
                              (known, history.items[known])), shape=(len(history), n_items))
        rows, factor = self._kernel(mass)
        cycle = self.cycle_terms(history.take(known), now)
        if cycle.any():
            rows = sp.csr_matrix(rows + sp.csr_matrix(
                (cycle, (known, history.items[known])), shape=rows.shape))
        rows.eliminate_zeros()
        total = self.prior_ + np.asarray(rows.sum(axis=0)).ravel()
        low_rank = None
        if factor is not None and self.vectors_ is not None:
            low_rank = (factor, self.vectors_)
            total = total + self.vectors_ @ factor.sum(axis=0)
        return EventTerms(self.prior_, total, rows, low_rank, exact=True)

    def _score(self, history: History, now: float) -> np.ndarray:
        """The summed terms of ``history`` (what :meth:`_event_terms` totals), computed from the
        history's per-item mass — one row, not a row per event (re-ranks of long histories,
        e.g. the explainer's verification, stay cheap)."""
        return self._histories_scores([(history.take(np.flatnonzero(history.items >= 0)), now)])[0]

    def _score_rows(self, rows: np.ndarray) -> np.ndarray:
        return self._histories_scores(self._row_histories(rows))

    def _row_histories(self, rows: np.ndarray) -> list[tuple[History, float]]:
        """(known-items history, now) of each training user at ``rows``."""
        return [(self.log_.history(row).known(), self.log_.last_day(row)) for row in rows]

    def _histories_scores(self, histories: Sequence[tuple[History, float]]) -> np.ndarray:
        """Scores of every item for each (known-items history, now): its summed event weights
        through the kernel, plus its summed repurchase-cycle terms when that term is on."""
        return self._profile_scores(*self._histories_profile(histories))

    def _histories_profile(self, histories: Sequence[tuple[History, float]]
                           ) -> tuple[sp.csr_matrix, sp.csr_matrix | None]:
        """(summed event weights, summed cycle terms or None) per history, histories x items."""
        cycle = None
        if self.cycle_weight and getattr(self, "cycle_gap_", None) is not None:
            cycle = self._item_sums(histories, self.cycle_terms)
        return self._item_sums(histories, self.event_weights), cycle

    def _split_scores(self, rows: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray] | None:
        """The scores of ``rows`` as (the users' sparse part, the prior): every term but the prior
        and the text term is non-zero only on items near the user's own (None with the text
        term on: it is dense)."""
        if self.text_weight and self.vectors_ is not None:
            return None
        profile, cycle = self._histories_profile(self._row_histories(rows))
        return self._user_part(profile, cycle)[0], self.prior_

    def _item_sums(self, histories: Sequence[tuple[History, float]],
                   term: Callable[[History, float], np.ndarray]) -> sp.csr_matrix:
        """Histories x items matrix: row n sums ``term(history, now)`` of the n-th history on
        each event's item."""
        rows = [np.full(len(hist), n) for n, (hist, _) in enumerate(histories)]
        matrix = sp.csr_matrix((np.concatenate([term(hist, now) for hist, now in histories] or [np.zeros(0)]),
                                (np.concatenate(rows or [np.zeros(0, int)]),
                                 np.concatenate([hist.items for hist, _ in histories] or [np.zeros(0, int)]))),
                               shape=(len(histories), len(self.catalog_)))
        matrix.sum_duplicates()
        return matrix

    def _profile_scores(self, profile: sp.csr_matrix, cycle: sp.csr_matrix | None = None) -> np.ndarray:
        """Scores of every item for each row of a matrix of summed event weights (plus the rows'
        summed cycle terms, when given)."""
        sparse, factor = self._user_part(profile, cycle)
        scores = sparse.toarray()
        scores += self.prior_[None, :]
        if factor is not None and self.vectors_ is not None:
            scores += factor @ self.vectors_.T
        return scores

    def _user_part(self, profile: sp.csr_matrix, cycle: sp.csr_matrix | None
                   ) -> tuple[sp.csr_matrix, np.ndarray | None]:
        """The kernel's sparse part plus the cycle terms, and the text term's left factor."""
        sparse, factor = self._kernel(profile)
        if cycle is not None:
            sparse = sp.csr_matrix(sparse + cycle)
        return sparse, factor

    def prior(self, item_id: str) -> float:
        """The score of ``item_id`` with no history: ``score = prior + sum(contributions)``."""
        return float(self.prior_[self._item_position(item_id)])

    def describe(self) -> dict[str, Any]:
        """The learned and configured terms, for logs and reports."""
        return {
            "behaviour_weights": self.behaviour_weight_map,
            "half_life_days": self.half_life_days,
            "similarity_nonzeros": int(self.similarity_.nnz),
            "target": self.target_,
            "text_vectors": self.vectors_ is not None,
            "cycle_weight": self.cycle_weight,
        }


class RepeatRanker(WhyrecRanker):
    """The repeat rule: the user's own items by behaviour weight and recency, then popular ones.

    The additive score with only the repeat term and a tiny popularity prior as tie-breaker, so
    its contributions are exact too.
    """

    name: ClassVar[str] = "repeat"
    scoring_params: ClassVar[tuple[str, ...]] = (
        "behaviour_weights", "half_life_days", "recency_floor")

    def __init__(self, behaviour_weights: Mapping[str, float] | None = None,
                 half_life_days: float = 30.0, recency_floor: float = 0.05,
                 target: str | None = None) -> None:
        self.behaviour_weights = behaviour_weights
        self.half_life_days = half_life_days
        self.recency_floor = recency_floor
        self.target = target

    # The whyrec terms this rule does not use, fixed at class level (not parameters of the rule).
    neighbours = 0
    similarity = "cosine"
    l2 = 0.0
    alpha = 0.5
    shrink = 0.0
    similarity_weight = 0.0
    repeat_weight = 1.0
    repeat_conversion = 0.0
    popularity_weight = 1e-3
    conversion_weight = 0.0
    text_weight = 0.0
    cycle_weight = 0.0
    item_vectors = None
