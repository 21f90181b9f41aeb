"""Load on ``whyrec serve``: concurrent recommendation requests and concurrent chat sessions.

Usage (from the repository root)::

    .venv/bin/python bench/bench_load.py            # full (< 10 min)
    .venv/bin/python bench/bench_load.py --quick    # small (< 2 min)

All traffic goes to a server this script starts itself on 127.0.0.1 (a free port) over a demo
workspace it builds in a temporary directory (``whyrec demo``); both subprocesses are ended by
their pid when the script ends, also on errors and Ctrl-C.

Phases (one run, same server, so ratios compare like with like):

0. warm-up: the first request of each kind on the fresh server (lazy builds: ranker, causal
   report, explainer, embedding model, vector store), timed and reported separately;
1. single-client sequential baseline: ``GET /health``, ``GET /v1/users/{id}/recommendations``,
   and scripted chat sessions, one request at a time;
2. (a) ``--inflight`` concurrent ``GET /v1/users/{id}/recommendations`` (random users, ``k=10``),
   ``--requests`` in total; and ``GET /health`` the same way (the trivial-endpoint baseline);
3. (b) ``--sessions`` concurrent chat sessions (``POST /v1/chat``), each with its own user and
   ``session_id``: recommend -> why the second one? -> what if I hadn't added <title> to my
   cart? -> why the first one?  (half in English, half in Chinese), ``--chat-rounds`` rounds.
   Every answer is checked for mixed-up state: ``user_id`` and ``session_id`` are the session's;
   the explained item is the 2nd (then 1st) of *this session's* last recommendation list; the
   what-if removed this user's own cart events on the named item; every event key cited in
   recommendations, explanations and what-ifs belongs to this user (checked against the event
   log). A session id reused by another user must get 403.

Errors (transport errors, timeouts, non-2xx, failed checks) must be 0. p50/p99 latency and
throughput (requests/s over the phase's wall time) per phase; ratio to the sequential baseline.
The client runs on the same 2-core machine as the server (asyncio + httpx, one process), so it
takes a share of the CPU; the numbers are for this box, not a capacity plan.

Writes bench/results/load.{md,json} (``--out`` changes the name).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import md_table, write_results

HOST = "127.0.0.1"


# -- processes ----------------------------------------------------------------------------------------
class Procs:
    """Subprocesses this script started; all ended by pid (TERM, then KILL) on exit."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def start(self, cmd: list[str], log_path: Path, env: dict[str, str]) -> subprocess.Popen:
        log = open(log_path, "w")
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        log.close()
        self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen, grace: float = 15.0) -> int | None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        return proc.returncode

    def stop_all(self) -> None:
        for proc in self.procs:
            try:
                self.stop(proc)
            except Exception as exc:  # keep ending the others
                print(f"could not stop pid {proc.pid}: {exc}", file=sys.stderr)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except OSError:
        return None
    return None


def cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def cpu_of(pid: int | list[int]) -> float | None:
    """CPU seconds of one server process, or the sum over several replicas."""
    seconds = [cpu_s(p) for p in ([pid] if isinstance(pid, int) else pid)]
    return None if any(s is None for s in seconds) else float(sum(s for s in seconds if s is not None))


# -- measuring ------------------------------------------------------------------------------------------
class Phase:
    """Latencies, errors and wall time of one phase."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.status: dict[str, int] = {}
        self.started = 0.0
        self.wall = 0.0
        self.cpu0: float | None = None
        self.server_cpu: float | None = None

    def record(self, seconds: float, status: int | str, error: str | None = None) -> None:
        self.latencies.append(seconds)
        self.status[str(status)] = self.status.get(str(status), 0) + 1
        if error:
            self.errors.append(error)

    def summary(self) -> dict[str, Any]:
        ms = np.asarray(self.latencies) * 1000.0 if self.latencies else np.asarray([np.nan])
        n = len(self.latencies)
        return {"phase": self.name, "requests": n, "errors": len(self.errors),
                "p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)),
                "p99_ms": float(np.percentile(ms, 99)), "max_ms": float(np.max(ms)),
                "wall_s": self.wall, "rps": n / self.wall if self.wall else float("nan"),
                "status": self.status, "server_cpu_s": self.server_cpu,
                "first_errors": self.errors[:10]}


async def timed_request(client: Any, method: str, url: str, phase: Phase, **kw: Any) -> Any:
    """One request; returns the JSON body (or None after recording an error)."""
    t0 = time.perf_counter()
    try:
        response = await client.request(method, url, **kw)
    except Exception as exc:
        elapsed = time.perf_counter() - t0
        phase.record(elapsed, type(exc).__name__,
                     f"{method} {url}: {type(exc).__name__} after {elapsed * 1000:.1f} ms "
                     f"(t+{time.perf_counter() - phase.started:.1f} s into the phase): {exc!r}")
        return None
    elapsed = time.perf_counter() - t0
    if response.status_code >= 300:
        phase.record(elapsed, response.status_code, f"{method} {url}: {response.status_code} {response.text[:300]}")
        return None
    try:
        body = response.json()
    except ValueError:
        phase.record(elapsed, response.status_code, f"{method} {url}: not JSON: {response.text[:200]}")
        return None
    phase.record(elapsed, response.status_code)
    return body


# -- the checks -------------------------------------------------------------------------------------------
class Truth:
    """What the event log says: which user each event key belongs to, and users' cart items."""

    def __init__(self, ws: Path) -> None:
        from whyrec.tools.workspace import Workspace

        workspace = Workspace.open(ws)
        events = workspace.events()
        items = workspace.items()
        self.owner = dict(zip(events["event_key"].astype("uint64").astype(object).map(int),
                              events["user_id"].astype(str)))
        self.users = sorted(events["user_id"].astype(str).unique())
        titles = items.set_index("item_id")["title"].astype(str)
        ok_titles = titles[~titles.duplicated(keep=False) & ~titles.str.contains(r"[\"'“”‘’「」]")]
        carts = events[(events["behaviour"] == "cart") & events["item_id"].isin(ok_titles.index)]
        carts = carts.sort_values("timestamp")
        self.cart: dict[str, tuple[str, str]] = {}
        for user, group in carts.groupby(carts["user_id"].astype(str)):
            item = str(group["item_id"].iloc[-1])
            self.cart[str(user)] = (item, str(ok_titles[item]))

    def foreign_keys(self, user: str, keys: list[Any]) -> list[int]:
        return [int(k) for k in keys if self.owner.get(int(k)) != user]


def recommendation_problems(body: dict[str, Any], user: str, k: int, truth: Truth) -> list[str]:
    problems = []
    if body.get("user_id") != user:
        problems.append(f"user_id {body.get('user_id')!r} != {user!r}")
    items = body.get("items", [])
    if len(items) != k:
        problems.append(f"{len(items)} items, asked {k}")
    return problems


def chat_problems(body: dict[str, Any], user: str, sid: str, truth: Truth) -> list[str]:
    problems = []
    if body.get("user_id") != user:
        problems.append(f"user_id {body.get('user_id')!r} != {user!r}")
    if body.get("session_id") != sid:
        problems.append(f"session_id {body.get('session_id')!r} != {sid!r}")
    keys = [r["event_key"] for rec in body.get("recommendations", []) for r in rec.get("reasons", [])]
    for e in body.get("explanations", []):
        if e.get("user_id") != user:
            problems.append(f"explanation for user {e.get('user_id')!r}")
        keys += [c["event_key"] for c in e.get("contributions", [])]
        keys += (e.get("counterfactual") or {}).get("event_keys", [])
    for w in body.get("what_ifs", []):
        if w.get("user_id") != user:
            problems.append(f"what-if for user {w.get('user_id')!r}")
        keys += [r["event_key"] for r in w.get("removed", []) if r.get("event_key") is not None]
    foreign = truth.foreign_keys(user, keys)
    if foreign:
        problems.append(f"{len(foreign)} cited event(s) of other users, e.g. {foreign[0]} "
                        f"(owner {truth.owner.get(foreign[0])})")
    for t in body.get("tool_trace", []):
        if not t.get("ok", True):
            problems.append(f"tool {t.get('name')} failed: {str(t.get('output'))[:200]}")
    return problems


def conversation(language: str, cart_title: str) -> list[tuple[str, str]]:
    if language == "en":
        return [("recommend", "What should I buy next?"), ("explain2", "Why the second one?"),
                ("what_if", f'What if I hadn\'t added "{cart_title}" to my cart?'),
                ("explain1", "Why the first one?")]
    return [("recommend", "给我推荐一些商品"), ("explain2", "为什么推荐第二个？"),
            ("what_if", f"如果我没有把“{cart_title}”加入购物车会怎样？"), ("explain1", "为什么推荐第一个？")]


async def chat_session(client: Any, bases: list[str], phase: Phase, truth: Truth, user: str, language: str,
                       log: list[dict[str, Any]], first: int = 0) -> None:
    """One scripted conversation; each answer checked against this session's own state. With
    several replicas each turn goes to the next one (from ``first``): the session moves."""
    sid = f"bench-{uuid.uuid4().hex}"
    cart_item, cart_title = truth.cart[user]
    recs: list[str] = []
    for turn, (step, message) in enumerate(conversation(language, cart_title)):
        base = bases[(first + turn) % len(bases)]
        body = await timed_request(client, "POST", f"{base}/v1/chat", phase,
                                   json={"user_id": user, "message": message, "session_id": sid})
        if body is None:
            return
        problems = chat_problems(body, user, sid, truth)
        if step == "recommend":
            recs = [r["item_id"] for r in body.get("recommendations", [])]
            if len(recs) < 2:
                problems.append(f"only {len(recs)} recommendations")
        elif step in ("explain1", "explain2"):
            want = recs[0 if step == "explain1" else 1] if len(recs) >= 2 else None
            got = [e["item_id"] for e in body.get("explanations", [])]
            if got != [want]:
                problems.append(f"{step}: explained {got}, this session's list has {want} there")
        elif step == "what_if":
            whatifs = body.get("what_ifs", [])
            removed = [(r["item_id"], r["behaviour"]) for w in whatifs for r in w.get("removed", [])]
            if not whatifs or not removed or any(r != (cart_item, "cart") for r in removed):
                problems.append(f"what-if removed {removed}, expected this user's cart on {cart_item}")
        log.append({"user": user, "session": sid, "step": step, "intent": body.get("intent"),
                    "replica": bases.index(base), "problems": problems})
        if problems:
            phase.errors.append(f"{user} {sid} {step}: " + "; ".join(problems))


async def run_phase(phase: Phase, jobs: list[Any], inflight: int, pid: int | list[int]) -> None:
    """Run coroutine factories with at most ``inflight`` at once."""
    gate = asyncio.Semaphore(inflight)

    async def one(job: Any) -> None:
        async with gate:
            await job()

    phase.cpu0 = cpu_of(pid)
    t0 = phase.started = time.perf_counter()
    await asyncio.gather(*(one(j) for j in jobs))
    phase.wall = time.perf_counter() - t0
    cpu1 = cpu_of(pid)
    phase.server_cpu = None if phase.cpu0 is None or cpu1 is None else cpu1 - phase.cpu0


async def drive(base: str | list[str], args: argparse.Namespace, truth: Truth,
                pid: int | list[int]) -> dict[str, Any]:
    """The phases against one server, or against several replicas (``base`` a list): requests go
    round-robin, and each chat session's turns alternate between the replicas."""
    import httpx

    bases = [base] if isinstance(base, str) else list(base)
    pids = [pid] if isinstance(pid, int) else list(pid)
    turn = iter(range(10**9))

    def next_base() -> str:
        return bases[next(turn) % len(bases)]

    rng = random.Random(args.seed)
    users = truth.users
    chat_users = [u for u in users if u in truth.cart]
    limits = httpx.Limits(max_connections=max(args.inflight, args.sessions) + 10,
                          max_keepalive_connections=max(args.inflight, args.sessions) + 10,
                          keepalive_expiry=args.keepalive_expiry)
    timeout = httpx.Timeout(args.timeout)
    out: dict[str, Any] = {"phases": {}, "warmup_ms": {}, "rss_mb": {}}
    chat_log: list[dict[str, Any]] = []
    async with httpx.AsyncClient(limits=limits, timeout=timeout, trust_env=False) as client:
        # 0. warm-up: the first request of each kind (lazy builds), one at a time
        warm = Phase("warm-up")
        u0 = chat_users[-1]
        sid0 = f"bench-warm-{uuid.uuid4().hex}"
        cart_title = truth.cart[u0][1]
        base = bases[0]
        steps = [("GET /health", "GET", f"{base}/health", {}),
                 ("GET recommendations", "GET", f"{base}/v1/users/{u0}/recommendations", {"params": {"k": 10}}),
                 ("chat: recommend", "POST", f"{base}/v1/chat",
                  {"json": {"user_id": u0, "message": "What should I buy next?", "session_id": sid0}}),
                 ("chat: why the second one (causal report, explainer)", "POST", f"{base}/v1/chat",
                  {"json": {"user_id": u0, "message": "Why the second one?", "session_id": sid0}}),
                 ("chat: what-if", "POST", f"{base}/v1/chat",
                  {"json": {"user_id": u0, "message": f'What if I hadn\'t added "{cart_title}" to my cart?',
                            "session_id": sid0}}),
                 ("chat: what did I add to cart (embedding model, Chroma)", "POST", f"{base}/v1/chat",
                  {"json": {"user_id": u0, "message": "What did I add to cart?", "session_id": sid0}}),
                 ("chat (Chinese): recommend", "POST", f"{base}/v1/chat",
                  {"json": {"user_id": u0, "message": "给我推荐一些商品", "session_id": sid0}})]
        for n, replica in enumerate(bases):
            tag = f" (replica {n + 1})" if len(bases) > 1 else ""
            for label, method, url, kw in steps:
                kw = {**kw, "json": {**kw["json"], "session_id": f"{sid0}-{n}"}} if "json" in kw else kw
                t0 = time.perf_counter()
                await timed_request(client, method, url.replace(bases[0], replica, 1), warm, **kw)
                out["warmup_ms"][label + tag] = (time.perf_counter() - t0) * 1000.0
        out["rss_mb"]["after warm-up"] = sum(rss_mb(p) or 0.0 for p in pids)
        if warm.errors:
            out["phases"]["warm-up"] = warm.summary()

        def rec_job(phase: Phase, user: str, k: int = 10):  # type: ignore[no-untyped-def]
            async def job() -> None:
                body = await timed_request(client, "GET", f"{next_base()}/v1/users/{user}/recommendations",
                                           phase, params={"k": k})
                if body is not None:
                    problems = recommendation_problems(body, user, k, truth)
                    if problems:
                        phase.errors.append(f"{user}: " + "; ".join(problems))
            return job

        def health_job(phase: Phase):  # type: ignore[no-untyped-def]
            async def job() -> None:
                body = await timed_request(client, "GET", f"{next_base()}/health", phase)
                if body is not None and body.get("status") != "ok":
                    phase.errors.append(f"health {body}")
            return job

        def chat_job(phase: Phase, user: str, language: str):  # type: ignore[no-untyped-def]
            return chat_job_on(client, phase, user, language)

        def chat_job_on(on: Any, phase: Phase, user: str, language: str):  # type: ignore[no-untyped-def]
            first = next(turn) % len(bases)

            async def job() -> None:
                await chat_session(on, bases, phase, truth, user, language, chat_log, first)
            return job

        def rec_job_on(on: Any, phase: Phase, user: str, k: int = 10):  # type: ignore[no-untyped-def]
            async def job() -> None:
                body = await timed_request(on, "GET", f"{next_base()}/v1/users/{user}/recommendations",
                                           phase, params={"k": k})
                if body is not None:
                    problems = recommendation_problems(body, user, k, truth)
                    if problems:
                        phase.errors.append(f"{user}: " + "; ".join(problems))
            return job

        # 1. sequential baselines (one client, one request at a time)
        seq_health = Phase("sequential GET /health")
        await run_phase(seq_health, [health_job(seq_health) for _ in range(args.seq_requests)], 1, pid)
        seq_rec = Phase("sequential GET recommendations")
        await run_phase(seq_rec, [rec_job(seq_rec, rng.choice(users)) for _ in range(args.seq_requests)], 1, pid)
        seq_chat = Phase("sequential chat turns")
        picks = rng.sample(chat_users, args.seq_sessions)
        await run_phase(seq_chat, [chat_job(seq_chat, u, "en" if i % 2 == 0 else "zh")
                                   for i, u in enumerate(picks)], 1, pid)
        # 2. (a) concurrent: health, then recommendations
        con_health = Phase(f"{args.inflight} in flight GET /health")
        await run_phase(con_health, [health_job(con_health) for _ in range(args.requests)], args.inflight, pid)
        con_rec = Phase(f"{args.inflight} in flight GET recommendations")
        await run_phase(con_rec, [rec_job(con_rec, rng.choice(users)) for _ in range(args.requests)],
                        args.inflight, pid)
        out["rss_mb"]["after recommendations load"] = sum(rss_mb(p) or 0.0 for p in pids)
        # 3. (b) concurrent chat sessions, distinct users within a round
        con_chat = Phase(f"{args.sessions} concurrent chat sessions")
        jobs = []
        for r in range(args.chat_rounds):
            for i, u in enumerate(rng.sample(chat_users, args.sessions)):
                jobs.append(chat_job(con_chat, u, "en" if i % 2 == 0 else "zh"))
        await run_phase(con_chat, jobs, args.sessions, pid)
        out["rss_mb"]["after chat load"] = sum(rss_mb(p) or 0.0 for p in pids)
        # a session id used by another user (on the other replica, if any) behaves like an unknown
        # one: refused (403), or a fresh session under a new id that shows nothing of the victim's
        hijack = Phase("session reuse by another user")
        victim = next(e for e in chat_log if e["step"] == "recommend")
        other = next(u for u in chat_users if u != victim["user"])
        t0 = time.perf_counter()
        response = await client.post(f"{bases[(victim['replica'] + 1) % len(bases)]}/v1/chat",
                                     json={"user_id": other, "message": "Why the first one?",
                                           "session_id": victim["session"]})
        got = response.json() if response.status_code == 200 else {}
        fresh = response.status_code == 200 and got.get("session_id") != victim["session"] \
            and got.get("user_id") == other and not got.get("explanations")
        hijack.record(time.perf_counter() - t0, response.status_code,
                      None if response.status_code == 403 or fresh else
                      f"expected 403 or a fresh session, got {response.status_code}: {response.text[:200]}")
        out["session_reuse_status"] = response.status_code
        out["session_reuse_fresh"] = fresh
        for phase in (seq_health, seq_rec, seq_chat, con_health, con_rec, con_chat):
            out["phases"][phase.name] = phase.summary()
        out["phases"][hijack.name] = {**hijack.summary(), "errors": len(hijack.errors)}
        # (c) the keep-alive race, reproduced: the same load through a client with httpx's default
        # keep-alive expiry (5 s), equal to uvicorn's timeout_keep_alive (5 s).
        if args.race_check:
            race = {}
            default_limits = httpx.Limits(max_connections=args.inflight + 10,
                                          max_keepalive_connections=args.inflight + 10)  # expiry 5 s
            async with httpx.AsyncClient(limits=default_limits, timeout=timeout, trust_env=False) as c2:
                nonlocal_client = c2
                burst = Phase(f"(c) keep-alive 5 s client: {args.inflight} in flight GET recommendations")
                jobs = [rec_job_on(nonlocal_client, burst, rng.choice(users)) for _ in range(args.race_requests)]
                await run_phase(burst, jobs, args.inflight, pid)
                follow = Phase(f"(c) keep-alive 5 s client: then {args.race_sessions} concurrent chat sessions")
                picks = rng.sample(chat_users, args.race_sessions)
                jobs = [chat_job_on(nonlocal_client, follow, u, "en" if i % 2 == 0 else "zh")
                        for i, u in enumerate(picks)]
                await run_phase(follow, jobs, args.race_sessions, pid)
            for phase in (burst, follow):
                race[phase.name] = phase.summary()
            out["race_phases"] = race
        visited: dict[str, set[int]] = {}
        for e in chat_log:
            visited.setdefault(e["session"], set()).add(e["replica"])
        out["chat_log_replicas"] = [len(v) for v in visited.values()]
        out["chat_checks"] = {"turns_checked": len(chat_log),
                              "turns_with_problems": sum(1 for e in chat_log if e["problems"]),
                              "intents": {s: sorted({e["intent"] for e in chat_log if e["step"] == s})
                                          for s in ("recommend", "explain2", "what_if", "explain1")},
                              "examples": [e for e in chat_log if e["problems"]][:10]}
    return out


# -- report -----------------------------------------------------------------------------------------------
def report(res: dict[str, Any], args: argparse.Namespace, meta: dict[str, Any]) -> str:
    ph = res["phases"]
    seq_of = {"health": ph["sequential GET /health"], "rec": ph["sequential GET recommendations"],
              "chat": ph["sequential chat turns"]}
    rows = []
    for name, s in ph.items():
        base = seq_of["health"] if "health" in name else seq_of["rec"] if "recommend" in name \
            else seq_of["chat"] if "chat" in name and "reuse" not in name else None
        ratio_p50 = s["p50_ms"] / base["p50_ms"] if base and base is not s else None
        ratio_rps = s["rps"] / base["rps"] if base and base is not s else None
        rows.append([name, s["requests"], s["errors"], s["p50_ms"], s["p99_ms"], s["max_ms"], s["rps"],
                     "-" if ratio_p50 is None else f"{ratio_p50:.1f}x",
                     "-" if ratio_rps is None else f"{ratio_rps:.2f}x",
                     "-" if s.get("server_cpu_s") is None else round(s["server_cpu_s"], 1),
                     " ".join(f"{k}:{v}" for k, v in sorted(s["status"].items()))])
    md = [f"Server: `whyrec serve --workspace <tmp> --host 127.0.0.1 --port <free>` (uvicorn, one process, "
          f"offline backend) over a demo shop of {meta['users']} users x {meta['items']} items, "
          f"{meta['events']:,} events (built in {meta['build_s']:.0f} s); server up in "
          f"{meta['startup_s']:.1f} s. Client: one asyncio process with httpx on the same machine.\n",
          "## Throughput and latency\n",
          "Ratios are against the single-client sequential run of the same endpoint in this run "
          "(p50 ratio: how much slower each request gets; req/s ratio: how much more throughput "
          "concurrency buys). Chat rows count turns (4 per session). server CPU = CPU seconds the "
          "server process used during the phase.\n",
          md_table(["phase", "requests", "errors", "p50 ms", "p99 ms", "max ms", "req/s", "p50 vs seq",
                    "req/s vs seq", "server CPU s", "status"], rows), ""]
    if res.get("race_phases"):
        md.append("## (c) The keep-alive race: the same kind of load through a client with httpx's default "
                  "keep-alive expiry\n")
        md.append(f"The runs above use a client keep-alive expiry of {args.keepalive_expiry:g} s. httpx's "
                  "default is 5 s, the same as uvicorn's `timeout_keep_alive` (5 s, `whyrec serve` does not set "
                  "it). Under load the server's event loop runs late, closes connections the client has "
                  "already sent a request on, and the client gets `ReadError` (no response) seconds later. "
                  "These rows are not counted in the errors above; they are the evidence.\n")
        rows = []
        for name, s in res["race_phases"].items():
            rows.append([name, s["requests"], s["errors"], s["p50_ms"], s["p99_ms"], s["rps"],
                         " ".join(f"{k}:{v}" for k, v in sorted(s["status"].items()))])
        md.append(md_table(["phase", "requests", "errors", "p50 ms", "p99 ms", "req/s", "status"], rows))
        for name, s in res["race_phases"].items():
            for e in s["first_errors"][:3]:
                md.append(f"- {e}")
        md.append("")
    md.append("## Warm-up: first request of each kind on the fresh server\n")
    md.append(md_table(["request", "ms"], [[k, v] for k, v in res["warmup_ms"].items()]))
    md.append("")
    cc = res["chat_checks"]
    md.append("## Session isolation\n")
    md.append(f"{cc['turns_checked']} chat turns checked (sequential and concurrent): "
              f"**{cc['turns_with_problems']} with problems**. Checked on every turn: user_id and session_id "
              "are the session's; the explained item is #2 then #1 of this session's own last list; the "
              "what-if removed this user's own cart events on the named item; every cited event key "
              "belongs to this user (against the event log). Intents seen per step: "
              + ", ".join(f"{k}={v}" for k, v in cc["intents"].items())
              + f". A session id reused by another user: HTTP {res['session_reuse_status']}"
              + f" (403, or 200 with a fresh session: {'fresh' if res.get('session_reuse_fresh') else 'not fresh'}).\n")
    for e in cc["examples"]:
        md.append(f"- {e['user']} {e['step']}: {'; '.join(e['problems'])}")
    errors = [(n, s["first_errors"]) for n, s in ph.items() if s["errors"]]
    if errors:
        md.append("\n## Errors\n")
        for name, first in errors:
            md.append(f"- {name}: " + " | ".join(first[:5]))
    md.append("")
    md.append("Server RSS (MB): " + ", ".join(f"{k} {v:.0f}" for k, v in res["rss_mb"].items() if v) + ".")
    md.append(f"Server log: {res['server_log']['lines']} lines, {res['server_log']['errors']} ERROR/Traceback "
              f"lines" + (": " + " | ".join(res["server_log"]["first"]) if res["server_log"]["first"] else "")
              + ".")
    return "\n".join(md) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small shop and bounded load (< 2 min)")
    parser.add_argument("--users", type=int, default=None, help="demo users (default 400; quick 120)")
    parser.add_argument("--items", type=int, default=None, help="demo items (default 300; quick 150)")
    parser.add_argument("--inflight", type=int, default=200, help="concurrent requests in (a)")
    parser.add_argument("--requests", type=int, default=None, help="total requests per endpoint in (a) "
                                                                    "(default 2000; quick 400)")
    parser.add_argument("--sessions", type=int, default=None, help="concurrent chat sessions (default 50; quick 20)")
    parser.add_argument("--chat-rounds", type=int, default=None, help="rounds of sessions (default 2; quick 1)")
    parser.add_argument("--seq-requests", type=int, default=None, help="sequential requests (default 200; quick 50)")
    parser.add_argument("--seq-sessions", type=int, default=None, help="sequential chat sessions (default 10; quick 4)")
    parser.add_argument("--timeout", type=float, default=120.0, help="per-request timeout, seconds")
    parser.add_argument("--keepalive-expiry", type=float, default=2.0,
                        help="client keep-alive expiry, seconds (httpx default 5 = uvicorn's server-side "
                             "timeout_keep_alive: idle connections then race the server closing them)")
    parser.add_argument("--race-check", action=argparse.BooleanOptionalAction, default=None,
                        help="phase (c): repeat a burst + chat sessions with httpx's default 5 s keep-alive "
                             "(default on; off with --quick)")
    parser.add_argument("--race-requests", type=int, default=400)
    parser.add_argument("--race-sessions", type=int, default=20)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--out", default=None, help="result file name under bench/results/ "
                                                    "(default load, or load_replicas with --replicas)")
    parser.add_argument("--replicas", type=int, default=1,
                        help="N > 1: N servers on one workspace sharing sessions (WHYREC_SESSIONS=sqlite); the "
                             "phases run against one of them, then against all N with requests round-robin and "
                             "each chat session's turns alternating; writes the ratio")
    args = parser.parse_args(argv)
    args.out = args.out or ("load_replicas" if args.replicas > 1 else "load")
    q = args.quick
    args.users = args.users or (120 if q else 400)
    args.items = args.items or (150 if q else 300)
    args.requests = min(args.requests or (400 if q else 2000), 5000)
    args.sessions = args.sessions or (20 if q else 50)
    args.chat_rounds = min(args.chat_rounds or (1 if q else 2), 5)
    args.seq_requests = args.seq_requests or (50 if q else 200)
    args.seq_sessions = args.seq_sessions or (4 if q else 10)
    if args.race_check is None:
        args.race_check = not q

    started = time.perf_counter()
    procs = Procs()
    tmp = Path(tempfile.mkdtemp(prefix="whyrec-bench-load-"))
    ws = tmp / "ws"
    whyrec = str(Path(sys.executable).parent / "whyrec")
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", ANONYMIZED_TELEMETRY="False",
               GRADIO_ANALYTICS_ENABLED="False", WHYREC_LLM="offline", NO_PROXY="127.0.0.1,localhost")
    for var in ("OPENAI_BASE_URL", "OPENAI_API_KEY", "WHYREC_API_KEYS", "WHYREC_CHROMA_URL"):
        env.pop(var, None)

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    server = None
    try:
        print(f"building demo workspace ({args.users} users x {args.items} items) in {ws} ...", flush=True)
        t0 = time.perf_counter()
        demo = procs.start([whyrec, "demo", "--workspace", str(ws), "--users", str(args.users),
                            "--items", str(args.items)], tmp / "demo.log", env)
        try:
            demo.wait(timeout=300)
        finally:
            procs.stop(demo)
        if demo.returncode != 0:
            raise RuntimeError(f"whyrec demo failed: {(tmp / 'demo.log').read_text()[-2000:]}")
        build_s = time.perf_counter() - t0
        truth = Truth(ws)

        if args.replicas > 1:
            return run_replicas(args, procs, whyrec, ws, tmp, env, truth, build_s, started)
        port = free_port()
        base = f"http://{HOST}:{port}"
        print(f"starting whyrec serve on {base} ...", flush=True)
        t0 = time.perf_counter()
        server = procs.start([whyrec, "serve", "--workspace", str(ws), "--host", HOST, "--port", str(port)],
                             tmp / "server.log", env)
        import httpx

        deadline = time.monotonic() + 180
        while True:
            if server.poll() is not None:
                raise RuntimeError(f"server exited ({server.returncode}): "
                                   f"{(tmp / 'server.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{base}/health", timeout=2, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not answer /health within 180 s")
            time.sleep(0.25)
        startup_s = time.perf_counter() - t0
        print(f"server pid {server.pid} up in {startup_s:.1f} s; driving load ...", flush=True)
        res = asyncio.run(drive(base, args, truth, server.pid))
        alive = server.poll() is None
        procs.stop(server)
        log_lines = (tmp / "server.log").read_text(errors="replace").splitlines()
        bad = [line for line in log_lines if line.startswith("ERROR") or "Traceback" in line]
        warn = [line for line in log_lines if line.startswith("WARNING")]
        res["server_log"] = {"lines": len(log_lines), "errors": len(bad), "first": bad[:5],
                             "warnings": len(warn), "first_warnings": warn[:10], "alive_at_end": alive}
        meta = {"users": len(truth.users), "items": args.items, "events": len(truth.owner),
                "build_s": build_s, "startup_s": startup_s, "server_pid": server.pid}
        body = report(res, args, meta)
        res["total_s"] = time.perf_counter() - started
        body += f"\nTotal benchmark time: {res['total_s']:.0f} s.\n"
        data = {"workspace": meta, "settings": vars(args), **res}
        print(body)
        md_path, json_path = write_results(args.out, "Load on whyrec serve (offline backend)", body, data)
        print(f"wrote {md_path} and {json_path}")
        failures = sum(s["errors"] for s in res["phases"].values()) + res["server_log"]["errors"]
        return 1 if failures else 0
    finally:
        procs.stop_all()
        leftover = [p.pid for p in procs.procs if p.poll() is None]
        if leftover:
            print(f"WARNING: still running: {leftover}", file=sys.stderr)
        shutil.rmtree(tmp, ignore_errors=True)


def wait_healthy(base: str, server: subprocess.Popen, log_path: Path, seconds: float = 240.0) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"server exited ({server.returncode}): {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base}/health", timeout=2, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"server did not answer /health within {seconds:.0f} s")
        time.sleep(0.25)


def run_replicas(args: argparse.Namespace, procs: Procs, whyrec: str, ws: Path, tmp: Path, env: dict[str, str],
                 truth: Truth, build_s: float, started: float) -> int:
    """``--replicas N``: N servers on one workspace with the shared SQLite session store; the same
    phases against replica 1 alone, then against all N (round-robin, sessions alternating)."""
    import httpx

    # As deployed (docs/deploy.md): the vector store in a Chroma server, built once before the replicas.
    chroma_port = free_port()
    chroma = procs.start([str(Path(whyrec).with_name("chroma")), "run", "--path", str(tmp / "chroma"),
                          "--host", HOST, "--port", str(chroma_port)], tmp / "chroma.log",
                         {"ANONYMIZED_TELEMETRY": "False", "PATH": "/usr/bin:/bin"})
    env = dict(env, WHYREC_SESSIONS="sqlite", WHYREC_CHROMA_URL=f"http://{HOST}:{chroma_port}")
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://{HOST}:{chroma_port}/api/v2/heartbeat", timeout=2, trust_env=False).is_success:
                break
        except httpx.HTTPError:
            pass
        if chroma.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"chroma run did not start: {(tmp / 'chroma.log').read_text()[-2000:]}")
        time.sleep(0.25)
    t0 = time.perf_counter()
    reindex = procs.start([whyrec, "reindex", "--workspace", str(ws)], tmp / "reindex.log", env)
    if reindex.wait(timeout=600) != 0:
        raise RuntimeError(f"whyrec reindex failed: {(tmp / 'reindex.log').read_text()[-2000:]}")
    reindex_s = time.perf_counter() - t0
    servers, bases = [], []
    t0 = time.perf_counter()
    for n in range(args.replicas):
        port = free_port()
        bases.append(f"http://{HOST}:{port}")
        servers.append(procs.start([whyrec, "serve", "--workspace", str(ws), "--host", HOST, "--port", str(port)],
                                   tmp / f"server-{n + 1}.log", env))
    for n, (base, server) in enumerate(zip(bases, servers, strict=True)):
        wait_healthy(base, server, tmp / f"server-{n + 1}.log")
    startup_s = time.perf_counter() - t0
    pids = [s.pid for s in servers]
    print(f"{args.replicas} replicas up in {startup_s:.1f} s (pids {pids}); one replica first ...", flush=True)
    one = asyncio.run(drive(bases[:1], args, truth, pids[:1]))
    print(f"now all {args.replicas} replicas ...", flush=True)
    many = asyncio.run(drive(bases, args, truth, pids))
    alive = all(s.poll() is None for s in servers)
    for server in servers:
        procs.stop(server)
    log_lines = [line for n in range(args.replicas)
                 for line in (tmp / f"server-{n + 1}.log").read_text(errors="replace").splitlines()]
    bad = [line for line in log_lines if line.startswith("ERROR") or "Traceback" in line]
    warn = [line for line in log_lines if line.startswith("WARNING")]
    server_log = {"lines": len(log_lines), "errors": len(bad), "first": bad[:5], "warnings": len(warn),
                  "first_warnings": warn[:10], "alive_at_end": alive}
    meta = {"users": len(truth.users), "items": args.items, "events": len(truth.owner), "build_s": build_s,
            "startup_s": startup_s, "replicas": args.replicas, "reindex_into_chroma_server_s": reindex_s}
    moved = sum(1 for e in many["chat_log_replicas"] if e > 1)
    rows = []
    for name, s1 in one["phases"].items():
        sn = many["phases"].get(name)
        if sn is None:
            continue
        rows.append([name, s1["requests"], s1["errors"], sn["errors"], s1["p50_ms"], sn["p50_ms"],
                     s1["rps"], sn["rps"],
                     "-" if not s1["rps"] or s1["rps"] != s1["rps"] else f"{sn['rps'] / s1['rps']:.2f}x"])
    cc1, ccn = one["chat_checks"], many["chat_checks"]
    md = [f"{args.replicas} `whyrec serve` processes on one workspace (demo shop: {meta['users']} users x "
          f"{args.items} items, {meta['events']:,} events), chat sessions in the shared SQLite store "
          f"(`WHYREC_SESSIONS=sqlite`), the vector store in one `chroma run` server (indexed in {reindex_s:.0f} s), "
          f"offline backend; replicas up in {startup_s:.1f} s. Same run: the phases "
          "against replica 1 alone, then against all replicas with requests round-robin and each chat "
          "session's turns alternating between replicas (recommend on one, 'why the second one?' on the "
          "next, ...). Client: one asyncio process with httpx on the same 2-core machine.\n",
          md_table(["phase", "requests", "errors (1)", f"errors ({args.replicas})", "p50 ms (1)",
                    f"p50 ms ({args.replicas})", "req/s (1)", f"req/s ({args.replicas})",
                    f"req/s {args.replicas} vs 1"], rows), "",
          f"Sessions: {ccn['turns_checked']} chat turns checked with the turns alternating between replicas "
          f"({moved} sessions visited more than one replica): **{ccn['turns_with_problems']} with problems** "
          f"(one replica: {cc1['turns_checked']} turns, {cc1['turns_with_problems']} with problems). A lost "
          "session shows here: 'why the second one?' on a replica that did not build the list must explain "
          "the 2nd item of this session's list. A session id reused by another user on the other replica: "
          f"HTTP {many['session_reuse_status']}, fresh session: {many.get('session_reuse_fresh')}.",
          f"Server logs: {server_log['errors']} ERROR/Traceback lines"
          + (": " + " | ".join(server_log["first"]) if server_log["first"] else "") + "."]
    for e in ccn["examples"]:
        md.append(f"- {e['user']} {e['step']}: {'; '.join(e['problems'])}")
    total = time.perf_counter() - started
    md.append(f"\nTotal benchmark time: {total:.0f} s.")
    body = "\n".join(md) + "\n"
    print(body)
    data = {"workspace": meta, "settings": vars(args), "one_replica": one, "replicas": many,
            "server_log": server_log, "total_s": total}
    md_path, json_path = write_results(args.out, f"Load on {args.replicas} whyrec replicas vs one", body, data)
    print(f"wrote {md_path} and {json_path}")
    failures = sum(s["errors"] for r in (one, many) for s in r["phases"].values()) + server_log["errors"]
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
