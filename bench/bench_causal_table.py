"""The causal decision table of a large workspace: an earlier commit against this code, in-process
and on a local two-worker Dask cluster, same run.

Usage (from the repository root; the workspace from ``bench_scale.py --sizes 10000000 --stages
generate ingest --keep``)::

    .venv/bin/python bench/bench_causal_table.py --workspace /tmp/scale-work/ws-10000000 \\
        --baseline f6475a3 --repeats 2

Each run is a fresh child process that builds :func:`whyrec.tools.causal.report.decision_table`
(what ``whyrec effects`` builds before it estimates anything) with the default settings: the
baseline commit's code in-process (exported with ``git archive``), this code in-process, and this
code on a two-worker ``DaskEngine`` (started before the clock: the table, not the cluster's start,
is timed). Wall and CPU seconds of the child (a cluster's workers are other processes: their CPU
is not in the child's), the peak memory of the child's process tree. The runs alternate, repeated
``--repeats`` times; the minimum wall time counts. Every run writes its table (exposures and
decision points) to Parquet, outside the clock, and the tables are compared with the baseline's:
equal bit for bit, or the largest difference per column. Writes bench/results/causal_table.json
and .md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import command_line, machine_info, md_table, write_results
from bench_ranking_fit import ROOT, export_tree, fit_once

CHILD = r"""
import json, resource, sys, time
spec = json.loads(sys.argv[1])

def main():
    from whyrec.tools.causal.report import decision_table
    from whyrec.tools.workspace import Workspace
    workspace = Workspace.open(spec["workspace"])
    engine = None
    if spec["engine"] == "dask":
        from whyrec.tools.engine import open_engine
        engine = open_engine("dask", workers=2)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu, started = usage.ru_utime + usage.ru_stime, time.perf_counter()
    table = decision_table(workspace) if engine is None else decision_table(workspace, engine=engine)
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out = {"table_seconds": seconds, "table_cpu_seconds": usage.ru_utime + usage.ru_stime - cpu,
           "exposures": len(table.units.frame), "decision_points": len(table.frame),
           "events": sum(table.event_counts.values())}
    if engine is not None:
        engine.close()
    table.units.frame.to_parquet(spec["out"] + "-units.parquet")
    table.frame.to_parquet(spec["out"] + "-decisions.parquet")
    print("RESULT " + json.dumps(out))

if __name__ == "__main__":
    main()
"""


def compare(reference: str, other: str) -> str:
    """'identical', or the columns that differ with their largest absolute difference."""
    import numpy as np
    import pandas as pd

    notes = []
    for part in ("units", "decisions"):
        a, b = pd.read_parquet(f"{reference}-{part}.parquet"), pd.read_parquet(f"{other}-{part}.parquet")
        if a.equals(b):
            continue
        if list(a.columns) != list(b.columns) or len(a) != len(b):
            notes.append(f"{part}: shape or columns differ")
            continue
        for column in a.columns:
            if a[column].equals(b[column]):
                continue
            if pd.api.types.is_float_dtype(a[column]):
                notes.append(f"{part}.{column}: max |diff| {np.nanmax(np.abs(a[column] - b[column])):.1e}")
            else:
                notes.append(f"{part}.{column}: {(a[column] != b[column]).sum():,} rows differ")
    return "identical" if not notes else "; ".join(notes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--baseline", required=True, help="the earlier commit to compare with")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--timeout-s", type=float, default=3600)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args()
    rev = subprocess.run(["git", "rev-parse", "--short", args.baseline], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.strip()
    runs = {f"{rev}, in-process": ("none", "baseline"), "this code, in-process": ("none", None),
            "this code, 2-worker Dask cluster": ("dask", None)}
    records: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        paths = {"baseline": str(export_tree(rev, Path(tmp) / "tree")), None: None}
        for repeat in range(args.repeats):
            for n, (run, (engine, tree)) in enumerate(runs.items()):
                print(f"{run} · repeat {repeat + 1}", flush=True)
                out = str(Path(tmp) / f"table-{n}-{repeat}")
                spec = {"workspace": args.workspace, "engine": engine, "out": out}
                result = fit_once(spec, paths[tree], args.timeout_s, child=CHILD)
                print(f"  {result}", flush=True)
                records.append({"run": run, "repeat": repeat, "out": out, **result})
        reference = next(r["out"] for r in records if r["run"] == f"{rev}, in-process" and r["status"] == "ok")
        for record in records:
            if record["status"] == "ok":
                record["same_table"] = compare(reference, record.pop("out"))
    rows, best = [], {}
    for run in runs:
        ok = [r for r in records if r["run"] == run and r["status"] == "ok"]
        best[run] = min(ok, key=lambda r: r["table_seconds"]) if ok else None
    base = best[f"{rev}, in-process"]
    for run, record in best.items():
        if record is None or base is None:
            rows.append([run, "failed", "", "", "", "", ""])
            continue
        rows.append([run, f"{record['events']:,}", f"{record['table_seconds']:.1f}",
                     f"{record['table_cpu_seconds']:.1f}", f"{base['table_seconds'] / record['table_seconds']:.2f}x",
                     f"{record['peak_memory_gb']:.2f}", record["same_table"]])
    body = (f"Workspace `{args.workspace}`; each run a fresh child; the minimum wall time over "
            f"{args.repeats} alternated repeats; CPU s is the child's own (a cluster's workers are not in it); "
            f"tables compared with the baseline's.\n\n"
            + md_table(["run", "events", "table wall s", "child CPU s", f"speed-up vs {rev}",
                        "peak GB (process tree)", "table vs baseline"], rows))
    write_results("causal_table", "The causal decision table of a large workspace: before and after, in-process "
                  "and on a two-worker cluster", body,
                  {"machine": machine_info(), "command": command_line(), "baseline": rev,
                   "workspace": args.workspace, "records": records}, out_dir=Path(args.out))


if __name__ == "__main__":
    main()
