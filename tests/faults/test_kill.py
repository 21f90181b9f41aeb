"""Faults: the server killed (SIGKILL) while accepting events, `whyrec ingest` killed mid-run,
and a missing or damaged vector store. Nothing accepted is lost; nothing is duplicated."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from whyrec.tools.behaviour_store import BehaviourStore, StoreError
from whyrec.tools.embeddings import default_embedder
from whyrec.tools.workspace import Workspace

pytestmark = pytest.mark.slow
WHYREC = str(Path(sys.executable).with_name("whyrec"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(workspace: Path, port: int, log: Path) -> subprocess.Popen:
    env = dict(os.environ, WHYREC_LOG_LEVEL="WARNING", GRADIO_ANALYTICS_ENABLED="False")
    process = subprocess.Popen([WHYREC, "serve", "--workspace", str(workspace), "--port", str(port)],
                               stdout=open(log, "ab"), stderr=subprocess.STDOUT, env=env)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.3)
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
    process.kill()
    raise RuntimeError("server did not start in 120 s")


def test_server_killed_while_accepting_events_loses_and_duplicates_nothing(demo_workspace: Path,
                                                                           tmp_path: Path) -> None:
    user = str(Workspace.open(demo_workspace).events()["user_id"].iloc[0])
    batches = [[{"user_id": user, "item_id": "i001", "behaviour": "view", "session_id": f"fault-{b}",
                 "timestamp": f"2026-10-31T{b // 60:02d}:{b % 60:02d}:{e:02d}Z"} for e in range(10)]
               for b in range(300)]
    port = _free_port()
    server = _start_server(demo_workspace, port, tmp_path / "server.log")
    acknowledged: set[int] = set()
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(timeout=120) as http:
            for n, batch in enumerate(batches):
                if stop.is_set():
                    return
                try:
                    response = http.post(f"http://127.0.0.1:{port}/v1/events", json={"events": batch})
                except httpx.HTTPError:
                    return  # the server died mid-request: the client does not know the outcome
                if response.status_code == 200:
                    acknowledged.add(n)

    worker = threading.Thread(target=client)
    worker.start()
    deadline = time.time() + 60
    while len(acknowledged) < 10 and time.time() < deadline:
        time.sleep(0.05)
    server.send_signal(signal.SIGKILL)  # no chance to clean up
    server.wait(timeout=30)
    stop.set()
    worker.join(timeout=30)
    assert 10 <= len(acknowledged) < len(batches), "the kill should land mid-stream"

    after_kill = Workspace.open(demo_workspace).events()
    ours = after_kill[after_kill["session_id"].astype(str).str.startswith("fault-")]
    stored_batches = set(ours["session_id"].str[6:].astype(int))
    assert acknowledged <= stored_batches  # every acknowledged event survived the kill
    assert ours["event_key"].is_unique

    # Restart and retry everything not acknowledged: events are keyed, so retries are idempotent.
    server = _start_server(demo_workspace, port, tmp_path / "server.log")
    try:
        with httpx.Client(timeout=30) as http:
            for n, batch in enumerate(batches):
                if n not in acknowledged:
                    assert http.post(f"http://127.0.0.1:{port}/v1/events", json={"events": batch}).status_code == 200
            again = http.post(f"http://127.0.0.1:{port}/v1/events", json={"events": batches[0]}).json()
            assert again["added"] == 0
    finally:
        server.terminate()
        server.wait(timeout=30)
    final = Workspace.open(demo_workspace).events()
    ours = final[final["session_id"].astype(str).str.startswith("fault-")]
    assert len(ours) == 300 * 10 and ours["event_key"].is_unique


def test_ingest_killed_midway_leaves_workspace_whole(demo_workspace: Path, tmp_path: Path) -> None:
    rows = 400_000
    frame = pd.DataFrame({"user": [f"k{n % 5000}" for n in range(rows)],
                          "item": [f"i{n % 300:03d}" for n in range(rows)],
                          "event": ["view"] * rows,
                          "ts": [1_790_000_000 + n for n in range(rows)]})
    log = tmp_path / "big.csv"
    frame.to_csv(log, index=False)
    mapping = tmp_path / "m.toml"
    mapping.write_text('[columns]\nuser_id="user"\nitem_id="item"\nbehaviour="event"\ntimestamp="ts"\n'
                       '[options]\ntimestamp_unit="s"\n', encoding="utf-8")
    before = Workspace.open(demo_workspace)
    version, count = before.data_version, len(before.events())
    outcomes = []
    for delay in (0.5, 2.0, 4.0):  # kill at different stages: reading, validating, writing
        process = subprocess.Popen([WHYREC, "ingest", str(log), "--mapping", str(mapping), "-w",
                                    str(demo_workspace), "--no-index"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        after = Workspace.open(demo_workspace)
        total = len(after.events())
        assert total in (count, count + rows), "half an ingest is visible"
        assert after.events()["event_key"].is_unique
        outcomes.append(total == count + rows)
        if total == count + rows:
            break
        assert after.data_version == version
    finished = subprocess.run([WHYREC, "ingest", str(log), "--mapping", str(mapping), "-w",
                               str(demo_workspace), "--no-index"], capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr
    final = Workspace.open(demo_workspace)
    assert len(final.events()) == count + rows and final.events()["event_key"].is_unique
    assert not any(p.suffix == ".tmp" for p in (demo_workspace / "events").iterdir())


def test_missing_store_is_rebuilt_and_damaged_store_is_reported_then_rebuilt(demo_workspace: Path) -> None:
    workspace = Workspace.open(demo_workspace)
    shutil.rmtree(workspace.chroma_path)
    store = BehaviourStore(workspace, default_embedder())
    assert store.search_items("wool scarf", k=3)  # rebuilt from the event log on first use
    assert store.status()["items"] == len(workspace.items())

    store.close()  # Chroma's public API: the last client closed releases the store's files
    (workspace.chroma_path / "chroma.sqlite3").write_bytes(b"not a database" * 64)
    damaged = BehaviourStore(Workspace.open(demo_workspace), default_embedder())
    with pytest.raises(StoreError, match="cannot open the Chroma store"):
        damaged.search_items("wool scarf", k=3)
    result = subprocess.run([WHYREC, "reindex", "-w", str(demo_workspace)], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0 and "rebuilt" in result.stdout
    assert "moving it to" in result.stderr
    healed = BehaviourStore(Workspace.open(demo_workspace), default_embedder())
    assert healed.search_items("wool scarf", k=3)[0].category.startswith("apparel")


KILLED_DURING_COMMIT = """
import os, signal, sys
import pyarrow.parquet as pq
from whyrec.tools.ingest.mapping import SourceMapping
from whyrec.tools.ingest.pipeline import ingest
from whyrec.tools.workspace import Workspace

write_table = pq.write_table
def write_then_die(table, where, *args, **kwargs):
    write_table(table, where, *args, **kwargs)
    if str(where).endswith(".tmp"):
        os.kill(os.getpid(), signal.SIGKILL)  # killed with the new part written, not yet renamed
pq.write_table = write_then_die
mapping = SourceMapping(columns={"user_id": "user", "item_id": "item", "behaviour": "event",
                                 "timestamp": "ts"}, timestamp_unit="s")
ingest(Workspace.open(sys.argv[1]), sys.argv[2], mapping)
"""


def test_a_killed_ingests_temporary_part_is_removed_when_the_workspace_is_opened(demo_workspace: Path,
                                                                                  tmp_path: Path) -> None:
    """Issue 17, item 11. Before: the killed ingest's events/part-….tmp stayed visible until the
    next write."""
    log = tmp_path / "log.csv"
    pd.DataFrame({"user": [f"k{n}" for n in range(50_000)], "item": "i001", "event": "view",
                  "ts": range(1_790_000_000, 1_790_050_000)}).to_csv(log, index=False)
    before = Workspace.open(demo_workspace)
    version, count = before.data_version, len(before.events())
    killed = subprocess.run([sys.executable, "-c", KILLED_DURING_COMMIT, str(demo_workspace), str(log)],
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    leftovers = [p for p in (demo_workspace / "events").iterdir() if p.suffix == ".tmp"]
    assert leftovers and leftovers[0].stat().st_size > 100_000  # the kill left the part behind

    import fcntl

    with open(demo_workspace / ".lock", "a") as writer:  # a writer at work holds the lock:
        fcntl.flock(writer, fcntl.LOCK_EX)                # opening must not touch its files
        Workspace.open(demo_workspace)
        assert all(p.exists() for p in leftovers)
    after = Workspace.open(demo_workspace)  # no writer: the leftovers go
    assert not any(p.suffix == ".tmp" for p in (demo_workspace / "events").iterdir())
    assert (after.data_version, len(after.events())) == (version, count)
