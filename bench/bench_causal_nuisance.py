"""Diagnosis: where does the adversarial add-to-cart bias come from? The primary DR fit with its
nuisance models changed one way at a time, on the same decision points and truth.

The coverage runs (``bench_causal.py coverage``) show a small positive bias of the adversarial
cart effect (+0.010, 2.5% of the truth, about half a standard error). This script refits only the
cart trial of seeds 2000.. with variants of the nuisance models and reports bias, the spread of
z = (estimate − truth) / s.e., and coverage — a diagnosis, not a tuning loop: the served
estimator is ``base``.

* ``base``: the served settings (gradient-boosted trees, 40 rounds, folds by shopper);
* ``rounds120``: 120 boosting rounds; ``deep``: 200 rounds, 31 leaves, 255 bins (more flexible);
* ``twoway_folds``: cross-fitting folds by shopper × item (no item in both a fit and its scoring);
* ``per_arm_outcome``: the outcome modelled separately for carted and not-carted decision points;
* ``oracle_latent``: the simulator's hidden traits (true taste, item appeal, price gap) added as
  adjusters — what the product cannot see; an upper bound on what better proxies could do.

Usage: ``.venv/bin/python bench/bench_causal_nuisance.py --seeds 120`` → bench/results/causal_nuisance.json/md
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone

import whyrec.tools.causal.estimate as estimate_module
from whyrec.tools.causal import EffectSettings, build_decisions, choose_windows
from whyrec.tools.causal.effect import make_trial
from whyrec.tools.causal.estimate import TrialFrame, cluster_se, fit_dr, identify, prepare, thread_limits
from whyrec.tools.demo import DemoConfig, generate_shop

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import md_table

RESULTS = Path(__file__).resolve().parent / "results"
LATENT = ("latent_taste", "latent_appeal", "latent_price_gap")
VARIANTS = ("base", "rounds120", "deep", "twoway_folds", "per_arm_outcome", "oracle_latent")


class PerArm(BaseEstimator, ClassifierMixin):  # type: ignore[misc]
    """An outcome classifier fitted separately on each arm (the treatment is the last column)."""

    def __init__(self, base: Any = None) -> None:
        self.base = base

    def fit(self, x: np.ndarray, y: np.ndarray) -> PerArm:
        x = np.asarray(x)
        treated = x[:, -1] > 0.5
        self.models_ = [clone(self.base).fit(x[~treated, :-1], y[~treated]),
                        clone(self.base).fit(x[treated, :-1], y[treated])]
        self.classes_ = self.models_[0].classes_
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        treated = x[:, -1] > 0.5
        out = np.empty((len(x), 2))
        for arm, model in enumerate(self.models_):
            rows = treated == bool(arm)
            if rows.any():
                out[rows] = model.predict_proba(x[rows, :-1])
        return out

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.classes_[self.predict_proba(x).argmax(axis=1)]


@contextmanager
def patched(variant: str, frame: TrialFrame) -> Iterator[EffectSettings]:
    """The settings of ``variant``, with the estimator module patched for it meanwhile."""
    settings = EffectSettings()
    saved: dict[str, Any] = {}

    def swap(name: str, value: Callable[..., Any]) -> None:
        saved[name] = getattr(estimate_module, name, None)
        setattr(estimate_module, name, value)

    if variant == "rounds120":
        settings = dataclasses.replace(settings, nuisance_iterations=120)
    elif variant == "deep":
        from sklearn.ensemble import HistGradientBoostingClassifier

        swap("_hgb", lambda s, seed: HistGradientBoostingClassifier(
            max_iter=200, learning_rate=0.05, max_leaf_nodes=31, min_samples_leaf=20, l2_regularization=1.0,
            max_bins=255, early_stopping=False, random_state=seed))
    elif variant == "twoway_folds":
        by_user = estimate_module.group_folds
        items = frame.items if frame.items is not None else np.zeros(len(frame), dtype=np.int64)

        def twoway(groups: np.ndarray, treated: np.ndarray, folds: int, seed: int) -> list:
            user_fold = np.empty(len(groups), dtype=np.int64)
            for k, (_, test) in enumerate(by_user(groups, treated, folds, seed)):
                user_fold[test] = k
            item_fold = (np.random.default_rng(seed + 1).permutation(int(items.max()) + 1) % folds)[items]
            splits = []
            for a in range(folds):
                for b in range(folds):
                    test = np.flatnonzero((user_fold == a) & (item_fold == b))
                    if len(test):
                        splits.append((np.flatnonzero((user_fold != a) & (item_fold != b)), test))
            return splits
        swap("group_folds", twoway)
    elif variant == "per_arm_outcome":
        import econml.dr

        learner = econml.dr.LinearDRLearner

        def per_arm(*args: Any, **kwargs: Any) -> Any:
            kwargs["model_regression"] = PerArm(kwargs["model_regression"])
            return learner(*args, **kwargs)
        saved["econml"] = learner
        econml.dr.LinearDRLearner = per_arm
    try:
        yield settings
    finally:
        for name, value in saved.items():
            if name == "econml":
                import econml.dr

                econml.dr.LinearDRLearner = value
            else:
                setattr(estimate_module, name, value)


def one_seed(seed: int, variants: tuple[str, ...]) -> dict:
    shop = generate_shop(DemoConfig(scenario="adversarial", seed=seed, users=400))
    table = build_decisions(shop.events, shop.items, choose_windows(shop.events))
    frame = prepare(make_trial(table, "cart", EffectSettings()).rows, "cart")
    decisions = shop.decisions[shop.decisions["behaviour"] == "cart"][["user_id", "item_id", "k", "effect"]]
    truth = frame.keys.merge(decisions, on=["user_id", "item_id", "k"], how="left")["effect"].to_numpy()
    latent = frame.keys.merge(shop.units.drop_duplicates(["user_id", "item_id"]), on=["user_id", "item_id"],
                              how="left")
    out: dict[str, Any] = {"seed": seed, "n": len(frame)}
    for variant in variants:
        used = frame
        if variant == "oracle_latent":
            for column in LATENT:
                used = used.with_column(column, latent[column].to_numpy(dtype=float))
            used = dataclasses.replace(used, adjusters=used.adjusters + LATENT)
        with patched(variant, used) as settings, thread_limits(1):
            fit = fit_dr(used, settings, settings.seed, identify(used))
        kept = used.take(np.flatnonzero(fit.kept))
        se = cluster_se(fit.psi, kept.clusters)
        true = float(np.nanmean(truth[fit.kept]))
        out[variant] = {"estimate": fit.estimate, "se": se, "truth": true}
    return out


def summarise(records: list[dict], variants: tuple[str, ...]) -> list[dict]:
    rows = []
    for variant in variants:
        values = [r[variant] for r in records if variant in r]
        est = np.array([v["estimate"] for v in values])
        truth = np.array([v["truth"] for v in values])
        z = (est - truth) / np.array([v["se"] for v in values])
        bias = est - truth
        rows.append({"variant": variant, "seeds": len(values), "bias": float(bias.mean()),
                     "bias_se": float(bias.std(ddof=1) / np.sqrt(len(bias))),
                     "bias_share": float(bias.mean() / truth.mean()), "mean_z": float(z.mean()),
                     "sd_z": float(z.std(ddof=1)), "covered": int((np.abs(z) < 1.959964).sum())})
    return rows


def to_markdown(rows: list[dict]) -> str:
    head = ["# Adversarial add-to-cart: the DR fit with its nuisance models varied one way at a time", "",
            "Same decision points and truth per seed (demo shops of 400 shoppers, seeds 2000..); "
            "`base` is what the product serves. z = (estimate − truth) / clustered s.e.", "", ""]
    table = md_table(["variant", "seeds", "bias (s.e.)", "bias / truth", "mean z", "sd z", "coverage"],
                     [[r["variant"], r["seeds"], f"{r['bias']:+.4f} ({r['bias_se']:.4f})", f"{r['bias_share']:.1%}",
                       f"{r['mean_z']:+.2f}", f"{r['sd_z']:.2f}",
                       f"{r['covered']}/{r['seeds']} = {r['covered'] / r['seeds']:.0%}"] for r in rows])
    return "\n".join(head) + table + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=120)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    variants = tuple(args.variants)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "causal_nuisance.jsonl"
    done = {json.loads(line)["seed"] for line in path.read_text().splitlines()} if path.exists() else set()
    for seed in range(2000, 2000 + args.seeds):
        if seed not in done:
            record = one_seed(seed, variants)
            with path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")
            print(f"seed {seed}: " + ", ".join(f"{v} {record[v]['estimate'] - record[v]['truth']:+.4f}"
                                             for v in variants), flush=True)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    rows = summarise(records, variants)
    (args.out / "causal_nuisance.json").write_text(json.dumps({"variants": rows}, indent=1))
    (args.out / "causal_nuisance.md").write_text(to_markdown(rows), encoding="utf-8")
    print(to_markdown(rows))


if __name__ == "__main__":
    main()
