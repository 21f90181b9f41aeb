"""Scale: generate, ingest and scan 10M and 100M-event logs on this machine, each stage's time and
peak memory; and the same ingest on a local two-worker Dask cluster against in-process.

Usage (from the repository root; runs for a long time, so in the background)::

    nohup .venv/bin/python bench/bench_scale.py --sizes 10000000 100000000 > /tmp/scale.log 2>&1 &
    .venv/bin/python bench/bench_scale.py --quick      # 1M events, cluster at 1M: a few minutes

Every stage runs in a fresh child process (imports not timed). Peak memory is the largest
resident set of the child and all its descendants (Dask workers included), sampled every 0.2 s
with psutil, and the child's own ``ru_maxrss``. Stages:

* ``generate`` — :func:`whyrec.tools.demo.stream.write_log` writes the CSV log;
* ``ingest`` — ``ingest`` into a fresh workspace, in-process (validate, stage, deduplicate per
  user partition, commit);
* ``stats`` — :meth:`Workspace.stats`, a full pass over the partitioned log;
* ``partition_scan`` — a job over the workspace's user partitions on the engine (each partition
  read, its users' events counted by behaviour): how a per-user job reads the log;
* ``read_events`` / ``read_lean`` (only with ``--stages``) — the whole log in one frame:
  :meth:`Workspace.events` (string ids, every column) against :meth:`Workspace.lean_events` (the
  columns the fit uses, ids as categoricals), each frame's size and the read's peak;
* ``fit`` — what ``whyrec serve``'s first fit does: read the lean frame, auto-tune on the
  workspace's validation split within ``--tune-budget`` CPU seconds (the served default is 600;
  on a seeded sample of users when the log has more than ``--tune-max-events``), then refit on
  all events (:func:`whyrec.tools.ranking.persist.load_or_tune`);
* ``causal`` — the causal report ``whyrec effects`` builds (decision table, estimation, refuters,
  sensitivity: :func:`whyrec.tools.causal.report.load_or_estimate`; ``--causal-engine dask``: the
  behaviours estimated on a local two-worker Dask cluster, one per call);
* ``batch_sample`` (only with ``--stages``) — the served ranker's top 10 for a seeded random sample
  of ``--batch-sample-users`` users (the batch job's scoring, without the file): its CPU seconds per
  1,000 users and what the whole batch would take at that rate (an extrapolation, said so);
* ``batch_recommend`` — ``whyrec recommend --all`` (top 10 for every user to a Parquet file).

A stage whose process tree passes ``--memory-limit-gb`` (16 by default, the issue's bound) or
``--timeout-s`` is stopped; the record says which and the last log line, i.e. the step it was in.
The later stages need the earlier ones (the batch reuses the fitted ranker), so a stage that
stops ends the run for that size.

Then ``--cluster-events`` events (4M: three pieces, four partitions) are ingested in-process and on a local two-worker cluster
(alternating, ``--cluster-reps`` times each) and the committed files compared byte for byte.
Writes bench/results/scale.json (``{"runs": [{"events", "total_seconds", "peak_memory_gb",
"stages": {...}}], "cluster": {...}}``) and scale.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import md_table, write_results

CHILD = r"""
import json, logging, resource, sys, time
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
spec = json.loads(sys.argv[1])
out = {}
what = spec["what"]
if what == "generate":
    from whyrec.tools.demo.stream import StreamConfig, write_log
    started, _cpu_at_start = time.perf_counter(), sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
    summary = write_log(spec["path"], StreamConfig(events=spec["events"], seed=spec["seed"]))
    out.update(events=summary.events, users=summary.users, items=summary.items, bytes=summary.bytes,
               behaviours=summary.behaviours)
elif what == "ingest":
    from whyrec.tools.engine import open_engine
    from whyrec.tools.ingest.mapping import SourceMapping
    from whyrec.tools.ingest.pipeline import ingest
    from whyrec.tools.workspace import Workspace
    mapping = SourceMapping(columns={c: c for c in ("user_id", "item_id", "behaviour", "timestamp", "session_id")},
                            timestamp_unit="s", duplicates="keep", name="bench-scale")
    with open_engine(spec["engine"], workers=spec.get("workers"), memory_limit=spec.get("memory_limit")) as engine:
        workspace = Workspace.create(spec["workspace"])
        started, _cpu_at_start = time.perf_counter(), sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
        result = ingest(workspace, spec["path"], mapping, engine=engine, progress=True)
        out.update(rows_read=result.rows_read, rows_added=result.rows_added, rows_rejected=result.rows_rejected,
                   users=result.users, items=result.items, partitions=result.partitions,
                   events_per_s=result.rows_read / max(time.perf_counter() - started, 1e-9))
elif what == "stats":
    from whyrec.tools.workspace import Workspace
    workspace = Workspace.open(spec["workspace"])
    started, _cpu_at_start = time.perf_counter(), sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
    stats = workspace.stats()
    out.update(events=stats.events, users=stats.users, items=stats.items_with_events, behaviours=stats.behaviours)
elif what == "partition_scan":
    from whyrec.tools.engine import open_engine
    from whyrec.tools.service.jobs import count_behaviours_by_partition
    with open_engine(spec["engine"], workers=spec.get("workers")) as engine:
        started, _cpu_at_start = time.perf_counter(), sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
        counts = count_behaviours_by_partition(spec["workspace"], engine)
        out.update(partitions=counts["partitions"], events=counts["events"], users=counts["users"])
elif what == "fit":
    from whyrec.tools.ranking.persist import latest_tuning, load_or_tune
    from whyrec.tools.workspace import Workspace
    workspace = Workspace.open(spec["workspace"])
    started, _cpu_at_start = time.perf_counter(), sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
    logging.info("fit: reading the log's lean frame, tuning on the validation split (of a user sample "
                 "beyond %d events), then refitting on all events", spec["tune_max_events"])
    ranker = load_or_tune(workspace, budget_seconds=spec["tune_budget"], retune=True,
                          tune_max_events=spec["tune_max_events"])
    tuning = latest_tuning(workspace)
    out.update(users=len(ranker.user_ids), items=len(ranker.item_ids),
               tuning=None if tuning is None else tuning.to_json())
elif what in ("read_events", "read_lean"):
    import pandas as pd
    from whyrec.tools.workspace import Workspace
    workspace = Workspace.open(spec["workspace"])
    started, _cpu_at_start = time.perf_counter(), sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
    frame = workspace.events() if what == "read_events" else workspace.lean_events()
    out.update(rows=len(frame), frame_gb=float(frame.memory_usage(index=False, deep=True).sum()) / 1e9)
elif what == "causal":
    from whyrec.tools.causal.report import load_or_estimate
    from whyrec.tools.workspace import Workspace
    workspace = Workspace.open(spec["workspace"])
    started, _cpu_at_start = time.perf_counter(), sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
    logging.info("causal: decision table (from the log's lean frame), estimation, refuters, sensitivity")
    if spec.get("engine", "local") == "local":
        report = load_or_estimate(workspace, refresh=True)
    else:
        from whyrec.tools.engine import open_engine
        with open_engine(spec["engine"], workers=2) as engine:
            report = load_or_estimate(workspace, refresh=True, engine=engine)
    out.update(effects=[{k: e.get(k) for k in ("behaviour", "estimate", "ci_low", "ci_high", "verdict", "n")}
                        for e in report.to_json().get("effects", []) if e.get("primary", True)],
               table_sample=report.settings.get("table_sample"))
elif what == "batch_sample":
    import numpy as np
    from whyrec.tools.ranking.persist import latest_tuning, served_ranker_path
    from whyrec.tools.ranking.base import Ranker
    from whyrec.tools.workspace import Workspace
    workspace = Workspace.open(spec["workspace"])
    ranker = Ranker.load(served_ranker_path(workspace))
    tuning = latest_tuning(workspace)
    started, _cpu_at_start = time.perf_counter(), sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
    rows = np.random.default_rng(0).choice(len(ranker.user_ids), size=spec["users"], replace=False)
    positions, _ = ranker.recommend_rows(np.sort(rows), 10, exclude=tuning.policy if tuning else "seen", chunk=512)
    cpu = sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) - _cpu_at_start
    out.update(users=int(spec["users"]), of_users=len(ranker.user_ids), items=len(ranker.item_ids),
               cpu_seconds_per_1000_users=1000 * cpu / spec["users"],
               whole_batch_cpu_seconds_extrapolated=cpu * len(ranker.user_ids) / spec["users"])
elif what == "batch_recommend":
    from whyrec.tools.service.jobs import batch_recommend
    from whyrec.tools.settings import Settings
    settings = Settings(workspace=spec["workspace"])
    started, _cpu_at_start = time.perf_counter(), sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
    result = batch_recommend(settings, spec["out_file"], k=10)
    out.update(users=result.users, rows=result.rows, exclusion=result.exclusion,
               users_per_s=result.users_per_second)
out["seconds"] = time.perf_counter() - started
usage = resource.getrusage(resource.RUSAGE_SELF)
out["cpu_seconds"] = usage.ru_utime + usage.ru_stime - _cpu_at_start
out["child_max_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
print("RESULT " + json.dumps(out))
"""


def run_stage(spec: dict, timeout_s: float, memory_limit_gb: float = 16.0, child: str | None = None,
              env: dict[str, str] | None = None) -> dict:
    """Run one stage in a child process (``child``: other code than this file's stages, printing
    its ``RESULT`` line the same way; ``env``: its environment); its result, wall time and peak
    tree memory."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", child or CHILD, json.dumps(spec)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    peak = [0]
    stop = threading.Event()
    over = threading.Event()

    def sample() -> None:
        try:
            root = psutil.Process(process.pid)
        except psutil.NoSuchProcess:
            return
        while not stop.is_set():
            try:
                tree = [root] + root.children(recursive=True)
                rss = 0
                for p in tree:
                    try:
                        rss += p.memory_info().rss
                    except psutil.NoSuchProcess:
                        pass
                peak[0] = max(peak[0], rss)
                if rss > memory_limit_gb * 1e9:
                    over.set()
                    for p in reversed(tree):
                        try:
                            p.kill()
                        except psutil.NoSuchProcess:
                            pass
                    return
            except psutil.NoSuchProcess:
                return
            stop.wait(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        stdout, stderr = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        stdout, stderr = process.communicate()
        stop.set()
        last = stderr.replace("\r", "\n").strip().splitlines()[-1:] if stderr else []
        return {"status": "stopped", "reason": f"timed out after {timeout_s:.0f} s; progress then: {last}",
                "wall_seconds": time.perf_counter() - started, "peak_memory_gb": peak[0] / 1e9}
    stop.set()
    sampler.join()
    if over.is_set():
        tail = [line for line in stderr.replace("\r", "\n").strip().splitlines() if line.strip()][-3:]
        return {"status": "stopped", "reason": f"stopped when the process tree passed {memory_limit_gb:g} GB "
                f"after {time.perf_counter() - started:.0f} s; its last log lines: {tail}",
                "wall_seconds": time.perf_counter() - started, "peak_memory_gb": peak[0] / 1e9}
    lines = [line for line in stdout.splitlines() if line.startswith("RESULT ")]
    if process.returncode != 0 or not lines:
        return {"status": "failed", "reason": f"exit {process.returncode}: {stderr[-1500:]}",
                "wall_seconds": time.perf_counter() - started, "peak_memory_gb": peak[0] / 1e9}
    result = json.loads(lines[-1][len("RESULT "):])
    result.update(status="ok", wall_seconds=time.perf_counter() - started, peak_memory_gb=peak[0] / 1e9)
    return result


def event_file_hashes(workspace: Path) -> dict[str, str]:
    from whyrec.tools.workspace import Workspace

    ws = Workspace.open(workspace)
    out = {f"{bits}-{index}": hashlib.sha256(path.read_bytes()).hexdigest() for path, bits, index in ws.event_files()}
    if ws.manifest.catalog:
        out["catalog"] = hashlib.sha256((ws.path / "catalog" / ws.manifest.catalog).read_bytes()).hexdigest()
    return out


STAGES = ("generate", "ingest", "stats", "partition_scan", "read_events", "read_lean", "fit", "causal",
          "batch_sample", "batch_recommend")
#: The stages issue 18's 60-minute target covers, in one run.
END_TO_END = ("ingest", "fit", "causal")
#: Stages run only when asked for by --stages (the read comparison, the batch's scoring rate).
OPTIONAL = ("read_events", "read_lean", "batch_sample")


def one_size(events: int, work: Path, args: argparse.Namespace) -> dict:
    """Every stage on a log of ``events`` events; with ``--stages``, only those (on the log and
    workspace an earlier ``--keep`` run left in ``--work``)."""
    source = work / f"log-{events}.csv"
    workspace = work / f"ws-{events}"
    wanted = args.stages or tuple(s for s in STAGES if s not in OPTIONAL)
    if "ingest" in wanted:
        shutil.rmtree(workspace, ignore_errors=True)
    specs = {"generate": {"what": "generate", "events": events, "seed": args.seed},
             "ingest": {"what": "ingest", "engine": "local"},
             "stats": {"what": "stats"},
             "partition_scan": {"what": "partition_scan", "engine": "local"},
             "read_events": {"what": "read_events"}, "read_lean": {"what": "read_lean"},
             "fit": {"what": "fit", "tune_budget": args.tune_budget, "tune_max_events": args.tune_max_events},
             "causal": {"what": "causal", "engine": args.causal_engine},
             "batch_sample": {"what": "batch_sample", "users": args.batch_sample_users},
             "batch_recommend": {"what": "batch_recommend", "out_file": str(work / f"top10-{events}.parquet")}}
    stages: dict[str, dict] = {}
    for name in STAGES:
        if name not in wanted:
            continue
        print(f"[{events:,}] {name}", flush=True)
        stages[name] = run_stage({**specs[name], "path": str(source), "workspace": str(workspace)},
                                 args.timeout_s, args.memory_limit_gb)
        print(f"  {stages[name]}", flush=True)
        if stages[name]["status"] != "ok" and name not in OPTIONAL:
            break
    ran = [s for s in stages.values() if s.get("status") in ("ok", "stopped", "failed")]
    disk = {"source_gb": source.stat().st_size / 1e9 if source.exists() else None,
            "workspace_gb": sum(p.stat().st_size for p in workspace.rglob("*") if p.is_file()) / 1e9
            if workspace.exists() else None}
    if not args.keep:
        source.unlink(missing_ok=True)
        shutil.rmtree(workspace, ignore_errors=True)
    return {"events": events, "label": args.label,
            "total_seconds": sum(s.get("wall_seconds", 0.0) for s in ran),
            "peak_memory_gb": max((s.get("peak_memory_gb", 0.0) for s in ran), default=0.0),
            "stages": stages, "disk": disk, "load_average": list(os.getloadavg())}


def cluster(events: int, work: Path, args: argparse.Namespace) -> dict:
    source = work / f"cluster-{events}.csv"
    print(f"[cluster {events:,}] generate", flush=True)
    generated = run_stage({"what": "generate", "path": str(source), "events": events, "seed": args.seed + 1},
                          args.timeout_s)
    samples: dict[str, list[dict]] = {"local": [], "dask": []}
    hashes: dict[str, dict[str, str]] = {}
    for rep in range(args.cluster_reps):
        for engine in (("local", "dask") if rep % 2 == 0 else ("dask", "local")):
            workspace = work / f"cluster-ws-{engine}"
            shutil.rmtree(workspace, ignore_errors=True)
            got = run_stage({"what": "ingest", "engine": engine, "workers": 2, "memory_limit": "6GB",
                             "path": str(source), "workspace": str(workspace)}, args.timeout_s)
            print(f"  rep {rep + 1} {engine}: {got}", flush=True)
            samples[engine].append(got)
            if got["status"] == "ok":
                hashes[engine] = event_file_hashes(workspace)
            shutil.rmtree(workspace, ignore_errors=True)
    source.unlink(missing_ok=True)
    ok = {e: [s["seconds"] for s in v if s["status"] == "ok"] for e, v in samples.items()}
    median = {e: statistics.median(v) if v else None for e, v in ok.items()}
    ratio = median["dask"] / median["local"] if median["dask"] and median["local"] else None
    return {"events": events, "generate": generated, "samples": samples, "median_seconds": median,
            "dask_over_local": ratio, "identical_files": bool(hashes) and hashes.get("local") == hashes.get("dask"),
            "files_compared": len(hashes.get("local", {}))}


#: What a stage's row shows in the detail column, when the stage recorded it.
DETAIL = ("rows_added", "partitions", "users", "of_users", "items", "bytes", "events", "rows", "frame_gb",
          "cpu_seconds_per_1000_users", "whole_batch_cpu_seconds_extrapolated")


def _name(run: dict) -> str:
    """A run's row name: its size, and its label when it has one."""
    return f"{run['events']:,}" + (f" ({run['label']})" if run.get("label") else "")


def render(runs: list[dict], cluster_result: dict | None, batch_cluster: dict | None = None) -> str:
    rows = []
    for run in runs:
        for name, stage in run["stages"].items():
            if stage["status"] == "skipped":
                rows.append([_name(run), name, "skipped", "-", "-", "-", "-", "see below"])
                continue
            detail = {k: stage[k] for k in DETAIL if k in stage}
            rate = f"{stage['events_per_s']:,.0f}" if "events_per_s" in stage else "-"
            rows.append([_name(run), name, stage["status"], stage.get("seconds", stage["wall_seconds"]),
                         stage.get("cpu_seconds", "-"), stage["peak_memory_gb"], rate,
                         ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v:,.2f}" if isinstance(v, float)
                                   else f"{k} {v}" for k, v in detail.items())
                         or stage.get("reason", "")[:200]])
    table = md_table(["events", "stage", "status", "seconds", "CPU seconds (the child)", "peak memory GB (process tree)",
                      "events/s", "detail"], rows)
    totals = md_table(["events", "total seconds (stages run)", "peak memory GB", "CSV GB", "workspace GB"],
                      [[_name(r), r["total_seconds"], r["peak_memory_gb"], r["disk"]["source_gb"] or 0.0,
                        r["disk"]["workspace_gb"] or 0.0] for r in runs])
    target = [r for r in runs if all(r["stages"].get(n, {}).get("status") == "ok" for n in END_TO_END)]
    end_to_end = md_table(
        ["events", "ingest + fit + causal, wall s", "under 60 min", "peak GB of those", "then batch, wall s",
         "all four, wall s", "load average at the end"],
        [[_name(r), sum(r["stages"][n]["wall_seconds"] for n in END_TO_END),
          "yes" if sum(r["stages"][n]["wall_seconds"] for n in END_TO_END) < 3600 else "NO",
          max(r["stages"][n]["peak_memory_gb"] for n in END_TO_END),
          r["stages"].get("batch_recommend", {}).get("wall_seconds", "-"),
          sum(r["stages"][n]["wall_seconds"] for n in (*END_TO_END, "batch_recommend") if n in r["stages"]),
          ", ".join(f"{x:.1f}" for x in r.get("load_average", []))] for r in target])
    lines = ["Each stage is a fresh child process; seconds exclude imports (wall time in the JSON); peak "
             "memory is the largest resident set of the child and its descendants (Dask workers included), "
             "sampled every 0.2 s. The machine is shared with other jobs (load average in the machine line and in the "
             "JSON): wall seconds are what this run saw; CPU seconds (user + system of the stage's own process) "
             "depend far less on the load.", "",
             totals, "", table, ""]
    if target:
        lines[-1:-1] = ["## End to end: one run, the stages one after another (issue 18's target: ingested, fitted and "
                        "causally analysed in under 60 minutes, each under 16 GB)", "", end_to_end, ""]
    stopped = [(_name(r), name, st["reason"]) for r in runs for name, st in r["stages"].items()
               if st.get("status") in ("stopped", "failed")]
    if stopped:
        lines += ["## Where a stage stopped, and why", ""]
        lines += [f"- **{events} events, {name}**: {reason}" for events, name, reason in stopped]
    if cluster_result:
        c = cluster_result
        lines += ["", "## A local two-worker Dask cluster against in-process (the same ingest)", "",
                  md_table(["events", "in-process s (median)", "2-worker cluster s (median)", "cluster / in-process",
                            "committed files identical", "files compared"],
                           [[f"{c['events']:,}", c["median_seconds"]["local"] or 0.0,
                             c["median_seconds"]["dask"] or 0.0,
                             f"{c['dask_over_local']:.2f}" if c["dask_over_local"] else "-",
                             "yes" if c["identical_files"] else "NO", c["files_compared"]]]),
                  "", "Both sides share the same 2 cores (and the machine with other jobs): the cluster can at "
                      "best use both cores for the piece and partition tasks, and pays for process start-up, "
                      "pickling results and two workers' pandas imports."]
    if batch_cluster:
        c = batch_cluster
        lines += ["", "## Batch recommendation on a local two-worker Dask cluster against in-process", "",
                  md_table(["events", "users", "in-process s (median)", "2-worker cluster s (median)",
                            "cluster / in-process", "files identical", "load average per sample"],
                           [[f"{c['events']:,}", f"{c['samples']['local'][0]['users']:,}",
                             c["median_seconds"]["local"], c["median_seconds"]["dask"], f"{c['dask_over_local']:.2f}",
                             "yes" if c["identical_files"] else "NO",
                             ", ".join(f"{e} {s['load']:.1f}" for e, v in c["samples"].items() for s in v)]]),
                  "", "`whyrec recommend --all` on the fitted served ranker (top 10 for every user to Parquet), "
                      "the two in-process runs first, then the two cluster runs (load per run in the table); each task "
                      "scores 20,000 users and writes a part file, the "
                      "driver copies the parts in user order (`tools/service/jobs.batch_recommend`)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000_000, 100_000_000])
    parser.add_argument("--quick", action="store_true", help="1M events, cluster comparison at 500k")
    parser.add_argument("--cluster-events", type=int, default=4_000_000)
    parser.add_argument("--cluster-reps", type=int, default=2)
    parser.add_argument("--skip-cluster", action="store_true")
    parser.add_argument("--append", action="store_true",
                        help="add these runs to the runs (and cluster result) already in scale.json")
    parser.add_argument("--work", type=Path, default=Path("/tmp/whyrec-scale"))
    parser.add_argument("--keep", action="store_true", help="keep the logs and workspaces")
    parser.add_argument("--label", default="", help="names this run in the tables (e.g. which code it measured)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=None,
                        help="run only these stages (on what an earlier --keep run left in --work)")
    parser.add_argument("--tune-budget", type=float, default=600.0,
                        help="the fit stage's tuning budget in CPU seconds (the served default: 600)")
    parser.add_argument("--tune-max-events", type=int, default=10_000_000,
                        help="logs above this many events are tuned on a seeded user sample of about this many "
                             "(the served default: ranking.persist.TUNE_MAX_EVENTS)")
    parser.add_argument("--batch-sample-users", type=int, default=2_000,
                        help="users the batch_sample stage scores (a seeded random sample of the fitted users)")
    parser.add_argument("--memory-limit-gb", type=float, default=16.0)
    parser.add_argument("--timeout-s", type=float, default=3 * 3600)
    parser.add_argument("--causal-engine", choices=("local", "dask"), default="local",
                        help="the causal stage's estimation: local worker processes (default) or a local "
                             "two-worker Dask cluster, one behaviour per call")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.cluster_events = [1_000_000], 1_000_000
    args.work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    previous: dict = {}
    if args.append and (args.out / "scale.json").exists():
        previous = json.loads((args.out / "scale.json").read_text(encoding="utf-8"))
    runs = list(previous.get("runs", []))
    cluster_result = previous.get("cluster")
    if not args.skip_cluster:
        cluster_result = cluster(args.cluster_events, args.work, args)
    for events in args.sizes:
        runs.append(one_size(events, args.work, args))
        data = {"runs": runs, "cluster": cluster_result,
                "wall_seconds": time.perf_counter() - started, "load_average_end": list(os.getloadavg())}
        write_results("scale" if not args.quick else "scale_quick", "Scale: 10M and 100M events on one machine",
                      render(runs, cluster_result), data, args.out)
    print(render(runs, cluster_result))


if __name__ == "__main__":
    main()
