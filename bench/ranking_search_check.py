"""Were the evaluation's models tuned hard enough? A longer search, then the test split.

For each model of a finished evaluation (``bench/results/ranking_<dataset>.json``), continue the
search from the configuration the evaluation chose: the same tuner on the same validation split,
with a larger budget and random restarts. Then score on the test split (refitted on the training
part) the best configuration the longer search found by validation, and — as an optimistic
bound — the best test score among its ``--top`` best validation configurations. The model is
"tuned enough" when the evaluation's test NDCG@20 is within one standard error of both.

Usage (from the repository root)::

    .venv/bin/python bench/ranking_search_check.py --dataset tmall2014 --seen allowed \\
        --models ease,als,itemknn,sequential,repeat,popular --budget 1800 --restarts 100

Writes ``bench/results/ranking_search_<dataset>_<seen>.json`` and rebuilds
``bench/results/ranking_search.md`` from every such file.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from whyrec.tools.ranking.evaluate import DATASETS, load_dataset
from whyrec.tools.ranking.harness import measure
from whyrec.tools.ranking.registry import make_ranker
from whyrec.tools.ranking.tuning import constructor_params, tune

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import command_line, machine_info

log = logging.getLogger("ranking_search_check")
METRIC = "ndcg@20"


def _test_score(model: str, params: dict[str, Any], split: Any, items: Any, seen: bool
                ) -> tuple[float, float, np.ndarray]:
    result = measure(make_ranker(model, **params).fit(split.train, items), split, seen)
    return result.metrics[METRIC], result.stderr[METRIC], result.per_user[METRIC]


def check_model(model: str, record: dict[str, Any], validation: Any, split: Any, items: Any,
                seen: bool, budget: float, restarts: int, top: int, seed: int) -> dict[str, Any]:
    """Continue ``model``'s search from the evaluation's point; score the results on test."""
    main_point = record["validation"]["point"]
    started = time.perf_counter()
    result = tune(model, validation, items, seen, start=main_point, budget_seconds=budget,
                  restarts=restarts, seed=seed)
    main_test, main_se, main_users = _test_score(model, constructor_params(main_point), split,
                                                 items, seen)
    ranked, seen_keys = [], set()
    for trial in sorted(result.trials, key=lambda t: -t.score):
        key = repr(sorted(trial.point.items()))
        if key not in seen_keys:
            seen_keys.add(key)
            ranked.append(trial)
        if len(ranked) >= top:
            break
    scored = []
    for trial in ranked:
        if trial.point == main_point:
            test, se, users = main_test, main_se, main_users
        else:
            test, se, users = _test_score(model, constructor_params(trial.point), split, items,
                                          seen)
        diff = users - main_users
        scored.append({"point": trial.point, "validation": trial.score,
                       "validation_stderr": trial.stderr, "test": test, "test_stderr": se,
                       "test_minus_main": float(diff.mean()),
                       "paired_stderr": float(diff.std(ddof=1) / np.sqrt(len(diff)))})
    chosen, best = scored[0], max(scored, key=lambda s: s["test"])
    return {
        "model": model, "seen": "excluded" if seen else "allowed",
        "main": {"point": main_point, "validation": record["validation"]["score"],
                 "validation_trials": record["validation"]["n_trials"],
                 "validation_seconds": record["validation"]["seconds"],
                 "test": main_test, "test_stderr": main_se,
                 "test_in_record": record["metrics"][METRIC]},
        "search": {"seconds": round(time.perf_counter() - started, 1),
                   "budget": budget, "restarts": restarts, "trials": len(result.trials),
                   "converged": result.converged, "budget_exhausted": result.budget_exhausted,
                   "edges": result.edges},
        "chosen": chosen, "best_of_top": best, "top": scored,
        "within_one_se": bool(chosen["test"] - main_test <= main_se
                              and best["test"] - main_test <= main_se),
    }


def summary_table(results_dir: Path) -> str:
    lines = ["| dataset | seen | model | evaluation: test NDCG@20 (validation, trials) | "
             "longer search | its choice: test (validation) | best test of its top | "
             "within 1 s.e. |",
             "|---|---|---|---|---|---|---|---|"]
    for path in sorted(results_dir.glob("ranking_search_*_*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for r in data["models"]:
            m, s, c, b = r["main"], r["search"], r["chosen"], r["best_of_top"]
            lines.append(
                f"| {data['dataset']} | {r['seen']} | {r['model']} | "
                f"{m['test']:.4f} ± {m['test_stderr']:.4f} ({m['validation']:.4f}, "
                f"{m['validation_trials']}) | {s['seconds']:.0f} s, {s['trials']} trials"
                f"{', converged' if s['converged'] else ''} | "
                f"{c['test']:.4f} ({c['validation']:.4f}); {c['test_minus_main']:+.4f} ± "
                f"{c['paired_stderr']:.4f} | {b['test']:.4f}; {b['test_minus_main']:+.4f} | "
                f"{'yes' if r['within_one_se'] else '**no**'} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", required=True, choices=list(DATASETS))
    parser.add_argument("--seen", default="allowed", choices=["allowed", "excluded"])
    parser.add_argument("--models", default="popular,repeat,itemknn,ease,als,sequential")
    parser.add_argument("--budget", type=float, default=1800.0, help="seconds per model")
    parser.add_argument("--restarts", type=int, default=100)
    parser.add_argument("--top", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--results", type=Path, default=Path("bench/results"))
    args = parser.parse_args(argv)
    seen = args.seen == "excluded"
    records = json.loads((args.results / f"ranking_{args.dataset}.json").read_text())
    spec = DATASETS[args.dataset]
    events, items = load_dataset(args.dataset, args.data_dir)
    split, validation = spec.protocol.split(events), spec.protocol.validation(events)
    out = args.results / f"ranking_search_{args.dataset}_{args.seen}.json"
    done = json.loads(out.read_text())["models"] if out.exists() else []
    for model in [m.strip() for m in args.models.split(",") if m.strip()]:
        record = next((r for r in records if r["model"] == model
                       and bool(r["protocol"]["exclude_seen"]) == seen), None)
        if record is None or not record.get("validation"):
            log.warning("no tuned %s record for %s (%s); skipped", model, args.dataset, args.seen)
            continue
        log.info("checking %s on %s (%s), budget %.0f s", model, args.dataset, args.seen,
                 args.budget)
        result = check_model(model, record, validation, split, items, seen, args.budget,
                             args.restarts, args.top, args.seed)
        done = [d for d in done if d["model"] != model] + [result]
        out.write_text(json.dumps({"dataset": args.dataset, "seen": args.seen,
                                   "command": command_line(), "machine": machine_info(),
                                   "models": done}, indent=2, default=str) + "\n")
        log.info("%s: evaluation %.4f, longer search's choice %.4f, best of top %.4f",
                 model, result["main"]["test"], result["chosen"]["test"],
                 result["best_of_top"]["test"])
    table = args.results / "ranking_search.md"
    table.write_text(summary_table(args.results) + "\n", encoding="utf-8")
    print(table.read_text(encoding="utf-8"))  # benchmark output
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("whyrec.tools.ranking.base").setLevel(logging.WARNING)
    # One BLAS thread per process: two runs side by side on two shared cores, and the tuning
    # budget counts CPU time (spinning BLAS threads would spend it).
    with threadpool_limits(1):
        sys.exit(main(sys.argv[1:]))
