"""The served ranker's fit on a local two-worker Dask cluster against in-process, same run.

Usage (from the repository root; the workspace from ``bench_scale.py --keep``)::

    .venv/bin/python bench/bench_fit_engine.py --workspace /tmp/scale-work/ws-10000000 --repeats 2

Each fit is a fresh child process that reads the workspace's lean frame (not timed) and fits
``WhyrecRanker`` (the default cosine configuration) on every event, in-process or with
``engine=`` a new local two-worker cluster (started before the clock, its start timed apart):
its co-occurrence similarity rows are then computed on the workers (:func:`cooccurrence_similarity`),
the rest of the fit in the child. The two alternate, repeated ``--repeats`` times; the minimum
wall time counts (the point of the cluster is wall time: its workers' CPU is not the child's).
Peak memory is the child's process tree (the workers included). Each fit's similarity matrix,
popularity and conversion rates are hashed: the record says whether both learned the same model.
Writes bench/results/fit_engine.json and .md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import command_line, machine_info, md_table, write_results
from bench_ranking_fit import fit_once

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import hashlib, json, resource, sys, time
import numpy as np
spec = json.loads(sys.argv[1])
if __name__ == "__main__":
    from whyrec.tools.engine import open_engine
    from whyrec.tools.ranking.whyrec import WhyrecRanker
    from whyrec.tools.workspace import Workspace
    workspace = Workspace.open(spec["workspace"])
    events, items = workspace.lean_events(), workspace.items()
    begun = time.perf_counter()
    with open_engine(spec["engine"], workers=None if spec["engine"] == "local" else 2) as engine:
        engine_start = time.perf_counter() - begun
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu, started = usage.ru_utime + usage.ru_stime, time.perf_counter()
        ranker = WhyrecRanker().fit(events, items, engine=None if spec["engine"] == "local" else engine,
                                    scratch=workspace.derived_path)
        seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out = {"fit_seconds": seconds, "fit_cpu_seconds_driver": usage.ru_utime + usage.ru_stime - cpu,
           "engine_start_seconds": engine_start, "events": len(events), "users": len(ranker.user_ids),
           "items": len(ranker.item_ids)}
    digest = hashlib.sha256()
    for array in (ranker.similarity_.indptr, ranker.similarity_.indices, ranker.similarity_.data,
                  ranker.popularity_, ranker.conversion_):
        digest.update(np.ascontiguousarray(array).tobytes())
    out["model_sha256"] = digest.hexdigest()[:16]
    print("RESULT " + json.dumps(out))
"""

ENGINES = ("local", "dask")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--timeout-s", type=float, default=3600)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args()
    records: list[dict] = []
    for repeat in range(args.repeats):
        for engine in (ENGINES if repeat % 2 == 0 else ENGINES[::-1]):
            print(f"{engine} · repeat {repeat + 1}", flush=True)
            result = fit_once({"workspace": args.workspace, "engine": engine}, None, args.timeout_s, child=CHILD)
            print(f"  {result}", flush=True)
            records.append({"engine": engine, "repeat": repeat, **result})
    best = {}
    for engine in ENGINES:
        ok = [r for r in records if r["engine"] == engine and r["status"] == "ok"]
        best[engine] = min(ok, key=lambda r: r["fit_seconds"]) if ok else None
    local, dask = best["local"], best["dask"]
    if local is None or dask is None:
        rows = [["failed", "", "", "", "", ""]]
    else:
        rows = [[f"{local['events']:,}", f"{local['items']:,}", f"{local['fit_seconds']:.1f}",
                 f"{dask['fit_seconds']:.1f} (+{dask['engine_start_seconds']:.1f} to start)",
                 f"{local['fit_seconds'] / dask['fit_seconds']:.2f}x",
                 f"{local['peak_memory_gb']:.2f} / {dask['peak_memory_gb']:.2f}",
                 "yes" if local["model_sha256"] == dask["model_sha256"] else "NO"]]
    body = (f"Workspace `{args.workspace}`; the default (cosine) whyrec fitted on every event, in-process "
            f"and with its similarity on a new local two-worker Dask cluster; each fit a fresh child; "
            f"minimum wall seconds over {args.repeats} alternated repeats.\n\n"
            + md_table(["events", "items", "in-process fit s", "2-worker cluster fit s", "ratio",
                        "peak GB, process tree (in-process / cluster)", "same model"], rows))
    write_results("fit_engine", "The served ranker's fit: a local two-worker Dask cluster against in-process",
                  body, {"machine": machine_info(), "command": command_line(), "workspace": args.workspace,
                         "records": records}, out_dir=Path(args.out))


if __name__ == "__main__":
    main()
