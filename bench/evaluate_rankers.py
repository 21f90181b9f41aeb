"""Benchmark: every ranker on every dataset, one run (tuned on validation splits only).

Usage (from the repository root)::

    .venv/bin/python bench/evaluate_rankers.py --dataset all --data-dir ../shared/data --out bench/results

Writes bench/results/ranking_<dataset>.json (one record per dataset, model and protocol) and
bench/results/ranking_table.md; the same as ``whyrec evaluate``.
"""

from __future__ import annotations

import logging
import sys

from whyrec.tools.ranking.evaluate import evaluate_cli

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("whyrec.tools.ranking.base").setLevel(logging.WARNING)
    sys.exit(evaluate_cli(sys.argv[1:]))
