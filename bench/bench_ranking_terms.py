"""Candidate whyrec terms for issue 14, each forced on at several weights: validation and test NDCG@20.

Usage (from the repository root)::

    .venv/bin/python bench/bench_ranking_terms.py --dataset tmall2014 --seen allowed
    .venv/bin/python bench/bench_ranking_terms.py --dataset demo --seen excluded

Takes whyrec's, the sequential rules' and ALS's tuned parameters from the evaluation record
(``bench/results/ranking_<dataset>.json``), fits each once on the validation split's training part
and once on the test split's, and adds to whyrec's score, one at a time:

* ``transitions`` — the sequential rules' directed item-to-item transitions as one more row of
  whyrec's kernel: ``q * sum_e w[b_e] decay(a_e) T[i_e, j]`` (an event's term, so exact);
* ``factors`` — ALS's item-item kernel ``V (V'V + reg I)^-1 V'`` (what a least-squares user factor
  makes of one event; its top 100 per row, scaled so its mean diagonal is 1) as a kernel row;
* ``trending`` — a prior on recent popularity: ``q * log(1 + purchases in the last D days)``
  (scaled to a maximum of 1), D in 7 / 30.

None of these is served; this measures whether any would be worth a search axis. The tuner's
choice would be the validation column; the test column says what it would cost or gain. Also
writes the "own items" ceiling: NDCG@20 of a ranking that puts exactly the held-out items the user
touched before first (and finds nothing else) — what any model that only re-ranks a shopper's own
items could reach. Writes bench/results/ranking_terms_<dataset>_<seen>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from _common import command_line, machine_info, paired_cells
from threadpoolctl import threadpool_limits

from whyrec.tools.ranking.evaluate import DATASETS, load_dataset
from whyrec.tools.ranking.harness import measure
from whyrec.tools.ranking.history import BEHAVIOUR_CODE
from whyrec.tools.ranking.registry import make_ranker
from whyrec.tools.ranking.similarity import top_n_rows
from whyrec.tools.ranking.split import Split
from whyrec.tools.ranking.whyrec import WhyrecRanker

WEIGHTS = (0.1, 0.3, 1.0, 3.0)
TRENDING_DAYS = (7.0, 30.0)
FACTOR_NEIGHBOURS = 100


class _ExtraKernel(WhyrecRanker):
    """whyrec with one more sparse kernel row per event (bench only)."""

    extra: sp.csr_matrix
    extra_weight: float

    def _kernel(self, mass: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray | None]:
        sparse, factor = super()._kernel(mass)
        return sp.csr_matrix(sparse + self.extra_weight * (mass @ self.extra)), factor


def _with_kernel(ranker: WhyrecRanker, extra: sp.csr_matrix, weight: float) -> WhyrecRanker:
    copy = ranker.with_params()
    copy.__class__ = _ExtraKernel
    copy.extra, copy.extra_weight = extra, weight
    return copy


def _with_prior(ranker: WhyrecRanker, extra: np.ndarray, weight: float) -> WhyrecRanker:
    copy = ranker.with_params()
    copy.prior_ = copy.prior_ + weight * extra
    return copy


def factor_kernel(als: Any, neighbours: int = FACTOR_NEIGHBOURS) -> sp.csr_matrix:
    """ALS's item-item kernel ``V (V'V + reg I)^-1 V'``, top ``neighbours`` per row, mean diagonal 1."""
    v = als.item_factors_
    inner = np.linalg.solve(als.gram_ + als.regularization * np.eye(v.shape[1]), v.T)
    diag_mean = float(np.mean(np.einsum("ij,ji->i", v, inner))) or 1.0
    rows, cols, vals = [], [], []
    for start in range(0, v.shape[0], 1024):
        block = v[start:start + 1024] @ inner / diag_mean
        index, values = top_n_rows(block, min(neighbours, v.shape[0]))
        rows.append(np.repeat(np.arange(start, start + len(block)), index.shape[1]))
        cols.append(index.ravel())
        vals.append(values.ravel())
    return sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(v.shape[0], v.shape[0]))


def trending(ranker: WhyrecRanker, days: float) -> np.ndarray:
    events = ranker.log_.events
    keep = ((events.days > events.days.max() - days) & (events.items >= 0)
            & (events.behaviours == BEHAVIOUR_CODE[ranker.target_]))
    counts = np.log1p(np.bincount(events.items[keep], minlength=len(ranker.catalog_)).astype(float))
    return counts / max(float(counts.max()), 1e-12)


def own_items_ceiling(ranker: WhyrecRanker, split: Split, exclude_seen: bool) -> tuple[float, float, float]:
    """(mean NDCG@20, its s.e., share of held-out items touched before) for a ranking that puts
    exactly the held-out items the user touched first."""
    scores, shares = [], []
    for user, truth in split.test.items():
        row = int(ranker.log_.users.get_indexer([user])[0])
        if row < 0:
            continue
        held = np.unique(ranker.catalog_.positions([str(t) for t in truth]))
        held = held[held >= 0]
        own = np.unique(ranker.log_.history(row).items)
        if exclude_seen:
            held = np.setdiff1d(held, own)
        if len(held) == 0:
            continue
        hits = len(np.intersect1d(held, own))
        discount = 1.0 / np.log2(np.arange(2, 22))
        scores.append(discount[:min(hits, 20)].sum() / discount[:min(len(held), 20)].sum())
        shares.append(hits / len(held))
    values = np.asarray(scores)
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values))), float(np.mean(shares))


def ndcg_sources(ranker: Any, split: Split, exclude_seen: bool, chunk: int = 256) -> dict[str, float]:
    """Mean NDCG@20 split into what held-out items the user had touched before contribute
    ("own") and what the others contribute ("new"), for ``ranker`` fitted on ``split.train``."""
    names = [u for u in split.test if ranker.log_.users.get_indexer([u])[0] >= 0]
    rows = ranker.log_.users.get_indexer(names)
    discount = 1.0 / np.log2(np.arange(2, 22))
    own_part = new_part = 0.0
    counted = 0
    for start in range(0, len(names), chunk):
        block = ranker._score_rows(np.asarray(rows[start:start + chunk], dtype=np.int64))
        for k, user in enumerate(names[start:start + chunk]):
            held = np.unique(ranker.catalog_.positions([str(t) for t in split.test[user]]))
            held = held[held >= 0]
            own = np.unique(ranker.log_.history(int(rows[start + k])).items)
            if exclude_seen:
                held = np.setdiff1d(held, own)
                block[k, own] = -np.inf
            if len(held) == 0:
                continue
            top = np.argsort(-block[k], kind="stable")[:20]
            ideal = discount[:min(len(held), 20)].sum()
            hit = np.isin(top, held)
            mine = np.isin(top, own)
            own_part += float(discount[hit & mine].sum() / ideal)
            new_part += float(discount[hit & ~mine].sum() / ideal)
            counted += 1
    return {"own": own_part / max(counted, 1), "new": new_part / max(counted, 1), "users": counted}


def run(data_dir: Path, record_path: Path, dataset: str, exclude_seen: bool) -> dict[str, Any]:
    records = json.loads(record_path.read_text(encoding="utf-8"))
    params = {r["model"]: dict(r["params"]) for r in records
              if bool(r["protocol"]["exclude_seen"]) == exclude_seen}
    spec = DATASETS[dataset]
    events, items = load_dataset(dataset, data_dir)
    splits = {"validation": spec.protocol.validation(events), "test": spec.protocol.split(events)}
    fitted = {}
    for name, split in splits.items():
        whyrec = make_ranker("whyrec", **params["whyrec"]).fit(split.train, items)
        sequential = make_ranker("sequential", **params["sequential"]).fit(split.train, items)
        als = make_ranker("als", **params["als"]).fit(split.train, items)
        fitted[name] = (whyrec, sequential.transitions_, factor_kernel(als))
    base: dict[str, np.ndarray] = {}
    rows = []

    def add(term: str, weight: float, variants: dict[str, WhyrecRanker]) -> None:
        row: dict[str, Any] = {"term": term, "weight": weight}
        for name, split in splits.items():
            result = measure(variants[name], split, exclude_seen)
            per_user = result.per_user["ndcg@20"]
            base.setdefault(name, per_user)
            diff = per_user - base[name]
            row[name] = result.metrics["ndcg@20"]
            row[f"{name}_stderr"] = result.stderr["ndcg@20"]
            row[f"{name}_difference"] = float(diff.mean())
            row[f"{name}_paired_stderr"] = float(diff.std(ddof=1) / np.sqrt(len(diff)))
        rows.append(row)
        print(row, file=sys.stderr, flush=True)

    add("none (tuned whyrec)", 0.0, {n: f[0] for n, f in fitted.items()})
    for weight in WEIGHTS:
        add("transitions", weight, {n: _with_kernel(f[0], f[1], weight) for n, f in fitted.items()})
    for weight in WEIGHTS:
        add("factors", weight, {n: _with_kernel(f[0], f[2], weight) for n, f in fitted.items()})
    for days in TRENDING_DAYS:
        for weight in (0.02, 0.05, 0.2):
            add(f"trending {days:g} d", weight,
                {n: _with_prior(f[0], trending(f[0], days), weight) for n, f in fitted.items()})
    ceiling = own_items_ceiling(fitted["test"][0], splits["test"], exclude_seen)
    sources = {"whyrec": ndcg_sources(fitted["test"][0], splits["test"], exclude_seen)}
    for model in ("sequential", "repeat"):
        if model in params:
            sources[model] = ndcg_sources(make_ranker(model, **params[model]).fit(splits["test"].train, items),
                                          splits["test"], exclude_seen)
    return {"dataset": dataset, "exclude_seen": exclude_seen,
            "params": {k: {p: v for p, v in ps.items() if p != "item_vectors"} for k, ps in params.items()
                       if k in ("whyrec", "sequential", "als")},
            "rows": rows, "own_items_ceiling": {"ndcg@20": ceiling[0], "stderr": ceiling[1],
                                                "share_touched": ceiling[2]},
            "ndcg_sources": sources}


def table(result: dict[str, Any]) -> str:
    c = result["own_items_ceiling"]
    lines = [f"{result['dataset']}, seen items {'excluded' if result['exclude_seen'] else 'allowed'}; "
             f"own-items ceiling on test: NDCG@20 {c['ndcg@20']:.3f} ± {c['stderr']:.3f} "
             f"({100 * c['share_touched']:.1f}% of held-out items touched before)", "",
             "Test NDCG@20 from held-out items the user had touched (own) and from the others (new): "
             + "; ".join(f"{m} {v['own']:.4f} + {v['new']:.4f}" for m, v in result["ndcg_sources"].items()), "",
             "| term | weight | validation NDCG@20 | vs none (paired) | test NDCG@20 | vs none (paired) |",
             "|---|---|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['term']} | {r['weight']:g} | {paired_cells(r)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--dataset", default="tmall2014")
    parser.add_argument("--seen", choices=("allowed", "excluded"), default="allowed")
    parser.add_argument("--record", type=Path, default=None,
                        help="evaluation record with the tuned parameters (default bench/results/ranking_<dataset>.json)")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    record = args.record or Path(f"bench/results/ranking_{args.dataset}.json")
    with threadpool_limits(1, "blas"):
        result = run(args.data_dir, record, args.dataset, args.seen == "excluded")
    stem = args.out / f"ranking_terms_{args.dataset}_{args.seen}"
    stem.with_suffix(".json").write_text(json.dumps(
        {"command": command_line(), "machine": machine_info(), "result": result}, indent=2) + "\n",
        encoding="utf-8")
    text = table(result)
    stem.with_suffix(".md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
