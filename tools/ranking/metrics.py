"""Full-ranking metrics over all items (no sampled negatives): Recall, NDCG, MRR, coverage."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class MetricAccumulator:
    """Collects per-user metric values chunk by chunk; :meth:`summary` gives means and s.e."""

    ks: tuple[int, ...] = (10, 20)
    values: dict[str, list[np.ndarray]] = field(default_factory=dict)
    recommended: set[int] = field(default_factory=set)

    def add(self, scores: np.ndarray, truth: list[np.ndarray],
            excluded: list[np.ndarray] | None = None) -> None:
        """Score one chunk: ``scores`` (users x items), ``truth[u]`` the held-out item positions,
        ``excluded[u]`` positions not to rank (seen items under the exclude-seen protocol)."""
        scores = np.array(scores, dtype=np.float64, copy=True)
        if excluded is not None:
            for row, positions in enumerate(excluded):
                scores[row, positions] = -np.inf
        per_user = user_metrics(scores, truth, self.ks)
        for name, vals in per_user.items():
            if name == "_top":
                continue
            self.values.setdefault(name, []).append(vals)
        self.recommended.update(np.unique(per_user["_top"]).tolist())

    def _names(self) -> list[str]:
        return [f"{m}@{k}" for k in self.ks for m in ("recall", "ndcg")] + ["mrr"]

    def per_user(self) -> dict[str, np.ndarray]:
        """Every metric's per-user values, in the order users were added."""
        return {name: np.concatenate(chunks) for name, chunks in self.values.items()}

    def summary(self, n_items: int) -> tuple[dict[str, float], dict[str, float], int]:
        """(means, standard errors over users, number of users); coverage has no s.e."""
        means = {name: float("nan") for name in self._names()}
        errors = dict(means)
        n = 0
        for name, chunks in self.values.items():
            vals = np.concatenate(chunks)
            n = len(vals)
            means[name] = float(vals.mean()) if n else float("nan")
            errors[name] = float(vals.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
        means[f"coverage@{max(self.ks)}"] = len(self.recommended) / max(n_items, 1)
        return means, errors, n


def user_metrics(scores: np.ndarray, truth: list[np.ndarray],
                 ks: tuple[int, ...] = (10, 20)) -> dict[str, np.ndarray]:
    """Per-user Recall@k, NDCG@k and MRR (full ranking) for a block of users.

    Recall@k = hits in the top k / number of held-out items. NDCG uses binary gains and the
    ideal DCG of min(k, held-out) items. MRR is 1 / rank of the best-ranked held-out item in the
    full ranking; ties with other items count half (so a constant scorer is not rewarded).
    Items scored ``-inf`` are excluded from the ranking.
    """
    n_users, n_items = scores.shape
    kmax = min(max(ks), n_items)
    top = np.argpartition(-scores, kmax - 1, axis=1)[:, :kmax]
    top_scores = np.take_along_axis(scores, top, axis=1)
    order = np.lexsort((top, -top_scores), axis=1)
    top = np.take_along_axis(top, order, axis=1)
    top_scores = np.take_along_axis(top_scores, order, axis=1)
    discounts = 1.0 / np.log2(np.arange(2, kmax + 2))
    out: dict[str, np.ndarray] = {f"{m}@{k}": np.zeros(n_users) for k in ks
                                  for m in ("recall", "ndcg")}
    out["mrr"] = np.zeros(n_users)
    for row in range(n_users):
        relevant = np.asarray(truth[row], dtype=np.int64)
        if len(relevant) == 0:
            continue
        hit = np.isin(top[row], relevant) & np.isfinite(top_scores[row])
        for k in ks:
            kk = min(k, kmax)
            gains = hit[:kk]
            out[f"recall@{k}"][row] = gains.sum() / len(relevant)
            ideal = discounts[:min(kk, len(relevant))].sum()
            out[f"ndcg@{k}"][row] = (discounts[:kk] * gains).sum() / ideal
        row_scores = scores[row]
        best = row_scores[relevant].max()
        if np.isfinite(best):
            others = np.ones(n_items, dtype=bool)
            others[relevant] = False
            greater = np.count_nonzero(row_scores[others] > best)
            ties = np.count_nonzero(row_scores[others] == best)
            out["mrr"][row] = 1.0 / (1.0 + greater + ties / 2.0)
    out["_top"] = top[:, :min(20, kmax)][np.isfinite(top_scores[:, :min(20, kmax)])]
    return out
