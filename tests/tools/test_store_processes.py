"""One embedded vector store, two processes: a store opened before `whyrec ingest` (another
process) indexed new documents still finds them.

Regression: Chroma keeps the vector index in memory and never rereads it, so after an offline
ingest the server's searches failed with ``chromadb.errors.InternalError: Error finding id`` (HTTP
500) for the new user, and for every catalog search once new items came in, until a restart.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from whyrec.tools.behaviour_store import BehaviourStore, _store_stamp
from whyrec.tools.embeddings import default_embedder
from whyrec.tools.workspace import Workspace

pytestmark = pytest.mark.slow

WHYREC = str(Path(sys.executable).with_name("whyrec"))
NEW_USER = "x777"
NEW_ITEMS = ("fc1", "fc2", "fc3")


def ingest_elsewhere(workspace: Path, tmp_path: Path) -> None:
    """`whyrec ingest` in its own process, indexing what it added into the embedded store (as an
    operator runs it while `whyrec serve` is up): a new user with three new face creams."""
    log = tmp_path / "new.csv"
    log.write_text("user,item,event,ts,title\n"
                   f"{NEW_USER},fc1,view,1790000000,Velvet rose face cream\n"
                   f"{NEW_USER},fc2,view,1790000100,Velvet oat face cream\n"
                   f"{NEW_USER},fc3,cart,1790000200,Velvet night face cream\n", encoding="utf-8")
    mapping = tmp_path / "m.toml"
    mapping.write_text('[columns]\nuser_id="user"\nitem_id="item"\nbehaviour="event"\ntimestamp="ts"\n'
                       'title="title"\n[options]\ntimestamp_unit="s"\n', encoding="utf-8")
    done = subprocess.run([WHYREC, "ingest", str(log), "--mapping", str(mapping), "-w", str(workspace)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "vector store: 3 item and 3 behaviour documents indexed" in done.stdout, done.stdout


def test_a_store_opened_before_another_process_indexed_finds_the_new_documents(demo_workspace: Path,
                                                                               tmp_path: Path) -> None:
    workspace = Workspace.open(demo_workspace)
    store = BehaviourStore(workspace, default_embedder())
    someone = str(workspace.events()["user_id"].iloc[0])
    assert store.search_items("face cream", k=3) and store.search_behaviours(someone, "anything", k=3)

    ingest_elsewhere(demo_workspace, tmp_path)
    workspace.reload()  # what the server does on every request when the manifest changed

    items = [h.item_id for h in store.search_items("Velvet face cream", k=5)]
    assert set(NEW_ITEMS) <= set(items), items
    mine = store.search_behaviours(NEW_USER, "face cream", k=5)
    assert {h.item_id for h in mine} == set(NEW_ITEMS)
    assert store.search_behaviours(someone, "anything", k=3)  # everyone else still searchable
    assert store.status()["items"] == len(workspace.items())


def test_a_stale_read_the_change_check_missed_is_retried_on_a_reopened_client(demo_workspace: Path,
                                                                            tmp_path: Path) -> None:
    """The check before a search can miss a write that lands just after it: the read then fails
    inside Chroma and must be retried on a reopened client, not surface as an error."""
    workspace = Workspace.open(demo_workspace)
    store = BehaviourStore(workspace, default_embedder())
    assert store.search_items("face cream", k=3)
    ingest_elsewhere(demo_workspace, tmp_path)
    workspace.reload()
    # As if the write had landed after the check: this client believes it saw the store as it is.
    store._stamp = _store_stamp(workspace.chroma_path)

    mine = store.search_behaviours(NEW_USER, "face cream", k=5)
    assert {h.item_id for h in mine} == set(NEW_ITEMS)
    assert set(NEW_ITEMS) <= {h.item_id for h in store.search_items("Velvet face cream", k=5)}
