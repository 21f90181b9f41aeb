"""``whyrec effects``: print the influence report of a workspace (the lead's CLI delegates here).

    whyrec effects --workspace W [--segment category] [--behaviour cart] [--json] [--refresh]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import replace

from ..workspace import Workspace, WorkspaceError
from .settings import EffectSettings

log = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="whyrec effects",
        description="How much does each behaviour (view again, favourite, cart) causally raise "
                    "the chance of purchase? Estimates with 95%% intervals, the naive contrast "
                    "and refutation results; cached per data version.")
    parser.add_argument("--workspace", "-w", required=True, help="workspace directory")
    parser.add_argument("--segment", help="category | brand | price_band | activity, or one value "
                                          "such as category=books")
    parser.add_argument("--behaviour", help="only this behaviour (view, favourite, cart)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--refresh", action="store_true", help="re-estimate even if a report is stored")
    parser.add_argument("--simulations", type=int, default=None,
                        help="simulations per refuter (default 10)")
    parser.add_argument("--horizon-days", type=float, default=None,
                        help="purchase horizon after the first view (default: 7 days or a "
                             "quarter of the log's span)")
    parser.add_argument("--no-refute", action="store_true", help="skip the refutation tests")
    parser.add_argument("--graph", metavar="PNG", help="also draw the causal graph to this file")
    return parser


def effects_cli(argv: list[str]) -> int:
    """Run ``whyrec effects``; returns the process exit code (0 ok, 2 bad input)."""
    from .graph import behaviour_graph, render_graph
    from .report import load_or_estimate

    args = build_parser().parse_args(argv)
    settings = EffectSettings()
    if args.simulations is not None:
        settings = replace(settings, num_simulations=args.simulations)
    if args.horizon_days is not None:
        settings = replace(settings, horizon_days=args.horizon_days)
    if args.no_refute:
        settings = replace(settings, refuters=())
    if args.behaviour and args.behaviour not in settings.behaviours:
        print(f"error: unknown behaviour {args.behaviour!r}; choose from "
              f"{', '.join(settings.behaviours)}", file=sys.stderr)
        return 2
    try:
        workspace = Workspace.open(args.workspace)
        if not workspace.manifest.event_parts:
            print(f"error: {args.workspace} has no events yet; ingest a log or run `whyrec demo`",
                  file=sys.stderr)
            return 2
        report = load_or_estimate(workspace, args.segment, settings, refresh=args.refresh)
    except (WorkspaceError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.behaviour:
        report = report.filter(behaviour=args.behaviour)
    if args.graph:
        render_graph(behaviour_graph(settings.graph), args.graph)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(report.to_text())
        if args.graph:
            print(f"\ncausal graph drawn to {args.graph}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(effects_cli(sys.argv[1:]))
