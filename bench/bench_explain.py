"""Quality and speed of the explainer's counterfactuals on Tmall 2014, REES46 and the demo shop.

Usage (from the repository root)::

    .venv/bin/python bench/bench_explain.py --pairs 600 --strict 30 --k 10

For a sample of (user, item) pairs with the item in the user's top-k (seen items excluded):

* validity — the explanation's removal set, re-checked independently through the public API
  (the user's history as a table without those events, ``rank_history`` at the fixed clock),
  drops the item out of the top-k;
* strict validity (ACCENT, SIGIR 2021) — the ranker *retrained from scratch* on the log without
  those events no longer puts the item in the user's top-k;
* size — mean and median set size against two baselines run on the same pairs: removing the
  user's behaviours most recent first, and by the item similarity of the behaviour's item to the
  recommended one, until the item drops out;
* latency — ``explain`` wall time per call (user cache off) on the demo shop at 10k items, with
  ``recommend`` timed in the same run for reference.

Writes bench/results/explain.{md,json}.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import md_table, percentiles_ms, write_results

from whyrec.tools.demo import DemoConfig, generate_shop
from whyrec.tools.explain import Explainer
from whyrec.tools.explain.effects import TargetRanker
from whyrec.tools.explain.search import greedy_prefix
from whyrec.tools.ingest.pipeline import read_preset
from whyrec.tools.ranking import WhyrecRanker

log = logging.getLogger("bench_explain")
DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def load(name: str, demo_items: int, demo_users: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    if name == "tmall2014":
        return read_preset("tmall2014", DATA / "tmall-brand-rec-2014")
    if name == "rees46":
        return read_preset("rees46", DATA / "rees46-multicategory-2019oct-head")
    shop = generate_shop(DemoConfig(users=demo_users, items=demo_items, days=60, seed=11))
    return shop.events, shop.items


def sample_pairs(ranker: WhyrecRanker, k: int, rng: np.random.Generator):
    """(user, item) pairs: users in random order (then again), a random item of each top ``k``."""
    users = np.asarray(ranker.user_ids)
    for _ in range(10):
        for user in rng.permutation(users):
            ids, _ = ranker.recommend(user, k)
            if len(ids):
                yield str(user), str(ids[rng.integers(len(ids))])


def independent_check(ranker: WhyrecRanker, user: str, item: str, keys: tuple[int, ...], k: int) -> bool:
    """Public-API re-rank of the user's history without ``keys`` at the fixed clock."""
    history = ranker.history(user)
    rest = history[~history["event_key"].astype("uint64").isin(np.array(keys, dtype=np.uint64))]
    ids, _ = ranker.rank_history(rest, k, exclude_items=rest["item_id"].unique(),
                                 now=ranker.as_of(user))
    return item not in set(ids)


def strict_check(ranker: WhyrecRanker, events: pd.DataFrame, items: pd.DataFrame, user: str,
                 item: str, keys: tuple[int, ...], k: int) -> bool:
    """ACCENT's test: retrain from scratch without the events, then re-rank the user."""
    kept = events[~events["event_key"].astype("uint64").isin(np.array(keys, dtype=np.uint64))]
    retrained = ranker.clone().fit(kept, items)
    rest = kept[kept["user_id"].astype(str) == user]
    ids, _ = retrained.rank_history(rest, k, exclude_items=rest["item_id"].astype(str).unique(),
                                    now=ranker.as_of(user))
    return item not in set(ids)


def baseline_sizes(explainer: Explainer, user: str, item: str, k: int) -> dict[str, int | None]:
    """Removal-set size when removing behaviours by recency, and by item similarity alone."""
    state = explainer._state(user)
    ranker = explainer.ranker
    position = int(ranker.catalog_.positions([item])[0])
    target = TargetRanker(state.scores, state.effects, state.history.items, position,
                          np.ones(len(state.scores), dtype=bool))
    history = state.history
    events = np.arange(len(history))
    recency = events[np.argsort(-history.days, kind="stable")]
    column = ranker.similarity_[:, position].toarray().ravel()
    similarity = column[history.items] + (history.items == position)
    by_similarity = events[np.lexsort((-history.days, -similarity))]
    out: dict[str, int | None] = {}
    for name, order in (("recency", recency), ("similarity", by_similarity)):
        found = greedy_prefix(target, order, k)
        out[name] = None if found is None else len(found)
        if found is not None and not independent_check(ranker, user, item,
                                                       tuple(int(history.keys[e]) for e in found), k):
            out[name] = None
    return out


def run(name: str, pairs_n: int, strict_n: int, k: int, seed: int, demo_items: int,
        demo_users: int, min_sets: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    events, items = load(name, demo_items, demo_users)
    ranker = WhyrecRanker().fit(events, items)
    fit_s = time.perf_counter() - started
    explainer = Explainer(ranker, items, cache_users=0)
    rows: list[dict[str, Any]] = []
    pairs: list[tuple[str, str]] = []
    sets = 0
    for user, item in sample_pairs(ranker, k, rng):
        if len(pairs) >= pairs_n and sets >= min_sets:
            break
        pairs.append((user, item))
        t0 = time.perf_counter()
        explanation = explainer.explain(user, item, k)
        seconds = time.perf_counter() - t0
        cf = explanation.counterfactual
        row = {"user": user, "item": item, "seconds": seconds, "n_events": explanation.n_events,
               "has_set": cf is not None, "reason": explanation.reason}
        if cf is not None:
            sets += 1
            row.update(size=len(cf.events), exact=cf.exact,
                       valid=independent_check(ranker, user, item, cf.event_keys, k),
                       keys=cf.event_keys, **{f"base_{b}": s for b, s in
                                              baseline_sizes(explainer, user, item, k).items()})
        rows.append(row)
    frame = pd.DataFrame(rows)
    with_set = frame[frame["has_set"]]
    strict_rows = with_set.sample(min(strict_n, len(with_set)), random_state=seed) if len(with_set) else with_set
    strict = [strict_check(ranker, events, items, r.user, r.item, r.keys, k) for r in strict_rows.itertuples()]
    both = with_set.dropna(subset=["base_recency", "base_similarity"]) if len(with_set) else with_set
    rec_s = []
    for user, _ in pairs[:200]:
        t0 = time.perf_counter()
        ranker.recommend(user, k)
        rec_s.append(time.perf_counter() - t0)
    result: dict[str, Any] = {
        "dataset": name, "events": int(len(events)), "items": int(len(ranker.item_ids)),
        "users": int(ranker.log_.n_users), "fit_seconds": round(fit_s, 1), "k": k,
        "pairs": int(len(frame)), "with_set": int(len(with_set)),
        "coverage": float(frame["has_set"].mean()),
        "reasons": frame["reason"].value_counts().to_dict(),
        "validity": float(with_set["valid"].mean()) if len(with_set) else None,
        "strict_n": len(strict), "strict_validity": float(np.mean(strict)) if strict else None,
        "exact_share": float(with_set["exact"].mean()) if len(with_set) else None,
        "size_mean": float(with_set["size"].mean()) if len(with_set) else None,
        "size_median": float(with_set["size"].median()) if len(with_set) else None,
        "baseline_found": {b: float(with_set[f"base_{b}"].notna().mean()) for b in
                           ("recency", "similarity")} if len(with_set) else {},
        "compared_pairs": int(len(both)),
        "compared": {m: {"mean": float(both[c].mean()), "median": float(both[c].median())}
                     for m, c in (("explainer", "size"), ("recency", "base_recency"),
                                  ("similarity", "base_similarity"))} if len(both) else {},
        "history_p50": float(frame["n_events"].median()), "history_max": int(frame["n_events"].max()),
        "explain_latency": percentiles_ms(frame["seconds"].tolist()),
        "recommend_latency": percentiles_ms(rec_s),
    }
    log.info("%s: %s", name, {k_: v for k_, v in result.items() if k_ not in ("reasons",)})
    return result


def report(results: list[dict[str, Any]]) -> str:
    def pct(x: float | None) -> str:
        return "-" if x is None else f"{100 * x:.1f}%"

    quality = md_table(
        ["dataset", "items", "pairs", "with set", "validity", "strict retrain (n)", "proved smallest"],
        [[r["dataset"], r["items"], r["pairs"], f"{r['with_set']} ({pct(r['coverage'])})",
          pct(r["validity"]), f"{pct(r['strict_validity'])} ({r['strict_n']})", pct(r["exact_share"])]
         for r in results])
    sizes = md_table(
        ["dataset", "pairs compared", "explainer mean / median", "recency mean / median",
         "similarity mean / median", "recency found", "similarity found"],
        [[r["dataset"], r["compared_pairs"]] +
         [f"{r['compared'][m]['mean']:.2f} / {r['compared'][m]['median']:.0f}" if r["compared"] else "-"
          for m in ("explainer", "recency", "similarity")] +
         [pct(r["baseline_found"].get("recency")), pct(r["baseline_found"].get("similarity"))]
         for r in results])
    latency = md_table(
        ["dataset", "history p50 / max", "explain p50 ms", "explain p99 ms", "recommend p50 ms",
         "recommend p99 ms"],
        [[r["dataset"], f"{r['history_p50']:.0f} / {r['history_max']}",
          r["explain_latency"]["p50_ms"], r["explain_latency"]["p99_ms"],
          r["recommend_latency"]["p50_ms"], r["recommend_latency"]["p99_ms"]] for r in results])
    reasons = "\n".join(f"- {r['dataset']}: {r['reasons']}" for r in results)
    return "\n\n".join([
        "Pairs: a random user and a random item of their top-k (seen items excluded), sampled "
        "until there are at least --pairs pairs and --min-sets explanations with a removal set. "
        "*With set*: the explanation found a removal set (the others are explained by popularity "
        "or by no behaviour at all, and say so). *Validity*: the set, removed from the user's "
        "history and re-ranked through the public API at the fixed clock, drops the item out of "
        "the top-k. *Strict*: the ranker retrained from scratch without those events.",
        "## Counterfactual validity", quality,
        "## Explanation size (same pairs; baselines remove behaviours in their order until the "
        "item drops, and count only when their set is valid too)", sizes,
        "## Latency (user cache off; recommend timed in the same run)", latency,
        "## Why pairs have no set", reasons])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["tmall2014", "rees46", "demo"])
    parser.add_argument("--pairs", type=int, default=600)
    parser.add_argument("--strict", type=int, default=30)
    parser.add_argument("--min-sets", type=int, default=500,
                        help="keep sampling pairs until this many explanations have a removal set")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--demo-items", type=int, default=10_000)
    parser.add_argument("--demo-users", type=int, default=3_000)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    results = [run(d, args.pairs, args.strict, args.k, args.seed, args.demo_items, args.demo_users,
                   args.min_sets)
               for d in args.datasets]
    body = report(results)
    if not args.no_write:
        write_results("explain", "Explainer: counterfactual validity, size and latency", body,
                      {"results": results, "args": vars(args)})
    sys.stdout.write(body + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
