"""Score a fitted ranker on a split: full ranking over all items, chunked over test users."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .base import Ranker, chunk_rows
from .metrics import MetricAccumulator
from .split import Split


@dataclass(frozen=True)
class Measurement:
    """Mean metrics over test users, their standard errors, and how many users counted.

    ``users`` and ``per_user`` (metric -> one value per user, in ``users`` order) allow paired
    comparisons of two models on the same users.
    """

    metrics: dict[str, float]
    stderr: dict[str, float]
    n_users: int
    users: tuple[str, ...] = ()
    per_user: dict[str, np.ndarray] = field(default_factory=dict, repr=False)


def measure(ranker: Ranker, split: Split, exclude_seen: bool, ks: tuple[int, ...] = (10, 20),
            chunk: int = 256, policy: str | None = None) -> Measurement:
    """Evaluate ``ranker`` (fitted on ``split.train``) on the held-out items of ``split``.

    With ``exclude_seen`` the user's training items are removed from the ranking *and* from the
    held-out set (a user left with nothing to find is dropped) — identically for every model.

    With an exclusion ``policy`` (:mod:`.exclusion`; replaces ``exclude_seen``) the items it
    leaves out are removed from the ranking only: every held-out item counts, so policies are
    compared on what users really did next (a repurchase a policy hides is a miss).
    """
    catalog = ranker.catalog_
    ranker._check_fitted()
    names = list(split.test)
    rows = ranker.log_.users.get_indexer(names) if names else np.zeros(0, dtype=np.int64)
    lengths = np.array([len(split.test[u]) for u in names], dtype=np.int64)
    flat = (catalog.positions(np.concatenate([np.asarray(split.test[u], dtype=object)
                                              for u in names]).tolist())
            if lengths.sum() else np.zeros(0, dtype=np.int64))
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    users, user_rows, truths, excluded = [], [], [], []
    for n, user in enumerate(names):
        if rows[n] < 0:
            continue
        truth = flat[offsets[n]:offsets[n + 1]]
        truth = np.unique(truth[truth >= 0])
        if policy is not None:
            seen = ranker.excluded(int(rows[n]), exclude=policy)
        else:
            seen = (np.unique(ranker.log_.history(int(rows[n])).items) if exclude_seen
                    else np.zeros(0, dtype=np.int64))
        if exclude_seen and policy is None:
            truth = np.setdiff1d(truth, seen)
        if len(truth) == 0:
            continue
        users.append(user)
        user_rows.append(int(rows[n]))
        truths.append(truth)
        excluded.append(seen)
    accumulator = MetricAccumulator(ks=ks)
    chunk = chunk_rows(chunk, len(catalog))
    for start in range(0, len(users), chunk):
        # The scoring hook directly: the users' rows are already resolved above.
        block = ranker._score_rows(np.asarray(user_rows[start:start + chunk], dtype=np.int64))
        accumulator.add(block, truths[start:start + chunk], excluded[start:start + chunk])
    metrics, stderr, n = accumulator.summary(len(catalog))
    return Measurement(metrics, stderr, n, tuple(users), accumulator.per_user())


def pool(measurements: Sequence[Measurement]) -> Measurement:
    """One measurement over several validation windows: every (window, user) counts once, so
    the mean and its standard error are over all of them (a user in two windows counts twice —
    two held-out futures). Coverage, a catalog share, is the windows' mean. One window: itself;
    windows with no user to score are left out."""
    measured = [m for m in measurements if m.n_users > 0]   # a window can be left with nobody to score
    measurements = measured or list(measurements[:1])
    if len(measurements) == 1:
        return measurements[0]
    names = [name for name in measurements[0].per_user if name in measurements[0].metrics]
    metrics: dict[str, float] = {}
    stderr: dict[str, float] = {}
    per_user: dict[str, np.ndarray] = {}
    for name in names:
        values = np.concatenate([m.per_user[name] for m in measurements])
        per_user[name] = values
        metrics[name] = float(values.mean()) if len(values) else float("nan")
        stderr[name] = float(values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else float("nan")
    for name in measurements[0].metrics:
        if name not in metrics:
            metrics[name] = float(np.mean([m.metrics[name] for m in measurements]))
            stderr[name] = float("nan")
    users = tuple(f"{n}:{u}" for n, m in enumerate(measurements) for u in m.users)
    return Measurement(metrics, stderr, sum(m.n_users for m in measurements), users, per_user)
