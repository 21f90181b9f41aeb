"""Benchmark the causal tool on the demo shop: wall time and error against the ground truth.

    .venv/bin/python bench/bench_causal.py            # 100k and 1M events
    .venv/bin/python bench/bench_causal.py --sizes 100000

Writes bench/results/causal.md and causal.json. Timed: unit table + every behaviour's
estimators + refutations (10 simulations, <= 20k-unit subsample), not the simulation itself.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from whyrec.tools.causal import EffectSettings, build_units
from whyrec.tools.causal.estimate import estimate_behaviour
from whyrec.tools.demo import DemoConfig, generate_shop

RESULTS = Path(__file__).resolve().parent / "results"
EVENTS_PER_USER = 30.7  # measured on the default demo shop (12,265 events / 400 users)


def run(target_events: int, seed: int, settings: EffectSettings) -> dict:
    users = max(50, round(target_events / EVENTS_PER_USER))
    shop = generate_shop(DemoConfig(users=users, items=max(300, users // 10), seed=seed))
    started = time.perf_counter()
    table = build_units(shop.events, shop.items)
    unit_seconds = time.perf_counter() - started
    rows = []
    for behaviour in settings.behaviours:
        effect = estimate_behaviour(table.frame, behaviour, settings)
        truth = shop.ground_truth.effect(behaviour)
        methods = [(effect.method, effect.estimate, effect.ci_low, effect.ci_high)]
        methods += [(a.method, a.estimate, a.ci_low, a.ci_high) for a in effect.alternatives]
        row = {"behaviour": behaviour, "truth": truth, "naive": effect.naive,
               "naive_rel_error": abs(effect.naive - truth) / truth,
               "refutations_passed": sum(r.passed for r in effect.refutations),
               "refutations": len(effect.refutations), "estimators": []}
        for method, value, low, high in methods:
            row["estimators"].append({"method": method, "estimate": value, "ci_low": low, "ci_high": high,
                                      "rel_error": abs(value - truth) / truth,
                                      "covers_truth": bool(low <= truth <= high)})
        rows.append(row)
    total = time.perf_counter() - started
    return {"target_events": target_events, "events": len(shop.events), "units": len(table.frame),
            "users": users, "seconds_unit_table": round(unit_seconds, 2),
            "seconds_total": round(total, 2), "effects": rows}


def to_markdown(runs: list[dict], settings: EffectSettings) -> str:
    lines = ["# Causal tool on the demo shop: speed and error against the ground truth", "",
             f"Machine: {platform.machine()}, Python {platform.python_version()}; "
             f"refutations: {', '.join(settings.refuters)} with {settings.num_simulations} simulations "
             f"on at most {settings.refute_max_units:,} units. Baseline: the naive difference in means.",
             "", "| events | units | unit table (s) | full pipeline (s) |", "|---:|---:|---:|---:|"]
    lines += [f"| {r['events']:,} | {r['units']:,} | {r['seconds_unit_table']} | {r['seconds_total']} |"
              for r in runs]
    lines += ["", "| events | behaviour | truth | naive (rel. err.) | estimator | estimate [95% CI] | rel. err. | "
              "error vs naive | refutations |", "|---:|---|---:|---:|---|---|---:|---:|---:|"]
    for r in runs:
        for e in r["effects"]:
            for m in e["estimators"]:
                ratio = m["rel_error"] / e["naive_rel_error"] if e["naive_rel_error"] else float("nan")
                lines.append(
                    f"| {r['events']:,} | {e['behaviour']} | {e['truth']:.4f} | {e['naive']:.4f} "
                    f"({e['naive_rel_error']:.0%}) | {m['method'].replace('backdoor.', '')} | "
                    f"{m['estimate']:.4f} [{m['ci_low']:.4f}, {m['ci_high']:.4f}] | "
                    f"{m['rel_error']:.1%} | {ratio:.2f}x | {e['refutations_passed']}/{e['refutations']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    settings = EffectSettings()
    runs = [run(size, args.seed, settings) for size in args.sizes]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "causal.json").write_text(json.dumps({"settings": settings.to_json(), "runs": runs},
                                                    indent=2), encoding="utf-8")
    markdown = to_markdown(runs, settings)
    (RESULTS / "causal.md").write_text(markdown, encoding="utf-8")
    print(markdown)


if __name__ == "__main__":
    main()
