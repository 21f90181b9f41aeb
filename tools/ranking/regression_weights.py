"""Behaviour weights learned by regression on the validation split.

For every validation user and every item in their training history, the features are
``log(1 + number of events of behaviour b on the item)`` per behaviour; the label is whether the
item is among the user's held-out target items. A logistic regression's coefficients, divided by
the target behaviour's (so a purchase weighs 1, as in the defaults) and clipped at 0, are the
behaviour weights. Only the validation split is used (its training part and held-out items), so
the test split is never seen.

>>> weights = regression_weights(validation_split)   # doctest: +SKIP
>>> weights.weights                                   # doctest: +SKIP
{'cart': 0.0, 'click': 0.41, 'favourite': 0.22, 'purchase': 1.0}
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .base import resolve_target
from .split import Split

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RegressionWeights:
    """Weights per behaviour and the fit they came from (raw coefficients, rows, positives)."""

    weights: dict[str, float]
    coefficients: dict[str, float]
    rows: int
    positives: int
    target: str

    def to_json(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self)))


def regression_weights(split: Split, target: str | None = None, c: float = 1.0) -> RegressionWeights:
    """Fit the per-behaviour logistic regression on ``split`` (a validation split)."""
    from sklearn.linear_model import LogisticRegression

    train = split.train
    behaviours = sorted(train["behaviour"].astype(str).unique())
    target = resolve_target(behaviours, target)
    users = set(split.test)
    frame = train.loc[train["user_id"].astype(str).isin(users), ["user_id", "item_id", "behaviour"]]
    frame = frame.assign(user_id=frame["user_id"].astype(str), item_id=frame["item_id"].astype(str),
                         behaviour=frame["behaviour"].astype(str))
    counts = frame.groupby(["user_id", "item_id", "behaviour"]).size().unstack("behaviour", fill_value=0)
    counts = counts.reindex(columns=behaviours, fill_value=0)
    held = {(u, str(i)) for u, items in split.test.items() for i in items}
    labels = np.fromiter(((u, i) in held for u, i in counts.index), dtype=bool, count=len(counts))
    if labels.sum() == 0 or labels.all():
        raise ValueError("regression weights: the validation split has no held-out item the users "
                         "touched before (or only such items); nothing to learn from")
    features = np.log1p(counts.to_numpy(dtype=float))
    model = LogisticRegression(C=c, max_iter=1000).fit(features, labels)
    coef = dict(zip(behaviours, (float(x) for x in model.coef_[0]), strict=True))
    scale = coef.get(target, 0.0)
    if scale <= 0:
        scale = max(max(coef.values()), 1e-12)
    weights = {b: max(v / scale, 0.0) for b, v in coef.items()}
    log.info("regression weights from %d (user, item) rows, %d positive: %s", len(labels),
             int(labels.sum()), weights)
    return RegressionWeights(weights, coef, int(len(labels)), int(labels.sum()), target)


__all__ = ["RegressionWeights", "regression_weights"]
