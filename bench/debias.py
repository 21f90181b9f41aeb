"""Unbiased learning from self-selected feedback on Coat: naive MF vs IPS vs doubly robust.

Users rate what they chose to look at, so the observed ratings are missing-not-at-random. The
Coat data set (Schnabel et al., ICML 2016) has such self-selected training ratings and a test
set of ratings on uniformly random items. We train a matrix factorisation on the training
ratings (label: rating >= 4) three ways and score each on the random test ratings:

* ``mf``   — naive: every observed rating weighs the same.
* ``ips``  — inverse propensity scoring: each observed rating weighs 1 / P(observed).
* ``dr``   — doubly robust joint learning (DR-JL, Wang et al., ICML 2019): an imputation model
  predicts the loss on every (user, item) pair; observed pairs correct it by their
  propensity-weighted residual. The prediction and imputation models are trained in turns.

Propensities are the ones shipped with Coat (learned by its authors from separate data), or
estimated here from the training data alone (``propensity="features"``, a logistic model of
"was rated" on user and item features). Everything is full-batch torch on a 290 × 300 matrix.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

METHODS: tuple[str, ...] = ("mf", "ips", "dr")


@dataclass(frozen=True)
class CoatData:
    """Coat's matrices (rows users, columns items; 0 = unobserved rating)."""

    train: np.ndarray
    test: np.ndarray
    propensities: np.ndarray
    user_features: np.ndarray
    item_features: np.ndarray


def load_coat(folder: str | Path) -> CoatData:
    """Read the Coat folder (train.ascii, test.ascii, propensities.ascii, user_item_features/)."""
    root = Path(folder)
    missing = [n for n in ("train.ascii", "test.ascii", "propensities.ascii") if not (root / n).exists()]
    if missing:
        raise FileNotFoundError(f"{root} is not a Coat folder: missing {', '.join(missing)}")
    features = root / "user_item_features"
    return CoatData(
        train=np.loadtxt(root / "train.ascii", dtype=np.int64),
        test=np.loadtxt(root / "test.ascii", dtype=np.int64),
        propensities=np.loadtxt(root / "propensities.ascii", dtype=float),
        user_features=np.loadtxt(features / "user_features.ascii", dtype=float),
        item_features=np.loadtxt(features / "item_features.ascii", dtype=float),
    )


@dataclass(frozen=True)
class DebiasConfig:
    """Model and training settings (fixed in advance; never tuned on the test ratings)."""

    dim: int = 8
    biases: bool = False  # the published MF baselines have none; see bench/results/causal_coat.md
    epochs: int = 150
    lr: float = 0.02
    weight_decay: float = 1e-3
    positive_threshold: int = 4
    propensity: str = "features"  # "features" (estimated from train) or "given" (Coat's file)
    propensity_floor: float = 0.02
    imputation_lr: float = 0.02
    seed: int = 0


@dataclass(frozen=True)
class DebiasResult:
    """Test-set scores of one method (AUC over the random test ratings, mean NDCG@5 per user)."""

    method: str
    auc: float
    ndcg_at_5: float
    seed: int


def estimate_propensities(data: CoatData, kind: str = "given") -> np.ndarray:
    """P(rating observed) per (user, item): Coat's learned file, or a feature logistic model."""
    if kind == "given":
        return data.propensities
    if kind != "features":
        raise ValueError(f"unknown propensity kind {kind!r}; use 'given' or 'features'")
    from sklearn.linear_model import LogisticRegression

    n_users, n_items = data.train.shape
    u = np.repeat(np.arange(n_users), n_items)
    i = np.tile(np.arange(n_items), n_users)
    x = np.hstack([data.user_features[u], data.item_features[i],
                   (data.train > 0).sum(axis=0)[i, None] / n_users])
    observed = (data.train > 0).ravel().astype(int)
    model = LogisticRegression(max_iter=1000).fit(x, observed)
    return model.predict_proba(x)[:, 1].reshape(n_users, n_items)


def train(data: CoatData, method: str, config: DebiasConfig = DebiasConfig()) -> np.ndarray:
    """Fit MF by ``method`` on the training ratings; return the score matrix (users × items)."""
    import torch

    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {METHODS}")
    torch.manual_seed(config.seed)
    observed = torch.tensor(data.train > 0, dtype=torch.float32)
    labels = torch.tensor(data.train >= config.positive_threshold, dtype=torch.float32)
    propensity = np.clip(estimate_propensities(data, config.propensity), config.propensity_floor, 1.0)
    inv_p = torch.tensor(1.0 / propensity, dtype=torch.float32)
    n_users, n_items = data.train.shape
    model = _MF(n_users, n_items, config.dim, config.biases)
    optimiser = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    imputer = _MF(n_users, n_items, config.dim, config.biases) if method == "dr" else None
    imp_optimiser = (torch.optim.Adam(imputer.parameters(), lr=config.imputation_lr,
                                      weight_decay=config.weight_decay) if imputer else None)
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    n_obs = observed.sum()
    for _ in range(config.epochs):
        logits = model()
        loss_all = bce(logits, labels, reduction="none")
        if method == "mf":
            loss = (loss_all * observed).sum() / n_obs
        elif method == "ips":
            loss = (loss_all * observed * inv_p).sum() / (observed * inv_p).sum()
        else:
            assert imputer is not None and imp_optimiser is not None
            # Imputation step: predict the prediction model's loss on every pair.
            with torch.no_grad():
                target_error = loss_all.detach()
            imputed = torch.nn.functional.softplus(imputer())
            imp_loss = (((imputed - target_error) ** 2) * observed * inv_p).sum() / n_obs
            imp_optimiser.zero_grad()
            imp_loss.backward()
            imp_optimiser.step()
            # Prediction step: DR loss = imputed error everywhere + weighted correction where observed.
            with torch.no_grad():
                imputed_label = torch.sigmoid(imputer.label_logits())
            pseudo = bce(logits, imputed_label, reduction="none")
            correction = observed * inv_p * (loss_all - pseudo)
            loss = (pseudo + correction).mean()
            if imputer.label_head is not None:
                # Keep the imputed labels close to the observed ones (weighted by 1/p).
                label_loss = (bce(imputer.label_logits(), labels, reduction="none")
                              * observed * inv_p).sum() / n_obs
                imp_optimiser.zero_grad()
                label_loss.backward()
                imp_optimiser.step()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    with torch.no_grad():
        return model().numpy()


def _make_mf_class():  # torch is imported lazily, so the module class is built on first use
    import torch

    class MF(torch.nn.Module):
        """Biased matrix factorisation; the DR imputer also has a label head."""

        def __init__(self, n_users: int, n_items: int, dim: int, biases: bool) -> None:
            super().__init__()
            self.biases = biases
            self.user = torch.nn.Embedding(n_users, dim)
            self.item = torch.nn.Embedding(n_items, dim)
            self.user_bias = torch.nn.Parameter(torch.zeros(n_users, 1))
            self.item_bias = torch.nn.Parameter(torch.zeros(1, n_items))
            self.bias = torch.nn.Parameter(torch.zeros(1))
            for table in (self.user, self.item):
                torch.nn.init.normal_(table.weight, std=0.1)
            self.label_head = torch.nn.Parameter(torch.zeros(1))

        def forward(self) -> torch.Tensor:
            dot = self.user.weight @ self.item.weight.T
            return dot + self.user_bias + self.item_bias + self.bias if self.biases else dot

        def label_logits(self) -> torch.Tensor:
            return self.forward() + self.label_head

    return MF


_MF_CLASS = None


def _MF(n_users: int, n_items: int, dim: int, biases: bool):
    global _MF_CLASS
    if _MF_CLASS is None:
        _MF_CLASS = _make_mf_class()
    return _MF_CLASS(n_users, n_items, dim, biases)


def evaluate(scores: np.ndarray, test: np.ndarray, positive_threshold: int = 4) -> tuple[float, float]:
    """AUC over all random test ratings, and NDCG@5 averaged over users (full test list)."""
    from sklearn.metrics import roc_auc_score

    mask = test > 0
    labels = (test[mask] >= positive_threshold).astype(int)
    auc = float(roc_auc_score(labels, scores[mask]))
    ndcgs = []
    for user in range(test.shape[0]):
        items = np.flatnonzero(test[user] > 0)
        rel = (test[user, items] >= positive_threshold).astype(float)
        if rel.sum() == 0:
            continue
        order = np.argsort(-scores[user, items], kind="stable")[:5]
        discounts = 1.0 / np.log2(np.arange(2, 2 + len(order)))
        dcg = float((rel[order] * discounts).sum())
        ideal = float((np.sort(rel)[::-1][: len(order)] * discounts).sum())
        ndcgs.append(dcg / ideal)
    return auc, float(np.mean(ndcgs))


def compare(data: CoatData, seeds: tuple[int, ...] = (0, 1, 2),
            config: DebiasConfig = DebiasConfig()) -> list[DebiasResult]:
    """Train and score every method for every seed (BLAS limited to one thread: faster here)."""
    from dataclasses import replace

    import torch
    from threadpoolctl import threadpool_limits

    results = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(1, "blas"):
            for seed in seeds:
                for method in METHODS:
                    scores = train(data, method, replace(config, seed=seed))
                    auc, ndcg = evaluate(scores, data.test, config.positive_threshold)
                    results.append(DebiasResult(method, auc, ndcg, seed))
                    log.info("coat %s seed %d: AUC %.4f NDCG@5 %.4f", method, seed, auc, ndcg)
    finally:
        torch.set_num_threads(threads)
    return results


def mean_scores(results: list[DebiasResult]) -> dict[str, tuple[float, float]]:
    """Method -> (mean AUC, mean NDCG@5) over seeds."""
    out: dict[str, tuple[float, float]] = {}
    for method in METHODS:
        mine = [r for r in results if r.method == method]
        if mine:
            out[method] = (float(np.mean([r.auc for r in mine])),
                           float(np.mean([r.ndcg_at_5 for r in mine])))
    return out
