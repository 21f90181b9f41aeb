"""Per-turn latency of the whyrec chat agent, by question kind, in English and Chinese.

Usage (from the repository root)::

    .venv/bin/python bench/bench_agent.py            # full: 20 sessions per language + smollm2 (< 10 min)
    .venv/bin/python bench/bench_agent.py --quick    # 5 sessions per language, no smollm2 (< 2 min)

What it does, all in one process and one run:

1. builds a demo workspace in a temporary directory with ``whyrec demo`` (a subprocess, killed by
   pid on any error), or uses ``--workspace``;
2. offline backend (``Agent.from_workspace(ws, llm="offline")``): times the very first turn of a
   fresh agent on a fresh workspace (imports warm, nothing else: ranker fit, causal report,
   embedding model, vector store all built on that turn), then a second fresh agent over the now
   warm disk caches; then one warm-up conversation per language (the first turn of each kind is
   reported separately), then ``--sessions`` scripted conversations per language, each with its
   own user and session id: recommend -> why the first one -> why not <title> -> what if I hadn't
   added <title> to my cart -> which actions mattered most -> cart effect on purchase -> what did I
   add to cart -> catalog search. p50/p95 per kind;
3. baseline in the same loop: for every turn, the bare library calls the turn's tools made
   (replayed from the turn's tool trace with the same arguments: ``recommend_for``,
   ``explainer.explain``, ``explainer.event_keys`` + ``explainer.what_if``, ``effects_for``,
   ``store.search_behaviours``, ``store.search_items``), so agent overhead = turn / bare call.
   The explainer keeps a per-user state cache; it is emptied for the user before both the bare
   call and the turn, so both pay the same cost (otherwise whichever runs second gets it free);
4. the agent's fixed per-turn costs, timed alone: item resolver from the catalog, session tools,
   ``create_agent`` (graph build + compile), intent parsing;
5. the ``smollm2`` backend (SmolLM2-135M via transformers; phrasing only): the first turn (loads the
   model), then ``--smollm2-turns`` (default 1: each turn takes about a minute on 2 busy cores)
   turns for each of recommend, explain, effects (English), with the offline turn for the same
   message timed in the same loop, and one bare generation as the baseline.

Writes bench/results/agent.{md,json} (``--out`` changes the name).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import md_table, write_results

log = logging.getLogger("bench_agent")

KINDS = ("recommend", "explain", "why_not", "what_if", "important", "effects", "history", "search")
# The intent each scripted message must parse to (checked on every turn).
EXPECTED_INTENT = {k: k for k in KINDS}
SEARCH_EN = ("headphones", "running shoes", "face cream", "tent", "wool scarf", "coffee beans", "perfume")
SEARCH_ZH = ("耳机", "跑鞋", "面霜", "帐篷", "围巾", "咖啡豆", "香水")


def script(language: str, why_not_title: str, cart_title: str, n: int) -> list[tuple[str, str]]:
    """The (kind, message) turns of one scripted conversation."""
    if language == "en":
        return [("recommend", "What should I buy next?"),
                ("explain", "Why the first one?"),
                ("why_not", f'Why not "{why_not_title}"?'),
                ("what_if", f'What if I hadn\'t added "{cart_title}" to my cart?'),
                ("important", "Which of my actions mattered most?"),
                ("effects", "How much does adding to cart raise the chance of purchase?"),
                ("history", "What did I add to cart?"),
                ("search", f"Find {SEARCH_EN[n % len(SEARCH_EN)]}")]
    return [("recommend", "给我推荐一些商品"),
            ("explain", "为什么推荐第一个？"),
            ("why_not", f"为什么不推荐“{why_not_title}”？"),
            ("what_if", f"如果我没有把“{cart_title}”加入购物车会怎样？"),
            ("important", "我的哪些行为影响最大？"),
            ("effects", "加入购物车能提高多少购买概率？"),
            ("history", "我加购过什么？"),
            ("search", f"搜索{SEARCH_ZH[n % len(SEARCH_ZH)]}")]


# -- workspace ----------------------------------------------------------------------------------
def build_workspace(target: Path, users: int, items: int, timeout: float = 300.0) -> float:
    """``whyrec demo`` into ``target`` (a subprocess; killed by its pid on timeout or error)."""
    whyrec = Path(sys.executable).parent / "whyrec"
    cmd = [str(whyrec), "demo", "--workspace", str(target), "--users", str(users), "--items", str(items)]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    if proc.returncode != 0:
        raise RuntimeError(f"whyrec demo failed ({proc.returncode}):\n{out[-2000:]}")
    return time.perf_counter() - started


def pick_users(runtime: Any, n: int, seed: int) -> list[dict[str, str]]:
    """``n`` users with a cart event on a uniquely titled item, each with a why-not item
    (rank 12 of their list, not seen) and a cart item, both with quote-free unique titles."""
    events = runtime.workspace.events()
    items = runtime.workspace.items()
    titles = items.set_index("item_id")["title"].astype(str)
    unique = titles[~titles.duplicated(keep=False) & ~titles.str.contains(r"[\"'“”‘’「」]")]
    carts = events[(events["behaviour"] == "cart") & events["item_id"].isin(unique.index)]
    carts = carts.sort_values("timestamp")
    rng = np.random.default_rng(seed)
    candidates = np.asarray(sorted(carts["user_id"].astype(str).unique()), dtype=object)
    rng.shuffle(candidates)
    chosen = []
    for user in candidates:
        ids = [i.item_id for i in runtime.recommend(user, k=12).items]
        later = [str(i) for i in list(ids)[8:] if str(i) in unique.index]
        if not later:
            continue
        cart_item = str(carts.loc[carts["user_id"] == user, "item_id"].iloc[-1])
        chosen.append({"user_id": str(user), "why_not_item": later[-1], "why_not_title": unique[later[-1]],
                       "cart_item": cart_item, "cart_title": unique[cart_item]})
        if len(chosen) == n:
            break
    if len(chosen) < n:
        raise RuntimeError(f"only {len(chosen)} usable users in the workspace, wanted {n}")
    return chosen


# -- bare calls ---------------------------------------------------------------------------------
def bare_calls(runtime: Any, user_id: str, trace: list[Any], last_k: int = 5):
    """A function that replays the turn's tool calls as bare library calls (same arguments)."""
    calls = []
    for t in trace:
        name, args = t.name, dict(t.args)
        if name == "recommend":
            calls.append(lambda a=args: runtime.recommend(user_id, **a))
        elif name == "explain":
            calls.append(lambda a=args: runtime.explain(user_id, a["item"], k=max(last_k, 5)))
        elif name == "what_if":
            def what_if(a=args):  # type: ignore[no-untyped-def]
                ex = runtime
                if a.get("remove", True):
                    keys = ex.event_keys(user_id, a["item"], a.get("behaviour", "cart"))
                    return ex.what_if(user_id, remove=keys, add=(), k=max(last_k, 5)) if keys else None
                return ex.what_if(user_id, remove=(), add=[(a["item"], a.get("behaviour", "cart"))],
                                  k=max(last_k, 5))
            calls.append(what_if)
        elif name == "behaviour_effects":
            calls.append(lambda a=args: runtime.effects(a.get("behaviour"), a.get("segment")))
        elif name == "search_items":
            calls.append(lambda a=args: runtime.search_items(a["query"], k=a.get("k", 5)))
        elif name == "search_behaviours":
            calls.append(lambda a=args: runtime.search_history(
                user_id, a.get("query", "everything"), k=a.get("k", 10), behaviours=a.get("behaviours"),
                since=a.get("since")))
        elif name == "recent_behaviours":
            calls.append(lambda a=args: [e for e in runtime.history(user_id, limit=100_000).events
                                         if not a.get("behaviours") or e.behaviour in a["behaviours"]][:a.get("k", 10)])
        elif name == "popular_items":
            calls.append(lambda a=args: runtime.popular(k=a.get("k", 5)))
        else:
            raise ValueError(f"no bare call for tool {name}")

    def run() -> None:
        for call in calls:
            call()
    return run


def evict_user_state(runtime: Any, user_id: str) -> None:
    cache = getattr(runtime.models.current(runtime.workspace.data_version).explainer, "_cache", None)
    if cache is not None:
        cache.pop(str(user_id), None)


# -- offline backend --------------------------------------------------------------------------------
def pct(samples: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(samples) * 1000.0, q)) if samples else float("nan")


def run_offline(ws: Path, sessions: int, seed: int) -> dict[str, Any]:
    from whyrec.agent.core import Agent

    out: dict[str, Any] = {}
    # Cold: a fresh agent on a fresh workspace (the workspace was just built: no ranker, report).
    agent = Agent.from_workspace(ws, llm="offline")
    runtime = agent.service
    probe_user = str(runtime.workspace.events()["user_id"].iloc[0])
    t0 = time.perf_counter()
    first = agent.chat(probe_user, "What should I buy next?")
    out["cold_first_turn_s"] = time.perf_counter() - t0
    out["cold_first_turn_intent"] = first.intent
    # A second fresh agent (new Runtime) in the same process: disk caches and model files warm.
    agent2 = Agent.from_workspace(ws, llm="offline")
    t0 = time.perf_counter()
    agent2.chat(probe_user, "What should I buy next?")
    out["second_agent_first_turn_s"] = time.perf_counter() - t0
    del agent2

    users = pick_users(runtime, 2 * sessions + 2, seed)
    warm_users = {"en": users[0], "zh": users[1]}
    measured = {"en": users[2:2 + sessions], "zh": users[2 + sessions:]}
    first_of_kind: dict[str, dict[str, float]] = {}
    for language in ("en", "zh"):   # one warm-up conversation per language
        u = warm_users[language]
        sid = None
        first_of_kind[language] = {}
        for kind, message in script(language, u["why_not_title"], u["cart_title"], 0):
            t0 = time.perf_counter()
            ans = agent.chat(u["user_id"], message, sid)
            first_of_kind[language][kind] = time.perf_counter() - t0
            sid = ans.session_id
    out["first_turn_of_kind_s"] = first_of_kind

    turns: dict[str, dict[str, list[float]]] = {lang: {k: [] for k in KINDS} for lang in ("en", "zh")}
    bare: dict[str, dict[str, list[float]]] = {lang: {k: [] for k in KINDS} for lang in ("en", "zh")}
    bare_main: dict[str, dict[str, list[float]]] = {lang: {k: [] for k in KINDS} for lang in ("en", "zh")}
    problems: list[dict[str, Any]] = []
    tool_calls: dict[str, set[str]] = {k: set() for k in KINDS}
    for language in ("en", "zh"):
        for n, u in enumerate(measured[language]):
            uid, sid = u["user_id"], None
            last_recs: list[str] = []
            for kind, message in script(language, u["why_not_title"], u["cart_title"], n):
                if kind in ("explain", "why_not", "what_if"):
                    evict_user_state(runtime, uid)
                t0 = time.perf_counter()
                ans = agent.chat(uid, message, sid)
                turns[language][kind].append(time.perf_counter() - t0)
                sid = sid or ans.session_id
                # correctness of the turn: intent, tools ok, right user/session, right item
                issue = []
                if ans.intent != EXPECTED_INTENT[kind]:
                    issue.append(f"intent {ans.intent}")
                if ans.user_id != uid or ans.session_id != sid:
                    issue.append(f"user/session {ans.user_id}/{ans.session_id}")
                if not ans.tool_trace or not all(t.ok for t in ans.tool_trace):
                    issue.append("tool failed: " + "; ".join(t.output[:160] for t in ans.tool_trace if not t.ok)
                                 if ans.tool_trace else "no tool call")
                if kind == "recommend":
                    last_recs = [r.item_id for r in ans.recommendations]
                if kind == "explain" and (not ans.explanations or not last_recs
                                          or ans.explanations[0].item_id != last_recs[0]):
                    issue.append("explained item is not #1 of the last list")
                if kind == "why_not" and (not ans.explanations or ans.explanations[0].item_id != u["why_not_item"]):
                    issue.append(f"why-not item {[e.item_id for e in ans.explanations]} != {u['why_not_item']}")
                if kind == "what_if" and not ans.what_ifs:
                    issue.append("no what-if result")
                if issue:
                    problems.append({"language": language, "user": uid, "kind": kind, "message": message,
                                     "issues": issue})
                tool_calls[kind].update(t.name for t in ans.tool_trace)
                # the bare tool call(s) of this turn, same arguments
                if ans.tool_trace:
                    if kind in ("explain", "why_not", "what_if"):
                        evict_user_state(runtime, uid)
                    run = bare_calls(runtime, uid, ans.tool_trace)
                    t0 = time.perf_counter()
                    with ThreadPoolExecutor(1) as pool:  # as langgraph's ToolNode runs tools
                        pool.submit(run).result()
                    bare[language][kind].append(time.perf_counter() - t0)
                    if kind in ("history", "search"):  # the same call on the main thread
                        t0 = time.perf_counter()
                        run()
                        bare_main[language][kind].append(time.perf_counter() - t0)
    out["turns_s"] = {lang: {k: [round(x, 5) for x in v] for k, v in d.items()} for lang, d in turns.items()}
    out["bare_s"] = {lang: {k: [round(x, 5) for x in v] for k, v in d.items()} for lang, d in bare.items()}
    out["bare_main_thread_s"] = {lang: {k: [round(x, 5) for x in v] for k, v in d.items() if v}
                                 for lang, d in bare_main.items()}
    out["embed_threads_ms"] = embed_threads()
    out["tools_per_kind"] = {k: sorted(v) for k, v in tool_calls.items()}
    out["problems"] = problems
    out["components_ms"] = fixed_costs(agent, measured["en"][0]["user_id"])
    out["raw_ranker_recommend_ms"] = raw_recommend(runtime, [u["user_id"] for u in measured["en"]])
    out["agent"] = agent
    return out


def fixed_costs(agent: Any, user_id: str, n: int = 20) -> dict[str, dict[str, float]]:
    """The per-turn work every turn does before/around its tools, each timed alone."""
    from langchain.agents import create_agent

    from whyrec.agent.intents import DialogState
    from whyrec.agent.planner import OfflinePlanner
    from whyrec.agent.slots import Catalog, extract
    from whyrec.agent.tools import TOOLS, SessionView

    runtime = agent.service
    view = SessionView(user_id, last_recommendations=[i.item_id for i in runtime.recommend(user_id, k=5).items])
    understanding = agent.understanding()
    catalog = understanding.catalog
    router = understanding.router
    planner = OfflinePlanner()
    title = str(runtime.workspace.items()["title"].iloc[0])
    counter = iter(range(10**9))

    def read(text: str) -> Any:
        router.forget()  # time the routing, not the cache
        return understanding.read(text, DialogState(), view.last_recommendations, None, user_id)

    parts = {
        "Catalog.from_items (once per data version)": lambda: Catalog.from_items(runtime.workspace.items()),
        "slot extraction (what-if, en, title)": lambda: extract(f"What if I hadn't added {title} to my cart?",
                                                                catalog, user_id),
        "router: embed + classify one new message": lambda: router.route(f"why the first one {next(counter)}?"),
        "understanding.read (explain, en)": lambda: read("Why the first one?"),
        "understanding.read (what-if, zh, title)": lambda: read(f"如果我没有把 {title} 加入购物车会怎样？"),
        "create_agent (graph build+compile; now once per backend)": lambda: create_agent(planner, list(TOOLS)),
    }
    out = {}
    for name, fn in parts.items():
        fn()
        samples = []
        for _ in range(n):
            t0 = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - t0)
        out[name] = {"p50_ms": pct(samples, 50), "p95_ms": pct(samples, 95)}
    return out


def embed_threads(n: int = 10) -> dict[str, dict[str, float]]:
    """One short query through the embedding model: main thread vs a fresh worker thread (as the
    agent's tool node runs it) vs main thread with torch limited to 1 intra-op thread."""
    import torch

    from whyrec.tools.embeddings import default_embedder

    embedder = default_embedder()

    def timed() -> list[float]:
        samples = []
        for i in range(n):
            t0 = time.perf_counter()
            embedder.embed([f"running shoes {i}"])
            samples.append(time.perf_counter() - t0)
        return samples

    out = {}
    before = torch.get_num_threads()
    out[f"main thread (torch threads={before})"] = timed()
    with ThreadPoolExecutor(1) as pool:
        out["fresh worker thread"] = pool.submit(timed).result()
    torch.set_num_threads(1)
    try:
        out["main thread, torch.set_num_threads(1)"] = timed()
    finally:
        torch.set_num_threads(before)
    out[f"main thread again (torch threads={before})"] = timed()
    return {k: {"p50_ms": pct(v, 50), "p95_ms": pct(v, 95), "n": len(v)} for k, v in out.items()}


def raw_recommend(runtime: Any, users: list[str]) -> dict[str, float]:
    samples = []
    for u in users:
        t0 = time.perf_counter()
        runtime.models.current(runtime.workspace.data_version).ranker.recommend(u, 5)
        samples.append(time.perf_counter() - t0)
    return {"p50_ms": pct(samples, 50), "p95_ms": pct(samples, 95), "n": len(samples)}


# -- smollm2 -----------------------------------------------------------------------------------------
def run_smollm2(ws: Path, offline_agent: Any, users: list[dict[str, str]], turns: int,
                kinds: tuple[str, ...]) -> dict[str, Any]:
    """A few smollm2 turns; each is timed with the offline turn for the same message."""
    from whyrec.agent.core import Agent

    agent = Agent.from_workspace(ws, llm="smollm2")
    u0 = users[0]
    t0 = time.perf_counter()
    first = agent.chat(u0["user_id"], "What should I buy next?")
    out: dict[str, Any] = {"first_turn_s": time.perf_counter() - t0, "first_turn_fallback": first.fallback,
                           "backend": agent.backend_name, "kinds": {},
                           "first_turn_counters": dict(agent.counters)}
    for kind in kinds:
        rec: dict[str, Any] = {"smollm2_s": [], "offline_s": [], "fallbacks": [], "guard_rejections": [],
                               "texts": []}
        for n in range(turns):
            u = users[(n + 1) % len(users)]
            uid = u["user_id"]
            message = dict(script("en", u["why_not_title"], u["cart_title"], n))[kind]
            sid_s = sid_o = None
            if kind in ("explain", "why_not"):
                # The follow-up needs a recommendation list in the session: set it directly (as a
                # recommend turn would) instead of paying a second slow smollm2 turn for it.
                recs = [r.item_id for r in offline_agent.service.recommend(uid, k=5).items]
                sid_s, sid_o = f"smol-{uuid.uuid4().hex}", f"off-{uuid.uuid4().hex}"
                for a, sid in ((agent, sid_s), (offline_agent, sid_o)):
                    view = a.sessions.get(sid, uid).view
                    view.last_recommendations, view.last_k = list(recs), 5
            before = agent.counters["guard_rejections"]
            t0 = time.perf_counter()
            ans = agent.chat(uid, message, sid_s)
            rec["smollm2_s"].append(time.perf_counter() - t0)
            rec["fallbacks"].append(ans.fallback)
            rec["guard_rejections"].append(agent.counters["guard_rejections"] - before)
            rec["texts"].append(ans.text[:300])
            t0 = time.perf_counter()
            offline_agent.chat(uid, message, sid_o)
            rec["offline_s"].append(time.perf_counter() - t0)
        out["kinds"][kind] = rec
    out["counters"] = dict(agent.counters)
    # One bare generation, as an attempt runs it (a fresh thread, same budget), on a composed answer.
    phraser = agent._phraser
    if phraser is not None:
        from whyrec.prompts import phrasing_prompt

        composed = offline_agent.chat(u0["user_id"], "What should I buy next?").text
        box: dict[str, float] = {}

        def attempt() -> None:
            t = time.perf_counter()
            box["text"] = phraser.phrase(phrasing_prompt("en"), composed, temperature=0.3, max_new_tokens=48)
            box["s"] = time.perf_counter() - t

        with ThreadPoolExecutor(1) as pool:
            pool.submit(attempt).result()
        out["bare_generation_s"] = box["s"]
        out["bare_generation_text"] = str(box["text"])[:200]
        out["llm_timeout_s"] = agent.settings.llm_timeout
    return out


# -- served ------------------------------------------------------------------------------------------
def run_served(ws: Path, users: list[dict[str, str]]) -> dict[str, Any]:
    """The scripted conversations through the server as ``whyrec serve`` runs it: ``create_app``
    (API + UI), its background warm-up (service and router), uvicorn on loopback, HTTP from a
    client. Each turn goes over ``POST /v1/chat`` (server-side session) and, in the same loop, over
    the stateless ``POST /v1/chat/completions`` (the whole conversation sent each time), and the
    in-process ``Agent.chat`` turn for the same message is timed too (the baseline)."""
    import socket
    import threading

    import httpx
    import uvicorn

    from whyrec.agent.server import create_app
    from whyrec.tools.settings import Settings

    settings = Settings.from_env({}).with_overrides(workspace=ws, host="127.0.0.1")
    t0 = time.perf_counter()
    app = create_app(settings)
    create_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    app.state.agent.warm_up(segments=True)  # what `whyrec serve` runs in a background thread at start
    warm_s = time.perf_counter() - t0
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           timeout_keep_alive=30))
    thread = threading.Thread(target=server.run, daemon=True, name="bench-uvicorn")
    thread.start()
    while not server.started:
        time.sleep(0.05)
    router = app.state.agent.understanding().router

    def uncache(before: set[str]) -> None:
        """Forget the routes of this turn's message, so each path routes it afresh (the router
        caches routed texts: the stateless endpoint re-reads a conversation's earlier messages)."""
        with router._lock:
            for key in set(router._cache) - before:
                router._cache.pop(key, None)

    paths = ("chat", "completions", "in_process")
    turns: dict[str, dict[str, dict[str, list[float]]]] = {
        lang: {p: {k: [] for k in KINDS} for p in paths} for lang in ("en", "zh")}
    problems: list[dict[str, Any]] = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            for language in ("en", "zh"):
                for n, u in enumerate(users):
                    uid, sid, sid_local = u["user_id"], None, None
                    history: list[dict[str, str]] = []
                    for kind, message in script(language, u["why_not_title"], u["cart_title"], n):
                        cold = kind in ("explain", "why_not", "what_if")  # each path pays the same explainer cost
                        routed_before = set(router._cache)  # earlier messages stay routed, this one must not
                        if cold:
                            evict_user_state(app.state.service, uid)
                        t = time.perf_counter()
                        reply = client.post("/v1/chat", json={"user_id": uid, "message": message, "session_id": sid})
                        turns[language]["chat"][kind].append(time.perf_counter() - t)
                        body = reply.json()
                        if reply.status_code != 200 or body.get("intent") != kind:
                            problems.append({"path": "/v1/chat", "language": language, "kind": kind,
                                             "message": message, "status": reply.status_code,
                                             "intent": body.get("intent")})
                        sid = body.get("session_id", sid)
                        history.append({"role": "user", "content": message})
                        uncache(routed_before)
                        if cold:
                            evict_user_state(app.state.service, uid)
                        t = time.perf_counter()
                        reply = client.post("/v1/chat/completions",
                                            json={"model": "whyrec", "user": uid, "messages": history})
                        turns[language]["completions"][kind].append(time.perf_counter() - t)
                        if reply.status_code != 200:
                            problems.append({"path": "/v1/chat/completions", "language": language, "kind": kind,
                                             "message": message, "status": reply.status_code})
                            history.append({"role": "assistant", "content": ""})
                        else:
                            history.append({"role": "assistant",
                                            "content": reply.json()["choices"][0]["message"]["content"]})
                        uncache(routed_before)
                        if cold:
                            evict_user_state(app.state.service, uid)
                        t = time.perf_counter()
                        local = app.state.agent.chat(uid, message, sid_local)
                        turns[language]["in_process"][kind].append(time.perf_counter() - t)
                        sid_local = local.session_id
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    return {"create_app_s": create_s, "warm_up_s": warm_s, "sessions": len(users),
            "turns_s": {lang: {p: {k: [round(x, 5) for x in v] for k, v in d.items()} for p, d in by.items()}
                        for lang, by in turns.items()},
            "problems": problems}


def run_router_test() -> dict[str, Any]:
    """Intent accuracy and exact slot match on the locked test part of the utterance set (the
    router and slot extractor alone; bench_router.py also answers every utterance)."""
    import bench_router

    rows = bench_router.load("test")
    with tempfile.TemporaryDirectory(prefix="whyrec-router-") as tmp:
        from whyrec.agent.core import Agent
        from whyrec.tools.service import WhyrecService
        from whyrec.tools.settings import Settings

        service = WhyrecService(Settings(workspace=bench_router.build_workspace(Path(tmp) / "ws")))
        agent = Agent(service)
        understanding = agent.understanding()
        events = service.workspace.events()
        user = str(events[events["behaviour"] == "purchase"]["user_id"].value_counts().index[0])
        shown = [i.item_id for i in service.recommend(user, k=5).items]
        understood = bench_router.understand(rows, understanding, shown)
    summary = bench_router.summarise(understood, [])
    return {"summary": summary, "table": bench_router.intent_table(summary["per_intent"]),
            "misses": [r for r in understood if not r["slots_ok"]]}


# -- report --------------------------------------------------------------------------------------------
def report(res: dict[str, Any], args: argparse.Namespace, meta: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    rows = []
    table_json = []
    for language in ("en", "zh"):
        for kind in KINDS:
            t = res["turns_s"][language][kind]
            b = res["bare_s"][language][kind]
            first = res["first_turn_of_kind_s"][language][kind]
            r = {"language": language, "kind": kind, "n": len(t), "first_ms": first * 1000,
                 "p50_ms": pct(t, 50), "p95_ms": pct(t, 95), "bare_p50_ms": pct(b, 50),
                 "bare_p95_ms": pct(b, 95), "ratio_p50": pct(t, 50) / pct(b, 50) if b else float("nan"),
                 "overhead_p50_ms": pct(t, 50) - pct(b, 50), "tools": ",".join(res["tools_per_kind"][kind])}
            table_json.append(r)
            rows.append([language, kind, r["n"], r["first_ms"], r["p50_ms"], r["p95_ms"], r["bare_p50_ms"],
                         r["bare_p95_ms"], f"{r['ratio_p50']:.1f}x", r["overhead_p50_ms"], r["tools"]])
    md = []
    md.append(f"Workspace: demo shop, {meta['users']} users x {meta['items']} items, {meta['events']:,} events "
              f"(built in {meta['build_s']:.0f} s by `whyrec demo`, incl. the vector store).\n")
    md.append("## Offline backend: per-turn latency by question kind\n")
    md.append(f"{args.sessions} scripted conversations per language (each a distinct user and session; "
              "8 turns each, so n turns per kind), after one warm-up conversation per language. "
              "`first` = that kind's turn in the warm-up conversation (English runs first, so English "
              "`first` holds the lazy builds: causal report, explainer, embedding model, Chroma). "
              "`bare` = the same tool calls, same arguments, as plain library calls in the same loop; "
              "ratio = turn p50 / bare p50; overhead = turn p50 - bare p50.\n")
    md.append(md_table(["lang", "kind", "n", "first ms", "p50 ms", "p95 ms", "bare p50 ms", "bare p95 ms",
                        "ratio p50", "overhead p50 ms", "tool"], rows))
    md.append("")
    md.append(f"Cold first turn (a recommend turn of a fresh agent on the freshly built workspace, in a fresh "
              f"process: workspace opened, ranker loaded, the embedding model loaded and the question router "
              f"trained on its ~900 example utterances (embedding them is most of this time on busy cores); "
              f"the causal report is built later, by the first effects turn, see English `first`; "
              f"`whyrec serve` now does all of this in its start-up warm-up, `Agent.warm_up`): "
              f"**{res['cold_first_turn_s']:.1f} s**. "
              f"A second fresh agent in the same process (disk caches warm): "
              f"**{res['second_agent_first_turn_s']:.2f} s**. "
              f"`ranker.recommend(user, 5)` alone: p50 {res['raw_ranker_recommend_ms']['p50_ms']:.2f} ms.\n")
    rows = []
    for language, d in res["bare_main_thread_s"].items():
        for kind, v in d.items():
            rows.append([language, kind, pct(res["bare_s"][language][kind], 50), pct(v, 50), pct(v, 95)])
    md.append("### The same bare calls on the main thread (embedding a query)\n")
    md.append("The bare-call baseline above runs in a fresh worker thread, as langgraph's tool node runs "
              "tools. Run on the main thread instead, the calls that embed a query are far slower here:\n")
    md.append(md_table(["lang", "kind", "bare p50 ms (worker)", "bare p50 ms (main)", "bare p95 ms (main)"], rows))
    md.append("")
    md.append(md_table(["embed one short query", "p50 ms", "p95 ms", "n"],
                       [[k, v["p50_ms"], v["p95_ms"], v["n"]] for k, v in res["embed_threads_ms"].items()]))
    md.append("")
    md.append("### Fixed per-turn costs of the agent (each timed alone, 20 runs)\n")
    md.append(md_table(["step", "p50 ms", "p95 ms"],
                       [[k, v["p50_ms"], v["p95_ms"]] for k, v in res["components_ms"].items()]))
    md.append("")
    md.append(f"Turn-level problems (wrong intent, failed tool, wrong item/user/session): "
              f"**{len(res['problems'])}**" + (":" if res["problems"] else "."))
    for p in res["problems"][:20]:
        md.append(f"- {p['language']} {p['kind']} user {p['user']}: {p['message']!r} -> {'; '.join(p['issues'])}")
    md.append("")
    out_json: dict[str, Any] = {"offline": {k: v for k, v in res.items() if k not in ("agent", "served", "router")},
                                "table": table_json}
    served = res.get("served")
    if served:
        md.append("## Served: the same conversations through `whyrec serve`'s app over HTTP\n")
        md.append(f"`create_app` (API + UI) {served['create_app_s']:.1f} s; its start-up warm-up (model, causal "
                  f"report, vector store, embedding model, router) {served['warm_up_s']:.1f} s. Then "
                  f"{served['sessions']} scripted conversations per language over uvicorn on loopback, no API keys (loopback). "
                  "The app runs in the process of the offline run above, so the warm-up "
                  "finds the router and the embedding model already built (once per process); a fresh "
                  "`whyrec serve` pays them at start (English `first` above shows those costs). "
                  "Each turn is sent to `POST /v1/chat` (session kept by the server) and to "
                  "`POST /v1/chat/completions` (stateless: the whole conversation so far, answers included, "
                  "re-read on every request), and the same message is answered in-process (`Agent.chat`) "
                  "in the same loop as the baseline (the turn's own message routed afresh on each path); "
                  "ratio = HTTP p50 / in-process p50.\n")
        rows = []
        for language in ("en", "zh"):
            for kind in KINDS:
                by = served["turns_s"][language]
                c, o, i = by["chat"][kind], by["completions"][kind], by["in_process"][kind]
                rows.append([language, kind, len(c), pct(i, 50), pct(c, 50), pct(c, 95),
                             f"{pct(c, 50) / pct(i, 50):.2f}x", pct(o, 50), pct(o, 95),
                             f"{pct(o, 50) / pct(i, 50):.2f}x"])
        md.append(md_table(["lang", "kind", "n", "in-process p50 ms", "/v1/chat p50 ms", "/v1/chat p95 ms",
                            "ratio", "completions p50 ms", "completions p95 ms", "ratio"], rows))
        every = [x for by in served["turns_s"].values() for x in (v for k in KINDS for v in by["chat"][k])]
        md.append("")
        md.append(f"All `/v1/chat` turns: p50 {pct(every, 50):.0f} ms, p95 **{pct(every, 95):.0f} ms** "
                  f"(n {len(every)}). Served-turn problems (non-200 or wrong intent): "
                  f"**{len(served['problems'])}**" + (":" if served["problems"] else "."))
        for p in served["problems"][:20]:
            md.append(f"- {p}")
        md.append("")
        out_json["served"] = served
    router = res.get("router")
    if router:
        s = router["summary"]
        md.append("## Understanding on the locked test part of the utterance set\n")
        md.append(f"{s['all']['n']} utterances (`bench/utterances/test.jsonl`, locked by its SHA-256; never used "
                  "for tuning), read by the router and slot extractor after their conversation's earlier "
                  "messages, on the demo shop the utterances name (150 users, 160 items, seed 5). Slot match = "
                  "the intent right and every slot of that intent equal to the label. Answers to every "
                  "utterance (timed, and the zh answers checked for English): `bench/results/router_test.md`.\n")
        md.append(md_table(["lang", "n", "intent accuracy", "exact slot match"],
                           [[lang, s[lang]["n"], f"{100 * s[lang]['intent_accuracy']:.1f}%",
                             f"{100 * s[lang]['slot_exact_match']:.1f}%"] for lang in ("en", "zh", "all")]))
        md.append("")
        md.append(router["table"])
        md.append("")
        md.append("Misses:")
        for r in router["misses"]:
            md.append(f"- `{r['id']}` “{r['text']}”: labelled {r['gold_intent']} {r['gold_slots']}, "
                      f"read {r['intent']} ({r['confidence']}) {r['slots']}")
        md.append("")
        out_json["router_test"] = {"summary": s, "misses": router["misses"]}
    sm = res.get("smollm2")
    if sm:
        md.append("## smollm2 backend (SmolLM2-135M-Instruct, transformers, CPU; phrasing only)\n")
        md.append(f"Small bounded sample, because each turn takes about a minute here: {args.smollm2_turns} "
                  f"turn(s) for each of {', '.join(sm['kinds'])} (English), after the first turn, which loads "
                  f"the model: **{sm['first_turn_s']:.1f} s** (fallback: {sm['first_turn_fallback']}; counters "
                  f"{sm['first_turn_counters']}). The offline turn for the same message is timed in the same "
                  "loop. `kept` = turns where the model's lead sentence passed the guard; `attempts rejected` = "
                  "guard rejections in the turn (the agent tries temperature 0.3 then 0.1, each bounded by "
                  "`max_time` = WHYREC_LLM_TIMEOUT, default 30 s).\n")
        rows = []
        for kind, rec in sm["kinds"].items():
            s, o = rec["smollm2_s"], rec["offline_s"]
            kept = sum(1 for f in rec["fallbacks"] if f is None)
            rows.append([kind, len(s), pct(s, 50), max(s) * 1000, pct(o, 50),
                         f"{pct(s, 50) / pct(o, 50):.0f}x", f"{kept}/{len(s)}",
                         ",".join(str(x) for x in rec["guard_rejections"]),
                         ", ".join(sorted({str(f) for f in rec['fallbacks']}))])
        md.append(md_table(["kind", "n", "p50 ms", "max ms", "offline p50 ms", "ratio", "kept",
                            "attempts rejected", "fallbacks"], rows))
        md.append("")
        if "bare_generation_s" in sm:
            md.append(f"Bare baseline: one generation (48 new tokens max, temperature 0.3, a fresh thread as "
                      f"the agent runs it) on the composed recommend answer: **{sm['bare_generation_s']:.1f} s** "
                      f"(budget {sm['llm_timeout_s']:.0f} s). Output: {sm['bare_generation_text']!r}\n")
        md.append(f"Agent counters over the whole smollm2 run: {sm['counters']}\n")
        out_json["smollm2"] = sm
    elif args.smollm2_turns == 0:
        md.append("smollm2 backend: not run (`--smollm2-turns 0`; `--quick` skips it).\n")
    return "\n".join(md), out_json


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="5 sessions per language, small shop, no smollm2")
    parser.add_argument("--workspace", type=Path, help="use this demo workspace instead of building one")
    parser.add_argument("--users", type=int, default=None, help="demo users (default 400; quick 120)")
    parser.add_argument("--items", type=int, default=None, help="demo items (default 300; quick 150)")
    parser.add_argument("--sessions", type=int, default=None, help="conversations per language (default 20)")
    parser.add_argument("--smollm2-turns", type=int, default=None, help="smollm2 turns per kind, 3 kinds (default 1; quick 0)")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--served-sessions", type=int, default=None,
                        help="conversations per language through the served app over HTTP (default 5; 0 skips)")
    parser.add_argument("--no-router", action="store_true", help="skip the locked test part of the utterance set")
    parser.add_argument("--out", default="agent", help="result file name under bench/results/")
    args = parser.parse_args(argv)
    args.users = args.users or (120 if args.quick else 400)
    args.items = args.items or (150 if args.quick else 300)
    args.sessions = args.sessions or (5 if args.quick else 20)
    if args.served_sessions is None:
        args.served_sessions = 2 if args.quick else 5
    if args.smollm2_turns is None:
        args.smollm2_turns = 0 if args.quick else 1
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    warnings.filterwarnings("ignore")
    for noisy in ("whyrec", "httpx", "chromadb", "transformers", "sentence_transformers", "dowhy",
                  "dowhy.causal_model", "dowhy.causal_refuter", "dowhy.causal_identifier",
                  "dowhy.causal_estimator", "dowhy.causal_refuters"):
        logging.getLogger(noisy).setLevel(logging.ERROR)

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    started = time.perf_counter()
    tmp = None
    try:
        if args.workspace:
            ws, build_s = args.workspace, 0.0
        else:
            tmp = Path(tempfile.mkdtemp(prefix="whyrec-bench-agent-"))
            ws = tmp / "ws"
            print(f"building demo workspace ({args.users} users x {args.items} items) in {ws} ...", flush=True)
            build_s = build_workspace(ws, args.users, args.items)
        print("offline backend ...", flush=True)
        res = run_offline(ws, args.sessions, args.seed)
        runtime = res["agent"].service
        if args.served_sessions > 0:
            print("served app over HTTP ...", flush=True)
            res["served"] = run_served(ws, pick_users(runtime, args.served_sessions, args.seed + 2))
        if not args.no_router:
            print("locked test part of the utterance set ...", flush=True)
            res["router"] = run_router_test()
        meta = {"users": runtime.workspace.events()["user_id"].nunique(), "items": len(runtime.workspace.items()),
                "events": len(runtime.workspace.events()), "build_s": build_s}
        if args.smollm2_turns > 0:
            print("smollm2 backend ...", flush=True)
            users = pick_users(runtime, args.smollm2_turns + 1, args.seed + 1)
            res["smollm2"] = run_smollm2(ws, res["agent"], users, args.smollm2_turns,
                                         ("recommend", "explain", "effects"))
        body, data = report(res, args, meta)
        data["workspace"] = meta
        data["total_s"] = time.perf_counter() - started
        body += f"\nTotal benchmark time: {data['total_s']:.0f} s.\n"
        print(body)
        md_path, json_path = write_results(args.out, "Agent turn latency (offline and smollm2 backends)",
                                           body, data)
        print(f"wrote {md_path} and {json_path}")
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
