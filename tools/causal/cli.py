"""``whyrec effects``: print the influence report of a workspace (the lead's CLI delegates here).

    whyrec effects --workspace W [--segment price_band] [--behaviour cart] [--json] [--refresh]
    whyrec effects --workspace W --user u042 [--behaviour cart]     # personal effects

``--json`` prints ``{"effects": [{"behaviour", "outcome", "estimand", "estimate", "ci_low",
"ci_high", "naive", "method", "primary", "n", "verdict", "refutations": [{"name", "passed",
"p_value"}], "sensitivity": {...}, "segment"?}]}`` — one primary row per behaviour and segment.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace
from pathlib import Path

from ..cli_options import add_engine_arguments
from ..engine import EngineError, open_engine
from ..workspace import Workspace, WorkspaceError
from .estimand import BEHAVIOURS
from .settings import EffectSettings

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="whyrec effects",
        description="How much does each behaviour (view again, favourite, cart) causally change the chance "
                    "of purchase? Doubly robust estimates with 95%% intervals clustered by user and item, the "
                    "estimand in plain words, comparisons, refutations, sensitivity and a verdict; cached per data "
                    "version.")
    parser.add_argument("--workspace", "-w", required=True, help="workspace directory")
    parser.add_argument("--segment", help="category | brand | price_band | activity, or one value "
                                          "such as category=books")
    parser.add_argument("--behaviour", help="only this behaviour (view, favourite, cart)")
    parser.add_argument("--user", help="personal effects for this user's viewed-but-not-bought items")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--language", choices=("en", "zh"), default="en", help="language of the text output")
    parser.add_argument("--refresh", action="store_true", help="re-estimate even if a report is stored")
    parser.add_argument("--simulations", type=int, default=None,
                        help="independent draws per refutation test (default 5)")
    parser.add_argument("--horizon-days", type=float, default=None,
                        help="outcome horizon H after each decision point (default: 7 days, cut to fit short logs)")
    parser.add_argument("--window-days", type=float, default=None,
                        help="decision points at most this long after the first view (default: the horizon)")
    parser.add_argument("--no-refute", action="store_true", help="skip the refutation tests")
    parser.add_argument("--graph", metavar="PNG", help="also draw the causal graph to this file")
    add_engine_arguments(parser, "where the behaviours are estimated: local worker processes (the default) or "
                                 "Dask, one behaviour per call (a local cluster, or the one at --address)",
                         default="local")
    return parser


def effects_cli(argv: list[str]) -> int:
    """Run ``whyrec effects``; returns the process exit code (0 ok, 2 bad input)."""
    from .graph import render_graph
    from .personal import personal_effects
    from .report import load_or_estimate, stored_report

    args = build_parser().parse_args(argv)
    try:
        settings = EffectSettings()
        if args.simulations is not None:
            settings = replace(settings, num_simulations=args.simulations)
        if args.horizon_days is not None:
            settings = replace(settings, horizon_days=args.horizon_days)
        if args.window_days is not None:
            settings = replace(settings, window_days=args.window_days)
        if args.no_refute:
            settings = replace(settings, refuters=())
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.behaviour and args.behaviour not in BEHAVIOURS:
        print(f"error: unknown behaviour {args.behaviour!r}; choose from {', '.join(BEHAVIOURS)}", file=sys.stderr)
        return 2
    try:
        workspace = Workspace.open(Path(args.workspace).resolve())  # workers elsewhere need full paths
        if not workspace.manifest.event_parts:
            print(f"error: {args.workspace} has no events yet; ingest a log or run `whyrec demo`", file=sys.stderr)
            return 2
        stored = None if args.refresh else stored_report(workspace, args.segment, settings)
        if stored is not None:          # no engine is started for a report already on disk
            report = stored
        elif args.engine == "local" and not args.address and args.workers is None:
            report = load_or_estimate(workspace, args.segment, settings, refresh=args.refresh)
        else:
            with open_engine(args.engine, address=args.address, workers=args.workers) as engine:
                report = load_or_estimate(workspace, args.segment, settings, refresh=args.refresh, engine=engine)
    except (WorkspaceError, ValueError, EngineError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.graph:
        render_graph(args.graph)
    if args.user:
        found = personal_effects(report, args.user, behaviour=args.behaviour or "cart",
                                 events=workspace.events(), items=workspace.items())
        if args.json:
            print(json.dumps({"personal_effects": [p.to_json() for p in found]}, indent=2))
        else:
            print("\n".join(p.text(args.language) for p in found) or f"{args.user} has no item in their funnel")
        return 0
    if args.behaviour:
        report = report.filter(behaviour=args.behaviour)
    if args.json:
        print(json.dumps(report.interface_json(), indent=2))
    else:
        print(report.to_text(args.language))
        if args.graph:
            print(f"\ncausal graph drawn to {args.graph}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(effects_cli(sys.argv[1:]))
