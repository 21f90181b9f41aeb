"""``whyrec tune`` on a local two-worker Dask cluster against in-process: the same choice, how much faster?

Usage (from the repository root)::

    .venv/bin/python bench/bench_tune_engine.py --workspace /tmp/scale-work/ws-1000000 --budget 600
    .venv/bin/python bench/bench_tune_engine.py --quick        # the demo shop, about a minute

Fresh child processes, alternating which goes first, each run what a user runs: ``whyrec tune
-w WORKSPACE --budget B --json`` (in-process) and the same with ``--engine dask --workers 2``
(one BLAS thread per worker, as Dask starts them; the in-process run keeps the BLAS default).
The tuning writes the workspace's tuning record and refits the served ranker on all events, so
each run works on its own copy of the workspace. Reported: wall seconds until the tuning ended
(reading the log, any user sample and the search; the auto-tuner's log line) and of the whole command, the ratio, peak memory of the child's process
tree (workers included), and whether the two runs chose the same policy and parameters with the
same validation score — with whether the budget stopped the search (a search the budget stops
depends on the CPU it got, so the choice may differ; one that converges does not).
Writes ``--name`` .json and .md (default tune_engine) under ``--out`` (default bench/results).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import command_line, machine_info, md_table, write_results
from bench_scale import run_stage

CHILD = r"""
import contextlib, io, json, logging, sys, time
spec = json.loads(sys.argv[1])
marks = {}

class Marks(logging.Handler):   # when the tuning ended (before the refit), from the auto-tuner's log line
    def emit(self, record):
        if record.getMessage().startswith("auto-tuned"):
            marks["tune_end"] = time.perf_counter()

logging.basicConfig(level=logging.WARNING)
logging.getLogger("whyrec.tools.ranking.autotune").setLevel(logging.INFO)
logging.getLogger("whyrec.tools.ranking.autotune").addHandler(Marks())
from whyrec.agent.cli import main
argv = ["tune", "-w", spec["workspace"], "--budget", str(spec["budget"]), "--json"]
if spec["engine"] == "dask":
    argv += ["--engine", "dask", "--workers", str(spec["workers"])]
out = io.StringIO()
started = time.perf_counter()
with contextlib.redirect_stdout(out):
    code = main(argv)
seconds = time.perf_counter() - started
assert code == 0, code
tuning = json.loads(out.getvalue())
tune_seconds = marks["tune_end"] - started
print("RESULT " + json.dumps({"command_seconds": seconds, "tune_seconds": tune_seconds, "tuning": tuning}))
"""


def same_choice(a: dict, b: dict) -> dict:
    """Whether two tuning records chose the same thing on the same evidence."""
    return {
        "same_policy": a["exclusion_policy"] == b["exclusion_policy"],
        "same_params": a["params"] == b["params"] and a["params_by_policy"] == b["params_by_policy"],
        "same_validation": a["validation"] == b["validation"] and a["policies"] == b["policies"],
        "same_trials": a["trials"] == b["trials"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", type=Path, help="a workspace with events (copied for each run)")
    parser.add_argument("--budget", type=float, default=600.0, help="the tuning budget, CPU seconds")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=1, help="pairs of runs, alternating which goes first")
    parser.add_argument("--label", default="", help="what this run measured (shown in the table)")
    parser.add_argument("--timeout-s", type=float, default=2 * 3600)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    parser.add_argument("--name", default="tune_engine", help="the results' file name (without .md/.json)")
    parser.add_argument("--quick", action="store_true", help="the demo shop (built here), 200 CPU s budget")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="whyrec-bench-tune-"))
    try:
        source = args.workspace
        if args.quick:
            from whyrec.tools.demo import DemoConfig, build_demo_workspace
            source, args.budget = scratch / "demo", 200.0
            build_demo_workspace(source, DemoConfig(users=150, items=160, seed=5))
        if source is None:
            parser.error("--workspace is required (or --quick)")
        runs: dict[str, list[dict]] = {"local": [], "dask": []}
        for rep in range(args.repeats):
            for engine in (("local", "dask") if rep % 2 == 0 else ("dask", "local")):
                copy = scratch / f"ws-{engine}-{rep}"
                shutil.copytree(source, copy, ignore=shutil.ignore_patterns("ranker-*.pkl", "tuning-v*.json"))
                machine = machine_info()
                result = run_stage({"workspace": str(copy), "budget": args.budget, "engine": engine,
                                    "workers": args.workers}, args.timeout_s, child=CHILD)
                result["load_average_at_start"] = machine.get("loadavg_at_start")
                shutil.rmtree(copy, ignore_errors=True)
                if result["status"] != "ok":
                    raise SystemExit(f"{engine} did not finish: {result.get('reason')}")
                print(f"rep {rep + 1} {engine}: tuning {result['tune_seconds']:.1f} s, command "
                      f"{result['command_seconds']:.1f} s", file=sys.stderr)
                runs[engine].append(result)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    local_s = min(r["tune_seconds"] for r in runs["local"])
    dask_s = min(r["tune_seconds"] for r in runs["dask"])
    pairs = [same_choice(a["tuning"], b["tuning"]) for a, b in zip(runs["local"], runs["dask"], strict=True)]
    first = runs["local"][0]["tuning"]
    rows = []
    for engine, results in runs.items():
        for n, r in enumerate(results):
            t = r["tuning"]
            rows.append([engine, n + 1, f"{r['tune_seconds']:.1f}", f"{r['command_seconds']:.1f}",
                         f"{r['peak_memory_gb']:.2f}", t["trials"], t["cpu_seconds"],
                         "yes" if t["budget_exhausted"] else "no", t["exclusion_policy"],
                         f"{t['validation']['ndcg@20']:.5f}", r["load_average_at_start"]])
    body = [
        f"Workspace: {'the demo shop (150 users, 160 items)' if args.quick else args.workspace}"
        f"{' — ' + args.label if args.label else ''}; {first['validation_users']:,} validation users "
        f"({first['protocol'].get('split')}){'; tuned on a sample of ' + format(first['sample']['users'], ',') + ' users' if first.get('sample') else ''}; "
        f"budget {args.budget:g} CPU s; `whyrec tune` in-process against `--engine dask --workers {args.workers}`, "
        "each a fresh child process on its own copy of the workspace.", "",
        md_table(["engine", "run", "wall s to the end of tuning", "whole command wall s (tuning + refit on all events)",
                  "peak GB (process tree)", "trials", "tuning CPU s (driver + workers)", "budget used up",
                  "policy", "validation NDCG@20", "load average at start"], rows),
        "", f"**Tuning wall time, cluster / in-process (best of each): {dask_s / local_s:.2f}** "
        f"({local_s / dask_s:.2f}x faster). Same policy, parameters, validation scores and trial count: "
        + ", ".join("yes" if all(p.values()) else "**no** (" + ", ".join(k for k, v in p.items() if not v) + ")"
                    for p in pairs) + ".",
    ]
    data = {"command": command_line(), "workspace": str(args.workspace), "quick": args.quick,
            "budget_seconds": args.budget, "workers": args.workers, "label": args.label,
            "ratio_cluster_over_local": dask_s / local_s, "same": pairs, "runs": runs}
    md, _ = write_results(args.name, f"`whyrec tune` on a {args.workers}-worker Dask cluster against in-process",
                          "\n".join(body), data, args.out)
    print(md.read_text())


if __name__ == "__main__":
    main()
