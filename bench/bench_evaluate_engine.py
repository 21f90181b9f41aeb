"""``whyrec evaluate`` on a local two-worker Dask cluster against in-process: the same records?

Usage (from the repository root)::

    .venv/bin/python bench/bench_evaluate_engine.py --datasets tmall2014 --data-dir ../shared/data --budget 300
    .venv/bin/python bench/bench_evaluate_engine.py --datasets tmall2014 rees46 --name evaluate_engine_two

Two fresh child processes, one after the other, run the same evaluation (every model, the
dataset's protocols, each model tuned by the same search with ``--budget`` CPU seconds): one in
process (``--engine local``, one BLAS thread, as ``bench/evaluate_rankers.py`` runs it), one on a
local cluster of two worker processes (``--engine dask --workers 2``; Dask gives each worker one
BLAS thread), one (model, setting) per call. Reported: wall seconds and the ratio, the peak
memory of each child's process tree (workers included), and, record by record, whether the two
runs chose the same parameters and scored the same test NDCG@20 — with whether the search
converged (a search the budget stops depends on the CPU it got, so it may differ).
Writes ``--name`` .json and .md (default evaluate_engine) under ``--out`` (default bench/results).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import command_line, machine_info, md_table, write_results
from bench_scale import run_stage

CHILD = r"""
import json, logging, sys, time
from threadpoolctl import threadpool_limits
spec = json.loads(sys.argv[1])
logging.basicConfig(level=logging.WARNING)
from whyrec.tools.engine import open_engine
from whyrec.tools.ranking.evaluate import evaluate_datasets
with threadpool_limits(1), open_engine(spec["engine"], workers=spec["workers"]) as engine:
    started = time.perf_counter()
    result = evaluate_datasets(spec["datasets"], spec["models"], spec["data_dir"], budget_seconds=spec["budget"],
                               engine=engine)
    seconds = time.perf_counter() - started
assert not result.failed and not result.skipped, (result.failed, result.skipped)
print("RESULT " + json.dumps({"evaluate_seconds": seconds, "records": [r.to_json() for r in result.records]}))
"""

MODELS = ["whyrec", "repeat", "popular", "itemknn", "als", "ease", "sequential"]


def key(record: dict) -> tuple[str, str, bool]:
    return record["dataset"], record["model"], bool(record["protocol"]["exclude_seen"])


def compare(local: list[dict], dask: list[dict]) -> list[dict]:
    """Record by record: same parameters, same test score, converged on each side."""
    other = {key(r): r for r in dask}
    rows = []
    for a in local:
        b = other.get(key(a))
        if b is None:
            rows.append({"dataset": a["dataset"], "model": a["model"], "exclude_seen": key(a)[2],
                         "missing_on_cluster": True})
            continue
        va, vb = a.get("validation") or {}, b.get("validation") or {}
        rows.append({
            "dataset": a["dataset"], "model": a["model"], "exclude_seen": key(a)[2],
            "ndcg20_local": a["metrics"]["ndcg@20"], "ndcg20_dask": b["metrics"]["ndcg@20"],
            "same_params": a["params"] == b["params"],
            "same_score": abs(a["metrics"]["ndcg@20"] - b["metrics"]["ndcg@20"]) <= 1e-9,
            "converged_local": bool(va.get("converged")), "converged_dask": bool(vb.get("converged")),
            "tune_cpu_local": a["tune_seconds"], "tune_cpu_dask": b["tune_seconds"],
            "trials_local": va.get("n_trials"), "trials_dask": vb.get("n_trials"),
        })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["tmall2014"],
                        help="evaluated together (on the cluster, all their runs sent in one map)")
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--budget", type=float, default=300.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout-s", type=float, default=2 * 3600)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    parser.add_argument("--name", default="evaluate_engine", help="the results' file name (without .md/.json)")
    parser.add_argument("--quick", action="store_true", help="the demo shop, 60 CPU s per model (about 2 minutes)")
    args = parser.parse_args()
    if args.quick:
        args.datasets, args.budget = ["demo"], 60.0
    common = {"datasets": args.datasets, "data_dir": str(args.data_dir.resolve()),
              "models": [m for m in args.models.split(",") if m], "budget": args.budget}
    runs = {}
    for engine, workers in (("local", None), ("dask", args.workers)):
        machine = machine_info()
        result = run_stage({**common, "engine": engine, "workers": workers}, args.timeout_s, child=CHILD)
        result["load_average_at_start"] = machine.get("loadavg_at_start")
        runs[engine] = result
        print(f"{engine}: {result['status']} in {result['wall_seconds']:.0f} s", file=sys.stderr)
    if any(r["status"] != "ok" for r in runs.values()):
        raise SystemExit(f"a run did not finish: { {k: r.get('reason') for k, r in runs.items()} }")
    rows = compare(runs["local"]["records"], runs["dask"]["records"])
    local_s, dask_s = runs["local"]["evaluate_seconds"], runs["dask"]["evaluate_seconds"]
    converged = [r for r in rows if r.get("converged_local") and r.get("converged_dask")]
    body = [
        f"Datasets {', '.join(args.datasets)}, models {', '.join(common['models'])}, the dataset's protocols, "
        f"{args.budget:g} CPU s of tuning per model and protocol; in-process, then a local cluster of "
        f"{args.workers} workers, each in a fresh child process.", "",
        md_table(["run", "evaluate wall s", "child wall s (with start-up)", "peak GB (process tree)",
                  "load average at start"],
                 [[name, f"{r['evaluate_seconds']:.1f}", f"{r['wall_seconds']:.1f}", f"{r['peak_memory_gb']:.2f}",
                   r["load_average_at_start"]] for name, r in runs.items()]),
        "", f"**Cluster / in-process wall time: {dask_s / local_s:.2f}** ({local_s / dask_s:.2f}x faster). "
        f"Records with the same parameters and test NDCG@20 (to 1e-9): "
        f"{sum(r.get('same_params', False) and r.get('same_score', False) for r in rows)} of {len(rows)}; "
        f"of the {len(converged)} whose searches converged on both sides: "
        f"{sum(r['same_params'] and r['same_score'] for r in converged)}.", "",
        md_table(["dataset", "model", "seen excluded", "NDCG@20 in-process", "NDCG@20 cluster", "same parameters",
                  "same score", "converged (in-process / cluster)", "tuning CPU s (in-process / cluster)",
                  "trials (in-process / cluster)"],
                 [[r["dataset"], r["model"], r["exclude_seen"], f"{r['ndcg20_local']:.4f}", f"{r['ndcg20_dask']:.4f}",
                   "yes" if r["same_params"] else "**no**", "yes" if r["same_score"] else "**no**",
                   f"{r['converged_local']} / {r['converged_dask']}", f"{r['tune_cpu_local']} / {r['tune_cpu_dask']}",
                   f"{r['trials_local']} / {r['trials_dask']}"] for r in rows if "ndcg20_local" in r]),
    ]
    data = {"command": command_line(), "datasets": args.datasets, "budget_seconds": args.budget,
            "workers": args.workers, "ratio_cluster_over_local": dask_s / local_s, "records": rows,
            "runs": {k: {kk: vv for kk, vv in r.items() if kk != "records"} for k, r in runs.items()}}
    md, _ = write_results(args.name, f"`whyrec evaluate` on a {args.workers}-worker Dask cluster against "
                          "in-process", "\n".join(body), data, args.out)
    print(md.read_text())


if __name__ == "__main__":
    main()
