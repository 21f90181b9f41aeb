"""Per-event score terms: what each event of a history adds to every item's score.

A ranker's :meth:`~whyrec.tools.ranking.base.Ranker.event_terms` returns an :class:`EventTerms`;
scores, contributions and every counterfactual re-rank are computed from it, so there is one
formula per ranker and no second copy of it anywhere else.

For an additive ranker (``exact``) the score of every item is ``prior + sum of the event rows``,
so removing a set of events subtracts exactly their rows. For other rankers a row is the
leave-one-out difference ``score(history) - score(history without e)`` (``exact`` is False: an
approximation for joint removals, which the explainer verifies by re-ranking).

A row has a sparse part and, for rankers with an item-embedding term, a low-rank part
``U[e] @ V.T`` kept factored (a dense events x items block would not fit for long histories).

>>> import numpy as np, scipy.sparse as sp
>>> rows = sp.csr_matrix(np.array([[0.5, 0.0], [0.0, 0.3]]))
>>> terms = EventTerms(np.array([0.1, 0.2]), np.array([0.6, 0.5]), rows)
>>> terms.scores().round(2).tolist(), terms.scores(np.array([False, True])).round(2).tolist()
([0.6, 0.5], [0.1, 0.5])
>>> terms.column(0).tolist()
[0.5, 0.0]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

#: Above this many cells the low-rank part is not expanded into a sparse matrix.
MAX_DENSE_CELLS = 20_000_000


@dataclass(frozen=True)
class EventTerms:
    """The terms of a history of ``n`` events over every item.

    ``total`` is the ranker's score for the whole history; for an exact (additive) ranker it
    equals ``prior + rows.sum(0) + U.sum(0) @ V.T``.
    """

    prior: np.ndarray                  # (n_items,) score of an empty history
    total: np.ndarray                  # (n_items,) score of the whole history
    rows: sp.csr_matrix                # (n_events, n_items), sparse part of each event's term
    low_rank: tuple[np.ndarray, np.ndarray] | None = None  # U (n_events, d), V (n_items, d)
    exact: bool = True

    @property
    def n_events(self) -> int:
        return int(self.rows.shape[0])

    @property
    def n_items(self) -> int:
        return int(self.rows.shape[1])

    def scores(self, keep: np.ndarray | None = None) -> np.ndarray:
        """Every item's score with only the events where ``keep`` is True (default: all).

        Exact for an additive ranker; for others, removed events' leave-one-out rows are
        subtracted (a first-order approximation that callers verify by re-ranking).
        """
        if keep is None:
            return self.total.copy()
        return self.total - self.removal(np.flatnonzero(~np.asarray(keep, dtype=bool)))

    def removal(self, events: np.ndarray) -> np.ndarray:
        """What the events at indices ``events`` add, together, to every item's score."""
        weights = np.zeros(self.n_events)
        weights[np.asarray(events, dtype=np.int64)] = 1.0
        out = np.asarray(self.rows.T @ weights).ravel()
        if self.low_rank is not None:
            u, v = self.low_rank
            out = out + v @ (u.T @ weights)
        return out

    def column(self, item: int) -> np.ndarray:
        """Every event's term on one item (its contribution to that item's score)."""
        out = np.asarray(self.rows[:, item].toarray()).ravel()
        if self.low_rank is not None:
            u, v = self.low_rank
            out = out + u @ v[item]
        return out

    def matrix(self) -> sp.csr_matrix:
        """All terms as one sparse events x items matrix (the low-rank part expanded)."""
        if self.low_rank is None:
            return self.rows
        u, v = self.low_rank
        if u.shape[0] * v.shape[0] > MAX_DENSE_CELLS:
            raise ValueError(f"a history of {u.shape[0]} events is too long to expand the "
                             f"embedding term over {v.shape[0]} items")
        dense = self.rows.toarray() + u @ v.T
        out = sp.csr_matrix(dense)
        out.eliminate_zeros()
        return out
