"""Latency of whyrec's ranker on the demo shop: recommend (one user) and contributions (one item).

Usage (from the repository root)::

    .venv/bin/python bench/bench_ranking_latency.py --items 10000 100000 --users 3000 --out bench/results

Targets: recommend p99 < 50 ms at 10k items; contributions p99 < 20 ms. Writes
bench/results/ranking_latency.json and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from pathlib import Path

import numpy as np

from whyrec.tools.demo import DemoConfig, generate_shop
from whyrec.tools.ranking import WhyrecRanker

log = logging.getLogger("bench_ranking_latency")


def percentiles(samples: list[float]) -> dict[str, float]:
    values = np.asarray(samples) * 1000.0
    return {"p50_ms": float(np.percentile(values, 50)), "p99_ms": float(np.percentile(values, 99)),
            "max_ms": float(values.max()), "n": int(len(values))}


def run(items: int, users: int, days: int, calls: int, seed: int) -> dict:
    started = time.perf_counter()
    shop = generate_shop(DemoConfig(users=users, items=items, days=days, seed=seed))
    generate_seconds = time.perf_counter() - started
    started = time.perf_counter()
    ranker = WhyrecRanker().fit(shop.events, shop.items)
    fit_seconds = time.perf_counter() - started
    rng = np.random.default_rng(seed)
    user_ids = rng.choice(np.asarray(ranker.user_ids), size=calls)
    for user in user_ids[:20]:  # warm-up
        ranker.recommend(user, k=10)
    rec, contrib, history_lengths = [], [], []
    for user in user_ids:
        t0 = time.perf_counter()
        ids, _ = ranker.recommend(user, k=10)
        rec.append(time.perf_counter() - t0)
        item = ids[rng.integers(len(ids))]
        t0 = time.perf_counter()
        ranker.contributions(user, item)
        contrib.append(time.perf_counter() - t0)
        history_lengths.append(len(ranker.log_.history(ranker._user_row(user))))
    return {"catalog_items": len(ranker.item_ids), "users": ranker.log_.n_users,
            "events": int(len(shop.events)), "generate_seconds": round(generate_seconds, 1),
            "fit_seconds": round(fit_seconds, 2),
            "history_length_p50": float(np.median(history_lengths)),
            "history_length_max": int(np.max(history_lengths)),
            "recommend": percentiles(rec), "contributions": percentiles(contrib)}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    rows = []
    for n in args.items:
        result = run(n, args.users, args.days, args.calls, args.seed)
        log.info("%d items: %s", n, result)
        rows.append(result)
    meta = {"machine": f"{platform.machine()} {platform.processor()} python {platform.python_version()}",
            "command": "bench/bench_ranking_latency.py " + " ".join(argv), "results": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ranking_latency.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    lines = ["| catalog items | users | events | recommend p50 / p99 ms | contributions p50 / p99 ms | fit s |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['catalog_items']:,} | {r['users']:,} | {r['events']:,} | "
                     f"{r['recommend']['p50_ms']:.2f} / {r['recommend']['p99_ms']:.2f} | "
                     f"{r['contributions']['p50_ms']:.2f} / {r['contributions']['p99_ms']:.2f} | "
                     f"{r['fit_seconds']:.1f} |")
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
