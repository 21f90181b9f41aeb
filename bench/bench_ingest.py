"""Ingest throughput: whyrec's ``ingest`` against a bare ``pandas.read_csv`` of the same file.

Usage (from the repository root)::

    .venv/bin/python bench/bench_ingest.py            # full: Tmall 2014 + ~1M-event demo log, 3 reps
    .venv/bin/python bench/bench_ingest.py --quick    # < 2 min: Tmall + ~100k-event demo, 2 reps
                                                      # (writes to a temp folder unless --out is given)

Datasets:

* ``tmall2014`` — /work/shared/data/tmall-brand-rec-2014/t_alibaba_data.csv through the built-in
  preset (``M-D`` dates, catalog built from brand ids);
* ``demo-epoch`` — the demo shop's events written to a CSV (user_id,item_id,behaviour,
  timestamp in epoch seconds,session_id) and ingested through a custom ``SourceMapping``;
* ``demo-iso`` — the same log with ISO 8601 timestamps (full run only).

Every repetition runs, in this order and in the same process: three ``read_csv`` floors (pandas
defaults; ``dtype=str`` with the reader's NA options, which is what whyrec's reader does; and
the pyarrow engine with ``dtype=str``), a full ingest into a fresh temporary workspace, an
idempotent re-ingest of the same file into that workspace (nothing added), and a stage profile
(``read_source`` and ``validate`` called directly; the commit is the remainder). Ratios are
ingest time / floor time from the same run, so the shared machine's load cancels out as far as
it can. Writes bench/results/ingest.md and ingest.json.

Two more modes (issue 17), each against the code of another checkout given as ``--baseline``
(a folder holding a ``whyrec`` package, e.g. ``main``'s ``agent/ tools/ prompts/ ui/`` linked under
``whyrec/``): every measurement runs in a fresh child process with only the code differing, and
the two codes alternate repetition by repetition::

    .venv/bin/python bench/bench_ingest.py --compare --baseline /tmp/oldpkg   # ingest_compare.md
    .venv/bin/python bench/bench_ingest.py --unclosed-quote --baseline /tmp/oldpkg   # ingest_unclosed_quote.md

``--compare``: ingest time of this code and the baseline's on the same files (Tmall 2014 and the
demo log), and each one's ratio to ``read_csv`` in the same child. ``--unclosed-quote``: the issue's
case, a ~60 MB, 820,000-row CSV with a quote opened on line 12 and never closed: time to answer
and peak memory (max RSS of the child), refused by default and with ``--skip-invalid``.
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import md_table, summary, write_results

from whyrec.tools.demo import DemoConfig, generate_shop
from whyrec.tools.ingest.mapping import SourceMapping
from whyrec.tools.ingest.pipeline import ingest
from whyrec.tools.ingest.presets import get_preset
from whyrec.tools.ingest.reader import read_source
from whyrec.tools.ingest.validate import validate
from whyrec.tools.workspace import Workspace

TMALL = Path("/work/shared/data/tmall-brand-rec-2014/t_alibaba_data.csv")
DEMO_COLUMNS = ["user_id", "item_id", "behaviour", "timestamp", "session_id"]
log = logging.getLogger("bench_ingest")


def write_demo_csv(target_events: int, items: int, seed: int, folder: Path,
                   iso: bool) -> tuple[dict[str, Path], dict]:
    """Generate the demo shop with about ``target_events`` events and write its log as CSV."""
    probe_users = 1000
    probe = generate_shop(DemoConfig(users=probe_users, items=items, seed=seed))
    per_user = len(probe.events) / probe_users
    users = max(1, int(round(target_events / per_user)))
    started = time.perf_counter()
    shop = generate_shop(DemoConfig(users=users, items=items, seed=seed))
    generate_s = time.perf_counter() - started
    events = shop.events
    # The probe under-estimates events per user at scale (popular items draw more), so the log is
    # slightly longer than asked: keep its first ``target_events`` events in time order.
    generated = len(events)
    if generated > target_events:
        events = events.iloc[:target_events]
    frame = pd.DataFrame({
        "user_id": events["user_id"].astype(str),
        "item_id": events["item_id"].astype(str),
        "behaviour": events["behaviour"].astype(str),
        "timestamp": events["timestamp"].astype("int64") // 10**9,
        "session_id": events["session_id"].astype(str),
    })
    paths = {"demo-epoch": folder / "demo_epoch.csv"}
    started = time.perf_counter()
    frame.to_csv(paths["demo-epoch"], index=False)
    if iso:
        paths["demo-iso"] = folder / "demo_iso.csv"
        frame.assign(timestamp=events["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(
            paths["demo-iso"], index=False)
    write_s = time.perf_counter() - started
    info = {"users": users, "items": items, "seed": seed, "events_generated": int(generated),
            "events": int(len(events)), "users_in_log": int(events["user_id"].nunique()),
            "events_per_user": round(per_user, 2), "generate_s": round(generate_s, 2),
            "write_csv_s": round(write_s, 2)}
    return paths, info


def demo_mapping(iso: bool) -> SourceMapping:
    columns = {c: c for c in DEMO_COLUMNS}
    if iso:
        return SourceMapping(columns=columns, timestamp_format="%Y-%m-%dT%H:%M:%SZ", duplicates="keep",
                             name="bench-demo-iso")
    return SourceMapping(columns=columns, timestamp_unit="s", duplicates="keep", name="bench-demo-epoch")


def _clock(fn):  # type: ignore[no-untyped-def]
    gc.collect()
    started = time.perf_counter()
    out = fn()
    return time.perf_counter() - started, out


def bench_dataset(name: str, path: Path, mapping: SourceMapping, preset, reps: int,  # type: ignore[no-untyped-def]
                  tmp_root: Path) -> dict:
    reader_opts = dict(sep=mapping.delimiter, header=0 if mapping.header else None, dtype=str,
                       keep_default_na=False, na_values=[], encoding=mapping.encoding,
                       encoding_errors="replace")
    times: dict[str, list[float]] = {k: [] for k in (
        "read_csv_default", "read_csv_str", "read_csv_pyarrow_str", "ingest", "reingest",
        "stage_read_source", "stage_validate")}
    rows = added = readded = present = None
    for rep in range(reps):
        t, frame = _clock(lambda: pd.read_csv(path))
        times["read_csv_default"].append(t)
        rows = len(frame)
        del frame
        t, _ = _clock(lambda: pd.read_csv(path, **reader_opts))
        times["read_csv_str"].append(t)
        t, _ = _clock(lambda: pd.read_csv(path, sep=mapping.delimiter, dtype=str, keep_default_na=False,
                                          na_values=[], engine="pyarrow"))
        times["read_csv_pyarrow_str"].append(t)

        folder = Path(tempfile.mkdtemp(prefix=f"ws-{name}-{rep}-", dir=tmp_root))
        try:
            workspace = Workspace.create(folder)
            t, result = _clock(lambda: ingest(workspace, path, mapping, preset=preset))
            times["ingest"].append(t)
            added = result.rows_added
            t, again = _clock(lambda: ingest(workspace, path, mapping, preset=preset))
            times["reingest"].append(t)
            readded, present = again.rows_added, again.rows_already_present
            if readded != 0:
                raise AssertionError(f"{name}: re-ingest added {readded} rows; ingest is not idempotent")
        finally:
            shutil.rmtree(folder, ignore_errors=True)

        source = preset.resolve_events(path) if preset else path
        t, raw = _clock(lambda: read_source(source, mapping))
        times["stage_read_source"].append(t)
        t, _ = _clock(functools.partial(validate, raw, mapping))
        times["stage_validate"].append(t)
        del raw
        print(f"  {name} rep {rep + 1}/{reps}: read_csv {times['read_csv_default'][-1]:.2f} s, "
              f"ingest {times['ingest'][-1]:.2f} s, re-ingest {times['reingest'][-1]:.2f} s", flush=True)

    stats = {k: summary(v) for k, v in times.items()}
    med = {k: v["median_s"] for k, v in stats.items()}
    # Ratios per repetition (same rep, back to back), then the median of those.
    per_rep_ratio = np.asarray(times["ingest"]) / np.asarray(times["read_csv_default"])
    return {
        "dataset": name, "file": str(path), "file_mb": round(path.stat().st_size / 1e6, 2),
        "rows": rows, "rows_added": added, "reingest_rows_added": readded,
        "reingest_rows_already_present": present, "reps": reps, "times": stats,
        "events_per_s": {k: rows / med[k] for k in ("read_csv_default", "read_csv_str",
                                                     "read_csv_pyarrow_str", "ingest", "reingest")},
        "ratio_ingest_over_read_csv": {"median_of_reps": float(np.median(per_rep_ratio)),
                                       "best_over_best": stats["ingest"]["best_s"] / stats["read_csv_default"]["best_s"]},
        "ratio_ingest_over_read_csv_str": med["ingest"] / med["read_csv_str"],
        "ratio_reingest_over_ingest": med["reingest"] / med["ingest"],
        "stage_median_s": {"read_source": med["stage_read_source"], "validate": med["stage_validate"],
                           "commit_and_rest (ingest - read - validate)":
                               med["ingest"] - med["stage_read_source"] - med["stage_validate"]},
    }


def render(results: list[dict], demo_info: dict | None, args: argparse.Namespace) -> str:
    rows = []
    for r in results:
        m = {k: v["median_s"] for k, v in r["times"].items()}
        rows.append([r["dataset"], r["rows"], r["file_mb"], m["read_csv_default"],
                     r["events_per_s"]["read_csv_default"], m["ingest"], r["events_per_s"]["ingest"],
                     f"{r['ratio_ingest_over_read_csv']['median_of_reps']:.1f}x",
                     m["reingest"], f"{r['ratio_reingest_over_ingest']:.2f}"])
    main = md_table(["dataset", "rows", "MB", "read_csv s", "read_csv ev/s", "ingest s", "ingest ev/s",
                     "ingest / read_csv", "re-ingest s (0 added)", "re-ingest / ingest"], rows)
    floors = []
    for r in results:
        m = {k: v["median_s"] for k, v in r["times"].items()}
        floors.append([r["dataset"], m["read_csv_default"], m["read_csv_str"], m["read_csv_pyarrow_str"],
                       f"{r['ratio_ingest_over_read_csv_str']:.1f}x"])
    floor_table = md_table(["dataset", "read_csv defaults s", "read_csv dtype=str (whyrec reader opts) s",
                            "read_csv engine=pyarrow dtype=str s", "ingest / read_csv dtype=str"], floors)
    stages = []
    for r in results:
        s = r["stage_median_s"]
        total = r["times"]["ingest"]["median_s"]
        rest = s["commit_and_rest (ingest - read - validate)"]
        stages.append([r["dataset"], total, s["read_source"], f"{100 * s['read_source'] / total:.0f}%",
                       s["validate"], f"{100 * s['validate'] / total:.0f}%", rest, f"{100 * rest / total:.0f}%"])
    stage_table = md_table(["dataset", "ingest s", "read_source s", "%", "validate s", "%",
                            "dedup + catalog + commit s", "%"], stages)
    lines = [
        f"Mode: {'quick' if args.quick else 'full'}; {args.reps} repetitions per dataset, each in a fresh "
        "temporary workspace; times are medians (all samples in the JSON). Ratios are per repetition "
        "(ingest and read_csv back to back in the same process), median over repetitions.", "",
        "## Throughput", "", main, "",
        "## read_csv floors", "",
        "whyrec's reader reads every column as text (`dtype=str`, `keep_default_na=False`, "
        "`encoding_errors=\"replace\"`) so validation can name bad lines; that alone costs several times "
        "a default read_csv on pandas 3. The pyarrow engine reads the same text columns far faster.", "",
        floor_table, "",
        "## Where ingest time goes (medians; stages called directly in the same repetition)", "",
        stage_table, "",
    ]
    if demo_info:
        lines += ["Demo log: " + ", ".join(f"{k} {v}" for k, v in demo_info.items()) + ".", ""]
    for r in results:
        lines.append(f"- {r['dataset']}: {r['rows_added']:,} events added by the first ingest; the re-ingest "
                     f"added {r['reingest_rows_added']} and found {r['reingest_rows_already_present']:,} present.")
    return "\n".join(lines) + "\n"


# -- child processes: one measurement with one code --------------------------------------------------
CHILD = r"""
import json, resource, sys, time
from pathlib import Path
spec = json.loads(sys.argv[1])
started = time.perf_counter()
out = {}
if spec["what"] == "read_csv":
    import pandas as pd
    started = time.perf_counter()
    out["rows"] = len(pd.read_csv(spec["source"]))
else:
    from whyrec.tools.ingest.mapping import SourceMapping
    from whyrec.tools.ingest.pipeline import IngestRejected, ingest
    from whyrec.tools.ingest.presets import get_preset
    from whyrec.tools.workspace import Workspace
    preset = get_preset(spec["preset"]) if spec.get("preset") else None
    mapping = preset.make_mapping({}) if preset else SourceMapping(**spec["mapping"])
    workspace = Workspace.create(spec["workspace"])
    started = time.perf_counter()
    try:
        result = ingest(workspace, spec["source"], mapping, preset=preset, skip_invalid=spec.get("skip_invalid", False))
        out.update(outcome="ingested", rows_read=result.rows_read, rows_added=result.rows_added,
                   rows_rejected=result.rows_rejected,
                   longest_title=int(workspace.items()["title"].str.len().max() or 0))
    except IngestRejected as exc:
        report = exc.reports[0]
        out.update(outcome="refused", rows_read=report.rows_read, rows_invalid=report.rows_invalid,
                   first_issue=report.first_issues[0].to_text() if report.first_issues else "")
out["seconds"] = time.perf_counter() - started
out["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("RESULT " + json.dumps(out))
"""


def run_child(spec: dict, baseline: Path | None) -> dict:
    env = dict(os.environ)
    if baseline is not None:
        env["PYTHONPATH"] = str(baseline)
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps(spec)], capture_output=True, text=True,
                          env=env, timeout=3600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"child failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def _mapping_spec(mapping: SourceMapping) -> dict:
    keys = ("columns", "timestamp_unit", "timestamp_format", "duplicates", "name")
    return {k: getattr(mapping, k) for k in keys}


def compare(args: argparse.Namespace, tmp_root: Path) -> tuple[str, dict]:
    """Ingest with this code and with the baseline's, alternating, each in a fresh process."""
    cases: list[tuple[str, Path, dict]] = []
    if TMALL.exists():
        cases.append(("tmall2014", TMALL, {"preset": "tmall2014"}))
    target = args.demo_events or (100_000 if args.quick else 1_000_000)
    paths, demo_info = write_demo_csv(target, args.demo_items, args.seed, tmp_root, iso=False)
    cases.append(("demo-epoch", paths["demo-epoch"], {"mapping": _mapping_spec(demo_mapping(False))}))
    results = []
    for name, path, spec in cases:
        samples: dict[str, list[dict]] = {"this": [], "baseline": []}
        for rep in range(args.reps):
            for code in (("this", "baseline") if rep % 2 == 0 else ("baseline", "this")):
                floor = run_child({"what": "read_csv", "source": str(path)}, None)
                workspace = tmp_root / f"ws-{name}-{code}-{rep}"
                got = run_child({**spec, "what": "ingest", "source": str(path), "workspace": str(workspace)},
                                args.baseline if code == "baseline" else None)
                shutil.rmtree(workspace, ignore_errors=True)
                got["read_csv_s"] = floor["seconds"]
                got["ratio_to_read_csv"] = got["seconds"] / floor["seconds"]
                samples[code].append(got)
                print(f"  {name} rep {rep + 1} {code}: ingest {got['seconds']:.2f} s "
                      f"({got['ratio_to_read_csv']:.1f}x read_csv), {got['rows_added']:,} added", flush=True)
        med = {c: float(np.median([x["seconds"] for x in v])) for c, v in samples.items()}
        ratio = {c: float(np.median([x["ratio_to_read_csv"] for x in v])) for c, v in samples.items()}
        rows = samples["this"][0]["rows_read"]
        results.append({"dataset": name, "rows": rows, "file_mb": round(path.stat().st_size / 1e6, 1),
                        "samples": samples, "median_s": med, "median_ratio_to_read_csv": ratio,
                        "events_per_s": {c: rows / v for c, v in med.items()},
                        "this_over_baseline": med["this"] / med["baseline"],
                        "rows_added": {c: v[0]["rows_added"] for c, v in samples.items()}})
    table = md_table(["dataset", "rows", "MB", "baseline ingest s", "this ingest s", "this / baseline",
                      "baseline ev/s", "this ev/s", "baseline / read_csv", "this / read_csv", "rows added (base / this)"],
                     [[r["dataset"], r["rows"], r["file_mb"], r["median_s"]["baseline"], r["median_s"]["this"],
                       f"{r['this_over_baseline']:.2f}", r["events_per_s"]["baseline"], r["events_per_s"]["this"],
                       f"{r['median_ratio_to_read_csv']['baseline']:.1f}x", f"{r['median_ratio_to_read_csv']['this']:.1f}x",
                       f"{r['rows_added']['baseline']:,} / {r['rows_added']['this']:,}"] for r in results])
    body = "\n".join([
        f"Baseline code: `{args.baseline}`; this code: the checkout running the benchmark. {args.reps} "
        "repetitions per code, alternating which runs first; every number comes from its own fresh "
        "process (imports not timed), with `pandas.read_csv` of the same file timed in a fresh process "
        "just before it. Medians.", "", table, "",
        "Demo log: " + ", ".join(f"{k} {v}" for k, v in demo_info.items()) + ".", ""])
    return body, {"reps": args.reps, "baseline": str(args.baseline), "results": results, "demo": demo_info}


def write_unclosed_quote_csv(path: Path, rows: int = 820_000, quote_line: int = 12) -> None:
    """The issue's file: a header, rows, and on ``quote_line`` a quote opened and never closed."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("user,item,event,ts,title\n")
        for n in range(rows):
            if n == quote_line - 2:
                handle.write('x001,it002,view,2026-10-03T00:00:00Z,"never closed\n')
                continue
            handle.write(f"u{n % 40_000:05d},it{n % 9_000:05d},{('view', 'cart', 'purchase')[n % 3]},"
                         f"2026-{1 + n % 9:02d}-{1 + n % 28:02d}T{n % 24:02d}:{n % 60:02d}:00Z,"
                         f"Product number {n % 9_000} in the catalog\n")


def unclosed_quote(args: argparse.Namespace, tmp_root: Path) -> tuple[str, dict]:
    source = tmp_root / "unclosed.csv"
    write_unclosed_quote_csv(source)
    mapping = SourceMapping(columns={"user_id": "user", "item_id": "item", "behaviour": "event",
                                     "timestamp": "ts", "title": "title"}, duplicates="keep")
    runs = []
    for skip in (False, True):
        for code in ("baseline", "this"):
            for rep in range(args.reps):
                workspace = tmp_root / f"ws-{code}-{skip}-{rep}"
                got = run_child({"what": "ingest", "source": str(source), "workspace": str(workspace),
                                 "mapping": _mapping_spec(mapping), "skip_invalid": skip},
                                args.baseline if code == "baseline" else None)
                shutil.rmtree(workspace, ignore_errors=True)
                got.update(code=code, skip_invalid=skip, rep=rep)
                runs.append(got)
                print(f"  {code} skip_invalid={skip}: {got}", flush=True)
    rows = []
    for skip in (False, True):
        for code in ("baseline", "this"):
            mine = [r for r in runs if r["code"] == code and r["skip_invalid"] == skip]
            first = mine[0]
            outcome = (f"refused: {first['rows_invalid']:,} of {first['rows_read']:,} rows invalid; "
                       f"{first['first_issue'][:90]}" if first["outcome"] == "refused" else
                       f"ingested: rows read {first['rows_read']:,}, events added {first['rows_added']:,}, "
                       f"rejected {first['rows_rejected']:,}, longest title {first['longest_title']:,} characters")
            rows.append([code, "yes" if skip else "no", float(np.median([r["seconds"] for r in mine])),
                         float(np.median([r["max_rss_mb"] for r in mine])), outcome])
    table = md_table(["code", "--skip-invalid", "time s (median)", "peak RSS MB (median)", "outcome"], rows)
    size_mb = source.stat().st_size / 1e6
    body = "\n".join([
        f"The issue's file: {size_mb:.1f} MB, 820,000 data rows, a quote opened on line 12 and never closed "
        f"(`x001,it002,view,2026-10-03T00:00:00Z,\"never closed`). Baseline code: `{args.baseline}`. Each run "
        f"is a fresh process; time excludes imports; {args.reps} repetitions.", "", table, ""])
    return body, {"file_mb": round(size_mb, 1), "rows": 820_000, "quote_line": 12, "runs": runs,
                  "baseline": str(args.baseline)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compare", action="store_true",
                        help="this code against --baseline's, alternating, in fresh processes")
    parser.add_argument("--unclosed-quote", action="store_true",
                        help="the 60 MB file with a quote never closed, this code and --baseline's")
    parser.add_argument("--baseline", type=Path, default=None,
                        help="a folder holding the baseline's whyrec package (for --compare, --unclosed-quote)")
    parser.add_argument("--quick", action="store_true", help="small sizes, under 2 minutes")
    parser.add_argument("--reps", type=int, default=None, help="repetitions per dataset (3 full, 2 quick)")
    parser.add_argument("--demo-events", type=int, default=None,
                        help="target size of the demo log (1,000,000 full, 100,000 quick)")
    parser.add_argument("--demo-items", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-iso", action="store_true", help="skip the ISO-timestamp demo variant")
    parser.add_argument("--out", type=Path, default=None,
                        help="results folder (default bench/results; with --quick a temporary folder, "
                             "so a quick run never overwrites the full results)")
    args = parser.parse_args()
    args.reps = max(1, args.reps or (2 if args.quick else 3))
    target = args.demo_events or (100_000 if args.quick else 1_000_000)
    iso = not args.no_iso and not args.quick
    logging.basicConfig(level=logging.WARNING)
    if args.out is None:
        args.out = (Path(tempfile.gettempdir()) / "whyrec-bench-results" if args.quick
                    else Path(__file__).resolve().parent / "results")

    if args.compare or args.unclosed_quote:
        if args.baseline is None:
            parser.error("--compare and --unclosed-quote need --baseline")
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="whyrec-bench-ingest-") as tmp:
            name, title = (("ingest_compare", "Ingest throughput: this code against a baseline") if args.compare
                           else ("ingest_unclosed_quote", "An unclosed quote in a 60 MB file"))
            body, data = (compare if args.compare else unclosed_quote)(args, Path(tmp))
        body += f"\nTotal benchmark wall time: {time.perf_counter() - started:.0f} s.\n"
        md_path, json_path = write_results(name, title, body, data, args.out)
        print(body)
        print(f"wrote {md_path} and {json_path}")
        return

    started = time.perf_counter()
    results = []
    with tempfile.TemporaryDirectory(prefix="whyrec-bench-ingest-") as tmp:
        tmp_root = Path(tmp)
        if TMALL.exists():
            preset = get_preset("tmall2014")
            print(f"tmall2014: {TMALL}", flush=True)
            results.append(bench_dataset("tmall2014", TMALL, preset.make_mapping({}), preset, args.reps, tmp_root))
        else:
            print(f"skipping tmall2014: {TMALL} not found", flush=True)
        print(f"demo: generating about {target:,} events", flush=True)
        paths, demo_info = write_demo_csv(target, args.demo_items, args.seed, tmp_root, iso)
        print(f"  {demo_info}", flush=True)
        for name, path in paths.items():
            results.append(bench_dataset(name, path, demo_mapping(name == "demo-iso"), None, args.reps, tmp_root))
    total_s = time.perf_counter() - started

    body = render(results, demo_info, args) + f"\nTotal benchmark wall time: {total_s:.0f} s.\n"
    data = {"mode": "quick" if args.quick else "full", "reps": args.reps, "demo": demo_info,
            "results": results, "wall_s": round(total_s, 1)}
    md_path, json_path = write_results("ingest",
                                       "Ingest throughput", body, data, args.out)
    print()
    print(body)
    print(f"wrote {md_path} and {json_path}")


if __name__ == "__main__":
    main()
