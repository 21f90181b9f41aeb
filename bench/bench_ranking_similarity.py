"""Item-item similarity fit: the sparse top-N computation against the former dense row blocks.

Usage (from the repository root)::

    nice -n 10 .venv/bin/python bench/bench_ranking_similarity.py --items 10000 100000 1000000 \\
        --dense-up-to 10000

A synthetic interaction log per size: ``items / 2`` users, ``--per-user`` distinct items each,
drawn with Zipf-like popularity (exponent ``--zipf``), so a few items co-occur with most
others as in real shops. For each size it times ``cooccurrence_similarity`` (sparse, used by
whyrec) and, up to ``--dense-up-to`` items, ``dense_cooccurrence_similarity`` (the former
code) on the same matrix, with peak traced memory (tracemalloc; NumPy and SciPy buffers) and
a check that both keep the same number of neighbours per item with the same summed weights.
Target (issue 14): 100k items < 60 s, 1M feasible in this machine's memory.
Writes bench/results/ranking_similarity.json and .md.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from _common import command_line, machine_info
from threadpoolctl import threadpool_limits

from whyrec.tools.ranking.similarity import cooccurrence_similarity, dense_cooccurrence_similarity


def synthetic_matrix(items: int, per_user: int, zipf: float, seed: int) -> sp.csr_matrix:
    users = max(items // 2, 1)
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.power(np.arange(1, items + 1), zipf)
    weights /= weights.sum()
    cols = rng.choice(items, size=users * per_user, p=weights)
    rows = np.repeat(np.arange(users), per_user)
    matrix = sp.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(users, items))
    matrix.sum_duplicates()
    matrix.data[:] = 1.0
    return matrix


def timed(function: Callable[[], sp.csr_matrix]) -> tuple[sp.csr_matrix, float, float, float]:
    tracemalloc.start()
    started, cpu = time.perf_counter(), time.process_time()
    result = function()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, seconds, peak / 2**20, cpu_seconds


def run(items: int, per_user: int, zipf: float, neighbours: int, dense: bool, seed: int) -> dict:
    matrix = synthetic_matrix(items, per_user, zipf, seed)
    sparse_sim, sparse_s, sparse_mb, sparse_cpu = timed(lambda: cooccurrence_similarity(matrix, neighbours, 0.5, 5.0))
    row = {"catalog_items": items, "users": matrix.shape[0], "interactions": int(matrix.nnz),
           "neighbours": neighbours, "sparse_seconds": round(sparse_s, 2),
           "sparse_cpu_seconds": round(sparse_cpu, 2), "sparse_peak_mb": round(sparse_mb, 1),
           "similarity_entries": int(sparse_sim.nnz)}
    if dense:
        dense_sim, dense_s, dense_mb, dense_cpu = timed(lambda: dense_cooccurrence_similarity(matrix, neighbours, 0.5, 5.0))
        same_counts = bool((np.diff(dense_sim.indptr) == np.diff(sparse_sim.indptr)).all())
        same_sums = bool(np.allclose(np.asarray(dense_sim.sum(axis=1)).ravel(),
                                     np.asarray(sparse_sim.sum(axis=1)).ravel()))
        row.update({"dense_seconds": round(dense_s, 2), "dense_cpu_seconds": round(dense_cpu, 2),
                    "dense_peak_mb": round(dense_mb, 1), "cpu_ratio": round(dense_cpu / sparse_cpu, 1),
                    "speed_ratio": round(dense_s / sparse_s, 1), "same_neighbour_counts": same_counts,
                    "same_row_sums": same_sums})
    return row


def markdown(rows: list[dict]) -> str:
    head = ("| catalog items | users | interactions | sparse fit s (CPU s) | sparse peak MB | dense fit s (CPU s) | "
            "dense peak MB | dense / sparse CPU | same neighbours |\n|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
    lines = []
    for r in rows:
        dense = (f"{r['dense_seconds']:.1f} ({r['dense_cpu_seconds']:.1f}) | {r['dense_peak_mb']:,.0f} | "
                 f"{r['cpu_ratio']:.1f}x | "
                 f"{'yes' if r['same_neighbour_counts'] and r['same_row_sums'] else 'NO'}"
                 if "dense_seconds" in r else "not run | | |")
        lines.append(f"| {r['catalog_items']:,} | {r['users']:,} | {r['interactions']:,} | "
                     f"{r['sparse_seconds']:.1f} ({r['sparse_cpu_seconds']:.1f}) | "
                     f"{r['sparse_peak_mb']:,.0f} | {dense} |")
    return head + "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--per-user", type=int, default=20)
    parser.add_argument("--zipf", type=float, default=0.8)
    parser.add_argument("--neighbours", type=int, default=100)
    parser.add_argument("--dense-up-to", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="2,000 and 5,000 items")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args(argv)
    if args.quick:
        args.items = [2000, 5000]
    rows: list[dict] = []
    meta = {"command": command_line(), "machine": machine_info(), "results": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    table = ""
    with threadpool_limits(1, "blas"):
        for n in args.items:
            rows.append(run(n, args.per_user, args.zipf, args.neighbours, n <= args.dense_up_to, args.seed))
            print(rows[-1], file=sys.stderr, flush=True)
            # Written after every size: a long run stopped early keeps what it measured.
            (args.out / "ranking_similarity.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
            table = ("## Item-item similarity fit: sparse top-N vs dense row blocks\n\n" + markdown(rows)
                     + f"\nCommand: `{meta['command']}`; one BLAS thread; the machine was shared.\n")
            (args.out / "ranking_similarity.md").write_text(table, encoding="utf-8")
    print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
