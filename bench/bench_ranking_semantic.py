"""Semantic ablation: whyrec with and without item-text vectors as a ranker term.

Usage (from the repository root; one dataset per process)::

    nice -n 10 .venv/bin/python bench/bench_ranking_semantic.py --dataset movielens --budget 120
    nice -n 10 .venv/bin/python bench/bench_ranking_semantic.py --dataset demo --budget 40

Each item's text (title, then its description: genres and tags on MovieLens; category, brand
and description on the demo shop) is embedded with the project's offline MiniLM model. whyrec
is tuned on the validation split without vectors; then, with the vectors, the same search starts
from that choice with ``text_weight`` (0 = off) as its first axis and the same CPU budget; both
are refitted on the training part and scored on the test split. The difference is paired over the same test
users. Writes bench/results/ranking_semantic_<dataset>.json and rebuilds
bench/results/ranking_semantic.md from every such file.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _common import command_line, machine_info
from threadpoolctl import threadpool_limits

from whyrec.tools.embeddings import default_embedder
from whyrec.tools.ranking.evaluate import DATASETS, load_dataset
from whyrec.tools.ranking.harness import measure
from whyrec.tools.ranking.registry import make_ranker
from whyrec.tools.ranking.spaces import TEXT_AXIS, search_space
from whyrec.tools.ranking.tuning import tune

log = logging.getLogger("bench_ranking_semantic")


def item_texts(items: pd.DataFrame) -> list[str]:
    parts = [items["title"].astype("string").fillna("")]
    for column in ("category", "brand", "description"):
        if column in items.columns:
            parts.append(items[column].astype("string").fillna(""))
    frame = pd.concat(parts, axis=1)
    return [". ".join(p for p in row if p) for row in frame.itertuples(index=False)]


def run(dataset: str, data_dir: Path, budget: float) -> dict:
    spec = DATASETS[dataset]
    events, items = load_dataset(dataset, data_dir)
    texts = item_texts(items)
    started = time.perf_counter()
    vectors = default_embedder().embed(texts)
    embed_seconds = time.perf_counter() - started
    ids = items["item_id"].astype(str).to_numpy()
    split, validation = spec.protocol.split(events), spec.protocol.validation(events)
    behaviours = validation.train["behaviour"].astype(str).unique()
    out: dict = {"dataset": dataset, "items": len(items), "events": len(events),
                 "embed_seconds": round(embed_seconds, 1), "vector_dim": int(vectors.shape[1]),
                 "budget_cpu_seconds": budget, "example_text": texts[0][:200], "protocols": []}
    for setting in spec.exclude_seen:
        # Without vectors: the usual search. With them: text_weight first, starting from the
        # point the first search chose (so the second search can only add to it on validation).
        without = tune("whyrec", validation, items, setting, budget_seconds=budget)
        fixed = {"item_vectors": (ids, vectors)}
        space = (TEXT_AXIS, *search_space("whyrec", behaviours))
        with_text = tune("whyrec", validation, items, setting, fixed, space=space,
                         start={**without.point, "text_weight": 0.0}, budget_seconds=budget)
        tried = sorted({float(t.point.get("text_weight", 0.0)) for t in with_text.trials})
        scores = {}
        for label, tuned in (("without", without), ("with", with_text)):
            ranker = make_ranker("whyrec", **tuned.params).fit(split.train, items)
            scores[label] = (tuned, measure(ranker, split, setting))
        (a_tuned, a), (b_tuned, b) = scores["without"], scores["with"]
        assert a.users == b.users
        diff = b.per_user["ndcg@20"] - a.per_user["ndcg@20"]
        out["protocols"].append({
            "exclude_seen": setting, "test_users": a.n_users,
            "without": {"ndcg@20": a.metrics["ndcg@20"], "stderr": a.stderr["ndcg@20"],
                        "validation": a_tuned.score, "trials": len(a_tuned.trials)},
            "with": {"ndcg@20": b.metrics["ndcg@20"], "stderr": b.stderr["ndcg@20"],
                     "validation": b_tuned.score, "trials": len(b_tuned.trials),
                     "text_weight": float(b_tuned.params.get("text_weight", 0.0)),
                     "text_weights_tried": tried},
            "difference": float(diff.mean()), "paired_stderr": float(diff.std(ddof=1) / np.sqrt(len(diff))),
            "ratio": float(b.metrics["ndcg@20"] / a.metrics["ndcg@20"]) if a.metrics["ndcg@20"] else None,
        })
        print(out["protocols"][-1], file=sys.stderr, flush=True)
    return out


def table(out_dir: Path) -> str:
    lines = ["## Semantic ablation: whyrec with and without item-text vectors (test NDCG@20)\n",
             "| dataset | seen items | validation without → with | without | with text vectors | "
             "chosen text_weight | difference ± paired s.e. | ratio | test users |",
             "|---|---|---|---|---|---|---|---|---|"]
    for path in sorted(out_dir.glob("ranking_semantic_*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        for p in data["result"]["protocols"]:
            lines.append(
                f"| {data['result']['dataset']} | {'excluded' if p['exclude_seen'] else 'allowed'} | "
                f"{p['without']['validation']:.4f} → {p['with']['validation']:.4f} | "
                f"{p['without']['ndcg@20']:.4f} ± {p['without']['stderr']:.4f} | "
                f"{p['with']['ndcg@20']:.4f} ± {p['with']['stderr']:.4f} | {p['with']['text_weight']:g} | "
                f"{p['difference']:+.4f} ± {p['paired_stderr']:.4f} | {p['ratio']:.3f}x | {p['test_users']} |")
    lines.append("\nEach row: whyrec tuned on the validation split without vectors; with vectors the same search "
                 "restarts from that choice with text_weight first (0 = off), same CPU budget; commands in the "
                 "JSON files.")
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["movielens", "demo", "tmall2014", "rees46"], default="movielens")
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--budget", type=float, default=120.0, help="tuning CPU seconds per run")
    parser.add_argument("--out", type=Path, default=Path("bench/results"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with threadpool_limits(1, "blas"):
        result = run(args.dataset, args.data_dir, args.budget)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"ranking_semantic_{args.dataset}.json"
    path.write_text(json.dumps({"command": command_line(), "machine": machine_info(), "result": result},
                               indent=2, default=str) + "\n", encoding="utf-8")
    text = table(args.out)
    (args.out / "ranking_semantic.md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
