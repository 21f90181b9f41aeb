"""Benchmark: every ranker on every dataset, each tuned by the same search on a validation split.

Usage (from the repository root; one dataset per process lets two run side by side)::

    .venv/bin/python bench/evaluate_rankers.py --dataset tmall2014 --data-dir ../shared/data --out bench/results --budget 600
    .venv/bin/python bench/evaluate_rankers.py --table-only --out bench/results

Writes bench/results/ranking_<dataset>.json (one record per dataset, model and protocol, with the
chosen parameters and the validation score) and rebuilds bench/results/ranking_table.md from every
ranking_<dataset>.json; the same as ``whyrec evaluate``. ``bench/ranking_search_check.py`` then
checks that a longer search would not have found a clearly better configuration.
"""

from __future__ import annotations

import logging
import sys

from threadpoolctl import threadpool_limits

from whyrec.tools.ranking.evaluate import evaluate_cli

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("whyrec.tools.ranking.base").setLevel(logging.WARNING)
    # One BLAS thread per process: two runs side by side on two shared cores, and the tuning
    # budget counts CPU time (spinning BLAS threads would spend it).
    with threadpool_limits(1):
        sys.exit(evaluate_cli(sys.argv[1:]))
