"""The ``whyrec`` command line: ingest, demo, stats, search, reindex, serve, and the tools' own.

Heavy libraries load only inside the command that needs them, so ``whyrec --help`` is instant.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from .settings import Settings

log = logging.getLogger("whyrec")

EXIT_OK, EXIT_REJECTED, EXIT_USAGE = 0, 1, 2


def _workspace_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workspace", "-w", type=Path, default=None,
                        help="workspace directory (default: $WHYREC_WORKSPACE or ./whyrec-workspace)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="whyrec",
        description="Recommendations that say why: ingest behaviour logs, then chat, recommend and explain.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("ingest", help="validate and add a behaviour log (CSV/Parquet file or folder)")
    _workspace_arg(p)
    p.add_argument("source", type=Path, help="a CSV or Parquet file, or a folder of them")
    how = p.add_mutually_exclusive_group(required=True)
    how.add_argument("--preset", help="built-in mapping: rees46, tmall2014, movielens")
    how.add_argument("--mapping", type=Path, help="a mapping TOML file ([columns], [behaviours], [options])")
    p.add_argument("--year", type=int, help="year for logs whose dates have none (tmall2014; default 2013)")
    p.add_argument("--skip-invalid", action="store_true",
                   help="ingest the valid rows; write the rejected ones, with reasons, to a file")
    p.add_argument("--report-rows", type=int, default=10, help="how many bad rows to list (default 10)")
    p.add_argument("--no-index", action="store_true", help="do not update the vector store now")
    p.add_argument("--pseudonymise", action="store_true",
                   help="store a keyed hash of each user id instead of the id ($WHYREC_PSEUDONYM_KEY)")

    p = sub.add_parser("forget", help="remove every trace of a user (events, vector store, derived data)")
    _workspace_arg(p)
    p.add_argument("user_id")

    p = sub.add_parser("demo", help="generate the demo shop workspace (synthetic, with known causal effects)")
    _workspace_arg(p)
    p.add_argument("--users", type=int, default=None)
    p.add_argument("--items", type=int, default=None)
    p.add_argument("--days", type=int, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--force", action="store_true", help="replace an existing workspace")
    p.add_argument("--no-index", action="store_true", help="do not build the vector store now")

    p = sub.add_parser("stats", help="what the workspace holds")
    _workspace_arg(p)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("reindex", help="rebuild the vector store from the event log")
    _workspace_arg(p)

    p = sub.add_parser("search", help="search the catalog, or one user's behaviours, by meaning")
    _workspace_arg(p)
    p.add_argument("query")
    p.add_argument("--user", help="search this user's own behaviours instead of the catalog")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--category")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("serve", help="serve the chat UI and the HTTP API")
    _workspace_arg(p)
    p.add_argument("--host", default=None, help="default 127.0.0.1")
    p.add_argument("--port", type=int, default=None, help="default 7860")

    for name, text in (("effects", "causal effects of behaviours on purchase (DoWhy)"),
                       ("evaluate", "evaluate rankers on real datasets")):
        p = sub.add_parser(name, help=text, add_help=False)
        p.add_argument("rest", nargs=argparse.REMAINDER)
    return parser


def configure_logging(settings: Settings) -> None:
    """Log to stderr at the configured level; quiet the chattiest libraries."""
    logging.basicConfig(level=settings.log_level, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "chromadb", "sentence_transformers", "urllib3", "gradio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # DoWhy logs every model it builds and every refuter's distributional assumption.
    for chatty in ("dowhy", "dowhy.causal_model", "dowhy.causal_refuter", "dowhy.causal_identifier"):
        logging.getLogger(chatty).setLevel(logging.ERROR)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    settings = Settings.from_env()
    configure_logging(settings)
    # Delegated commands parse their own arguments.
    if argv and argv[0] in DELEGATED:
        return DELEGATED[argv[0]](argv[1:])
    args = build_parser().parse_args(argv)
    if getattr(args, "workspace", None) is not None:
        settings = settings.with_overrides(workspace=args.workspace)
    handler = COMMANDS[args.command]
    from whyrec.tools.workspace import WorkspaceError

    try:
        return handler(args, settings)
    except WorkspaceError as exc:  # no workspace there, or one from a newer whyrec
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted: the workspace is unchanged", file=sys.stderr)
        return 130


def _cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from whyrec.tools.ingest.mapping import MappingError, load_mapping
    from whyrec.tools.ingest.pipeline import IngestRejected, ingest
    from whyrec.tools.ingest.presets import get_preset
    from whyrec.tools.workspace import Workspace, WorkspaceError

    try:
        preset = get_preset(args.preset) if args.preset else None
        options = {"year": args.year} if args.year else {}
        mapping = preset.make_mapping(options) if preset else load_mapping(args.mapping)
        if args.year and not preset:
            mapping = mapping.with_options(year=args.year)
        if args.pseudonymise and not settings.pseudonym_key:
            raise MappingError("--pseudonymise needs a key in WHYREC_PSEUDONYM_KEY (keep it secret and "
                               "use the same key for every ingest into this workspace)")
        key = settings.pseudonym_key.encode() if args.pseudonymise and settings.pseudonym_key else None
        workspace = Workspace.create(settings.workspace)
        result = ingest(workspace, args.source, mapping, preset=preset, skip_invalid=args.skip_invalid,
                        report_rows=args.report_rows, progress=sys.stderr.isatty(), pseudonym_key=key)
    except (MappingError, WorkspaceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except IngestRejected as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_REJECTED
    print(result.to_text())
    if not args.no_index:
        _index(workspace, settings)
    return EXIT_OK


def _index(workspace, settings: Settings, rebuild: bool = False) -> None:  # type: ignore[no-untyped-def]
    from whyrec.tools.behaviour_store import BehaviourStore
    from whyrec.tools.embeddings import default_embedder

    store = BehaviourStore(workspace, default_embedder(), settings.chroma_url)
    result = store.rebuild(progress=sys.stderr.isatty()) if rebuild else store.sync(progress=sys.stderr.isatty())
    print(f"vector store: {result.items_upserted:,} item and {result.behaviours_upserted:,} behaviour "
          f"documents indexed, {result.items_deleted + result.behaviours_deleted:,} removed, "
          f"in {result.seconds:.1f} s" + (" (rebuilt)" if result.rebuilt else ""))


def _cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    import shutil

    from whyrec.tools.demo import DemoConfig, build_demo_workspace
    from whyrec.tools.workspace import Workspace

    target = settings.workspace
    if Workspace.exists(target):
        if not args.force:
            print(f"error: {target} already holds a workspace; pass --force to replace it", file=sys.stderr)
            return EXIT_USAGE
        shutil.rmtree(target)
    overrides = {k: getattr(args, k) for k in ("users", "items", "days", "seed") if getattr(args, k) is not None}
    config = DemoConfig(**overrides)
    summary = build_demo_workspace(target, config)
    print(summary.to_text() if hasattr(summary, "to_text") else summary)
    if not args.no_index:
        _index(Workspace.open(target), settings)
    return EXIT_OK


def _cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    from whyrec.tools.workspace import Workspace

    stats = Workspace.open(settings.workspace).stats()
    print(json.dumps(stats.to_json(), indent=2) if args.json else stats.to_text())
    return EXIT_OK


def _cmd_reindex(args: argparse.Namespace, settings: Settings) -> int:
    from whyrec.tools.workspace import Workspace

    workspace = Workspace.open(settings.workspace)
    print(f"rebuilding the vector store of {workspace.path} from its event log ...")
    _index(workspace, settings, rebuild=True)
    return EXIT_OK


def _cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    from whyrec.tools.behaviour_store import BehaviourStore
    from whyrec.tools.embeddings import default_embedder
    from whyrec.tools.workspace import Workspace

    workspace = Workspace.open(settings.workspace)
    store = BehaviourStore(workspace, default_embedder(), settings.chroma_url)
    if args.user:
        hits = store.search_behaviours(args.user, args.query, k=args.k)
        rows = [h.to_json() for h in hits]
        lines = [f"{h.score:.3f}  {h.text}" for h in hits]
    else:
        filters = {"category": args.category} if args.category else None
        hits_i = store.search_items(args.query, k=args.k, filters=filters)
        rows = [h.to_json() for h in hits_i]
        lines = [f"{h.score:.3f}  {h.item_id}  {h.title}  [{h.category or '-'}]" for h in hits_i]
    print(json.dumps(rows, indent=2) if args.json else ("\n".join(lines) or "no matches"))
    return EXIT_OK


def _cmd_forget(args: argparse.Namespace, settings: Settings) -> int:
    from whyrec.tools.behaviour_store import BehaviourStore
    from whyrec.tools.embeddings import default_embedder
    from whyrec.tools.privacy import forget_user, pseudonymise
    from whyrec.tools.workspace import Workspace

    workspace = Workspace.open(settings.workspace)
    user_id = args.user_id
    known = set(workspace.events()["user_id"])
    if user_id not in known and settings.pseudonym_key:
        import pandas as pd

        user_id = str(pseudonymise(pd.Series([user_id]), settings.pseudonym_key.encode()).iloc[0])
    store = BehaviourStore(workspace, default_embedder(), settings.chroma_url)
    try:
        result = forget_user(workspace, user_id, store)
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return EXIT_USAGE
    print(result.to_text())
    return EXIT_OK


def _cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from .server import serve

    settings = settings.with_overrides(host=args.host, port=args.port)
    return serve(settings)


def _delegate(module: str, function: str) -> Callable[[list[str]], int]:
    def run(argv: list[str]) -> int:
        import importlib

        return int(getattr(importlib.import_module(module), function)(argv))
    return run


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "ingest": _cmd_ingest, "demo": _cmd_demo, "stats": _cmd_stats, "reindex": _cmd_reindex,
    "search": _cmd_search, "serve": _cmd_serve, "forget": _cmd_forget,
}
DELEGATED: dict[str, Callable[[list[str]], int]] = {
    "effects": _delegate("whyrec.tools.causal.cli", "effects_cli"),
    "evaluate": _delegate("whyrec.tools.ranking.evaluate", "evaluate_cli"),
}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
