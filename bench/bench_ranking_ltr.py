"""Experiment (issue 14): a learned second stage over the tuned rankers — does it reach 1.10×?

Two-stage ranking as production recommenders do it: candidates are the union of each tuned
model's top ``--candidates`` items; a LightGBM LambdaRank model re-orders them from features —
every model's score and rank, the (user, item) behaviour counts and recency, the item's recent
popularity. It learns on the validation windows (features from each window's training part,
labels its held-out purchases), never on test; then the base models are refitted on the
training part and the learned order is scored on the test users with the same full-ranking
NDCG@20 (items outside the candidates rank last), paired against every tuned model.

The tuned parameters are the ones recorded in bench/results/ranking_<dataset>.json (tuned on the
latest validation window); the second stage also trains on that window, so its base-model
features are slightly optimistic there (the older windows are not).

Usage::

    .venv/bin/python bench/bench_ranking_ltr.py --dataset tmall2014 --seen allowed --windows 3

Writes bench/results/ranking_ltr_<dataset>_<seen>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from whyrec.tools.ranking.base import Ranker
from whyrec.tools.ranking.evaluate import DATASETS, load_dataset
from whyrec.tools.ranking.harness import measure
from whyrec.tools.ranking.metrics import MetricAccumulator
from whyrec.tools.ranking.registry import make_ranker
from whyrec.tools.ranking.split import Split

log = logging.getLogger("bench.ltr")
RESULTS = Path(__file__).parent / "results"
DAY = 86400.0


def tuned_params(dataset: str, exclude_seen: bool) -> dict[str, dict[str, Any]]:
    records = json.loads((RESULTS / f"ranking_{dataset}.json").read_text())
    found = {}
    for record in records:
        if bool(record["protocol"].get("exclude_seen")) == exclude_seen and not record["model"].startswith("whyrec-"):
            found[record["model"]] = record["params"]
    return found


def _fit_all(params: dict[str, dict[str, Any]], train: pd.DataFrame, items: pd.DataFrame | None
             ) -> dict[str, Ranker]:
    fitted = {}
    for name, p in params.items():
        started = time.perf_counter()
        fitted[name] = make_ranker(name, **p).fit(train, items)
        log.info("fitted %s in %.1f s", name, time.perf_counter() - started)
    ids = None
    for ranker in fitted.values():
        if ids is None:
            ids = ranker.item_ids
        assert np.array_equal(ids, ranker.item_ids), "models disagree on the catalog order"
    return fitted


def _pair_features(train: pd.DataFrame, users: list[str], item_ids: np.ndarray, now: pd.Timestamp
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per (user, item position): behaviour counts, days since last touch; per item: popularity."""
    frame = train[train["user_id"].astype(str).isin(set(users))]
    position = pd.Series(np.arange(len(item_ids)), index=pd.Index(item_ids.astype(str)))
    frame = frame.assign(user_id=frame["user_id"].astype(str),
                         pos=position.reindex(frame["item_id"].astype(str)).to_numpy())
    frame = frame[frame["pos"].notna()]
    frame["pos"] = frame["pos"].astype(np.int64)
    frame["age"] = (now - frame["timestamp"]).dt.total_seconds() / DAY
    counts = frame.pivot_table(index=["user_id", "pos"], columns="behaviour", values="age",
                               aggfunc="size", fill_value=0).add_prefix("n_")
    ages = frame.groupby(["user_id", "pos"])["age"].agg(last_age="min", first_age="max")
    bought = frame[frame["behaviour"] == "purchase"].groupby(["user_id", "pos"])["age"].min().rename("last_buy_age")
    pair = counts.join(ages).join(bought)
    everyone = train.assign(pos=position.reindex(train["item_id"].astype(str)).to_numpy())
    everyone = everyone[everyone["pos"].notna()]
    everyone["age"] = (now - everyone["timestamp"]).dt.total_seconds() / DAY
    item = pd.DataFrame(index=pd.RangeIndex(len(item_ids), name="pos"))
    for days in (7, 30, None):
        recent = everyone if days is None else everyone[everyone["age"] <= days]
        name = "all" if days is None else f"{days}d"
        item[f"item_events_{name}"] = recent.groupby("pos").size().reindex(item.index, fill_value=0)
        buys = recent[recent["behaviour"] == "purchase"]
        item[f"item_buys_{name}"] = buys.groupby("pos").size().reindex(item.index, fill_value=0)
        item[f"item_users_{name}"] = recent.groupby("pos")["user_id"].nunique().reindex(item.index, fill_value=0)
    return pair, item


def candidate_table(rankers: dict[str, Ranker], split: Split, train: pd.DataFrame, n_candidates: int,
                    exclude_seen: bool, with_labels: bool = True) -> pd.DataFrame:
    """One row per (user, candidate item): features, and the label (held out or not)."""
    any_ranker = next(iter(rankers.values()))
    item_ids = np.asarray(any_ranker.item_ids)
    users = [u for u in split.test if any_ranker.knows_user(u)]
    rows = any_ranker.log_.users.get_indexer(users)
    now = train["timestamp"].max()
    pieces = []
    for start in range(0, len(users), 256):
        block_rows = rows[start:start + 256]
        scores = {name: r._score_rows(np.asarray(block_rows, dtype=np.int64)) for name, r in rankers.items()}
        for n, user in enumerate(users[start:start + 256]):
            row = int(block_rows[n])
            seen = (np.unique(any_ranker.log_.history(row).items) if exclude_seen else np.zeros(0, np.int64))
            candidates: set[int] = set()
            per_model = {}
            for name, block in scores.items():
                s = np.array(block[n], dtype=np.float64)
                s[seen] = -np.inf
                order = np.argsort(-s, kind="stable")
                rank = np.empty(len(s), dtype=np.int64)
                rank[order] = np.arange(len(s))
                per_model[name] = (s, rank)
                candidates.update(order[:n_candidates].tolist())
            cand = np.array(sorted(candidates), dtype=np.int64)
            table = {"user_id": user, "pos": cand}
            for name, (s, rank) in per_model.items():
                finite = np.isfinite(s)
                top = s[finite].max() if finite.any() else 0.0
                spread = (s[finite].std() if finite.sum() > 1 else 1.0) or 1.0
                table[f"{name}_score"] = np.where(np.isfinite(s[cand]), s[cand], np.nan)
                table[f"{name}_z"] = (s[cand] - top) / spread
                table[f"{name}_logrank"] = np.log1p(rank[cand])
            pieces.append(pd.DataFrame(table))
    frame = pd.concat(pieces, ignore_index=True)
    pair, item = _pair_features(train, users, item_ids, now)
    frame = frame.join(pair, on=["user_id", "pos"]).join(item, on="pos")
    for column in pair.columns:
        if column.startswith("n_"):
            frame[column] = frame[column].fillna(0)
    user_events = train.assign(user_id=train["user_id"].astype(str)).groupby("user_id").size()
    frame["user_events"] = user_events.reindex(frame["user_id"]).to_numpy()
    if with_labels:
        position = pd.Series(np.arange(len(item_ids)), index=pd.Index(item_ids.astype(str)))
        truth = {u: set(position.reindex(np.asarray(split.test[u], dtype=str)).dropna().astype(int)) for u in users}
        frame["label"] = [int(p in truth[u]) for u, p in zip(frame["user_id"], frame["pos"], strict=True)]
    return frame


FEATURES_DROP = ("user_id", "pos", "label", "window")


def learn(train_table: pd.DataFrame, seed: int = 0, trees: int = 300) -> Any:
    import lightgbm as lgb

    table = train_table.sort_values(["window", "user_id"], kind="stable")
    groups = table.groupby(["window", "user_id"], sort=False).size().to_numpy()
    features = [c for c in table.columns if c not in FEATURES_DROP]
    model = lgb.LGBMRanker(objective="lambdarank", n_estimators=trees, learning_rate=0.03, num_leaves=15,
                           min_child_samples=40, subsample=0.8, subsample_freq=1, colsample_bytree=0.8,
                           reg_lambda=1.0, lambdarank_truncation_level=20, random_state=seed, verbose=-1,
                           n_jobs=1)
    model.fit(table[features], table["label"], group=groups)
    return model, features


def cv_trees(train_table: pd.DataFrame, folds: int = 4, grid: tuple[int, ...] = (50, 100, 200, 400, 800)
             ) -> dict[int, float]:
    """NDCG@20 over candidates by number of trees, cross-validated over users (a window's user
    stays in one fold)."""
    keys = train_table["user_id"].astype(str) + "|" + train_table["window"].astype(str)
    unique = np.array(sorted(set(keys)))
    rng = np.random.default_rng(0)
    fold_of = dict(zip(unique, rng.integers(0, folds, len(unique)), strict=True))
    fold = keys.map(fold_of).to_numpy()
    found: dict[int, list[float]] = {t: [] for t in grid}
    for f in range(folds):
        model, features = learn(train_table[fold != f], trees=max(grid))
        held = train_table[fold == f]
        for t in grid:
            scores = model.predict(held[features], num_iteration=t)
            found[t].extend(_group_ndcg(held, scores))
    return {t: float(np.mean(v)) for t, v in found.items()}


def _group_ndcg(table: pd.DataFrame, scores: np.ndarray, k: int = 20) -> list[float]:
    out = []
    table = table.assign(_s=scores)
    for _, group in table.groupby(["window", "user_id"]):
        labels = group.sort_values("_s", ascending=False)["label"].to_numpy()[:k]
        dcg = float((labels / np.log2(np.arange(2, len(labels) + 2))).sum())
        positives = int(group["label"].sum())
        ideal = float((1 / np.log2(np.arange(2, min(k, positives) + 2))).sum()) if positives else 0
        out.append(dcg / ideal if ideal else 0.0)
    return out


def score_test(model: Any, features: list[str], table: pd.DataFrame, rankers: dict[str, Ranker],
               split: Split, exclude_seen: bool) -> tuple[dict[str, np.ndarray], list[str]]:
    any_ranker = next(iter(rankers.values()))
    n_items = len(any_ranker.item_ids)
    predicted = table.assign(_s=model.predict(table[features]))
    accumulator = MetricAccumulator(ks=(10, 20))
    users, truths, blocks, excluded = [], [], [], []
    position = pd.Series(np.arange(n_items), index=pd.Index(np.asarray(any_ranker.item_ids).astype(str)))
    for user, group in predicted.groupby("user_id", sort=False):
        row = int(any_ranker.log_.users.get_indexer([user])[0])
        truth = np.unique(position.reindex(np.asarray(split.test[user], dtype=str)).dropna().astype(int).to_numpy())
        seen = np.unique(any_ranker.log_.history(row).items) if exclude_seen else np.zeros(0, np.int64)
        if exclude_seen:
            truth = np.setdiff1d(truth, seen)
        if len(truth) == 0:
            continue
        scores = np.full(n_items, -1e9)
        s = group["_s"].to_numpy()
        scores[group["pos"].to_numpy()] = s - s.min() + 1.0
        users.append(user)
        truths.append(truth)
        blocks.append(scores)
        excluded.append(seen)
    for start in range(0, len(users), 256):
        accumulator.add(np.vstack(blocks[start:start + 256]), truths[start:start + 256], excluded[start:start + 256])
    return accumulator.per_user(), users


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="tmall2014")
    parser.add_argument("--seen", choices=("allowed", "excluded"), default="allowed")
    parser.add_argument("--windows", type=int, default=3)
    parser.add_argument("--candidates", type=int, default=50)
    parser.add_argument("--data-dir", default="../shared/data")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--features", choices=("all", "models"), default="all",
                        help="models: only the base models' scores and ranks (fewer features to overfit)")
    args = parser.parse_args(argv)
    exclude_seen = args.seen == "excluded"
    started = time.perf_counter()
    spec = DATASETS[args.dataset]
    events, items = load_dataset(args.dataset, Path(args.data_dir))
    split = spec.protocol.split(events)
    windows = spec.protocol.validation_windows(events, args.windows)
    params = tuned_params(args.dataset, exclude_seen)
    log.info("%s: %d windows, models %s", args.dataset, len(windows), sorted(params))
    tables = []
    for n, window in enumerate(windows):
        rankers = _fit_all(params, window.train, items)
        table = candidate_table(rankers, window, window.train, args.candidates, exclude_seen)
        tables.append(table.assign(window=n))
        log.info("window %d: %d users, %d rows, %d positives (%d held out)", n, table["user_id"].nunique(),
                 len(table), int(table["label"].sum()), sum(len(v) for v in window.test.values()))
    train_table = pd.concat(tables, ignore_index=True)
    if args.features == "models":
        keep = [c for c in train_table.columns if c in FEATURES_DROP or c.split("_")[0] in params]
        train_table = train_table[keep]
    by_trees = cv_trees(train_table)
    best_trees = max(by_trees, key=lambda t: by_trees[t])
    log.info("cross-validated trees: %s -> %d", by_trees, best_trees)
    rankers = _fit_all(params, split.train, items)
    test_table = candidate_table(rankers, split, split.train, args.candidates, exclude_seen, with_labels=True)
    test_table = test_table[[c for c in test_table.columns if c in train_table.columns]]
    recall_ceiling = test_table.groupby("user_id")["label"].sum().sum()
    held = sum(len(v) for u, v in split.test.items() if u in set(test_table["user_id"]))
    per_seed = []
    for seed in range(args.seeds):
        model, features = learn(train_table, seed=seed, trees=best_trees)
        per_user, users = score_test(model, features, test_table.drop(columns=["label"]), rankers, split, exclude_seen)
        per_seed.append(per_user["ndcg@20"])
    stacked = np.mean(per_seed, axis=0)  # the mean over seeds of per-user NDCG (seed noise averaged)
    base = {name: measure(r, split, exclude_seen) for name, r in rankers.items()}
    rows = []
    for name, m in base.items():
        index = {u: n for n, u in enumerate(m.users)}
        theirs = np.array([m.per_user["ndcg@20"][index[u]] for u in users])
        diff = stacked - theirs
        rows.append({"model": name, "ndcg@20": float(theirs.mean()),
                     "difference": float(diff.mean()), "difference_se": float(diff.std(ddof=1) / np.sqrt(len(diff))),
                     "ratio": float(stacked.mean() / theirs.mean()) if theirs.mean() else None})
    importance = dict(sorted(zip(features, model.booster_.feature_importance("gain").round(1).tolist(), strict=True),
                             key=lambda kv: -kv[1])[:12])
    record = {
        "dataset": args.dataset, "seen": args.seen, "features": args.features, "windows": len(windows), "candidates": args.candidates,
        "train_rows": len(train_table), "train_positives": int(train_table["label"].sum()),
        "train_users": int(train_table.groupby(["window", "user_id"]).ngroups),
        "cv_ndcg_by_trees": by_trees, "trees": best_trees, "seeds": args.seeds,
        "test_users": len(users), "candidate_recall": float(recall_ceiling / held) if held else None,
        "stacked_ndcg@20": float(stacked.mean()), "stacked_se": float(stacked.std(ddof=1) / np.sqrt(len(stacked))),
        "seed_means": [float(s.mean()) for s in per_seed], "against": rows, "top_features_gain": importance,
        "seconds": round(time.perf_counter() - started, 1),
    }
    name = f"ranking_ltr_{args.dataset}_{args.seen}" + ("_models" if args.features == "models" else "")
    (RESULTS / f"{name}.json").write_text(json.dumps(record, indent=2) + "\n")
    lines = [f"# Learned second stage on {args.dataset} (seen {args.seen})", "",
             f"Test NDCG@20 {record['stacked_ndcg@20']:.4f} ± {record['stacked_se']:.4f} over {len(users)} users "
             f"(mean of {args.seeds} seeds: {', '.join(f'{s:.4f}' for s in record['seed_means'])}); "
             f"candidates hold {record['candidate_recall']:.1%} of the held-out items; trained on "
             f"{record['train_users']} (window, user) groups, {record['train_positives']} positives; "
             f"{best_trees} trees by 4-fold CV over users; features: {args.features}.", "",
             "| against | its NDCG@20 | difference ± paired s.e. | ratio |", "|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['model']} | {row['ndcg@20']:.4f} | {row['difference']:+.4f} ± {row['difference_se']:.4f} "
                     f"| {row['ratio']:.3f}x |")
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("whyrec.tools.ranking.base").setLevel(logging.WARNING)
    with threadpool_limits(1):
        raise SystemExit(main())
