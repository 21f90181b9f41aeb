"""Benchmark: does tuning on rolling validation windows choose better than one validation split?

For each dataset and seen-items setting, whyrec is tuned twice by the same search and CPU budget —
on the one validation split (``--windows 1``, what the tables elsewhere use) and on N rolling
validation windows (each the cut made again further back, every point scored over all their
users together: ``tools/ranking/split.py``, ``tools/ranking/tuning.py``) — then refitted on the
training part and scored on the same test users. The difference is paired over those users.

Usage (from the repository root)::

    .venv/bin/python bench/bench_windows.py --datasets demo tmall2014 rees46 --windows 3 --budget 600

Writes bench/results/windows.json and bench/results/windows.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from whyrec.tools.ranking.evaluate import DATASETS, evaluate, paired

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import md_table

RESULTS = Path(__file__).resolve().parent / "results"
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


#: The seen-items settings of the comparison table in RESULTS.md (seen allowed / excluded).
SETTINGS: dict[str, tuple[bool, ...]] = {"demo": (False, True), "tmall2014": (False,), "rees46": (False,)}


def run(dataset: str, windows: int, budget: float, data_dir: Path) -> list[dict]:
    out = []
    for seen in SETTINGS.get(dataset, DATASETS[dataset].exclude_seen):
        records = {}
        for count in (1, windows):
            started = time.process_time()
            (record,) = evaluate(dataset, ["whyrec"], data_dir, exclude_seen=[seen], budget_seconds=budget,
                                 windows=count)
            records[count] = (record, time.process_time() - started)
        one, many = records[1][0], records[windows][0]
        comparison = paired(many, one)
        out.append({
            "dataset": dataset, "seen": "excluded" if seen else "allowed", "windows": windows,
            "windows_used": many.protocol["tuned_on"], "test_users": one.n_test_users,
            "one_split": {"test": one.metrics["ndcg@20"], "validation": one.validation["score"],
                          "validation_users": one.validation["n_users"], "cpu_seconds": records[1][1],
                          "params": one.params},
            "rolling": {"test": many.metrics["ndcg@20"], "validation": many.validation["score"],
                        "validation_users": many.validation["n_users"], "cpu_seconds": records[windows][1],
                        "params": many.params},
            "difference": comparison.difference, "paired_stderr": comparison.difference_stderr, "ratio": comparison.ratio,
        })
        logging.info("%s seen %s: one split %.4f, %d windows %.4f (%+.4f ± %.4f)", dataset, out[-1]["seen"],
                     one.metrics["ndcg@20"], windows, many.metrics["ndcg@20"], comparison.difference,
                     comparison.difference_stderr)
    return out


def to_markdown(rows: list[dict]) -> str:
    lines = ["# Rolling validation windows against one validation split (whyrec, NDCG@20 on test)", "",
             "Same search, same CPU budget per tuning, same test users; the difference is paired over them.", ""]
    lines.append(md_table(["dataset", "seen items", "one split: test (validation, users)",
                       "rolling windows: test (validation, users)", "windows used", "difference ± paired s.e.",
                       "ratio", "test users"],
                      [[r["dataset"], r["seen"],
                        f"{r['one_split']['test']:.4f} ({r['one_split']['validation']:.4f}, "
                        f"{r['one_split']['validation_users']})",
                        f"{r['rolling']['test']:.4f} ({r['rolling']['validation']:.4f}, "
                        f"{r['rolling']['validation_users']})",
                        r["windows_used"], f"{r['difference']:+.4f} ± {r['paired_stderr']:.4f}",
                        f"{r['ratio']:.3f}x", r["test_users"]] for r in rows]))
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["demo", "tmall2014", "rees46"])
    parser.add_argument("--windows", type=int, default=3)
    parser.add_argument("--budget", type=float, default=600.0)
    parser.add_argument("--data-dir", type=Path, default=DATA)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("whyrec.tools.ranking.base").setLevel(logging.WARNING)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "windows.json"
    rows = [r for r in (json.loads(path.read_text())["runs"] if path.exists() else [])
            if r["dataset"] not in args.datasets]
    with threadpool_limits(1):
        for dataset in args.datasets:
            rows += run(dataset, args.windows, args.budget, args.data_dir)
            path.write_text(json.dumps({"runs": rows}, indent=1, default=str))
    (args.out / "windows.md").write_text(to_markdown(rows), encoding="utf-8")
    print(to_markdown(rows))


if __name__ == "__main__":
    main()
