"""Quality and speed of the explainer's counterfactuals on Tmall 2014, REES46 and the demo shop.

Usage (from the repository root)::

    git archive 53610c7 tools/explain | tar -x -C /tmp/explain-previous   # optional baseline
    .venv/bin/python bench/bench_explain.py --baseline-src /tmp/explain-previous/tools/explain

The ranker is what users get: the served one, auto-tuned on the dataset's own validation split
(:func:`whyrec.tools.ranking.autotune.auto_tune`, the search ``whyrec serve`` runs on a workspace's
first fit) under a bounded CPU budget (``--tune-budget``, default 120 s here against the server's
600 s default), then fitted on all events (:func:`~whyrec.tools.ranking.autotune.fit_tuned`);
lists and explanations use the exclusion policy the tuning learned (``--policy`` overrides;
``--default-ranker`` measures the untuned ``WhyrecRanker()`` under "seen", the previous setting).

For a sample of (user, item) pairs with the item in the user's top-k (what the policy leaves out
excluded):

* validity — the explanation's removal set, re-checked independently through the public API
  (the user's history as a table without those events, ``rank_history`` at the fixed clock),
  drops the item out of the top-k (kept as a test in ``tests/tools/explain/test_real_data.py``);
* strict validity (ACCENT, SIGIR 2021) — the ranker *refitted from scratch* on the log without
  those events no longer puts the item in the user's top-k; a sample of ``--strict`` sets per
  dataset, with a 95% Wilson interval; on ``--tradeoff`` datasets also the sets of the plain
  re-rank rule (the previous default) and of the robust rule without a margin;
* proven-minimal share, and set size against removing the user's behaviours in order of their
  item's similarity to the recommended one (the same rule — plain or robust — as the set compared);
* headline = verified set — for every explanation, and for whole recommendation lists
  (``Explainer.headlines``) against the per-item explanations;
* latency — ``explain`` wall time per call with a cold user cache, by history length, including
  every top-k item of the longest histories (Tmall's users with 1,000+ events; on the demo shop
  ``--heavy-users`` synthetic shoppers with 2,000+ events, each the merged logs of demo users);
  the previous engine (``--baseline-src``) on the same pairs in the same run;
* recommend with headlines at k = 10 on the demo shop: ``WhyrecService.recommend`` end to end,
  ``Explainer.headlines`` alone, and the per-item ``explain`` loop it replaced, in the same run.

Writes bench/results/explain.{md,json}.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import logging
import math
import os
import shutil
import sys
import tempfile
import time
import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_info, md_table, percentiles_ms, write_results

from whyrec.tools.demo import DemoConfig, generate_shop
from whyrec.tools.explain import Explainer
from whyrec.tools.explain.effects import TargetRanker
from whyrec.tools.explain.search import supporting_order
from whyrec.tools.ingest.pipeline import read_preset
from whyrec.tools.ranking import WhyrecRanker
from whyrec.tools.ranking.autotune import AutoTuneResult, auto_tune, fit_tuned
from whyrec.tools.ranking.history import BEHAVIOUR_CODE, History
from whyrec.tools.schema import compute_event_keys

log = logging.getLogger("bench_explain")
DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
BUCKETS = [(1, 9), (10, 49), (50, 199), (200, 999), (1000, 1999), (2000, 10**9)]


# -- data ---------------------------------------------------------------------------------------
def load(name: str, demo_items: int, demo_users: int, heavy_users: int,
         seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    if name == "tmall2014":
        return read_preset("tmall2014", DATA / "tmall-brand-rec-2014")
    if name == "rees46":
        return read_preset("rees46", DATA / "rees46-multicategory-2019oct-head")
    shop = generate_shop(DemoConfig(users=demo_users, items=demo_items, days=60, seed=11))
    return with_heavy_users(shop.events, heavy_users, seed), shop.items


def with_heavy_users(events: pd.DataFrame, n: int, seed: int, least: int = 2000) -> pd.DataFrame:
    """``n`` synthetic shoppers with at least ``least`` events each: the merged logs of randomly
    chosen demo users (their own users stay; the copies get their own ids and event keys)."""
    if n <= 0:
        return events
    rng = np.random.default_rng(seed)
    users = events["user_id"].astype(str).unique()
    by_user = {u: g for u, g in events.groupby(events["user_id"].astype(str))}
    copies = []
    for h in range(n):
        chosen, size = [], 0
        for user in rng.permutation(users):
            chosen.append(by_user[user])
            size += len(by_user[user])
            if size >= least:
                break
        merged = pd.concat(chosen, ignore_index=True).assign(user_id=f"heavy{h:02d}")
        copies.append(merged)
    extra = pd.concat(copies, ignore_index=True)
    extra["event_key"] = compute_event_keys(extra)
    return pd.concat([events, extra], ignore_index=True).sort_values("timestamp", kind="stable")


def served_ranker(events: pd.DataFrame, items: pd.DataFrame, args: argparse.Namespace
                  ) -> tuple[WhyrecRanker, str, dict[str, Any] | None]:
    """The ranker, the exclusion policy of its lists, and the tuning record (None: defaults)."""
    if args.default_ranker:
        return WhyrecRanker().fit(events, items), args.policy or "seen", None
    stored = (args.tuning_json or {}).get(args.current_dataset)
    if stored is not None:  # a tuning record of this dataset (what a workspace stores), reused
        tuning = AutoTuneResult.from_json(json.loads(Path(stored).read_text(encoding="utf-8")))
    else:
        tuning = auto_tune(events, items, budget_seconds=args.tune_budget, seed=args.seed)
    policy = args.policy or tuning.policy
    return fit_tuned(tuning, events, items), policy, tuning.to_json()


def excluded_by(history: pd.DataFrame, policy: str, target: str) -> np.ndarray:
    """Item ids ``policy`` leaves out of the list for a history table (the ranker's rule)."""
    if policy == "none":
        return np.zeros(0, dtype=object)
    if policy == "purchased":
        history = history[history["behaviour"].astype(str) == target]
    return history["item_id"].astype(str).unique()


def sample_pairs(ranker: WhyrecRanker, k: int, rng: np.random.Generator,
                 policy: str = "seen") -> Iterator[tuple[str, str]]:
    """(user, item) pairs: users in random order (then again), a random item of each top ``k``."""
    users = np.asarray(ranker.user_ids)
    for _ in range(10):
        for user in rng.permutation(users):
            ids, _ = ranker.recommend(user, k, exclude=policy)
            if len(ids):
                yield str(user), str(ids[rng.integers(len(ids))])


# -- checks -------------------------------------------------------------------------------------
def independent_check(ranker: WhyrecRanker, user: str, item: str, keys: tuple[int, ...], k: int,
                      policy: str = "seen") -> bool:
    """Public-API re-rank of the user's history without ``keys`` at the fixed clock, leaving out
    what ``policy`` leaves out of that reduced history."""
    history = ranker.history(user)
    rest = history[~history["event_key"].astype("uint64").isin(np.array(keys, dtype=np.uint64))]
    ids, _ = ranker.rank_history(rest, k, exclude_items=excluded_by(rest, policy, ranker.target_),
                                 now=ranker.as_of(user))
    return item not in set(ids)


def strict_check(ranker: WhyrecRanker, events: pd.DataFrame, items: pd.DataFrame, user: str,
                 item: str, keys: tuple[int, ...], k: int, policy: str = "seen") -> bool:
    """ACCENT's test: refit from scratch without the events (same parameters), then re-rank the
    user under the same exclusion policy."""
    kept = events[~events["event_key"].astype("uint64").isin(np.array(keys, dtype=np.uint64))]
    refitted = ranker.clone().fit(kept, items)
    rest = kept[kept["user_id"].astype(str) == user]
    ids, _ = refitted.rank_history(rest, k, exclude_items=excluded_by(rest, policy, ranker.target_),
                                   now=ranker.as_of(user))
    return item not in set(ids)


def wilson(successes: int, n: int, z: float = 1.959964) -> tuple[float, float] | None:
    """The 95% Wilson score interval of a proportion."""
    if n == 0:
        return None
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def similarity_to(ranker: WhyrecRanker, history: History, target: int, now: float) -> np.ndarray:
    """For each event, the ranker's item-to-item kernel from its item to ``target`` — what one
    purchase of that item, done now, adds to the target (public API: ``event_terms``)."""
    known = np.unique(history.items[history.items >= 0])
    probe = History(known.astype(np.int64), np.full(len(known), BEHAVIOUR_CODE["purchase"], np.int8),
                    np.full(len(known), now), np.arange(len(known), dtype=np.uint64), np.full(len(known), np.nan))
    column = ranker.event_terms(probe, now=now).column(target)
    out = np.zeros(len(history))
    where = np.searchsorted(known, history.items)
    ok = history.items >= 0
    out[ok] = column[where[ok]]
    return out


def similarity_baseline(explainer: Explainer, user: str, item: str, k: int, robust: bool,
                        margin: float, policy: str = "seen") -> int | None:
    """Size of the shortest prefix of the user's supporting behaviours, most similar item first
    (ties: most recent first), that drops the item under the same rule; None if none does."""
    ranker = explainer.ranker
    state = explainer._state(user)
    position = int(ranker.catalog.positions([item])[0])
    target = TargetRanker(state, position, np.ones(len(state.scores), dtype=bool), robust=robust,
                          margin=margin if robust else 0.0, exclude=policy,
                          target_code=BEHAVIOUR_CODE[ranker.target_])
    support = supporting_order(state.column(position), state.history.days)
    similarity = similarity_to(ranker, state.history, position, state.now)
    order = support[np.lexsort((-state.history.days[support], -similarity[support]))]
    found = target.first_drop(order, k)
    if found is None:
        return None
    keys = tuple(int(state.history.keys[e]) for e in order[:found])
    return found if independent_check(ranker, user, item, keys, k, policy) else None


def headline_matches(explanation: Any) -> bool:
    """The headline is the verified set when there is one, and names no behaviour otherwise."""
    cf, headline = explanation.counterfactual, explanation.headline
    if cf is not None:
        return headline.kind == "verified" and headline.events == cf.events
    return headline.kind in ("popularity", "many_signals") and headline.events == ()


def load_baseline(source: Path | None) -> type | None:
    """The previous explainer (its ``tools/explain`` folder), imported beside the current one."""
    if source is None:
        return None
    name = "whyrec.tools.explain_previous"
    package = types.ModuleType(name)
    package.__path__ = [str(source)]
    sys.modules[name] = package
    return importlib.import_module(f"{name}.explainer").Explainer


# -- one dataset --------------------------------------------------------------------------------
def run(name: str, args: argparse.Namespace, baseline_cls: type | None,
        checkpoint: Callable[[dict[str, Any]], None] = lambda _result: None) -> dict[str, Any]:
    """One dataset. The strict refits come last and ``checkpoint`` gets the result so far after
    every ``--checkpoint-every`` of them (a run stopped early keeps what it measured; its
    ``strict`` says how many of the planned sets were refitted)."""
    rng = np.random.default_rng(args.seed)
    k = args.k
    started = time.perf_counter()
    events, items = load(name, args.demo_items, args.demo_users,
                         args.heavy_users if name == "demo" else 0, args.seed)
    args.current_dataset = name
    ranker, policy, tuning = served_ranker(events, items, args)
    fit_s = time.perf_counter() - started
    log.info("%s: tuned and fitted in %.1f s; %s, lists exclude %s", name, fit_s, ranker, policy)
    explainer = Explainer(ranker, items, cache_users=0)
    plain = Explainer(ranker, items, cache_users=4, robust=False)
    no_margin = Explainer(ranker, items, cache_users=4, robust_margin=0.0)
    baseline = baseline_cls(ranker, items, cache_users=0) if baseline_cls is not None else None
    tradeoff = name in args.tradeoff

    def explain_pair(user: str, item: str, source: str) -> dict[str, Any]:
        t0, c0 = time.perf_counter(), time.process_time()
        explanation = explainer.explain(user, item, k, exclude=policy)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        row: dict[str, Any] = {"user": user, "item": item, "source": source, "seconds": seconds, "cpu": cpu,
                               "n_events": explanation.n_events, "reason": explanation.reason,
                               "has_set": explanation.counterfactual is not None,
                               "headline_ok": headline_matches(explanation)}
        if baseline is not None:
            t0, c0 = time.perf_counter(), time.process_time()
            if "exclude" in inspect.signature(baseline.explain).parameters:
                baseline.explain(user, item, k, exclude=policy)
            else:
                baseline.explain(user, item, k)
            row["baseline_seconds"] = time.perf_counter() - t0
            row["baseline_cpu"] = time.process_time() - c0
        cf = explanation.counterfactual
        if cf is not None and source == "sample":
            row.update(size=len(cf.events), robust=cf.robust, minimal=cf.proven_minimal, keys=cf.event_keys,
                       valid=independent_check(ranker, user, item, cf.event_keys, k, policy),
                       base_similarity=similarity_baseline(explainer, user, item, k, cf.robust,
                                                           explainer.robust_margin, policy))
            other = plain.explain(user, item, k, exclude=policy).counterfactual
            if other is not None:
                row.update(plain_size=len(other.events), plain_keys=other.event_keys,
                           plain_minimal=other.proven_minimal,
                           plain_base_similarity=similarity_baseline(plain, user, item, k, False, 0.0, policy))
            if tradeoff:
                loose = no_margin.explain(user, item, k, exclude=policy).counterfactual
                if loose is not None:
                    row.update(margin0_size=len(loose.events), margin0_keys=loose.event_keys,
                               margin0_robust=loose.robust)
        return row

    rows: list[dict[str, Any]] = []
    sets = 0
    for user, item in sample_pairs(ranker, k, rng, policy):
        if len(rows) >= args.pairs and sets >= args.min_sets:
            break
        rows.append(explain_pair(user, item, "sample"))
        sets += bool(rows[-1]["has_set"])
        if len(rows) % 100 == 0:
            log.info("%s: %d pairs, %d sets", name, len(rows), sets)
    lengths = np.diff(ranker.log_.indptr)
    long_users = np.asarray(ranker.user_ids)[lengths >= args.long_history]
    for user in long_users:
        for item in ranker.recommend(str(user), k, exclude=policy)[0]:
            rows.append(explain_pair(str(user), str(item), "long"))
    frame = pd.DataFrame(rows)
    sample = frame[frame["source"] == "sample"]
    with_set = sample[sample["has_set"]]

    # Strict retraining on samples of sets (each a refit from scratch), after everything else.
    def strict(column_keys: str, n: int, into: str, column_ok: str | None = None) -> None:
        pool = with_set.dropna(subset=[column_keys]) if column_keys in with_set else with_set.iloc[0:0]
        if column_ok is not None and column_ok in pool:
            pool = pool[pool[column_ok].astype(bool)]
        chosen = pool.sample(min(n, len(pool)), random_state=args.seed) if len(pool) else pool
        outcomes: list[bool] = []
        failed: list[str] = []

        def record() -> None:
            ok = int(sum(outcomes))
            result[into] = {"n": len(outcomes), "planned": int(len(chosen)), "valid": ok,
                            "rate": ok / len(outcomes) if outcomes else None,
                            "wilson95": wilson(ok, len(outcomes)), "failed": failed[:50]}

        record()
        for r in chosen.itertuples():
            outcomes.append(strict_check(ranker, events, items, r.user, r.item, getattr(r, column_keys), k,
                                         policy))
            if not outcomes[-1]:
                failed.append(f"{r.user}/{r.item}")
            if len(outcomes) % args.checkpoint_every == 0 or len(outcomes) == len(chosen):
                record()
                checkpoint(result)
                log.info("%s strict %s: %d/%d, %d valid", name, column_keys, len(outcomes), len(chosen),
                         sum(outcomes))
        record()

    def sizes(column: str, where: pd.DataFrame | None = None) -> dict[str, Any]:
        part = (with_set if where is None else where)
        values = part[column].dropna() if column in part else pd.Series(dtype=float)
        return {"n": int(len(values)), "mean": float(values.mean()) if len(values) else None,
                "median": float(values.median()) if len(values) else None}

    compared = with_set.dropna(subset=["base_similarity"]) if len(with_set) else with_set
    compared_plain = (with_set.dropna(subset=["plain_size", "plain_base_similarity"])
                      if "plain_base_similarity" in with_set else with_set.iloc[0:0])
    lists = headline_lists(explainer, ranker, k, rng, args.headline_lists, policy)
    latency = {(f"{lo}-{hi}" if hi < 10**9 else f"{lo}+"): bucket(frame, lo, hi) for lo, hi in BUCKETS}
    result: dict[str, Any] = {
        "dataset": name, "events": int(len(events)), "items": int(len(ranker.item_ids)),
        "ranker": repr(ranker), "exclusion": policy, "tuning": tuning,
        "tune_budget_seconds": None if args.default_ranker else args.tune_budget,
        "users": int(ranker.log_.n_users), "fit_seconds": round(fit_s, 1), "k": k,
        "pairs": int(len(sample)), "with_set": int(len(with_set)),
        "coverage": float(sample["has_set"].mean()) if len(sample) else None,
        "reasons": sample["reason"].value_counts().to_dict(),
        "robust_share": float(with_set["robust"].mean()) if len(with_set) else None,
        "validity": float(with_set["valid"].mean()) if len(with_set) else None,
        "validity_n": int(len(with_set)),
        "minimal_share": float(with_set["minimal"].mean()) if len(with_set) else None,
        "plain_minimal_share": (float(with_set["plain_minimal"].dropna().astype(bool).mean())
                                if "plain_minimal" in with_set and with_set["plain_minimal"].notna().any()
                                else None),
        "size": sizes("size"), "size_plain": sizes("plain_size"), "size_margin0": sizes("margin0_size"),
        "similarity_compared": {"n": int(len(compared)), "explainer": sizes("size", compared),
                                "similarity": sizes("base_similarity", compared)},
        "similarity_compared_plain": {"n": int(len(compared_plain)), "explainer": sizes("plain_size", compared_plain),
                                      "similarity": sizes("plain_base_similarity", compared_plain)},
        "similarity_found": float(with_set["base_similarity"].notna().mean()) if len(with_set) else None,
        "headline_ok": float(frame["headline_ok"].mean()), "headline_n": int(len(frame)),
        "lists": lists,
        "history_p50": float(sample["n_events"].median()), "history_max": int(frame["n_events"].max()),
        "long_users": int(len(long_users)),
        "explain_latency": percentiles_ms(sample["seconds"].tolist()),
        "explain_cpu": percentiles_ms(sample["cpu"].tolist()),
        "latency_by_history": latency,
    }
    if name == "demo" and args.service:
        result["recommend"] = recommend_latency(ranker, events, items, args, rng, policy)
    for into in ("strict", "strict_plain", "strict_margin0"):
        result[into] = {"n": 0, "planned": 0, "valid": 0, "rate": None, "wilson95": None, "failed": []}
    checkpoint(result)
    strict("keys", args.strict, "strict")
    strict("plain_keys", args.strict_plain if tradeoff else 0, "strict_plain")
    strict("margin0_keys", args.strict_variant if tradeoff else 0, "strict_margin0", "margin0_robust")
    log.info("%s: %s", name, {k_: v for k_, v in result.items() if k_ not in ("reasons", "latency_by_history")})
    return result


def bucket(frame: pd.DataFrame, lo: int, hi: int) -> dict[str, Any]:
    part = frame[(frame["n_events"] >= lo) & (frame["n_events"] <= hi)]
    out: dict[str, Any] = {"n": int(len(part))}
    if len(part):
        out["explain"] = percentiles_ms(part["seconds"].tolist())
        out["cpu"] = percentiles_ms(part["cpu"].tolist())
        if "baseline_seconds" in part:
            out["baseline"] = percentiles_ms(part["baseline_seconds"].dropna().tolist())
            out["baseline_cpu"] = percentiles_ms(part["baseline_cpu"].dropna().tolist())
    return out


def headline_lists(explainer: Explainer, ranker: WhyrecRanker, k: int, rng: np.random.Generator,
                   n: int, policy: str = "seen") -> dict[str, Any]:
    """``headlines`` for whole lists against each item's own explanation: equal, and the
    verified ones equal to their counterfactual sets."""
    users = rng.permutation(np.asarray(ranker.user_ids))[:n]
    same = items_checked = verified = 0
    for user in users:
        ids = [str(i) for i in ranker.recommend(str(user), k, exclude=policy)[0]]
        headlines = explainer.headlines(str(user), ids, k, exclude=policy)
        for item, headline in zip(ids, headlines, strict=True):
            explanation = explainer.explain(str(user), item, k, exclude=policy)
            items_checked += 1
            same += headline == explanation.headline and headline_matches(explanation)
            verified += headline.kind == "verified"
    return {"lists": int(len(users)), "items": items_checked, "equal": same,
            "rate": same / items_checked if items_checked else None, "verified_items": verified}


def recommend_latency(ranker: WhyrecRanker, events: pd.DataFrame, items: pd.DataFrame,
                      args: argparse.Namespace, rng: np.random.Generator, policy: str = "seen") -> dict[str, Any]:
    """``WhyrecService.recommend`` (k = 10, headlines included) on a workspace of this shop, and
    its headline step alone against the per-item ``explain`` loop it replaced; cold user cache."""
    from whyrec.tools.service import WhyrecService
    from whyrec.tools.settings import Settings
    from whyrec.tools.workspace import SourceRecord, Workspace

    folder = Path(tempfile.mkdtemp(prefix="bench-explain-"))
    try:
        workspace = Workspace.create(folder / "ws")
        with workspace.lock():
            workspace.reload()
            workspace.commit(events, items, [SourceRecord("bench", "", len(events), len(events), 0, "")])
        service = WhyrecService(Settings(workspace=folder / "ws"), ranker_factory=lambda _ws: ranker)
        fitted = service._fitted()
        users = [str(u) for u in rng.permutation(np.asarray(ranker.user_ids))[:args.recommend_users]]
        heavy = [str(u) for u in ranker.user_ids if str(u).startswith("heavy")]
        out: dict[str, Any] = {}
        for label, group in (("users", users), ("heavy_users", heavy)):
            if not group:
                continue
            full, batched, loop = [], [], []
            for user in group:
                fitted.explainer._cache.pop(user, None)
                t0 = time.perf_counter()
                recs = service.recommend(user, k=args.k, exclude=policy)
                full.append(time.perf_counter() - t0)
                ids = [i.item_id for i in recs.items]
                fitted.explainer._cache.pop(user, None)
                t0 = time.perf_counter()
                fitted.explainer.headlines(user, ids, k=args.k, exclude=policy)
                batched.append(time.perf_counter() - t0)
                fitted.explainer._cache.pop(user, None)
                t0 = time.perf_counter()
                for item in ids:
                    fitted.explainer.explain(user, item, k=args.k, exclude=policy)
                loop.append(time.perf_counter() - t0)
            out[label] = {"n": len(group), "recommend": percentiles_ms(full), "headlines": percentiles_ms(batched),
                          "explain_loop": percentiles_ms(loop),
                          "loop_over_headlines_median": float(np.median(np.array(loop) / np.array(batched)))}
        return out
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# -- report -------------------------------------------------------------------------------------
def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def interval(s: dict[str, Any]) -> str:
    if not s["n"]:
        return "-"
    low, high = s["wilson95"]
    planned = s.get("planned")
    cut = f", {s['n']} of {planned} planned: run stopped" if planned and s["n"] < planned else ""
    return f"{pct(s['rate'])} ({s['valid']}/{s['n']}; 95% {pct(low)}–{pct(high)}{cut})"


def size_text(s: dict[str, Any]) -> str:
    return "-" if not s["n"] else f"{s['mean']:.2f} / {s['median']:.0f}"


def ms(d: dict[str, Any] | None, key: str) -> str:
    return "-" if not d else f"{d[key]:.1f}"


def report(results: list[dict[str, Any]]) -> str:
    quality = md_table(
        ["dataset", "items", "pairs", "with set", "robust sets", "re-rank validity", "strict refit validity",
         "proven smallest", "headline = verified set"],
        [[r["dataset"], r["items"], r["pairs"], f"{r['with_set']} ({pct(r['coverage'])})", pct(r["robust_share"]),
          f"{pct(r['validity'])} ({r['validity_n']})", interval(r["strict"]), pct(r["minimal_share"]),
          f"{pct(r['headline_ok'])} ({r['headline_n']})"] for r in results])
    trade_rows = []
    for r in results:
        if r["strict_plain"]["n"] or r["strict_margin0"]["n"]:
            trade_rows += [
                [r["dataset"], "plain re-rank (previous default)", size_text(r["size_plain"]),
                 interval(r["strict_plain"]), pct(r["plain_minimal_share"])],
                [r["dataset"], "robust, margin 0", size_text(r["size_margin0"]), interval(r["strict_margin0"]), "-"],
                [r["dataset"], "robust, margin 1% (default)", size_text(r["size"]), interval(r["strict"]),
                 pct(r["minimal_share"])]]
    trade = md_table(["dataset", "rule", "size mean / median", "strict refit validity", "proven smallest"],
                     trade_rows) if trade_rows else "(no trade-off run)"
    sizes = md_table(
        ["dataset", "rule", "pairs compared", "explainer mean / median", "similarity order mean / median",
         "similarity order found"],
        [row for r in results for row in (
            [r["dataset"], "robust (returned)", r["similarity_compared"]["n"],
             size_text(r["similarity_compared"]["explainer"]), size_text(r["similarity_compared"]["similarity"]),
             pct(r["similarity_found"])],
            [r["dataset"], "plain re-rank", r["similarity_compared_plain"]["n"],
             size_text(r["similarity_compared_plain"]["explainer"]),
             size_text(r["similarity_compared_plain"]["similarity"]), "-"])])
    lists = md_table(
        ["dataset", "lists", "items", "headline = its explanation's headline and verified set", "verified items"],
        [[r["dataset"], r["lists"]["lists"], r["lists"]["items"],
          f"{pct(r['lists']['rate'])} ({r['lists']['equal']})", r["lists"]["verified_items"]] for r in results])
    latency_rows = []
    for r in results:
        for name, b in r["latency_by_history"].items():
            if not b["n"]:
                continue
            base, base_cpu = b.get("baseline"), b.get("baseline_cpu")
            ratio = (f"{base_cpu['p99_ms'] / b['cpu']['p99_ms']:.2f}x" if base_cpu else "-")
            latency_rows.append([r["dataset"], name, b["n"], ms(b["explain"], "p50_ms"), ms(b["explain"], "p99_ms"),
                                 ms(b["cpu"], "p50_ms"), ms(b["cpu"], "p99_ms"), ms(base, "p99_ms"),
                                 ms(base_cpu, "p50_ms"), ms(base_cpu, "p99_ms"), ratio])
    latency = md_table(["dataset", "history (events)", "pairs", "wall p50 ms", "wall p99 ms", "CPU p50 ms",
                        "CPU p99 ms", "previous wall p99 ms", "previous CPU p50 ms", "previous CPU p99 ms",
                        "previous / now (CPU p99)"], latency_rows)
    recommend_rows = []
    for r in results:
        for label, d in (r.get("recommend") or {}).items():
            recommend_rows.append([r["dataset"], label, d["n"], ms(d["recommend"], "p50_ms"),
                                   ms(d["recommend"], "p99_ms"), ms(d["headlines"], "p50_ms"),
                                   ms(d["headlines"], "p99_ms"), ms(d["explain_loop"], "p50_ms"),
                                   ms(d["explain_loop"], "p99_ms"), f"{d['loop_over_headlines_median']:.1f}x"])
    recommend = md_table(["dataset", "users", "n", "recommend p50 ms", "recommend p99 ms", "headlines p50 ms",
                          "headlines p99 ms", "explain loop p50 ms", "explain loop p99 ms", "loop / headlines"],
                         recommend_rows) if recommend_rows else "(not run)"
    reasons = "\n".join(f"- {r['dataset']}: {r['reasons']}" for r in results)
    rankers = "\n".join(_ranker_line(r) for r in results)
    return "\n\n".join([
        "Pairs: a random user and a random item of their top-k (what the list's exclusion policy leaves "
        "out excluded). *With set*: "
        "the explanation found a removal set (the others are explained by popularity or by no "
        "behaviour, and say so). *Robust sets*: sets that drop the item without counting the items "
        "they free, by 1% of its score (the default); the rest fell back to the plain re-rank rule. "
        "*Re-rank validity*: the set, removed from the user's history and re-ranked through the "
        "public API at the fixed clock, drops the item. *Strict refit*: the ranker refitted from "
        "scratch on the log without those events (ACCENT's test), on a random sample of sets, with "
        "the 95% Wilson interval. *Proven smallest*: no smaller set of supporting events passes the "
        "re-rank (size bound, every single event, exhaustive enumeration within the budget).",
        "## The ranker explained (what users get)", rankers,
        "## Counterfactual validity", quality,
        "## Robustness against set size (same pairs)", trade,
        "## Set size against removal in order of item similarity (same pairs, same rule; the baseline "
        "counts only where its set is valid)", sizes,
        "## Headlines for whole lists (`Explainer.headlines`, as `recommend` shows them)", lists,
        "## explain latency by history length (user cache off; every top-k item of users with long "
        "histories included; the previous engine, when given, on the same pairs in the same run, "
        "called right after; wall time includes waiting for a core on this shared 2-core machine — "
        "the load average is in the machine line)", latency,
        "## recommend with headlines, k = 10 (user cache off; the per-item explain loop it replaced, "
        "same users, same run)", recommend,
        "## Why pairs have no set", reasons])


def _ranker_line(r: dict[str, Any]) -> str:
    tuning = r.get("tuning")
    if not tuning:
        return f"- {r['dataset']}: `{r.get('ranker', 'WhyrecRanker()')}` (default parameters), lists exclude {r.get('exclusion', 'seen')}"
    validation = tuning.get("validation") or {}
    return (f"- {r['dataset']}: the served ranker, auto-tuned within {r['tune_budget_seconds']:.0f} CPU s "
            f"({tuning.get('trials')} trials, {tuning.get('cpu_seconds')} CPU s, {tuning.get('validation_users')} "
            f"validation users, {(tuning.get('protocol') or {}).get('split', '?')}): validation NDCG@20 "
            f"{validation.get('ndcg@20')} ({tuning.get('ratio_vs_repeat')}x the repeat rule); learned exclusion "
            f"policy **{tuning.get('exclusion_policy')}**, lists explained under **{r['exclusion']}**; "
            f"`{r['ranker']}`")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["tmall2014", "rees46", "demo"])
    parser.add_argument("--pairs", type=int, default=400, help="sampled (user, item) pairs per dataset, at least")
    parser.add_argument("--min-sets", type=int, default=250,
                        help="keep sampling pairs until this many explanations have a removal set")
    parser.add_argument("--strict", type=int, default=200, help="sets refitted per dataset")
    parser.add_argument("--strict-plain", type=int, default=120, help="plain-rule sets refitted (trade-off)")
    parser.add_argument("--strict-variant", type=int, default=80, help="margin-0 sets refitted (trade-off)")
    parser.add_argument("--tradeoff", nargs="*", default=["tmall2014"], help="datasets with the trade-off runs")
    parser.add_argument("--long-history", type=int, default=1000,
                        help="also explain every top-k item of users with at least this many events")
    parser.add_argument("--heavy-users", type=int, default=20, help="synthetic 2,000+-event shoppers (demo)")
    parser.add_argument("--headline-lists", type=int, default=50)
    parser.add_argument("--recommend-users", type=int, default=200)
    parser.add_argument("--no-service", dest="service", action="store_false")
    parser.add_argument("--baseline-src", type=Path, default=None,
                        help="a previous tools/explain folder, timed on the same pairs")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--checkpoint-every", type=int, default=10,
                        help="write the results so far after this many strict refits")
    parser.add_argument("--tune-budget", type=float, default=120.0,
                        help="CPU seconds for auto-tuning the served ranker (the server's default is 600)")
    parser.add_argument("--policy", choices=["none", "purchased", "seen"], default=None,
                        help="exclusion policy of the lists (default: the one the tuning learned)")
    parser.add_argument("--tuning-json", type=lambda text: dict(part.split("=", 1) for part in text.split(",")),
                        default=None, help="reuse stored tuning records: dataset=path[,dataset=path]")
    parser.add_argument("--default-ranker", action="store_true",
                        help="the untuned WhyrecRanker() instead of the served, tuned one")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--demo-items", type=int, default=10_000)
    parser.add_argument("--demo-users", type=int, default=3_000)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--name", default="explain", help="results file name (bench/results/NAME.md|json)")
    parser.add_argument("--combine", nargs="+", type=Path, default=None,
                        help="only merge these results JSON files (runs split by dataset) into NAME")
    args = parser.parse_args(argv)
    if args.combine:
        runs = [json.loads(path.read_text(encoding="utf-8")) for path in args.combine]
        results = [r for run in runs for r in run["results"]]
        body = "\n\n".join(["Runs (one per dataset group, merged here):"] + [
            f"- `{r.get('command')}` (git {r.get('machine', {}).get('git')}, load at start "
            f"{r.get('machine', {}).get('loadavg_at_start')})" for r in runs] + [report(results)])
        write_results(args.name, "Explainer: counterfactual validity, robustness, size and latency", body,
                      {"results": results, "runs": [{"command": r.get("command"), "machine": r.get("machine"),
                                                     "args": r.get("args")} for r in runs]})
        sys.stdout.write(body + "\n")
        return 0
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("whyrec").setLevel(logging.WARNING)
    machine = machine_info()  # at the start: the code measured is the code checked out now
    baseline_cls = load_baseline(args.baseline_src)
    results: list[dict[str, Any]] = []

    def checkpoint(partial: dict[str, Any]) -> None:
        if not args.no_write:
            write_results(args.name, "Explainer: counterfactual validity, robustness, size and latency",
                          report(results + [partial]),
                          {"results": results + [partial], "args": {k: str(v) for k, v in vars(args).items()},
                           "machine": machine, "partial": True})

    for dataset in args.datasets:
        results.append(run(dataset, args, baseline_cls, checkpoint))
    machine["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    body = report(results)
    if not args.no_write:
        write_results(args.name, "Explainer: counterfactual validity, robustness, size and latency", body,
                      {"results": results, "args": {k: str(v) for k, v in vars(args).items()},
                       "machine": machine})
    sys.stdout.write(body + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
