"""The repurchase-cycle term on Tmall 2014: validation and test NDCG@20 against its weight.

Usage (from the repository root)::

    .venv/bin/python bench/bench_ranking_cycle.py --data-dir ../shared/data \
        --params bench/results/ranking_cycle/ranking_tmall2014.json

Takes whyrec's tuned parameters from an evaluation record (the tuner searched ``cycle_weight``
too), fits once on the validation split's training part and once on the test split's, and scores
both splits for each ``cycle_weight`` (a scoring parameter: no refit). The tuner's choice is the
validation column; the test column is shown only to say what the choice cost or saved. Writes
bench/results/ranking_cycle.json and .md.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np
from _common import command_line, machine_info, paired_cells
from threadpoolctl import threadpool_limits

from whyrec.tools.ranking.evaluate import DATASETS, load_dataset
from whyrec.tools.ranking.harness import measure
from whyrec.tools.ranking.registry import make_ranker

WEIGHTS = (0.0, 0.03, 0.1, 0.3, 1.0, 3.0)


def run(data_dir: Path, params_path: Path, dataset: str) -> dict:
    records = json.loads(params_path.read_text(encoding="utf-8"))
    record = next(r for r in records if r["model"] == "whyrec" and not r["protocol"]["exclude_seen"])
    params = dict(record["params"])
    spec = DATASETS[dataset]
    events, items = load_dataset(dataset, data_dir)
    split, validation = spec.protocol.split(events), spec.protocol.validation(events)
    rows = []
    fitted = {name: make_ranker("whyrec", **params).fit(s.train, items)
              for name, s in (("validation", validation), ("test", split))}
    base = {}
    for weight in WEIGHTS:
        row: dict = {"cycle_weight": weight}
        for name, s in (("validation", validation), ("test", split)):
            result = measure(fitted[name].with_params(cycle_weight=weight), s, False)
            row[name] = result.metrics["ndcg@20"]
            row[f"{name}_stderr"] = result.stderr["ndcg@20"]
            if weight == 0.0:
                base[name] = result.per_user["ndcg@20"]
            diff = result.per_user["ndcg@20"] - base[name]
            row[f"{name}_difference"] = float(diff.mean())
            row[f"{name}_paired_stderr"] = float(diff.std(ddof=1) / np.sqrt(len(diff)))
        rows.append(row)
        print(row, file=sys.stderr, flush=True)
    return {"dataset": dataset, "params": {k: v for k, v in params.items() if k != "item_vectors"},
            "rows": rows}


def table(result: dict) -> str:
    lines = ["| cycle_weight | validation NDCG@20 | vs 0 (paired) | test NDCG@20 | vs 0 (paired) |",
             "|---|---|---|---|---|"]
    for r in result["rows"]:
        lines.append(f"| {r['cycle_weight']:g} | {paired_cells(r)} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--params", type=Path, default=Path("bench/results/ranking_cycle/ranking_tmall2014.json"))
    parser.add_argument("--dataset", default="tmall2014")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with threadpool_limits(1, "blas"):
        result = run(args.data_dir, args.params, args.dataset)
    (args.out / "ranking_cycle.json").write_text(json.dumps(
        {"command": command_line(), "machine": machine_info(), "result": result}, indent=2) + "\n", encoding="utf-8")
    text = table(result)
    (args.out / "ranking_cycle.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
