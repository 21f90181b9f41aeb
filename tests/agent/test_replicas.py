"""Replicated serving: two real ``whyrec serve`` processes on one workspace with the SQLite session
store answer one conversation between them, keep users' sessions apart, pick up data another
process committed, and forget a user's sessions everywhere; the same conversation with sessions in
a real PostgreSQL server (replicas on several hosts). Plus both shared stores on their own."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from whyrec.agent.auth import Principal
from whyrec.agent.session import SESSIONS_FILE, PostgresSessions, SessionStore, SqliteSessions, shared_sessions
from whyrec.tools.settings import Settings
from whyrec.tools.workspace import Workspace

from .servers import wait_up

pytestmark = pytest.mark.slow
SharedStore = SqliteSessions | PostgresSessions
WHYREC = str(Path(sys.executable).with_name("whyrec"))


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start(workspace: Path, log: Path, chroma_url: str, sessions: str = "sqlite") -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = dict(os.environ, WHYREC_LOG_LEVEL="WARNING", GRADIO_ANALYTICS_ENABLED="False",
               WHYREC_SESSIONS=sessions, WHYREC_CHROMA_URL=chroma_url)
    process = subprocess.Popen(["nice", "-n", "10", WHYREC, "serve", "--workspace", str(workspace),
                                "--port", str(port)], stdout=open(log, "ab"), stderr=subprocess.STDOUT, env=env)
    return process, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def replicas(demo_workspace_template: Path, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[tuple[Path, str, str]]:
    """Replicas A and B as deployed (docs/deploy.md): one copy of the demo workspace, sessions in
    its SQLite file, the vector store in a Chroma server (an embedded store cannot be shared: a
    replica's client does not see the other's writes)."""
    yield from _replicas(demo_workspace_template, tmp_path_factory, "sqlite")


@pytest.fixture(scope="module")
def postgres_replicas(demo_workspace_template: Path, tmp_path_factory: pytest.TempPathFactory,
                      postgres_url: str) -> Iterator[tuple[Path, str, str]]:
    """Replicas A and B with their sessions in a PostgreSQL server (as on several hosts)."""
    yield from _replicas(demo_workspace_template, tmp_path_factory, postgres_url)


def _replicas(demo_workspace_template: Path, tmp_path_factory: pytest.TempPathFactory,
              sessions: str) -> Iterator[tuple[Path, str, str]]:
    import shutil

    from whyrec.tools.behaviour_store import BehaviourStore
    from whyrec.tools.embeddings import default_embedder

    root = tmp_path_factory.mktemp("replicas")
    workspace = root / "ws"
    shutil.copytree(demo_workspace_template, workspace)
    port = _free_port()
    chroma = subprocess.Popen([str(Path(sys.executable).with_name("chroma")), "run", "--path", str(root / "chroma"),
                               "--host", "127.0.0.1", "--port", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env={"ANONYMIZED_TELEMETRY": "False", "PATH": "/usr/bin:/bin"})
    started: list[tuple[subprocess.Popen, str]] = []
    try:
        chroma_url = f"http://127.0.0.1:{port}"
        wait_up(chroma, f"{chroma_url}/api/v2/heartbeat")
        BehaviourStore(Workspace.open(workspace), default_embedder(), chroma_url=chroma_url).sync()
        started = [_start(workspace, root / f"{name}.log", chroma_url, sessions) for name in ("a", "b")]
        for (process, base), name in zip(started, ("a", "b"), strict=True):
            wait_up(process, f"{base}/health", root / f"{name}.log")
        yield workspace, started[0][1], started[1][1]
    finally:
        started.append((chroma, ""))
        for process, _ in started:
            process.terminate()
        for process, _ in started:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def _chat(base: str, user: str, message: str, session_id: str | None = None) -> dict:
    response = httpx.post(f"{base}/v1/chat", json={"user_id": user, "message": message, "session_id": session_id},
                          timeout=180)
    assert response.status_code == 200, response.text
    return response.json()


def _users(workspace: Path) -> list[str]:
    events = Workspace.open(workspace).events()
    return sorted(events["user_id"].astype(str).unique())



def test_a_conversation_moves_between_replicas(replicas: tuple[Path, str, str]) -> None:
    _conversation_moves(*replicas)


def test_a_conversation_moves_between_replicas_with_sessions_in_postgres(
        postgres_replicas: tuple[Path, str, str], postgres_url: str) -> None:
    _conversation_moves(*postgres_replicas)
    import psycopg

    with psycopg.connect(postgres_url) as db:   # the turns are in the database, not in a file
        assert db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0] >= 1
    assert not (postgres_replicas[0] / SESSIONS_FILE).exists()


def _conversation_moves(workspace: Path, a: str, b: str) -> None:
    user = _users(workspace)[3]
    first = _chat(a, user, "What should I buy next?")
    sid, listed = first["session_id"], [r["item_id"] for r in first["recommendations"]]
    assert len(listed) == 5
    why = _chat(b, user, "why the second one?", sid)   # B never saw this session
    assert why["session_id"] == sid
    assert [e["item_id"] for e in why["explanations"]] == [listed[1]]
    # B shows a new, shorter list; A (which still holds its own older copy) must answer about it.
    again = _chat(b, user, "recommend 3 items", sid)
    shown = [r["item_id"] for r in again["recommendations"]]
    assert len(shown) == 3
    third = _chat(a, user, "why the third one?", sid)
    assert [e["item_id"] for e in third["explanations"]] == [shown[2]]
    assert third["session_id"] == sid


def test_another_users_session_id_gets_a_fresh_session_on_the_other_replica(
        replicas: tuple[Path, str, str]) -> None:
    workspace, a, b = replicas
    x, y = _users(workspace)[5], _users(workspace)[6]
    sid = _chat(a, x, "What should I buy next?")["session_id"]
    stolen = _chat(b, y, "why the second one?", sid)
    assert stolen["session_id"] != sid and stolen["user_id"] == y
    assert stolen["explanations"] == []   # nothing of X's list: the session is new
    # X's own session is untouched by Y's attempt, on either replica.
    mine = _chat(a, x, "why the first one?", sid)
    assert mine["session_id"] == sid and len(mine["explanations"]) == 1


def test_data_committed_through_one_replica_is_served_by_the_other(replicas: tuple[Path, str, str]) -> None:
    workspace, a, b = replicas
    user = _users(workspace)[8]
    before = httpx.get(f"{b}/v1/users/{user}/recommendations", params={"k": 10}, timeout=120).json()
    target = before["items"][-1]["item_id"]
    events = [{"user_id": user, "item_id": target, "behaviour": kind, "timestamp": "2026-10-31T23:00:00Z"}
              for kind in ("view", "favourite", "cart")]
    posted = httpx.post(f"{a}/v1/events", json={"events": events}, timeout=120).json()
    assert posted["added"] == 3
    version = posted["data_version"]
    deadline, after = time.time() + 120, before
    while time.time() < deadline:
        after = httpx.get(f"{b}/v1/users/{user}/recommendations", params={"k": 10}, timeout=120).json()
        if after["data_version"] >= version:
            break
        time.sleep(1.0)
    assert after["data_version"] >= version, "replica B never served the data version A committed"
    assert [i["item_id"] for i in after["items"]] != [i["item_id"] for i in before["items"]]
    assert httpx.get(f"{b}/health", timeout=10).json()["data_version"] >= version


def test_forget_on_one_replica_removes_sessions_saved_by_the_other(replicas: tuple[Path, str, str]) -> None:
    workspace, a, b = replicas
    user = _users(workspace)[11]
    sid = _chat(a, user, "What should I buy next?")["session_id"]
    with sqlite3.connect(workspace / SESSIONS_FILE) as db:
        assert db.execute("SELECT COUNT(*) FROM sessions WHERE user_id = ?", (user,)).fetchone()[0] == 1
    forgot = httpx.delete(f"{b}/v1/users/{user}", timeout=120)
    assert forgot.status_code == 200 and forgot.json()["sessions_removed"] == 1
    with sqlite3.connect(workspace / SESSIONS_FILE) as db:
        assert db.execute("SELECT COUNT(*) FROM sessions WHERE session_id = ?", (sid,)).fetchone()[0] == 0
    gone = httpx.post(f"{a}/v1/chat", json={"user_id": user, "message": "why the first one?", "session_id": sid},
                      timeout=60)
    # Nothing of the user is left, on the replica that held the session too: the answer of a
    # shopper with no behaviours recorded, not an explanation from the list the session held.
    assert gone.status_code == 200
    assert gone.json()["explanations"] == [] and "no behaviours recorded for you" in gone.json()["text"]


# -- the shared stores on their own ---------------------------------------------------------------
@pytest.fixture(params=["sqlite", "postgres"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], SharedStore]]:
    """A factory of handles on one shared store (each handle is what one replica opens)."""
    made: list[SharedStore] = []

    def make() -> SharedStore:
        if request.param == "sqlite":
            made.append(SqliteSessions(tmp_path / "s.sqlite3"))
        else:
            made.append(PostgresSessions(request.getfixturevalue("postgres_url")))
        return made[-1]

    if request.param == "postgres":   # a clean database for each test
        import psycopg

        with psycopg.connect(request.getfixturevalue("postgres_url"), autocommit=True) as db:
            db.execute("DROP TABLE IF EXISTS sessions, meta")
    yield make
    for store in made:
        store.close()


def test_scoped_ids_agree_across_handles_of_one_store(make_store: Callable[[], SharedStore]) -> None:
    one, two = SessionStore(shared=make_store()), SessionStore(shared=make_store())
    who = Principal("u1", admin=False)
    assert one.scoped_id("openai", who, "u1") == two.scoped_id("openai", who, "u1")
    assert one.scoped_id("openai", who, "u1") != one.scoped_id("openai", who, "u2")
    assert SessionStore().scoped_id("openai", who, "u1") != one.scoped_id("openai", who, "u1")


def test_the_store_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    SqliteSessions(path).secret()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_turn_saved_by_one_handle_is_loaded_by_another(make_store: Callable[[], SharedStore]) -> None:
    a, b = make_store(), make_store()
    assert a.save("sid", "u1", [("user", "hi 你好"), ("assistant", "hello")]) == 1
    assert b.save("sid", "u1", [("user", "hi 你好"), ("assistant", "hello"), ("user", "why?")]) == 2
    stored = a.load("sid")
    assert stored is not None and stored.version == 2 and stored.history[-1] == ("user", "why?")
    assert stored.history[0] == ("user", "hi 你好") and a.owner("sid") == "u1" and a.owner("nope") is None


def test_forgotten_text_does_not_stay_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    shared = SqliteSessions(path)
    marker = "zebra-striped-marker-4711"
    for n in range(3):
        shared.save(f"s{n}", "u1", [("user", f"{marker} {n}"), ("assistant", "ok")])
    shared.save("other", "u2", [("user", "hello"), ("assistant", "hi")])
    assert shared.delete_user("u1") == 3
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("s.sqlite3"))
    assert marker.encode() not in raw
    assert shared.load("other") is not None and shared.load("s0") is None


def test_forget_removes_every_session_of_the_user_only(make_store: Callable[[], SharedStore]) -> None:
    a, b = make_store(), make_store()
    for n in range(3):
        a.save(f"s{n}", "u1", [("user", f"mine {n}")])
    a.save("other", "u2", [("user", "hello")])
    assert b.delete_user("u1") == 3
    assert a.load("s0") is None and a.owner("s2") is None and a.load("other") is not None


def test_a_session_id_is_never_taken_over_by_another_user(make_store: Callable[[], SharedStore]) -> None:
    shared = make_store()
    assert shared.save("sid", "u1", [("user", "mine")]) == 1
    assert shared.save("sid", "u2", [("user", "theirs")]) == 0
    stored = shared.load("sid")
    assert stored is not None and stored.user_id == "u1" and stored.history == (("user", "mine"),)


def test_an_unreachable_database_is_a_clear_error() -> None:
    store = PostgresSessions("postgresql://whyrec:s3cret@127.0.0.1:1/whyrec", timeout=2)
    with pytest.raises(RuntimeError, match="cannot reach the session database at 127.0.0.1:1/whyrec") as caught:
        store.owner("x")
    assert "s3cret" not in str(caught.value)


def test_settings_name_the_store(tmp_path: Path) -> None:
    assert shared_sessions(Settings(workspace=tmp_path)) is None
    default = shared_sessions(Settings(workspace=tmp_path, sessions="sqlite"))
    assert default is not None and default.path == tmp_path / SESSIONS_FILE
    given = shared_sessions(Settings(workspace=tmp_path, sessions=f"sqlite:{tmp_path / 'x.db'}"))
    assert given is not None and given.path == tmp_path / "x.db"
    assert Settings.from_env({"WHYREC_SESSIONS": "sqlite"}).sessions == "sqlite"
    with pytest.raises(ValueError, match="WHYREC_SESSIONS"):
        shared_sessions(Settings(workspace=tmp_path, sessions="redis://x"))
    pg = shared_sessions(Settings(workspace=tmp_path, sessions="postgresql://u:p@db:5432/whyrec"))
    assert isinstance(pg, PostgresSessions) and pg.url == "postgresql://u:p@db:5432/whyrec"


def test_serve_refuses_an_unknown_session_store(tmp_path: Path) -> None:
    from whyrec.agent.server import ServeRefused, create_app

    with pytest.raises(ServeRefused, match="WHYREC_SESSIONS='redis://x'"):
        create_app(Settings(workspace=tmp_path, sessions="redis://x"))


def test_serve_refuses_an_unknown_llm_setting(tmp_path: Path) -> None:
    from whyrec.agent.server import ServeRefused, create_app

    with pytest.raises(ServeRefused, match="WHYREC_LLM='none'.*did not start"):
        create_app(Settings(workspace=tmp_path, llm="none"))
