"""The behaviour vector store: indexing cost and search latency, against brute-force numpy.

Usage (from the repository root)::

    .venv/bin/python bench/bench_store.py            # full: demo shop N=1k and N=10k, REES46 head
    .venv/bin/python bench/bench_store.py --quick    # < 2 min: demo shop N=500
                                                     # (writes to a temp folder unless --out is given)

For each dataset a fresh workspace is built (demo: ``build_demo_workspace`` with ``items=N`` and
enough users for about N behaviour documents; REES46: ``ingest`` with its preset), then:

* **Indexing**: ``BehaviourStore.sync()`` on an empty store, with the embedder and the Chroma
  client wrapped (not changed) so the time splits into embedding, Chroma writes (``upsert``),
  Chroma reads (``get``, used to reuse item vectors for behaviours) and the rest (document
  building, hashing, state files). A second ``sync()`` (nothing changed) is timed too.
* **Search** over the same queries (≥ 200, built from catalog categories and titles, fixed seed):
  ``search_items`` unfiltered and with a top-level category filter, and ``search_behaviours``
  for a random user — each (a) through the plain API with the real embedder (query embedding
  included) and (b) with an embedder that returns the query's precomputed vector (query embedding
  excluded; everything else is the same public call). Baselines in the same run: brute-force
  numpy cosine top-k over the very vectors stored in Chroma, with the same filter applied as a
  boolean mask; and, for reference, Chroma's own HNSW ``query`` (which whyrec does not use).
  All variants of one operation run interleaved, query by query, so load on a shared machine
  hits them alike; the first call of each is reported apart (cold) and ten warm-up queries are
  dropped. BLAS runs single-threaded in the search loops and torch single-threaded (see options).

Writes bench/results/store.md and store.json.

Two more parts (issue 17), this code against a baseline's (``--baseline``: a folder holding the
baseline's ``whyrec`` package), on the default demo shop (``whyrec demo``: 400 users, 300 items)
and the REES46 head, each store built once by this code; every measurement in a fresh process::

    .venv/bin/python bench/bench_store.py --part search --baseline /tmp/oldpkg   # store_search.md
    .venv/bin/python bench/bench_store.py --part forget --baseline /tmp/oldpkg   # store_forget.md

``search``: ``whyrec search`` end to end as a user runs it (process start to exit; the first
call after the store was built, then repeated calls), and inside one process the first
``search_items`` (model load included) and the median of 20 more. ``forget``: ``forget_user`` of
the user with the most events (on a copy of the workspace), its time, and a scan of every byte
of the workspace's files afterwards for the user id and the ids of their behaviour documents.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import md_table, percentiles_ms, write_results

from whyrec.tools.behaviour_store import BehaviourStore, behaviour_documents, item_documents, make_client
from whyrec.tools.demo import DemoConfig, build_demo_workspace, generate_shop
from whyrec.tools.embeddings import Embedder
from whyrec.tools.ingest.pipeline import ingest
from whyrec.tools.ingest.presets import get_preset
from whyrec.tools.workspace import Workspace

REES46 = Path("/work/shared/data/rees46-multicategory-2019oct-head")
K = 10
WARMUP = 10
log = logging.getLogger("bench_store")


# -- instrumentation (wrappers only; the library code runs unchanged) ------------------------
class TimingEmbedder(Embedder):
    """The real embedder, counting the seconds and texts it encodes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seconds = 0.0
        self.texts = 0

    def embed(self, texts, progress=None):  # type: ignore[no-untyped-def, override]
        started = time.perf_counter()
        out = super().embed(texts, progress=progress)
        self.seconds += time.perf_counter() - started
        self.texts += len(texts)
        return out

    def reset(self) -> None:
        self.seconds, self.texts = 0.0, 0


class PrecomputedEmbedder(Embedder):
    """Returns vectors computed beforehand: the store's search is timed without the encoder."""

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        super().__init__()
        self.vectors = vectors

    def embed(self, texts, progress=None):  # type: ignore[no-untyped-def, override]
        return np.stack([self.vectors[t] for t in texts])


class TimedCollection:
    def __init__(self, inner: Any, name: str, sink: dict[tuple[str, str], list[float]]) -> None:
        self._inner, self._name, self._sink = inner, name, sink

    def __getattr__(self, attr: str) -> Any:
        value = getattr(self._inner, attr)
        if attr not in ("upsert", "get", "delete", "add", "query"):
            return value

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return value(*args, **kwargs)
            finally:
                self._sink[(self._name, attr)].append(time.perf_counter() - started)
        return wrapper


class TimedClient:
    """A Chroma client whose collections time their upsert/get/delete calls."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.calls: dict[tuple[str, str], list[float]] = defaultdict(list)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._inner, attr)

    def get_or_create_collection(self, name: str, *args: Any, **kwargs: Any) -> TimedCollection:
        return TimedCollection(self._inner.get_or_create_collection(name, *args, **kwargs), name, self.calls)

    def total(self, name: str, op: str) -> float:
        return float(sum(self.calls.get((name, op), [])))

    def reset(self) -> None:
        self.calls.clear()


# -- datasets --------------------------------------------------------------------------------
def build_demo(folder: Path, n: int, seed: int) -> tuple[Workspace, dict]:
    """A demo workspace with ``n`` catalog items and about ``n`` behaviour documents."""
    probe_users = 50
    probe = generate_shop(DemoConfig(users=probe_users, items=n, seed=seed))
    docs_per_user = len(behaviour_documents(probe.events, probe.items)) / probe_users
    users = max(1, int(round(n / docs_per_user)))
    summary = build_demo_workspace(folder, DemoConfig(users=users, items=n, seed=seed))
    return Workspace.open(folder), {"users": users, "items": n, "events": summary.events, "seed": seed}


def build_rees46(folder: Path) -> tuple[Workspace, dict]:
    preset = get_preset("rees46")
    workspace = Workspace.create(folder)
    result = ingest(workspace, REES46, preset.make_mapping({}), preset=preset)
    return workspace, {"events": result.rows_added, "users": result.users, "items": result.items}


def make_queries(items: pd.DataFrame, users: np.ndarray, n: int, seed: int) -> list[dict]:
    """``n`` (query text, category filter, user) triples from the catalog, with a fixed seed."""
    rng = np.random.default_rng(seed)
    docs = item_documents(items)
    with_category = docs[docs["category_top"].str.len() > 0]
    pool = with_category if len(with_category) else docs
    templates = ["{leaf}", "a cheap {leaf}", "a good {leaf} as a gift", "something like the {title}",
                 "{leaf} for everyday use", "best {leaf} from {brand}"]
    out = []
    for _ in range(n):
        row = pool.iloc[int(rng.integers(len(pool)))]
        leaf = (row["category"].split(".")[-1].replace("_", " ") if row["category"] else "") or row["title"]
        brand = row["brand"] or "a good brand"
        text = templates[int(rng.integers(len(templates)))].format(leaf=leaf, title=row["title"], brand=brand)
        out.append({"text": text, "category": row["category_top"] or None,
                    "user": str(users[int(rng.integers(len(users)))])})
    return out


# -- numpy baselines -------------------------------------------------------------------------
def topk(matrix: np.ndarray, vector: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    scores = matrix @ vector
    if len(scores) > k:
        idx = np.argpartition(-scores, k)[:k]
    else:
        idx = np.arange(len(scores))
    idx = idx[np.argsort(-scores[idx], kind="stable")]
    return idx, scores[idx]


def _loop(fn: Callable[[dict], Any], queries: list[dict]) -> tuple[float, list[float], list[Any]]:
    """Cold first call, then WARMUP dropped calls, then one timed call per query."""
    gc.collect()
    started = time.perf_counter()
    fn(queries[0])
    cold = time.perf_counter() - started
    for q in queries[1:1 + WARMUP]:
        fn(q)
    samples, outputs = [], []
    for q in queries:
        started = time.perf_counter()
        out = fn(q)
        samples.append(time.perf_counter() - started)
        outputs.append(out)
    return cold, samples, outputs


def _scores_agree(a: list[list[float]], b: list[list[float]], tol: float = 1e-4) -> float:
    """Share of queries whose top-k score lists agree (ties may reorder ids, not scores)."""
    same = [len(x) == len(y) and np.allclose(np.asarray(x), np.asarray(y), atol=tol) for x, y in zip(a, b)]
    return float(np.mean(same)) if same else float("nan")


# -- one dataset -----------------------------------------------------------------------------
def bench_dataset(label: str, workspace: Workspace, info: dict, embedder: TimingEmbedder,
                  n_queries: int, seed: int, args_blas_threads: int | None = None) -> dict:
    client = TimedClient(make_client(workspace))
    store = BehaviourStore(workspace, embedder, client=client)
    items, events = workspace.items(), workspace.events()

    # Document building alone (the same functions sync() calls), for the split.
    t0 = time.perf_counter()
    item_docs = item_documents(items)
    t1 = time.perf_counter()
    behaviour_documents(events, items)
    t2 = time.perf_counter()
    build_items_s, build_behaviours_s = t1 - t0, t2 - t1

    embedder.reset()
    client.reset()
    gc.collect()
    started = time.perf_counter()
    result = store.sync()
    sync_s = time.perf_counter() - started
    embed_items_s = embedder.seconds  # verbs and unknown items are embedded during the behaviour step
    embedded_texts = embedder.texts
    calls = dict(client.calls)
    items_name, beh_name = store.items_name, store.behaviours_name
    index = {
        "items": result.items_upserted, "behaviour_documents": result.behaviours_upserted,
        "distinct_item_texts": int(item_docs["embed_text"].nunique()),
        "sync_total_s": sync_s,
        "embedding_s": embed_items_s, "texts_embedded": embedded_texts,
        "chroma_upsert_items_s": client.total(items_name, "upsert"),
        "chroma_upsert_behaviours_s": client.total(beh_name, "upsert"),
        "chroma_get_s": client.total(items_name, "get") + client.total(beh_name, "get"),
        "upsert_batches": len(calls.get((items_name, "upsert"), [])) + len(calls.get((beh_name, "upsert"), [])),
        "build_item_documents_s": build_items_s, "build_behaviour_documents_s": build_behaviours_s,
    }
    index["other_s"] = (sync_s - index["embedding_s"] - index["chroma_upsert_items_s"]
                        - index["chroma_upsert_behaviours_s"] - index["chroma_get_s"])
    started = time.perf_counter()
    again = store.sync()
    index["resync_nothing_changed_s"] = time.perf_counter() - started
    index["resync_upserted"] = again.items_upserted + again.behaviours_upserted
    print(f"  indexed {index['items']:,} items + {index['behaviour_documents']:,} behaviour docs in "
          f"{sync_s:.1f} s (embedding {embed_items_s:.1f} s)", flush=True)

    # The very vectors Chroma holds, for the numpy baseline.
    raw_items = store._collection(items_name)._inner.get(include=["embeddings", "metadatas"])
    item_matrix = np.asarray(raw_items["embeddings"], dtype=np.float32)

    item_cat = np.asarray([m["category"] for m in raw_items["metadatas"]], dtype=object)
    item_top = np.asarray([m["category_top"] for m in raw_items["metadatas"]], dtype=object)
    raw_beh = store._collection(beh_name)._inner.get(include=["embeddings", "metadatas"])
    beh_matrix = np.asarray(raw_beh["embeddings"], dtype=np.float32)
    beh_users = np.asarray([m["user_id"] for m in raw_beh["metadatas"]], dtype=object)

    queries = make_queries(items, np.unique(beh_users), n_queries + WARMUP, seed)
    texts = sorted({q["text"] for q in queries})
    t0 = time.perf_counter()
    vectors = dict(zip(texts, embedder.embed(texts)))
    batch_embed_s = time.perf_counter() - t0
    # One text at a time, as a search does.
    _, single_embed, _ = _loop(lambda q: embedder.embed([q["text"]]), queries[:n_queries])
    timed_q = queries[:n_queries]

    real = embedder
    cached = PrecomputedEmbedder(vectors)
    chroma_items = store._collection(items_name)._inner
    chroma_beh = store._collection(beh_name)._inner

    def item_where(q: dict) -> dict:
        return {"$or": [{"category": q["category"]}, {"category_top": q["category"]}]}

    modes: dict[str, dict[str, Callable[[dict], Any]]] = {
        "search_items (no filter)": {
            "api_with_embedding": lambda q: store.search_items(q["text"], k=K),
            "api_without_embedding": lambda q: store.search_items(q["text"], k=K),
            "numpy_bruteforce": lambda q: topk(item_matrix, vectors[q["text"]], K),
            "chroma_hnsw_query": lambda q: chroma_items.query(query_embeddings=[vectors[q["text"]]],
                                                              n_results=K, include=["metadatas", "distances"]),
        },
        "search_items (category filter)": {
            "api_with_embedding": lambda q: store.search_items(q["text"], k=K, filters={"category": q["category"]}),
            "api_without_embedding": lambda q: store.search_items(q["text"], k=K, filters={"category": q["category"]}),
            "numpy_bruteforce": lambda q: _masked_topk(item_matrix, (item_top == q["category"]) | (item_cat == q["category"]),
                                                       vectors[q["text"]]),
            "chroma_hnsw_query": lambda q: chroma_items.query(query_embeddings=[vectors[q["text"]]], n_results=K,
                                                              where=item_where(q), include=["metadatas", "distances"]),
        },
        "search_behaviours (user filter)": {
            "api_with_embedding": lambda q: store.search_behaviours(q["user"], q["text"], k=K),
            "api_without_embedding": lambda q: store.search_behaviours(q["user"], q["text"], k=K),
            "numpy_bruteforce": lambda q: _masked_topk(beh_matrix, beh_users == q["user"], vectors[q["text"]]),
            "chroma_hnsw_query": lambda q: chroma_beh.query(query_embeddings=[vectors[q["text"]]], n_results=K,
                                                            where={"user_id": q["user"]}, include=["metadatas", "distances"]),
        },
    }
    search: dict[str, dict] = {}
    for op, variants in modes.items():
        search[op] = {}
        outputs: dict[str, list[Any]] = {}
        # Interleaved: every query runs all variants back to back, so load on the shared machine
        # hits them alike; each variant's first call is cold (reported apart), then warm-ups.
        def call(variant: str, q: dict) -> Any:
            store.embedder = cached if variant == "api_without_embedding" else real
            return variants[variant](q)

        cold = {}
        for variant in variants:
            store._item_cache = None
            gc.collect()
            t0 = time.perf_counter()
            call(variant, timed_q[0])
            cold[variant] = time.perf_counter() - t0
        for q in queries[n_queries:n_queries + WARMUP]:
            for variant in variants:
                call(variant, q)
        samples: dict[str, list[float]] = {v: [] for v in variants}
        outputs = {v: [] for v in variants}
        gc.collect()
        with threadpool_limits(limits=args_blas_threads, user_api="blas"):
            for q in timed_q:
                for variant in variants:
                    t0 = time.perf_counter()
                    out = call(variant, q)
                    samples[variant].append(time.perf_counter() - t0)
                    outputs[variant].append(out)
        for variant in variants:
            search[op][variant] = {"cold_ms": cold[variant] * 1000.0, **percentiles_ms(samples[variant])}
        per_query = np.asarray(samples["api_without_embedding"]) / np.asarray(samples["numpy_bruteforce"])
        search[op]["ratio_api_without_embedding_over_numpy_per_query_median"] = float(np.median(per_query))
        store.embedder = real
        api_scores = [[h.score for h in hits] for hits in outputs["api_without_embedding"]]
        np_scores = [list(map(float, s)) for _, s in outputs["numpy_bruteforce"]]
        search[op]["api_matches_numpy_topk_scores"] = _scores_agree(api_scores, np_scores)
        hnsw_scores = [[1.0 - d for d in res["distances"][0]] for res in outputs["chroma_hnsw_query"]]
        search[op]["hnsw_matches_numpy_topk_scores"] = _scores_agree(hnsw_scores, np_scores)
        base = search[op]["numpy_bruteforce"]["p50_ms"]
        search[op]["ratio_p50_api_without_embedding_over_numpy"] = search[op]["api_without_embedding"]["p50_ms"] / base
        search[op]["ratio_p50_api_with_embedding_over_numpy"] = search[op]["api_with_embedding"]["p50_ms"] / base
        print(f"  {op}: api {search[op]['api_with_embedding']['p50_ms']:.1f} ms p50 with embedding, "
              f"{search[op]['api_without_embedding']['p50_ms']:.2f} ms without; numpy {base:.3f} ms", flush=True)

    # One component of search_behaviours on its own: the title lookup it rebuilds per call.
    _, title_lookup, _ = _loop(lambda q: workspace.items().set_index("item_id")["title"], timed_q[:100])
    filter_sizes = {
        "category_filter_matches_p50": float(np.median([((item_top == q["category"]) | (item_cat == q["category"])).sum()
                                                         for q in timed_q])),
        "user_documents_p50": float(np.median([(beh_users == q["user"]).sum() for q in timed_q])),
    }
    return {"dataset": label, "info": info, "index": index,
            "queries": {"n": len(timed_q), "distinct_texts": len(texts), "k": K,
                        "batch_embed_all_s": batch_embed_s,
                        "single_query_embedding": percentiles_ms(single_embed), **filter_sizes},
            "search": search,
            "component_items_set_index_title": percentiles_ms(title_lookup)}


def _masked_topk(matrix: np.ndarray, mask: np.ndarray, vector: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows = np.flatnonzero(mask)
    idx, scores = topk(matrix[rows], vector, K)
    return rows[idx], scores


# -- report ----------------------------------------------------------------------------------
def render(results: list[dict], args: argparse.Namespace) -> str:
    index_rows = []
    for r in results:
        x = r["index"]
        index_rows.append([r["dataset"], x["items"], x["distinct_item_texts"], x["behaviour_documents"],
                           x["sync_total_s"], x["embedding_s"], x["texts_embedded"],
                           x["chroma_upsert_items_s"], x["chroma_upsert_behaviours_s"], x["chroma_get_s"],
                           x["other_s"], x["resync_nothing_changed_s"]])
    index_table = md_table(["dataset", "items", "distinct texts", "behaviour docs", "sync total s",
                            "embedding s", "texts embedded", "Chroma upsert items s",
                            "Chroma upsert behaviours s", "Chroma get s", "rest s",
                            "re-sync (no change) s"], index_rows)
    per_doc = []
    for r in results:
        x = r["index"]
        per_doc.append([r["dataset"],
                        1000 * x["embedding_s"] / max(x["texts_embedded"], 1),
                        1000 * x["chroma_upsert_items_s"] / max(x["items"], 1),
                        1000 * x["chroma_upsert_behaviours_s"] / max(x["behaviour_documents"], 1),
                        x["build_item_documents_s"], x["build_behaviour_documents_s"]])
    per_doc_table = md_table(["dataset", "embedding ms/text", "Chroma upsert ms/item",
                              "Chroma upsert ms/behaviour doc", "build item docs s (alone)",
                              "build behaviour docs s (alone)"], per_doc)
    search_rows = []
    for r in results:
        for op, s in r["search"].items():
            search_rows.append([
                r["dataset"], op,
                f"{s['api_with_embedding']['p50_ms']:.2f} / {s['api_with_embedding']['p99_ms']:.2f}",
                f"{s['api_without_embedding']['p50_ms']:.2f} / {s['api_without_embedding']['p99_ms']:.2f}",
                f"{s['numpy_bruteforce']['p50_ms']:.3f} / {s['numpy_bruteforce']['p99_ms']:.3f}",
                f"{s['ratio_api_without_embedding_over_numpy_per_query_median']:.0f}x",
                f"{s['chroma_hnsw_query']['p50_ms']:.2f} / {s['chroma_hnsw_query']['p99_ms']:.2f}",
                f"{s['api_without_embedding']['cold_ms']:.0f}",
                f"{100 * s['api_matches_numpy_topk_scores']:.0f}% / {100 * s['hnsw_matches_numpy_topk_scores']:.0f}%",
            ])
    search_table = md_table(["dataset", "operation", "API with query embedding p50 / p99 ms",
                             "API without embedding p50 / p99 ms", "numpy brute force p50 / p99 ms",
                             "API (no emb.) / numpy, median per query", "Chroma HNSW query p50 / p99 ms (ref.)",
                             "API cold first call ms", "top-k scores = numpy: API / HNSW"], search_rows)
    emb_rows = []
    for r in results:
        q = r["queries"]
        emb_rows.append([r["dataset"], q["n"], q["single_query_embedding"]["p50_ms"],
                         q["single_query_embedding"]["p99_ms"], q["category_filter_matches_p50"],
                         q["user_documents_p50"], r["component_items_set_index_title"]["p50_ms"]])
    emb_table = md_table(["dataset", "queries", "query embedding p50 ms", "p99 ms",
                          "items under category filter (p50)", "docs per user (p50)",
                          "items().set_index(title) per search_behaviours call p50 ms"], emb_rows)
    lines = [
        f"Mode: {'quick' if args.quick else 'full'}; k = {K}; {WARMUP} warm-up calls dropped per mode; "
        "one fresh workspace per dataset; the embedding model is loaded before anything is timed.", "",
        "## Indexing (one `BehaviourStore.sync()` into an empty store)", "",
        "Behaviour documents are not text-embedded: their vector is the item's vector (read back "
        "from Chroma, the \"Chroma get\" column) nudged toward one of five verb vectors, so the "
        "embedding column is the catalog's distinct texts plus five verbs.", "",
        index_table, "", per_doc_table, "",
        "## Search latency", "",
        "\"Without embedding\" is the same public call with an embedder that returns the query's "
        "precomputed vector. The numpy baseline scores the same stored vectors (cosine = dot "
        "product), with the filter as a boolean mask computed per query. Chroma's HNSW `query` is "
        "shown for reference only: whyrec ranks exactly (see `_nearest`).", "",
        search_table, "", emb_table, "",
    ]
    for r in results:
        lines.append(f"- {r['dataset']}: " + ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}"
                                                       for k, v in r["info"].items()))
    return "\n".join(lines) + "\n"


# -- issue 17: search latency and forget, this code against a baseline --------------------------------
SEARCH_CHILD = r"""
import json, sys, time
started = time.perf_counter()
from whyrec.tools.behaviour_store import BehaviourStore
from whyrec.tools.embeddings import default_embedder
from whyrec.tools.workspace import Workspace
spec = json.loads(sys.argv[1])
imported = time.perf_counter()
store = BehaviourStore(Workspace.open(spec["workspace"]), default_embedder())
first = store.search_items(spec["queries"][0], k=10)
first_s = time.perf_counter() - imported
times = []
for query in spec["queries"][1:]:
    t = time.perf_counter(); store.search_items(query, k=10); times.append(time.perf_counter() - t)
times.sort()
print("RESULT " + json.dumps({"import_s": imported - started, "first_s": first_s,
                              "repeated_median_s": times[len(times) // 2], "top": first[0].item_id}))
"""

FORGET_CHILD = r"""
import json, resource, sys, time
from whyrec.tools.behaviour_store import BehaviourStore
from whyrec.tools.embeddings import default_embedder
from whyrec.tools.privacy import forget_user
from whyrec.tools.workspace import Workspace
spec = json.loads(sys.argv[1])
workspace = Workspace.open(spec["workspace"])
store = BehaviourStore(workspace, default_embedder())
store.ensure_ready()
started = time.perf_counter()
result = forget_user(workspace, spec["user"], store)
print("RESULT " + json.dumps({"seconds": time.perf_counter() - started, "result": result.to_json()}))
"""


def _child(code: str, spec: dict, baseline: Path | None) -> dict:
    import json
    import subprocess

    env = dict(os.environ)
    if baseline is not None:
        env["PYTHONPATH"] = str(baseline)
    done = subprocess.run([sys.executable, "-c", code, json.dumps(spec)], capture_output=True, text=True,
                          env=env, timeout=3600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"child failed ({done.returncode}): {done.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def _cli_seconds(workspace: Path, query: str, baseline: Path | None) -> float:
    import subprocess

    env = dict(os.environ)
    if baseline is not None:
        env["PYTHONPATH"] = str(baseline)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", "import sys; from whyrec.agent.cli import main; "
                           "sys.exit(main(sys.argv[1:]))", "search", query, "-w", str(workspace), "-k", "5"],
                          capture_output=True, text=True, env=env, timeout=600)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return elapsed


def _prepared_workspaces(tmp: Path, use_rees46: bool) -> list[tuple[str, Path]]:
    out = []
    folder = tmp / "demo-default"
    build_demo_workspace(folder, DemoConfig())
    out.append(("demo (400 users, 300 items)", folder))
    if use_rees46:
        workspace, _ = build_rees46(tmp / "rees46")
        out.append(("rees46 head", workspace.path))
    for label, path in out:
        started = time.perf_counter()
        BehaviourStore(Workspace.open(path), Embedder(backend="torch")).sync()
        print(f"{label}: indexed in {time.perf_counter() - started:.0f} s", flush=True)
    return out


def part_search(args: argparse.Namespace, tmp: Path) -> tuple[str, dict]:
    queries = ["wool scarf", "something warm for winter", "kitchen appliance", "smartphone", "garden tools",
               "a gift for a reader", "running shoes", "coffee", "headphones", "desk lamp"] * 2
    results = []
    for label, path in _prepared_workspaces(tmp, not args.quick and REES46.exists()):
        row: dict[str, Any] = {"dataset": label}
        for code in ("baseline", "this"):  # the first CLI call after the store was built, per code
            row[f"cli_first_s_{code}"] = _cli_seconds(path, queries[0], args.baseline if code == "baseline" else None)
        cli: dict[str, list[float]] = {"baseline": [], "this": []}
        inproc: dict[str, list[dict]] = {"baseline": [], "this": []}
        for rep in range(args.reps):
            for code in (("this", "baseline") if rep % 2 else ("baseline", "this")):
                base = args.baseline if code == "baseline" else None
                cli[code].append(_cli_seconds(path, queries[rep % len(queries)], base))
                inproc[code].append(_child(SEARCH_CHILD, {"workspace": str(path), "queries": queries}, base))
        for code in ("baseline", "this"):
            row[f"cli_repeated_median_s_{code}"] = float(np.median(cli[code]))
            row[f"first_search_in_process_s_{code}"] = float(np.median([r["first_s"] for r in inproc[code]]))
            row[f"repeated_search_in_process_ms_{code}"] = 1000 * float(
                np.median([r["repeated_median_s"] for r in inproc[code]]))
            row[f"import_s_{code}"] = float(np.median([r["import_s"] for r in inproc[code]]))
        row["same_top_item"] = len({r["top"] for v in inproc.values() for r in v}) == 1
        row["samples"] = {"cli": cli, "in_process": inproc}
        results.append(row)
        print(row, flush=True)
    table = md_table(
        ["dataset", "CLI first call s (base / this)", "CLI repeated s, median (base / this)", "CLI speed-up",
         "first search in a process s (base / this)", "repeated search ms (base / this)", "same top item"],
        [[r["dataset"], f"{r['cli_first_s_baseline']:.2f} / {r['cli_first_s_this']:.2f}",
          f"{r['cli_repeated_median_s_baseline']:.2f} / {r['cli_repeated_median_s_this']:.2f}",
          f"{r['cli_repeated_median_s_baseline'] / r['cli_repeated_median_s_this']:.1f}x",
          f"{r['first_search_in_process_s_baseline']:.2f} / {r['first_search_in_process_s_this']:.2f}",
          f"{r['repeated_search_in_process_ms_baseline']:.1f} / {r['repeated_search_in_process_ms_this']:.1f}",
          "yes" if r["same_top_item"] else "NO"] for r in results])
    body = "\n".join([
        f"`whyrec search QUERY -k 5` as a user runs it: wall time from process start to exit. Baseline code: "
        f"`{args.baseline}`. The first call is the first after the store was built; repeated: the median of "
        f"{args.reps} calls per code, alternating. In a process: the first `search_items` after the imports "
        "(model load included), then the median of 19 more queries.", "", table, ""])
    return body, {"results": results, "baseline": str(args.baseline), "reps": args.reps}


def _needle_scan(root: Path, needles: list[bytes]) -> tuple[int, int, list[str]]:
    found, files, total = 0, set(), 0
    for path in sorted(root.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            total += len(data)
            for needle in needles:
                count = data.count(needle)
                if count:
                    found += count
                    files.add(str(path.relative_to(root)))
    return found, total, sorted(files)


def part_forget(args: argparse.Namespace, tmp: Path) -> tuple[str, dict]:
    from whyrec.tools.behaviour_store import _doc_id

    results = []
    for label, path in _prepared_workspaces(tmp, not args.quick and REES46.exists()):
        events = Workspace.open(path).events()
        user = str(events["user_id"].value_counts().index[0])
        mine = events[events["user_id"] == user]
        needles = [user.encode()] + [_doc_id(u, i, b).encode() for u, i, b in
                                     set(zip(mine["user_id"], mine["item_id"], mine["behaviour"]))]
        for code in ("baseline", "this"):
            for rep in range(args.reps):
                copy = tmp / f"forget-{code}-{rep}"
                shutil.copytree(path, copy)
                before, _, _ = _needle_scan(copy, needles)
                got = _child(FORGET_CHILD, {"workspace": str(copy), "user": user},
                             args.baseline if code == "baseline" else None)
                started = time.perf_counter()
                found, scanned, files = _needle_scan(copy, needles)
                scan_s = time.perf_counter() - started
                shutil.rmtree(copy, ignore_errors=True)
                row = {"dataset": label, "code": code, "rep": rep, "user": user, "events": len(mine),
                       "documents": len(needles) - 1, "occurrences_before": before, "forget_s": got["seconds"],
                       "occurrences_after": found, "files_with_traces": files, "bytes_scanned": scanned,
                       "scan_s": scan_s, "result": got["result"]}
                results.append(row)
                print({k: v for k, v in row.items() if k != "result"}, flush=True)
    rows = []
    for label in dict.fromkeys(r["dataset"] for r in results):
        for code in ("baseline", "this"):
            mine = [r for r in results if r["dataset"] == label and r["code"] == code]
            first = mine[0]
            rows.append([label, code, f"{first['user']} ({first['events']:,} events, {first['documents']:,} docs)",
                         float(np.median([r["forget_s"] for r in mine])), first["occurrences_before"],
                         first["occurrences_after"], ", ".join(first["files_with_traces"]) or "-",
                         f"{first['bytes_scanned'] / 1e6:.1f} MB in {first['scan_s']:.1f} s"])
    table = md_table(["dataset", "code", "user forgotten", "forget s (median)", "traces before",
                      "traces after", "files with traces after", "scanned"], rows)
    body = "\n".join([
        "A trace is an occurrence, anywhere in the workspace's files (raw bytes, every file), of the user id "
        "or of one of the ids of their behaviour documents. Each run forgets the user on a fresh copy of the "
        f"same indexed workspace, in a fresh process; {args.reps} repetitions. Baseline code: `{args.baseline}`.",
        "", table, ""])
    return body, {"results": results, "baseline": str(args.baseline), "reps": args.reps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=["index-search", "search", "forget"], default="index-search",
                        help="index-search: the indexing and search benchmark (default); search and "
                             "forget: this code against --baseline's (issue 17)")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="a folder holding the baseline's whyrec package (for --part search / forget)")
    parser.add_argument("--reps", type=int, default=5, help="repetitions per code (--part search / forget)")
    parser.add_argument("--quick", action="store_true", help="small sizes, under 2 minutes")
    parser.add_argument("--sizes", type=int, nargs="+", default=None,
                        help="demo catalog sizes N (items and about N behaviour docs); 1000 10000 full, 500 quick")
    parser.add_argument("--queries", type=int, default=None, help="timed queries per mode (at least 200; default 200)")
    parser.add_argument("--no-rees46", action="store_true", help="skip the REES46 head dataset")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--torch-threads", type=int, default=1,
                        help="torch intra-op threads for the encoder (default 1; 0 = torch's default). "
                             "On a shared 2-core machine the default 2 threads made single-query "
                             "embedding 5x slower and erratic (measured 1,010 ms vs 181 ms p50 at load 7)")
    parser.add_argument("--blas-threads", type=int, default=1,
                        help="BLAS threads during the search loops, for the library and numpy alike "
                             "(default 1; 0 = unchanged): 2 threads on a loaded 2-core machine made a "
                             "10k x 384 mat-vec swing between 2 and 11 ms p50")
    parser.add_argument("--out", type=Path, default=None,
                        help="results folder (default bench/results; with --quick a temporary folder)")
    args = parser.parse_args()
    sizes = args.sizes or ([500] if args.quick else [1000, 10000])
    n_queries = max(200, args.queries or 200)
    use_rees46 = not args.quick and not args.no_rees46 and REES46.exists()
    if args.out is None:
        args.out = (Path(tempfile.gettempdir()) / "whyrec-bench-results" if args.quick
                    else Path(__file__).resolve().parent / "results")
    logging.basicConfig(level=logging.WARNING)
    if args.part != "index-search":
        if args.baseline is None:
            parser.error("--part search and --part forget need --baseline")
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="whyrec-bench-store-") as tmp:
            body, data = (part_search if args.part == "search" else part_forget)(args, Path(tmp))
        body += f"\nTotal benchmark wall time: {time.perf_counter() - started:.0f} s.\n"
        name, title = (("store_search", "Search latency: whyrec search, this code against a baseline")
                       if args.part == "search" else ("store_forget", "Forget: time and traces left in the files"))
        md_path, json_path = write_results(name, title, body, data, args.out)
        print(body)
        print(f"wrote {md_path} and {json_path}")
        return

    import torch

    if args.torch_threads > 0:
        torch.set_num_threads(args.torch_threads)
    blas = args.blas_threads if args.blas_threads > 0 else None
    started = time.perf_counter()
    embedder = TimingEmbedder(backend="torch")  # the indexing path; queries timed through it too
    t0 = time.perf_counter()
    embedder.embed(["warm up the model"])
    model_load_s = time.perf_counter() - t0
    print(f"embedding model loaded in {model_load_s:.1f} s", flush=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="whyrec-bench-store-") as tmp:
        for n in sizes:
            folder = Path(tmp) / f"demo-{n}"
            print(f"demo N={n:,}: building workspace", flush=True)
            workspace, info = build_demo(folder, n, args.seed)
            results.append(bench_dataset(f"demo N={n:,}", workspace, info, embedder, n_queries, args.seed, blas))
            shutil.rmtree(folder, ignore_errors=True)
        if use_rees46:
            folder = Path(tmp) / "rees46"
            print("rees46 head: ingesting", flush=True)
            workspace, info = build_rees46(folder)
            results.append(bench_dataset("rees46 head", workspace, info, embedder, n_queries, args.seed, blas))
    total_s = time.perf_counter() - started

    body = (render(results, args) + f"\nEmbedding model load (excluded above): {model_load_s:.1f} s; "
            f"torch threads {torch.get_num_threads()}. "
            f"Total benchmark wall time: {total_s:.0f} s.\n")
    data = {"mode": "quick" if args.quick else "full", "k": K, "warmup": WARMUP,
            "torch_threads": torch.get_num_threads(), "blas_threads_in_search": blas or "default",
            "model_load_s": model_load_s, "results": results, "wall_s": round(total_s, 1)}
    md_path, json_path = write_results("store", "Behaviour vector store: indexing and search", body, data, args.out)
    print()
    print(body)
    print(f"wrote {md_path} and {json_path}")


if __name__ == "__main__":
    main()
