"""The served ranker's fit on a large workspace: this code against an earlier commit, same run.

Usage (from the repository root; the workspace from ``bench_scale.py --keep``)::

    nice -n 5 .venv/bin/python bench/bench_ranking_fit.py --workspace /tmp/scale-work/ws-10000000 \\
        --baseline 586d950 --repeats 2

For each configuration (the default cosine whyrec, and EASE as the 100M auto-tune chose) and each
code tree (``--baseline REV``, exported with ``git archive``, and the working tree), a fresh
child process reads the workspace's lean frame (not timed) and fits ``WhyrecRanker`` on every
event: CPU seconds, wall seconds and the child's peak memory. The trees alternate, repeated
``--repeats`` times; the minimum CPU time counts. Each fit's similarity matrix, popularity and
conversion rates are hashed, so the record says whether both trees learned the same model.
Writes bench/results/ranking_fit.json and .md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import command_line, machine_info, md_table, write_results
from bench_scale import run_stage

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("agent", "prompts", "tools", "ui")

CHILD = r"""
import hashlib, json, resource, sys, time
import numpy as np
spec = json.loads(sys.argv[1])
from whyrec.tools.ranking.whyrec import WhyrecRanker
from whyrec.tools.workspace import Workspace
workspace = Workspace.open(spec["workspace"])
events, items = workspace.lean_events(), workspace.items()
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu, started = usage.ru_utime + usage.ru_stime, time.perf_counter()
ranker = WhyrecRanker(**spec["params"]).fit(events, items)
usage = resource.getrusage(resource.RUSAGE_SELF)
out = {"fit_cpu_seconds": usage.ru_utime + usage.ru_stime - cpu, "fit_seconds": time.perf_counter() - started,
       "events": len(events), "users": len(ranker.user_ids), "items": len(ranker.item_ids)}
digest = hashlib.sha256()
similarity = ranker.similarity_.tocsr()
similarity.sort_indices()
for array in (similarity.indptr, similarity.indices, similarity.data, ranker.popularity_, ranker.conversion_):
    digest.update(np.ascontiguousarray(array).tobytes())
out["model_sha256"] = digest.hexdigest()[:16]
print("RESULT " + json.dumps(out))
"""

CONFIGS = {
    "cosine (the default)": {},
    "ease (chosen by the 100M auto-tune)": {"similarity": "ease", "behaviour_weights": {
        "view": 0.1, "favourite": 0.6, "cart": 0.8, "purchase": 1.0}},
}


def export_tree(rev: str, into: Path) -> Path:
    """``rev``'s packages under ``into``, importable as ``whyrec.*`` with ``into/path`` first
    on PYTHONPATH (the editable install maps ``whyrec`` to the working tree otherwise)."""
    repo, path = into / "repo", into / "path" / "whyrec"
    repo.mkdir(parents=True)
    path.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(repo)], input=archive, check=True)
    for package in PACKAGES:
        (path / package).symlink_to(repo / package)
    return into / "path"


def fit_once(spec: dict, pythonpath: str | None, timeout_s: float, child: str = CHILD) -> dict:
    """One child running ``child`` (this file's fit by default) on the code tree at ``pythonpath``."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    return run_stage(spec, timeout_s, memory_limit_gb=16.0, child=child, env=env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workspace", required=True)
    parser.add_argument("--baseline", required=True, help="the earlier commit to compare with")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--configs", nargs="+", choices=list(CONFIGS), default=list(CONFIGS))
    parser.add_argument("--timeout-s", type=float, default=3600)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args()
    rev = subprocess.run(["git", "rev-parse", "--short", args.baseline], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout.strip()
    records: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        trees = {f"baseline {rev}": str(export_tree(rev, Path(tmp))), "this tree": None}
        for config in args.configs:
            spec = {"workspace": args.workspace, "params": CONFIGS[config]}
            for repeat in range(args.repeats):
                for tree, pythonpath in trees.items():
                    print(f"{config} · {tree} · repeat {repeat + 1}", flush=True)
                    result = fit_once(spec, pythonpath, args.timeout_s)
                    print(f"  {result}", flush=True)
                    records.append({"config": config, "tree": tree, "repeat": repeat, **result})
    rows = []
    for config in args.configs:
        best = {}
        for tree in (f"baseline {rev}", "this tree"):
            ok = [r for r in records if r["config"] == config and r["tree"] == tree and r["status"] == "ok"]
            best[tree] = min(ok, key=lambda r: r["fit_cpu_seconds"]) if ok else None
        base, this = best[f"baseline {rev}"], best["this tree"]
        if base is None or this is None:
            rows.append([config, "failed", "", "", "", "", ""])
            continue
        rows.append([config, f"{this['events']:,}", f"{base['fit_cpu_seconds']:.1f}", f"{this['fit_cpu_seconds']:.1f}",
                     f"{base['fit_cpu_seconds'] / this['fit_cpu_seconds']:.2f}x",
                     f"{base['peak_memory_gb']:.2f} / {this['peak_memory_gb']:.2f}",
                     "yes" if base["model_sha256"] == this["model_sha256"] else "NO"])
    body = (f"Workspace `{args.workspace}`; baseline {rev} against the working tree; each fit a fresh child; "
            f"minimum CPU seconds over {args.repeats} alternated repeats.\n\n"
            + md_table(["configuration", "events", f"{rev} fit CPU s", "this tree CPU s", "speed-up",
                        "peak GB (before / after)", "same model"], rows))
    write_results("ranking_fit", "Ranker fit on a large workspace: before and after, same run", body,
                  {"machine": machine_info(), "command": command_line(), "baseline": rev,
                   "workspace": args.workspace, "records": records}, out_dir=Path(args.out))


if __name__ == "__main__":
    main()
