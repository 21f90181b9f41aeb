"""Run every benchmark (``make bench``), each as its own process, and say which passed.

Usage (from the repository root)::

    .venv/bin/python bench/run_all.py            # every benchmark, full size (hours on 2 cores)
    .venv/bin/python bench/run_all.py --quick    # every benchmark, small (minutes)
    .venv/bin/python bench/run_all.py --only causal explain

Results go to ``bench/results/`` (each script writes its own JSON/Markdown); ``bench/RESULTS.md``
explains them. A benchmark that fails is reported and the others still run.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
DATA = BENCH.parent.parent / "shared" / "data"

#: name -> (script, full arguments, quick arguments)
BENCHMARKS: dict[str, tuple[str, list[str], list[str]]] = {
    "ranking": ("evaluate_rankers.py", ["--dataset", "all", "--data-dir", str(DATA), "--out", "bench/results"],
                ["--dataset", "demo", "--data-dir", str(DATA), "--no-tune", "--out", "bench/out"]),
    "ranking_latency": ("bench_ranking_latency.py", ["--items", "10000", "100000", "--out", "bench/results"],
                        ["--items", "2000", "--users", "300", "--calls", "50"]),
    "causal": ("bench_causal.py", [], ["--sizes", "20000"]),
    "coat": ("coat_debias.py", ["--data", str(DATA / "coat")], ["--data", str(DATA / "coat"), "--seeds", "0"]),
    "explain": ("bench_explain.py", [], ["--datasets", "demo", "--pairs", "40", "--min-sets", "20",
                                         "--strict", "3", "--demo-items", "500", "--demo-users", "200",
                                         "--no-write"]),
    "ingest": ("bench_ingest.py", [], ["--quick"]),
    "store": ("bench_store.py", [], ["--quick"]),
    "agent": ("bench_agent.py", [], ["--quick"]),
    "load": ("bench_load.py", [], ["--quick"]),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small runs of every benchmark")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), help="run only these")
    args = parser.parse_args(argv)
    chosen = args.only or list(BENCHMARKS)
    outcomes: dict[str, tuple[int, float]] = {}
    for name in chosen:
        script, full, quick = BENCHMARKS[name]
        command = [sys.executable, str(BENCH / script), *(quick if args.quick else full)]
        print(f"== {name}: {' '.join(command)}", flush=True)
        started = time.perf_counter()
        code = subprocess.call(command, cwd=BENCH.parent)
        outcomes[name] = (code, time.perf_counter() - started)
    print("\nbenchmark        result   seconds")
    for name, (code, seconds) in outcomes.items():
        print(f"{name:<16} {'ok' if code == 0 else f'FAILED ({code})':<8} {seconds:8.0f}")
    return 0 if all(code == 0 for code, _ in outcomes.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
