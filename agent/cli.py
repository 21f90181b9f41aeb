"""The ``whyrec`` command line: ingest, demo, stats, search, reindex, recommend, tune, explain,
chat, serve, and the tools' own.

Heavy libraries load only inside the command that needs them, so ``whyrec --help`` is instant.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from whyrec.tools.cli_options import add_engine_arguments
from whyrec.tools.settings import Settings, quiet_libraries

if TYPE_CHECKING:
    from whyrec.tools.service import WhyrecService

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
    add_engine_arguments(p, "where reading, validation and deduplication run: in this process (local, the "
                            "default) or on Dask (a local cluster, or the one at --address); same result")

    p = sub.add_parser("forget", help="remove every trace of a user (events, vector store, derived data)")
    _workspace_arg(p)
    p.add_argument("user_id")

    p = sub.add_parser("demo", help="generate the demo shop workspace (synthetic, with known causal effects)")
    _workspace_arg(p)
    p.add_argument("--users", type=int, default=None)
    p.add_argument("--items", type=int, default=None)
    p.add_argument("--days", type=int, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--scenario", default=None,
                   help="default, or adversarial (non-linear, heterogeneous, hidden confounding; for testing)")
    p.add_argument("--force", action="store_true", help="replace an existing workspace")
    p.add_argument("--no-index", action="store_true", help="do not build the vector store now")
    p.add_argument("--stream", action="store_true",
                   help="write a large synthetic log to --out in bounded memory instead of a workspace "
                        "(then: whyrec ingest FILE --mapping ...)")
    p.add_argument("--events", type=int, help="events to write with --stream")
    p.add_argument("--out", type=Path, help="the log file --stream writes (.csv or .parquet)")

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

    p = sub.add_parser("recommend", help="recommendations for one user, each with its verified reason; "
                                          "or for every user, written to a file (--all --out)")
    _workspace_arg(p)
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", help="the user to recommend for")
    who.add_argument("--all", action="store_true",
                     help="every user, streamed to --out (columns user_id, rank, item_id, score)")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--category", help="only items in this category (prefix)")
    p.add_argument("--lang", choices=("en", "zh"), default="en")
    p.add_argument("--json", action="store_true")
    p.add_argument("--out", type=Path, help="with --all: the file to write, .parquet or .csv")
    p.add_argument("--exclude", choices=("none", "purchased", "seen"),
                   help="which of the user's own items to leave out (default: one user: seen; "
                        "--all: the policy learned on validation)")
    add_engine_arguments(p, "with --all: where the scoring runs: in this process (local, the default) or on Dask "
                            "(a local cluster, or the one at --address); the file is the same")

    p = sub.add_parser("tune", help="tune the ranker on the workspace's own validation split, then refit")
    _workspace_arg(p)
    p.add_argument("--budget", type=float, default=None,
                   help="CPU seconds the search may use (default: $WHYREC_TUNE_BUDGET or 600)")
    add_engine_arguments(p, "where the trials run: in this process (local, the default) or on Dask (a local "
                            "cluster, or the one at --address, whose workers see the workspace); same choice "
                            "when the search converges, faster")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("explain", help="why an item is (or is not) recommended to a user")
    _workspace_arg(p)
    p.add_argument("user_id")
    p.add_argument("item_id")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--lang", choices=("en", "zh"), default="en")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("chat", help="chat with the assistant in the terminal, as one shopper")
    _workspace_arg(p)
    p.add_argument("user_id", help="the shopper to chat as")
    p.add_argument("--lang", choices=("en", "zh"), default=None,
                   help="answer in this language (default: the language of each message)")
    p.add_argument("--json", action="store_true", help="one JSON answer per line (for scripts)")

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
    quiet_libraries()
    configure_logging(settings)
    # Delegated commands parse their own arguments.
    if argv and argv[0] in DELEGATED:
        return DELEGATED[argv[0]](argv[1:])
    args = build_parser().parse_args(argv)
    if getattr(args, "workspace", None) is not None:
        settings = settings.with_overrides(workspace=args.workspace)
    handler = COMMANDS[args.command]
    from whyrec.tools.service import ServiceError, WorkspaceError
    from whyrec.tools.service.jobs import IngestRefused

    from .backends import BackendError

    try:
        return handler(args, settings)
    except IngestRefused as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_REJECTED
    except (WorkspaceError, ServiceError, BackendError) as exc:  # no workspace, a bad argument or LLM setting
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted: the workspace is unchanged", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `whyrec stats | head`: the reader has gone; say nothing more
        _silence_stdout()
        return EXIT_OK


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so the interpreter's final flush is quiet."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def _service(settings: Settings) -> WhyrecService:  # imported lazily: a fast --help
    from whyrec.tools.service import WhyrecService

    return WhyrecService(settings)


def _cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from whyrec.tools.service.jobs import ingest_log

    result = ingest_log(settings, args.source, preset=args.preset, mapping=args.mapping, year=args.year,
                        skip_invalid=args.skip_invalid, report_rows=args.report_rows,
                        progress=sys.stderr.isatty(), pseudonymise=args.pseudonymise,
                        engine=args.engine, address=args.address, workers=args.workers)
    print(result.to_text())
    if not args.no_index:
        _index(settings)
    return EXIT_OK


def _index(settings: Settings, rebuild: bool = False) -> None:
    from whyrec.tools.service.jobs import index

    result = index(settings, rebuild=rebuild, progress=sys.stderr.isatty())
    print(f"vector store: {result.items_upserted:,} item and {result.behaviours_upserted:,} behaviour "
          f"documents indexed, {result.removed:,} removed, "
          f"in {result.seconds:.1f} s" + (" (rebuilt)" if result.rebuilt else ""))


def _cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from whyrec.tools.service import InvalidRequest
    from whyrec.tools.service.jobs import build_demo, generate_log

    if args.stream:
        if not args.out or not args.events:
            raise InvalidRequest("--stream needs --events N and --out FILE.csv|FILE.parquet")
        written = generate_log(args.out, args.events, users=args.users, items=args.items,
                               days=args.days or 120, seed=args.seed if args.seed is not None else 7,
                               progress=sys.stderr.isatty())
        print(written.to_text())
        return EXIT_OK
    summary = build_demo(settings, force=args.force, users=args.users, items=args.items, days=args.days,
                         seed=args.seed, scenario=args.scenario)
    print(summary.to_text() if hasattr(summary, "to_text") else summary)
    if not args.no_index:
        _index(settings)
    return EXIT_OK


def _cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    stats = _service(settings).stats()
    print(json.dumps(stats.to_json(), indent=2) if args.json else stats.to_text())
    return EXIT_OK


def _cmd_reindex(args: argparse.Namespace, settings: Settings) -> int:
    print(f"rebuilding the vector store of {settings.workspace} from its event log ...")
    _index(settings, rebuild=True)
    return EXIT_OK


def _cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    service = _service(settings)
    if args.user:
        history = service.search_history(args.user, args.query, k=args.k)
        rows = [h.to_json() for h in history.hits]
        lines = [f"{h.score:.3f}  {h.text}" for h in history.hits]
    else:
        found = service.search_items(args.query, k=args.k, category=args.category)
        rows = [h.to_json() for h in found.hits]
        lines = [f"{h.score:.3f}  {h.item_id}  {h.title}  [{h.category or '-'}]" for h in found.hits]
    print(json.dumps(rows, indent=2) if args.json else ("\n".join(lines) or "no matches"))
    return EXIT_OK


def _cmd_forget(args: argparse.Namespace, settings: Settings) -> int:
    from whyrec.tools.service import UnknownUser
    from whyrec.tools.service.jobs import source_user_id

    from .session import SessionStore

    user_id = source_user_id(settings, args.user_id)
    result = _service(settings).forget(user_id, missing_ok=True)
    removed = SessionStore.from_settings(settings).forget_user(user_id)  # the replicas' shared sessions
    if not result.found and not removed:
        raise UnknownUser(user_id)
    print(result.to_text() if result.found else f"nothing of user {user_id} in the workspace")
    if removed:
        print(f"and {removed} chat session(s) of theirs removed from the shared session store")
    return EXIT_OK


def _cmd_recommend(args: argparse.Namespace, settings: Settings) -> int:
    from .render import card_reason, render

    if args.all:
        return _recommend_all(args, settings)
    if args.out is not None:
        print("error: --out goes with --all (one user's list prints to the terminal)", file=sys.stderr)
        return EXIT_USAGE
    result = _service(settings).recommend(args.user, k=args.k, category=args.category, exclude=args.exclude)
    if args.json:
        data = result.to_json()
        for item, row in zip(result.items, data["items"], strict=True):
            row["reason"] = card_reason(item.headline, args.lang)
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print(render(result, args.lang))
    return EXIT_OK


def _recommend_all(args: argparse.Namespace, settings: Settings) -> int:
    from whyrec.tools.service.jobs import batch_recommend

    if args.out is None:
        print("error: --all needs --out FILE.parquet or FILE.csv", file=sys.stderr)
        return EXIT_USAGE
    if args.category:
        print("error: --category is not supported with --all", file=sys.stderr)
        return EXIT_USAGE

    def progress(done: int, total: int) -> None:
        width = 30
        filled = int(width * done / max(total, 1))
        end = "\n" if done >= total else ""
        print(f"\r[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} users", end=end,
              file=sys.stderr, flush=True)

    result = batch_recommend(settings, args.out, k=args.k, exclude=args.exclude, progress=progress,
                             engine=args.engine, address=args.address, workers=args.workers)
    print(json.dumps(result.to_json(), indent=2) if args.json else result.to_text())
    return EXIT_OK


def _cmd_tune(args: argparse.Namespace, settings: Settings) -> int:
    from whyrec.tools.service.jobs import tune

    result = tune(settings, budget_seconds=args.budget, engine=args.engine, address=args.address,
                  workers=args.workers)
    print(json.dumps(result.to_json(), indent=2) if args.json else result.to_text())
    return EXIT_OK


def _cmd_explain(args: argparse.Namespace, settings: Settings) -> int:
    from .render import headline_text, render

    service = _service(settings)
    service.require_user(args.user_id)
    result = service.explain(args.user_id, service.resolve_item(args.item_id), k=args.k)
    if args.json:
        data = result.to_json()
        data["headline"]["text"] = headline_text(result, args.lang)
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        print(render(result, args.lang))
    return EXIT_OK


def _cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    """An interactive chat (readline history) or, with stdin not a terminal, one answer per line."""
    from whyrec.prompts.catalogue import message

    from .backends import backend_spec
    from .core import Agent, AgentError

    if not settings.debug and settings.log_level != "DEBUG":  # answers on the terminal; progress lines are for servers
        logging.getLogger("whyrec").setLevel(logging.WARNING)
    spec = backend_spec(settings)  # a bad WHYREC_LLM stops here, before any model is fitted
    service = _service(settings)
    service.require_user(args.user_id)
    agent = Agent(service, spec=spec)
    interactive = sys.stdin.isatty()
    words = args.lang or "en"
    if interactive:
        _readline_history()
        print(message("dialog.cli.loading", words), file=sys.stderr, flush=True)
    agent.understanding()  # train the router before the first question, not during it
    if interactive:
        print(message("dialog.cli.banner", words, user=args.user_id), file=sys.stderr)
    session: str | None = None
    color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    while True:
        try:
            line = input(message("dialog.cli.prompt", words)) if interactive else sys.stdin.readline()
        except (EOFError, KeyboardInterrupt):
            break
        if not interactive and line == "":
            break
        text = line.strip()
        if text.lower() in ("exit", "quit", "/quit", "/exit", "退出", "再见了"):
            break
        if not text:
            continue
        try:
            answer = agent.chat(args.user_id, text, session, language=args.lang)
        except AgentError as exc:
            print(f"error: {exc}", file=sys.stderr)
            continue
        session = answer.session_id
        words = args.lang or answer.language
        if args.json:
            print(json.dumps(answer.to_json(), ensure_ascii=False, default=str), flush=True)
        else:
            print(format_answer(answer.text, color=color, width=shutil.get_terminal_size((100, 24)).columns))
            print(flush=True)
    if interactive:
        print(message("dialog.cli.bye", words), file=sys.stderr)
    return EXIT_OK


def _readline_history() -> None:
    """Arrow keys and a history kept across runs ($WHYREC_CHAT_HISTORY, default ~/.whyrec_chat_history)."""
    try:
        import atexit
        import readline
    except ImportError:  # no readline on this platform: plain input still works
        return
    path = Path(os.environ.get("WHYREC_CHAT_HISTORY", Path.home() / ".whyrec_chat_history"))
    try:
        readline.read_history_file(path)
    except OSError:
        pass
    readline.set_history_length(1000)

    def save() -> None:
        try:
            readline.write_history_file(path)
        except OSError as exc:
            log.debug("chat history not saved: %s", exc)
    atexit.register(save)


def format_answer(text: str, color: bool = False, width: int = 100) -> str:
    """An answer for the terminal: long lines wrapped (by display width: a Chinese character takes
    two columns) under their bullet or number, and with ``color`` the quoted titles and list
    numbers in bold (ANSI)."""
    import re
    import unicodedata

    def columns(piece: str) -> int:
        return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in piece)

    width = max(40, width - 1)
    lines = []
    for line in text.splitlines():
        lead = re.match(r"^(\s*(?:[•\-]|\d{1,2}\.)\s+|\s+)", line)   # a bullet, a number, or an indent
        indent = " " * columns(lead.group(1)) if lead else ""
        current, used = "", 0
        for token in re.findall(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]|[^\s\u3000-\u303f"
                                r"\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]+|\s+", line):
            size = columns(token)
            if used + size > width and current.strip():
                lines.append(current.rstrip())
                current, used = indent, len(indent)
                if token.isspace():
                    continue
            current += token
            used += size
        lines.append(current.rstrip())
    out = "\n".join(lines)
    if color:
        out = re.sub(r"“([^”]+)”", "“\033[1m\\1\033[0m”", out)
        out = re.sub(r"(?m)^(\d{1,2}\.)", "\033[1m\\1\033[0m", out)
    return out


def _cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from .server import serve

    settings = settings.with_overrides(host=args.host, port=args.port)
    return serve(settings)


def _delegate(function: str) -> Callable[[list[str]], int]:
    def run(argv: list[str]) -> int:
        from whyrec.tools.service import jobs

        return int(getattr(jobs, function)(argv))
    return run


COMMANDS: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
    "ingest": _cmd_ingest, "demo": _cmd_demo, "stats": _cmd_stats, "reindex": _cmd_reindex,
    "search": _cmd_search, "serve": _cmd_serve, "forget": _cmd_forget, "recommend": _cmd_recommend,
    "explain": _cmd_explain, "chat": _cmd_chat, "tune": _cmd_tune,
}
DELEGATED: dict[str, Callable[[list[str]], int]] = {
    "effects": _delegate("effects_command"),
    "evaluate": _delegate("evaluate_command"),
}


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
