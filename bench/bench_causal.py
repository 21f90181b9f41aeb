"""Benchmark the causal tool: accuracy against the ground truth, real logs, and pipeline time.

    .venv/bin/python bench/bench_causal.py accuracy --seeds 30      # default + adversarial scenarios
    .venv/bin/python bench/bench_causal.py coverage --coverage-seeds 120  # the primary interval, many seeds
    .venv/bin/python bench/bench_causal.py realdata                 # Tmall 2014, REES46
    .venv/bin/python bench/bench_causal.py power --seeds 30         # refuters against a broken estimator
    .venv/bin/python bench/bench_causal.py timing                   # 100k and 1M events
    .venv/bin/python bench/bench_causal.py report                   # rebuild causal.md from the JSON files
    .venv/bin/python bench/bench_causal.py --quick                  # smoke run of every part, in bench/out/causal

accuracy: for every seed and scenario, the full pipeline with the default settings (DR learner,
comparisons, refuters, sensitivity, verdict, price-band segments) against the simulator's truth
for the documented estimand: bias, 95%-interval coverage per behaviour and estimator, verdicts.
Each seed is appended to ``results/causal_accuracy.jsonl`` as it finishes, so a long run can be
resumed. coverage: per seed, only the primary estimate and its interval (as a report makes them)
and, for diagnosis, the interval clustered by shopper alone, the share trimmed and the truth over
the kept decision points — cheap, so more seeds (coverage with a Wilson interval). power: per seed, the cart trial estimated by an estimator denied its adjusters (only
a noise column: confounded by construction) and the default refuters run against it — how often
each refuter catches a wrong estimate (true-fail rate; the accuracy runs give the false-fail
rate on sound estimates). realdata: the default report of each real log. timing: wall time of decision points +
report (estimation, comparisons, refuters, sensitivity) against a baseline in the same run —
DoWhy's backdoor linear regression alone on the same decision points.
Writes bench/results/causal*.json (the summary of all parts in causal.json) and causal.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from whyrec.tools.causal import EffectSettings, build_decisions, choose_windows, estimate_report
from whyrec.tools.causal.estimate import fit_dr, prepare, regression, thread_limits
from whyrec.tools.causal.refute import refute
from whyrec.tools.demo import DemoConfig, generate_shop

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import md_table

RESULTS = Path(__file__).resolve().parent / "results"
ACCURACY = RESULTS / "causal_accuracy.jsonl"
POWER = RESULTS / "causal_power.jsonl"
BEHAVIOURS = ("view", "favourite", "cart")
SEED_BASE = {"default": 1_000, "adversarial": 2_000}
DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


# -- accuracy ------------------------------------------------------------------------------------
def one_seed(scenario: str, seed: int, users: int) -> dict:
    shop = generate_shop(DemoConfig(scenario=scenario, seed=seed, users=users))
    started = time.perf_counter()
    table = build_decisions(shop.events, shop.items, choose_windows(shop.events))
    report = estimate_report(table, EffectSettings(), segment="price_band")
    seconds = time.perf_counter() - started
    truth = shop.ground_truth
    out = {"scenario": scenario, "seed": seed, "users": users, "events": len(shop.events), "seconds": seconds,
           "effects": []}
    for effect in report.effects:
        segment = None if effect.segment == "all" else effect.segment
        row = {"behaviour": effect.behaviour, "segment": segment, "truth": truth.effect(effect.behaviour, segment),
               "verdict": effect.verdict, "reasons": [r.code for r in effect.verdict_reasons], "n": effect.n,
               "naive": effect.naive, "trimmed_share": effect.trimmed_share,
               "robustness": None if effect.sensitivity is None else effect.sensitivity.robustness_value,
               "refutations": {r.name: {"passed": r.passed, "p": r.p_value, "mean": r.new_effect, "spread": r.spread}
                               for r in effect.refutations},
               "estimators": {}}
        if effect.ok:
            row["estimators"]["dr"] = [effect.estimate, effect.ci_low, effect.ci_high]
            for alt in effect.alternatives:
                row["estimators"][alt.method] = [alt.estimate, alt.ci_low, alt.ci_high]
        if effect.ok and segment is None and effect.cate is not None:
            row["cate"] = _cate_quality(effect, table, shop)
        out["effects"].append(row)
    return out


def _cate_quality(effect, table, shop) -> dict:
    """How the heterogeneous model θ(x) tracks the per-decision truth and its best linear predictor."""
    cate = effect.cate
    rows = table.rows(effect.behaviour)
    decisions = shop.decisions
    truth = decisions[decisions["behaviour"] == effect.behaviour][["user_id", "item_id", "k", "effect"]]
    merged = rows.merge(truth, on=["user_id", "item_id", "k"])
    x = np.column_stack([np.ones(len(merged))] + [merged[m].to_numpy(float) for m in cate.modifiers])
    predicted = x @ np.asarray(cate.coef)
    best = x @ np.linalg.lstsq(x, merged["effect"].to_numpy(), rcond=None)[0]
    var = np.einsum("ij,jk,ik->i", x, np.asarray(cate.cov), x)
    return {"corr_truth": float(np.corrcoef(predicted, merged["effect"])[0, 1]),
            "corr_best_linear": float(np.corrcoef(predicted, best)[0, 1]),
            "covers_best_linear": float(np.mean(np.abs(predicted - best) <= 1.96 * np.sqrt(var))),
            "matched": float(len(merged) / max(len(rows), 1))}


def _records_by_scenario(path: Path, users: int) -> dict[str, list[dict]]:
    """The records of ``path`` (JSON lines) for shops of ``users`` shoppers, by scenario
    (default, then adversarial; a scenario without records is left out)."""
    records = [r for r in map(json.loads, path.read_text().splitlines()) if r["users"] == users]
    by = {scenario: [r for r in records if r["scenario"] == scenario] for scenario in ("default", "adversarial")}
    return {scenario: mine for scenario, mine in by.items() if mine}


def run_accuracy(seeds: int, users: int, scenarios: tuple[str, ...]) -> None:
    _run_seeds(ACCURACY, "accuracy", one_seed, seeds, users, scenarios)


def summarise_accuracy(users: int) -> dict:
    summary: dict = {"users": users, "scenarios": {}}
    for scenario, mine in _records_by_scenario(ACCURACY, users).items():
        rows = []
        for behaviour in BEHAVIOURS:
            effects = [e for r in mine for e in r["effects"] if e["behaviour"] == behaviour and e["segment"] is None]
            if not effects:
                continue
            truths = np.array([e["truth"] for e in effects])
            entry: dict = {"behaviour": behaviour, "seeds": len(effects), "truth": float(truths.mean()),
                           "verdicts": _count([e["verdict"] for e in effects]),
                           "reasons": _count([c for e in effects for c in e["reasons"]]), "estimators": {}}
            naive = np.array([e["naive"] for e in effects], dtype=float)
            entry["estimators"]["naive"] = _stats(naive, None, None, truths)
            for name in ("dr", "backdoor.linear_regression", "propensity_weighting"):
                values = [e["estimators"].get(name) for e in effects]
                ok = [v is not None for v in values]
                arr = np.array([v for v in values if v is not None], dtype=float)
                if len(arr):
                    entry["estimators"][name] = _stats(arr[:, 0], arr[:, 1], arr[:, 2], truths[ok])
            refuters: dict = {}
            for e in effects:
                for name, res in e["refutations"].items():
                    refuters.setdefault(name, []).append(res["passed"])
            entry["refuters_passed"] = {k: float(np.mean(v)) for k, v in refuters.items()}
            # Every estimate here is sound (identified design, consistent estimator): a failure is a false alarm.
            entry["false_fail_any"] = float(np.mean([any(not r["passed"] for r in e["refutations"].values())
                                                     for e in effects]))
            cate = [e["cate"] for e in effects if e.get("cate")]
            if cate:
                entry["cate"] = {k: float(np.mean([c[k] for c in cate])) for k in cate[0]}
            segs = [e for r in mine for e in r["effects"] if e["behaviour"] == behaviour and e["segment"]]
            seg_ok = [e for e in segs if "dr" in e["estimators"]]
            if seg_ok:
                covered = [e["estimators"]["dr"][1] <= e["truth"] <= e["estimators"]["dr"][2] for e in seg_ok]
                entry["segments"] = {"intervals": len(seg_ok), "coverage": float(np.mean(covered)),
                                     "mean_abs_bias": float(np.mean([abs(e["estimators"]["dr"][0] - e["truth"])
                                                                     for e in seg_ok]))}
            rows.append(entry)
        summary["scenarios"][scenario] = {"seeds": len(mine), "events_mean": float(np.mean([r["events"] for r in mine])),
                                          "seconds_mean": float(np.mean([r["seconds"] for r in mine])),
                                          "behaviours": rows}
    return summary


def _stats(estimate: np.ndarray, low: np.ndarray | None, high: np.ndarray | None, truth: np.ndarray) -> dict:
    error = estimate - truth
    out = {"mean": float(np.mean(estimate)), "bias": float(np.mean(error)),
           "bias_se": float(np.std(error, ddof=1) / np.sqrt(len(error))) if len(error) > 1 else None,
           "rel_bias": float(np.mean(error) / np.mean(truth)) if abs(np.mean(truth)) > 0.005 else None,
           "rmse": float(np.sqrt(np.mean(error**2))), "n": int(len(error))}
    if low is not None and high is not None:
        out["coverage"] = float(np.mean((low <= truth) & (truth <= high)))
        out["mean_width"] = float(np.mean(high - low))
    return out


def _count(values: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


# -- coverage of the primary estimator over many seeds -------------------------------------------
COVERAGE = RESULTS / "causal_coverage.jsonl"


def one_coverage_seed(scenario: str, seed: int, users: int) -> dict:
    """The primary estimate and its interval per behaviour, as a report makes them (same trial,
    sample, fit and clustering), without refuters: many seeds are cheap. Also the interval
    clustered by user alone, the share trimmed and the truth over the kept decision points, to
    tell bias, under-estimated errors and a trimmed estimand apart."""
    from whyrec.tools.causal.effect import make_trial
    from whyrec.tools.causal.estimate import cluster_se, identify, interval, naive, weighting

    shop = generate_shop(DemoConfig(scenario=scenario, seed=seed, users=users))
    started = time.perf_counter()
    table = build_decisions(shop.events, shop.items, choose_windows(shop.events))
    settings = EffectSettings()
    decisions = shop.decisions
    out = {"scenario": scenario, "seed": seed, "users": users, "events": len(shop.events), "effects": []}
    for behaviour in BEHAVIOURS:
        trial = make_trial(table, behaviour, settings)
        if trial.rows is None:
            continue
        frame = prepare(trial.rows, behaviour)
        with thread_limits(settings.threads):
            fit = fit_dr(frame, settings, settings.seed, identify(frame))
            kept = frame.take(np.flatnonzero(fit.kept))
            regression_value = regression(kept, settings, [])
        truth_rows = decisions[decisions["behaviour"] == behaviour][["user_id", "item_id", "k", "effect"]]
        per_row = frame.keys.merge(truth_rows, on=["user_id", "item_id", "k"], how="left")["effect"].to_numpy()
        t = kept.data[behaviour].to_numpy(float)
        y = kept.data["purchase"].to_numpy(float)
        row = {"behaviour": behaviour, "truth": shop.ground_truth.effect(behaviour), "n": len(frame),
               "kept_share": float(fit.kept.mean()), "truth_kept": float(np.nanmean(per_row[fit.kept])),
               "estimate": fit.estimate, "naive": naive(t, y)}
        for name, clusters in (("se", kept.clusters), ("se_user", kept.groups)):
            row[name] = cluster_se(fit.psi, clusters)
        row["dr"] = list(interval(fit.estimate, row["se"], settings.confidence_level)[:2])
        row["dr_user"] = list(interval(fit.estimate, row["se_user"], settings.confidence_level)[:2])
        row["regression"] = None if regression_value is None else list(regression_value)
        w = weighting(t, y, fit.propensity, kept.clusters, settings.confidence_level)
        row["weighting"] = None if w is None else list(w)
        out["effects"].append(row)
    out["seconds"] = time.perf_counter() - started
    return out


def run_coverage(seeds: int, users: int, scenarios: tuple[str, ...]) -> None:
    _run_seeds(COVERAGE, "coverage", one_coverage_seed, seeds, users, scenarios)


def _run_seeds(path: Path, label: str, one_seed: Callable[[str, int, int], dict], seeds: int, users: int,
               scenarios: tuple[str, ...]) -> None:
    """Run ``one_seed`` for every scenario and seed not yet in ``path`` (JSON lines), appending
    each record as it finishes, so a stopped run resumes where it was."""
    RESULTS.mkdir(exist_ok=True)
    done = set()
    if path.exists():
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if record["users"] == users:
                done.add((record["scenario"], record["seed"]))
    for i in range(seeds):
        for scenario in scenarios:
            seed = SEED_BASE[scenario] + i
            if (scenario, seed) in done:
                continue
            record = one_seed(scenario, seed, users)
            with path.open("a", encoding="utf-8") as out:
                out.write(json.dumps(record) + "\n")
            print(f"{label} {scenario} seed {seed}: {record['seconds']:.1f} s", flush=True)


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion."""
    if n == 0:
        return float("nan"), float("nan")
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)


def summarise_coverage(users: int) -> dict:
    out: dict = {"users": users, "scenarios": {}}
    for scenario, mine in _records_by_scenario(COVERAGE, users).items():
        rows = []
        for behaviour in BEHAVIOURS:
            effects = [e for r in mine for e in r["effects"] if e["behaviour"] == behaviour]
            if not effects:
                continue
            truth = np.array([e["truth"] for e in effects])
            entry: dict = {"behaviour": behaviour, "seeds": len(effects), "truth": float(truth.mean()),
                           "kept_share_min": float(min(e["kept_share"] for e in effects)),
                           "truth_kept_minus_truth": float(np.max(np.abs([e["truth_kept"] - e["truth"]
                                                                          for e in effects]))),
                           "estimators": {}}
            est = np.array([e["estimate"] for e in effects])
            se = np.array([e["se"] for e in effects])
            se_user = np.array([e["se_user"] for e in effects])
            entry["z_mean"] = float(np.mean((est - truth) / se))
            entry["z_sd"] = float(np.std((est - truth) / se, ddof=1))
            entry["sd_error"] = float(np.std(est - truth, ddof=1))
            entry["se_mean"], entry["se_user_mean"] = float(se.mean()), float(se_user.mean())
            for name in ("dr", "dr_user", "regression", "weighting"):
                values = [(e[name], e["truth"]) for e in effects if e.get(name)]
                if not values:
                    continue
                arr = np.array([v[0] for v in values], dtype=float)
                tr = np.array([v[1] for v in values])
                if name in ("dr", "dr_user"):
                    arr = np.column_stack([est, arr])
                stats_ = _stats(arr[:, 0], arr[:, 1], arr[:, 2], tr)
                covered = int(round(stats_["coverage"] * len(tr)))
                stats_["covered"] = covered
                stats_["wilson"] = wilson(covered, len(tr))
                stats_["excludes_zero"] = int(np.sum((arr[:, 1] > 0) | (arr[:, 2] < 0)))
                entry["estimators"][name] = stats_
            entry["estimators"]["naive"] = _stats(np.array([e["naive"] for e in effects], dtype=float), None,
                                                  None, truth)
            rows.append(entry)
        out["scenarios"][scenario] = {"seeds": len(mine), "events_mean": float(np.mean([r["events"] for r in mine])),
                                      "seconds_mean": float(np.mean([r["seconds"] for r in mine])),
                                      "behaviours": rows}
    return out


# -- refuters against a broken estimator ---------------------------------------------------------
def one_power_seed(scenario: str, seed: int, users: int, behaviour: str = "cart") -> dict:
    """The refuters' true-fail check: the DR learner given only a noise column as adjuster is
    confounded; the refuters (default settings) are run against that broken estimate. The dummy
    outcome is drawn from the sound fit's no-treatment model, as in a real report."""
    shop = generate_shop(DemoConfig(scenario=scenario, seed=seed, users=users))
    settings = EffectSettings()
    started = time.perf_counter()
    table = build_decisions(shop.events, shop.items, choose_windows(shop.events))
    frame = prepare(table.rows(behaviour), behaviour)
    with thread_limits(settings.threads):
        sound = fit_dr(frame, settings)
        noise = np.random.default_rng(seed).normal(size=len(frame))
        blind = replace(frame.with_column("noise", noise), adjusters=("noise",), modifiers=())
        broken = fit_dr(blind, settings)
    results = refute(blind, sound, settings)
    truth = shop.ground_truth.effect(behaviour)
    return {"scenario": scenario, "seed": seed, "users": users, "behaviour": behaviour, "truth": truth,
            "sound_estimate": sound.estimate, "broken_estimate": broken.estimate,
            "seconds": time.perf_counter() - started,
            "refutations": {r.name: {"passed": r.passed, "ran": r.ran, "p": r.p_value, "mean": r.new_effect}
                            for r in results}}


def run_power(seeds: int, users: int, scenarios: tuple[str, ...]) -> None:
    _run_seeds(POWER, "power", one_power_seed, seeds, users, scenarios)


def summarise_power(users: int) -> dict:
    out: dict = {"users": users, "scenarios": {}}
    for scenario, mine in _records_by_scenario(POWER, users).items():
        error = np.array([r["broken_estimate"] - r["truth"] for r in mine])
        names = list(mine[0]["refutations"])
        out["scenarios"][scenario] = {
            "seeds": len(mine), "behaviour": mine[0]["behaviour"], "truth": float(np.mean([r["truth"] for r in mine])),
            "broken_bias": float(error.mean()), "sound_bias": float(np.mean([r["sound_estimate"] - r["truth"]
                                                                             for r in mine])),
            "true_fail": {n: float(np.mean([not r["refutations"][n]["passed"] for r in mine])) for n in names},
            "any_fail": float(np.mean([any(not v["passed"] for v in r["refutations"].values()) for r in mine])),
            "not_run": {n: int(sum(not r["refutations"][n]["ran"] for r in mine)) for n in names}}
    return out


# -- real data -----------------------------------------------------------------------------------
def run_realdata() -> dict:
    from whyrec.tools.ingest.pipeline import read_preset

    out = {}
    for preset, folder in (("tmall2014", "tmall-brand-rec-2014"), ("rees46", "rees46-multicategory-2019oct-head")):
        events, items = read_preset(preset, DATA / folder)
        started = time.perf_counter()
        table = build_decisions(events, items, choose_windows(events))
        report = estimate_report(table)
        out[preset] = {"events": len(events), "seconds": time.perf_counter() - started,
                       "looks_after_cart": _looks_after_cart(events),
                       "windows": table.windows.to_json(), "event_counts": table.event_counts,
                       "counts": {b: table.counts(b).to_json() for b in BEHAVIOURS},
                       "effects": [e.to_json() for e in report.effects], "text": report.to_text()}
        print(f"{preset}: {out[preset]['seconds']:.1f} s", flush=True)
    (RESULTS / "causal_realdata.json").write_text(json.dumps(out, indent=1), encoding="utf-8")
    return out


def _looks_after_cart(events) -> dict:
    """Of the carted (user, item) pairs: the share with a look after the first cart, and the share
    whose only repeat look comes after the cart (the old design counted those as "looked again")."""
    kind = events["behaviour"].astype(str)
    pair = ["user_id", "item_id"]
    cart_at = events[kind == "cart"].groupby(pair, observed=True)["timestamp"].min().rename("cart_at")
    looks = events[kind.isin(["view", "click"])].join(cart_at, on=pair, how="inner")
    after = looks["timestamp"] > looks["cart_at"]
    per_pair = looks.assign(after=after, before=~after).groupby(pair, observed=True)[["after", "before"]].sum()
    carted = len(cart_at)
    return {"carted_pairs": carted,
            "with_look_after_cart": float((per_pair["after"] > 0).sum() / carted) if carted else None,
            "repeat_look_only_after_cart": float(((per_pair["after"] > 0) & (per_pair["before"] <= 1)).sum() / carted)
            if carted else None}


# -- timing --------------------------------------------------------------------------------------
EVENTS_PER_USER = 31.0  # measured on the default demo shop


def run_timing(sizes: list[int], seed: int) -> dict:
    runs = []
    for target in sizes:
        users = max(50, round(target / EVENTS_PER_USER))
        replays = 2 if target <= 200_000 else 1
        generate_started = time.perf_counter()
        shop = generate_shop(DemoConfig(users=users, items=max(300, users // 10), seed=seed, truth_replays=replays))
        generated = time.perf_counter() - generate_started
        settings = EffectSettings()
        load_before = list(os.getloadavg())
        cpu_started = _cpu_seconds()
        started = time.perf_counter()
        table = build_decisions(shop.events, shop.items, choose_windows(shop.events))
        table_seconds = time.perf_counter() - started
        report = estimate_report(table, settings)
        total = time.perf_counter() - started
        cpu = _cpu_seconds() - cpu_started
        load_after = list(os.getloadavg())
        # Baseline in the same run: DoWhy's linear regression alone on the same decision points.
        base_started = time.perf_counter()
        with thread_limits(settings.threads):
            for behaviour in BEHAVIOURS:
                regression(prepare(table.rows(behaviour), behaviour), settings, [])
        baseline = time.perf_counter() - base_started
        effects = []
        for e in report.effects:
            truth = shop.ground_truth.effect(e.behaviour)
            effects.append({"behaviour": e.behaviour, "truth": truth, "estimate": e.estimate, "ci": [e.ci_low, e.ci_high],
                            "verdict": e.verdict, "n": e.n, "notes": list(e.notes)})
        runs.append({"target_events": target, "events": len(shop.events), "decision_points": len(table.frame),
                     "seconds_generate": round(generated, 1), "load_average_before": load_before,
                     "load_average": load_after, "jobs": settings.jobs,
                     "seconds_decisions": round(table_seconds, 2), "seconds_total": round(total, 2),
                     "cpu_seconds_total": round(cpu, 1),
                     "seconds_regression_baseline": round(baseline, 2),
                     "ratio_to_baseline": round(total / baseline, 1) if baseline else None, "effects": effects})
        print(f"{len(shop.events):,} events: {total:.1f} s (baseline {baseline:.1f} s)", flush=True)
    path = RESULTS / "causal_timing.json"
    # Sizes run separately (100k, then 1M) are kept together; a size run again replaces its row.
    earlier = json.loads(path.read_text())["runs"] if path.exists() else []
    sizes_now = {r["target_events"] for r in runs}
    runs = sorted([r for r in earlier if r["target_events"] not in sizes_now] + runs, key=lambda r: r["target_events"])
    data = {"machine": f"{platform.machine()}, Python {platform.python_version()}", "settings": EffectSettings().to_json(),
            "runs": runs}
    path.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return data


def _cpu_seconds() -> float:
    """CPU seconds of this process and its live children (the report's worker processes)."""
    import psutil

    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for child in me.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.Error:
            pass
    return total


# -- markdown ------------------------------------------------------------------------------------
COMMANDS = ("nice -n 10 .venv/bin/python bench/bench_causal.py accuracy --seeds 30 --users 400; "
            "... coverage --coverage-seeds 120 --users 400; ... power --seeds 30 --users 400; ... realdata; ... timing --sizes 100000 [1000000]; ... report")


def to_markdown(users: int) -> str:
    """causal.md from the stored parts; also writes the summary of every part to causal.json."""
    lines = ["# Causal tool: accuracy against the ground truth, real logs, pipeline time", "",
             f"Command (from the repository root): `{COMMANDS}`. Every part appends or writes its own "
             "file under bench/results/ (causal_accuracy.jsonl, causal_coverage.jsonl, causal_power.jsonl, "
             "causal_realdata.json, causal_timing.json); `report` rebuilds this page and causal.json from them.", ""]
    combined: dict = {"command": COMMANDS, "settings": EffectSettings().to_json()}
    if ACCURACY.exists():
        summary = summarise_accuracy(users)
        combined["accuracy"] = summary
        (RESULTS / "causal_accuracy.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
        lines += _accuracy_md(summary)
    if COVERAGE.exists():
        coverage = summarise_coverage(users)
        combined["coverage"] = coverage
        lines += _coverage_md(coverage)
    if POWER.exists():
        power = summarise_power(users)
        combined["refuter_power"] = power
        lines += _power_md(power)
    path = RESULTS / "causal_realdata.json"
    if path.exists():
        realdata = json.loads(path.read_text())
        combined["realdata"] = {k: {key: v[key] for key in ("events", "seconds", "windows", "looks_after_cart",
                                                            "counts", "effects")} for k, v in realdata.items()}
        lines += _realdata_md(realdata)
    path = RESULTS / "causal_timing.json"
    if path.exists():
        timing = json.loads(path.read_text())
        combined["timing"] = timing
        lines += _timing_md(timing)
    (RESULTS / "causal.json").write_text(json.dumps(combined, indent=1), encoding="utf-8")
    return "\n".join(lines) + "\n"


def _coverage_md(summary: dict) -> list[str]:
    lines = ["## Coverage of the primary estimate over many seeds (current code, no refuters)", "",
             f"Demo shops of {summary['users']} users, one per seed. Per behaviour, the DR estimate and its 95% "
             "interval exactly as a report makes them (same trial, sample, cross-fitting and clustering: by "
             "shopper and by item), and for diagnosis the interval clustered by shopper alone. Coverage with its "
             "95% Wilson interval; z = (estimate - truth) / standard error (mean and spread; 0 and 1 if the "
             "interval is right); 'interval excludes 0': an upper bound on how often a verdict could be "
             "'supported' (a verdict also needs the refuters and the sensitivity). Least share kept: the "
             "smallest share of decision points left after trimming over the seeds; largest change of the truth by "
             "trimming: the true effect over the kept decision points minus the true effect over all of them.", ""]
    names = {"dr": "DR (primary)", "dr_user": "DR, clustered by shopper only", "regression": "linear regression",
             "weighting": "weighting", "naive": "naive difference"}
    for scenario, data in summary["scenarios"].items():
        lines += [f"### {scenario} scenario ({data['seeds']} seeds, mean {data['events_mean']:,.0f} events)", ""]
        rows = []
        for entry in data["behaviours"]:
            for key, label in names.items():
                st = entry["estimators"].get(key)
                if st is None:
                    continue
                cov = "-"
                if "coverage" in st:
                    low, high = st["wilson"]
                    cov = f"{st['covered']}/{st['n']} = {_pct(st['coverage'])} [{_pct(low)}, {_pct(high)}]"
                bias = f"{_f(st['bias'])} ({st['bias_se']:.4f})" if st.get("bias_se") is not None else _f(st["bias"])
                rows.append([entry["behaviour"], f"{entry['truth']:+.4f}", label, bias,
                             _pct(st.get("rel_bias")) if st.get("rel_bias") is not None else "n/a (truth 0)", cov,
                             f"{st['mean_width']:.4f}" if "mean_width" in st else "-",
                             st.get("excludes_zero", "-") if "coverage" in st else "-"])
        lines.append(md_table(["behaviour", "truth", "estimator", "bias (s.e.)", "bias / truth",
                               "95% coverage [Wilson 95%]", "mean width", "interval excludes 0 (seeds)"], rows))
        lines += [""]
        rows = [[e["behaviour"], f"{e['z_mean']:+.2f}", f"{e['z_sd']:.2f}", f"{e['sd_error']:.4f}",
                 f"{e['se_mean']:.4f}", f"{e['se_user_mean']:.4f}", _pct(e["kept_share_min"]),
                 f"{e['truth_kept_minus_truth']:.5f}"] for e in data["behaviours"]]
        lines.append(md_table(["behaviour", "mean z", "sd of z", "sd of (estimate - truth)",
                               "mean s.e. (shopper and item)", "mean s.e. (shopper only)", "least share kept",
                               "largest change of the truth by trimming"], rows))
        lines.append("")
    return lines


def _power_md(summary: dict) -> list[str]:
    lines = ["## Refuters against a broken estimator (true-fail rate)", "",
             "Per seed, the cart trial estimated by the DR learner given only a noise column as adjuster "
             "(confounded by construction); the default refuters run against that estimate. A refuter "
             "that fails here caught a wrong estimate. The false-fail rate (failing a sound estimate) is "
             "in the accuracy tables above.", ""]
    rows = []
    for scenario, data in summary["scenarios"].items():
        fails = ", ".join(f"{k.split('_')[0]} {_pct(v)}" for k, v in data["true_fail"].items())
        rows.append([scenario, data["seeds"], f"{data['truth']:+.4f}", _f(data["sound_bias"]), _f(data["broken_bias"]),
                     fails, _pct(data["any_fail"])])
    lines.append(md_table(["scenario", "seeds", "cart truth", "bias, sound DR", "bias, broken estimator",
                           "refuter failed (true-fail rate)", "any refuter failed"], rows))
    lines.append("")
    return lines


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def _f(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:+.{digits}f}"


def _accuracy_md(summary: dict) -> list[str]:
    lines = ["## Accuracy over seeds (documented estimand; default settings, full pipeline)", "",
             f"Demo shops of {summary['users']} users, one per seed (events per shop in each heading). Truth: the simulator's "
             "true effect for the estimand, averaged over the same decision points. Coverage: share of seeds "
             "whose 95% interval holds the truth. Bias: mean (estimate - truth); its standard error in brackets.", ""]
    names = {"dr": "DR learner (primary)", "backdoor.linear_regression": "linear regression",
             "propensity_weighting": "weighting", "naive": "naive difference"}
    for scenario, data in summary["scenarios"].items():
        lines += [f"### {scenario} scenario ({data['seeds']} seeds, mean {data['events_mean']:,.0f} events, "
                  f"{data['seconds_mean']:.0f} s per report)", ""]
        rows = []
        for entry in data["behaviours"]:
            for key, label in names.items():
                s = entry["estimators"].get(key)
                if s is None:
                    continue
                bias = f"{_f(s['bias'])} ({s['bias_se']:.4f})" if s.get("bias_se") is not None else _f(s["bias"])
                rows.append([entry["behaviour"], f"{entry['truth']:+.4f}", label, f"{s['mean']:+.4f}", bias,
                             _pct(s.get("rel_bias")) if s.get("rel_bias") is not None else "n/a (truth 0)",
                             _pct(s.get("coverage")) if "coverage" in s else "-",
                             f"{s['mean_width']:.4f}" if "mean_width" in s else "-", f"{s['rmse']:.4f}"])
        lines.append(md_table(["behaviour", "truth", "estimator", "mean estimate", "bias (s.e.)", "bias / truth",
                           "95% coverage", "mean width", "RMSE"], rows))
        lines += ["", "Verdicts of the primary estimate, refuters and heterogeneity:", ""]
        rows = []
        for entry in data["behaviours"]:
            seeds = entry["seeds"]
            verdicts = ", ".join(f"{k} {v}/{seeds}" for k, v in sorted(entry["verdicts"].items()))
            reasons = ", ".join(f"{k} {v}" for k, v in sorted(entry["reasons"].items())) or "-"
            refuters = ", ".join(f"{k.split('_')[0]} {_pct(v)}" for k, v in entry["refuters_passed"].items())
            segs = entry.get("segments")
            seg = "-" if not segs else f"{_pct(segs['coverage'])} of {segs['intervals']}"
            cate = entry.get("cate")
            cate_text = "-" if not cate else (f"{cate['corr_truth']:.2f} / {cate['corr_best_linear']:.2f} / "
                                              f"{_pct(cate['covers_best_linear'])}")
            rows.append([entry["behaviour"], verdicts, reasons, refuters,
                         _pct(entry.get("false_fail_any")) if entry.get("false_fail_any") is not None else "-",
                         seg, cate_text])
        lines.append(md_table(["behaviour", "verdicts", "inconclusive because", "refuters passed",
                               "any refuter failed (false-fail rate)", "price-band coverage",
                               "θ(x): corr truth / corr best linear / covers best linear"], rows))
        lines.append("")
    return lines


def _realdata_md(data: dict) -> list[str]:
    lines = ["## Real logs (default settings)", ""]
    for preset, run in data.items():
        w = run["windows"]
        lines += [f"### {preset}: {run['events']:,} events, log span {w['log_span']}, D = H = {w['horizon']}, "
                  f"{run['seconds']:.1f} s", ""]
        after = run.get("looks_after_cart") or {}
        if after.get("carted_pairs"):
            lines += [f"Of {after['carted_pairs']:,} carted (user, item) pairs, {_pct(after['with_look_after_cart'])} have "
                      f"a look after the cart and for {_pct(after['repeat_look_only_after_cart'])} the only repeat "
                      "look comes after it (the old design counted those as looked-again before the cart).", ""]
        rows = []
        for e in run["effects"]:
            alts = {a["method"]: a["estimate"] for a in e.get("alternatives", [])}
            sens = e.get("sensitivity") or {}
            interval = "-" if e.get("ci_low") is None else f"{e['ci_low']:+.3f}..{e['ci_high']:+.3f}"
            rows.append([e["behaviour"], f"{e['n']:,}", f"{e['n_treated']:,}", _f(e.get("estimate"), 3), interval,
                         _f(e.get("naive"), 3), _f(alts.get("backdoor.linear_regression"), 3),
                         _f(alts.get("propensity_weighting"), 3), _pct(e.get("trimmed_share")),
                         _pct(sens.get("robustness_value")), e["verdict_text"]])
        lines.append(md_table(["behaviour", "decision points", "treated", "DR", "95% CI", "naive", "regression",
                           "weighting", "trimmed", "robustness", "verdict"], rows))
        lines.append("")
    return lines


def _timing_md(data: dict) -> list[str]:
    lines = ["## Pipeline time (decision points + DR + comparisons + refuters + sensitivity, 3 behaviours)", "",
             f"Machine: {data['machine']}, 2 shared cores. Baseline in the same run: DoWhy's backdoor linear "
             "regression alone on the same decision points (the old default estimator). CPU: seconds of the "
             "report's process and its worker processes (behaviours are estimated in `jobs` worker processes "
             "when the decision table has at least 50,000 rows); with other work on the cores the wall time "
             "is mostly waiting — compare the load averages.", ""]
    def load(values: list | None) -> str:
        return " / ".join(f"{x:.1f}" for x in values) if values else "-"

    rows = [[f"{r['events']:,}", f"{r['decision_points']:,}", r["seconds_decisions"], r["seconds_total"],
             r.get("cpu_seconds_total", "-"), r.get("jobs", 1),
             r["seconds_regression_baseline"], r["ratio_to_baseline"], r.get("seconds_generate", "-"),
             load(r.get("load_average_before")), load(r.get("load_average"))]
            for r in data["runs"]]
    lines.append(md_table(["events", "decision points", "decision table (s)", "full pipeline, wall (s)",
                           "full pipeline, CPU (s, all processes)", "worker processes",
                           "regression baseline (s)", "ratio", "simulating the shop (s, not in the pipeline)",
                           "load average before (1/5/15 min)", "load average after"], rows))
    lines += ["", "Estimates at those sizes (one seed each):", ""]
    rows = [[f"{r['events']:,}", e["behaviour"], f"{e['truth']:+.4f}", _f(e["estimate"]),
             "-" if e["ci"][0] is None else f"{e['ci'][0]:+.4f}..{e['ci'][1]:+.4f}", e["verdict"]]
            for r in data["runs"] for e in r["effects"]]
    lines.append(md_table(["events", "behaviour", "truth", "DR", "95% CI", "verdict"], rows))
    lines.append("")
    return lines


def _use_results(folder: Path) -> None:
    """Read and write the parts under ``folder`` (bench/results by default)."""
    global RESULTS, ACCURACY, POWER, COVERAGE
    RESULTS, ACCURACY, POWER = folder, folder / "causal_accuracy.jsonl", folder / "causal_power.jsonl"
    COVERAGE = folder / "causal_coverage.jsonl"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", nargs="?", default="all",
                        choices=("accuracy", "coverage", "power", "realdata", "timing", "report", "all"))
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument("--users", type=int, default=400)
    parser.add_argument("--coverage-seeds", type=int, default=None, help="seeds of the coverage part "
                        "(default twice --seeds)")
    parser.add_argument("--scenarios", nargs="+", default=["default", "adversarial"])
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help="timing sizes (default 100000 1000000)")
    parser.add_argument("--out", type=Path, default=None, help="results folder (default bench/results; "
                        "bench/out/causal with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke run: 2 seeds of 150 users, 20k events, results in bench/out/causal")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.users = 2, 150
        args.sizes = args.sizes or [20_000]
        args.out = args.out or RESULTS.parent / "out" / "causal"
    args.sizes = args.sizes or [100_000, 1_000_000]
    if args.out is not None:
        _use_results(args.out)
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.part in ("accuracy", "all"):
        run_accuracy(args.seeds, args.users, tuple(args.scenarios))
    if args.part in ("coverage", "all"):
        run_coverage(args.coverage_seeds or (args.seeds if args.quick else 2 * args.seeds), args.users,
                     tuple(args.scenarios))
    if args.part in ("power", "all"):
        run_power(args.seeds, args.users, tuple(args.scenarios))
    if args.part in ("realdata", "all"):
        run_realdata()
    if args.part in ("timing", "all"):
        run_timing(args.sizes, seed=7)
    markdown = to_markdown(args.users)
    (RESULTS / "causal.md").write_text(markdown, encoding="utf-8")
    print(markdown)


if __name__ == "__main__":
    main()
