"""A fast re-ranker of one target item over a history's event terms.

The rows come from :meth:`Ranker.event_terms <whyrec.tools.ranking.base.Ranker.event_terms>`:
for an additive ranker the scores after removing a set of events are the base scores minus
those events' rows — no re-scoring needed, so the counterfactual search can try thousands of
sets. Every set the explainer returns is still verified by the ranker re-scoring the reduced
history; for a non-additive ranker the rows are leave-one-out differences and verification
decides.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..ranking.topk import rank_of

log = logging.getLogger(__name__)

#: Above this many cells a dense text-similarity block is not built (rows stay co-occurrence only).
MAX_DENSE_CELLS = 20_000_000


@dataclass
class TargetRanker:
    """Rank of one target item after removing events and/or adding hypothetical rows.

    Follows the ranker's tie rule (higher score first, then lower catalog position) and the
    ``exclude_seen`` rule applied to the *hypothetical* history: an item is excluded while any
    of its events remains.
    """

    base: np.ndarray          # scores of every item for the full history
    effects: sp.csr_matrix    # event x item
    event_items: np.ndarray   # catalog position of each event's item (-1 unknown)
    target: int
    allowed: np.ndarray       # items the filters allow
    exclude_seen: bool = True

    def __post_init__(self) -> None:
        n_items = len(self.base)
        self.effects_t = sp.csr_matrix(self.effects.T)
        self.counts = np.bincount(self.event_items[self.event_items >= 0], minlength=n_items)
        self.positions = np.arange(n_items)

    def ahead(self, scores: np.ndarray, counts: np.ndarray, margin: float = 0.0) -> int:
        """How many eligible items rank above the target (its 0-based rank if it is eligible).

        With ``margin > 0`` only items ahead by more than ``margin`` count (robust to the rounding
        of a from-scratch re-score); with ``margin < 0`` items within ``-margin`` count as ahead.
        """
        return rank_of(scores, self.target, self.eligible_items(counts), margin)

    def remove_event(self, event: int, scores: np.ndarray, counts: np.ndarray) -> None:
        """Take one event out of ``scores`` and ``counts`` in place (a greedy search step)."""
        start, stop = self.effects.indptr[event], self.effects.indptr[event + 1]
        scores[self.effects.indices[start:stop]] -= self.effects.data[start:stop]
        item = self.event_items[event]
        if item >= 0:
            counts[item] -= 1

    def eligible_items(self, counts: np.ndarray) -> np.ndarray:
        return self.allowed if not self.exclude_seen else self.allowed & (counts == 0)

    @property
    def margin(self) -> float:
        """Score difference treated as a tie when deciding from arithmetic alone."""
        return 1e-9 * max(1.0, float(np.abs(self.base).max()) if len(self.base) else 1.0)

    def column(self, item: int) -> np.ndarray:
        """Every event's effect on ``item``'s score."""
        if not hasattr(self, "_csc"):
            self._csc = sp.csc_matrix(self.effects)
        start, stop = self._csc.indptr[item], self._csc.indptr[item + 1]
        out = np.zeros(self.effects.shape[0])
        out[self._csc.indices[start:stop]] = self._csc.data[start:stop]
        return out

    def eligible(self, counts: np.ndarray) -> bool:
        return bool(self.allowed[self.target] and (not self.exclude_seen or counts[self.target] == 0))

    def after_removal(self, removed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scores and per-item event counts with the events at ``removed`` (indices) gone."""
        mask = np.zeros(self.effects.shape[0])
        mask[removed] = 1.0
        scores = self.base - self.effects_t @ mask
        gone = self.event_items[removed]
        counts = self.counts - np.bincount(gone[gone >= 0], minlength=len(self.base))
        return scores, counts

    def rank_after_removal(self, removed: np.ndarray, margin: float = 0.0) -> int | None:
        """0-based rank of the target with ``removed`` events gone (None if it is excluded)."""
        scores, counts = self.after_removal(np.asarray(removed, dtype=np.int64))
        if not self.eligible(counts):
            return None
        return self.ahead(scores, counts, margin)

    def drops(self, removed: np.ndarray, k: int) -> bool:
        """True when removing ``removed`` puts the target out of the top ``k`` (robustly)."""
        rank = self.rank_after_removal(removed, self.margin)
        return rank is None or rank >= k

    def singles(self, events: np.ndarray) -> np.ndarray:
        """0-based rank of the target after removing each event in ``events`` alone (vectorised;
        ties between equal scores are ignored, so callers confirm with :meth:`rank_after_removal`)."""
        events = np.asarray(events, dtype=np.int64)
        eligible = self.allowed & (self.counts == 0)
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
        items = self.event_items[events]
        freed = ((items >= 0) & (items != self.target)
                 & (self.counts[np.maximum(items, 0)] == 1) & self.allowed[np.maximum(items, 0)])
        if freed.any():
            own = np.asarray(rows[np.flatnonzero(freed), items[freed]]).ravel()
            ahead[freed] += (self.base[items[freed]] - own > target_new[freed]).astype(np.int64)
        return ahead
