"""Forgetting a user removes them everywhere; pseudonymised ingest never stores the source ids."""

from __future__ import annotations

import socket
from pathlib import Path

import pandas as pd
import pytest

from whyrec.tools.behaviour_store import BehaviourStore
from whyrec.tools.embeddings import default_embedder
from whyrec.tools.ingest.mapping import SourceMapping
from whyrec.tools.ingest.pipeline import ingest
from whyrec.tools.privacy import forget_user, pseudonymise
from whyrec.tools.ranking import UnknownUserError, load_or_fit
from whyrec.tools.workspace import Workspace


def test_forget_removes_events_documents_and_derived_artefacts(demo_workspace: Path) -> None:
    workspace = Workspace.open(demo_workspace)
    store = BehaviourStore(workspace, default_embedder())
    user = str(workspace.events()["user_id"].value_counts().index[0])
    load_or_fit(workspace)  # a derived artefact holding the user's history
    # What a killed `tune --engine dask` or `effects --engine dask` leaves: the sampled users' ids
    # (and a killed refit's similarity inputs: every user's items, by position).
    left = [workspace.derived_path / "whyrec-tune-x1", workspace.derived_path / "whyrec-table-x2",
            workspace.derived_path / "whyrec-similarity-x3"]
    for folder in left:
        folder.mkdir()
        (folder / "inputs.pickle").write_bytes(user.encode() * 3)
    assert store.search_behaviours(user, "anything", k=5)
    others_before = len(workspace.events()) - (workspace.events()["user_id"] == user).sum()

    result = forget_user(workspace, user, store)

    reopened = Workspace.open(demo_workspace)
    assert result.events_removed > 0 and result.documents_removed > 0 and result.artefacts_removed >= 1
    assert not (reopened.events()["user_id"] == user).any()
    assert len(reopened.events()) == others_before
    for part in (demo_workspace / "events").iterdir():  # no old part file still holds the user
        assert not (pd.read_parquet(part)["user_id"] == user).any()
    assert not list(reopened.derived_path.glob("ranker-v1*"))
    assert not any(folder.exists() for folder in left)
    fresh_store = BehaviourStore(reopened, default_embedder())
    assert fresh_store.search_behaviours(user, "anything", k=50) == []
    collection = fresh_store._collection(fresh_store.behaviours_name)
    assert collection.get(where={"user_id": user}, include=[])["ids"] == []
    with pytest.raises(UnknownUserError):
        load_or_fit(reopened).recommend(user)
    with pytest.raises(KeyError, match="unknown user"):
        forget_user(reopened, user, fresh_store)


def test_pseudonymised_ingest_never_stores_source_ids(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text("user,item,event,ts\nalice@example.com,i1,view,1700000000\n"
                   "bob@example.com,i1,cart,1700000100\n", encoding="utf-8")
    mapping = SourceMapping(columns={"user_id": "user", "item_id": "item", "behaviour": "event",
                                     "timestamp": "ts"}, timestamp_unit="s")
    workspace = Workspace.create(tmp_path / "ws")
    key = b"secret-key"
    ingest(workspace, log, mapping, pseudonym_key=key)
    users = set(workspace.events()["user_id"])
    expected = set(pseudonymise(pd.Series(["alice@example.com", "bob@example.com"]), key))
    assert users == expected and all(u.startswith("p_") for u in users)
    for part in (workspace.path / "events").iterdir():
        assert b"alice@example.com" not in part.read_bytes()
    again = ingest(workspace, log, mapping, pseudonym_key=key)
    assert again.rows_added == 0  # same key, same pseudonyms: still idempotent
    other = set(pseudonymise(pd.Series(["alice@example.com"]), b"another key"))
    assert not other & users


# -- issue 17, item 5: forget leaves no byte behind ---------------------------------------------------
FORGOTTEN = "forget-me-4d2c9e"
CREATED_ITEM = "gift-box-by-4d2c9e"


def _add_user_with_a_created_item(workspace: Workspace) -> list[str]:
    """A user with events on 40 catalog items and on an item id no one else knows; their
    behaviour documents' ids (what Chroma's files would hold)."""
    from whyrec.tools.behaviour_store import _doc_id
    from whyrec.tools.ingest.pipeline import ingest_records

    items = list(workspace.items()["item_id"][:40])
    records = [{"user_id": FORGOTTEN, "item_id": item, "behaviour": ("view", "cart", "purchase")[n % 3],
                "timestamp": f"2026-10-{1 + n % 28:02d}T12:{n % 60:02d}:00Z"} for n, item in enumerate(items)]
    records.append({"user_id": FORGOTTEN, "item_id": CREATED_ITEM, "behaviour": "purchase",
                    "timestamp": "2026-10-06T09:00:00Z"})
    ingest_records(workspace, records)
    mine = workspace.events()[workspace.events()["user_id"] == FORGOTTEN]
    return sorted({_doc_id(u, i, b) for u, i, b in zip(mine["user_id"], mine["item_id"], mine["behaviour"])})


def scan(root: Path, needles: dict[str, bytes]) -> tuple[dict[str, list[str]], int]:
    """Which needles occur in which files under ``root`` (raw bytes), and the bytes read."""
    hits: dict[str, list[str]] = {}
    total = 0
    for path in sorted(root.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            total += len(data)
            for name, needle in needles.items():
                if needle in data:
                    hits.setdefault(name, []).append(str(path.relative_to(root)))
    return hits, total


def _needles(doc_ids: list[str]) -> dict[str, bytes]:
    needles = {"user id": FORGOTTEN.encode(), "created item": CREATED_ITEM.encode(),
               "created item's document": f"bought Item {CREATED_ITEM}".encode()}
    needles.update({f"document id {d}": d.encode() for d in doc_ids})
    return needles


def test_forget_leaves_no_byte_of_the_user_in_the_embedded_store(demo_workspace: Path) -> None:
    """Before: after forgetting, the raw chroma.sqlite3 still held the user id hundreds of times
    and readable documents, the vector index's metadata mapped the user's document ids, and an
    item the user created stayed in the catalog and the store."""
    workspace = Workspace.open(demo_workspace)
    doc_ids = _add_user_with_a_created_item(workspace)
    store = BehaviourStore(workspace, default_embedder())
    store.sync()
    assert store.search_behaviours(FORGOTTEN, "gift box", k=3)
    assert CREATED_ITEM in [h.item_id for h in store.search_items(f"Item {CREATED_ITEM}", k=5)]
    needles = _needles(doc_ids)
    before, _ = scan(demo_workspace, needles)
    assert set(before) == set(needles), "the scan must see every needle before the forget"
    assert any(path.startswith("chroma") for path in before["user id"])

    result = forget_user(workspace, FORGOTTEN, store)

    after, scanned = scan(demo_workspace, needles)
    assert after == {}, after
    assert scanned > 1_000_000  # the whole workspace was read, the store included
    assert result.store_erasure == "rebuilt" and result.items_removed == 1
    assert result.documents_removed == len(doc_ids)
    reopened = Workspace.open(demo_workspace)
    assert CREATED_ITEM not in set(reopened.items()["item_id"])
    fresh = BehaviourStore(reopened, default_embedder())
    assert fresh.search_behaviours(FORGOTTEN, "gift box", k=5) == []
    assert CREATED_ITEM not in [h.item_id for h in fresh.search_items(f"Item {CREATED_ITEM}", k=5)]
    assert fresh.status()["items"] == len(reopened.items())
    other = str(reopened.events()["user_id"].iloc[0])
    assert fresh.search_behaviours(other, "anything", k=3)  # everyone else is still searchable
    assert store.search_items("wool scarf", k=1)  # the store used for the forget still works


def test_forget_keeps_catalog_items_someone_else_touched_or_a_catalog_supplied(demo_workspace: Path) -> None:
    workspace = Workspace.open(demo_workspace)
    _add_user_with_a_created_item(workspace)
    from whyrec.tools.ingest.pipeline import ingest_records

    ingest_records(workspace, [{"user_id": "u000", "item_id": CREATED_ITEM, "behaviour": "view",
                                "timestamp": "2026-10-07T00:00:00Z"}])
    result = forget_user(workspace, FORGOTTEN)
    assert result.items_removed == 0 and CREATED_ITEM in set(workspace.items()["item_id"])
    catalog_items = set(Workspace.open(demo_workspace).items()["item_id"])
    assert len(catalog_items) == len(workspace.items())


def test_forget_scrubs_reject_rows_that_hold_the_user_in_the_raw_row(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text("user,item,event,ts\nalice,i1,view,1700000000\nalice,i2,teleport,1700000001\n"
                   "bob,i3,view,1700000002\nbob,i4,teleport,1700000003\n", encoding="utf-8")
    mapping = SourceMapping(columns={"user_id": "user", "item_id": "item", "behaviour": "event",
                                     "timestamp": "ts"}, timestamp_unit="s")
    workspace = Workspace.create(tmp_path / "ws")
    result = ingest(workspace, log, mapping, skip_invalid=True)
    assert forget_user(workspace, "alice").reject_rows_removed == 1
    rejects = Path(result.rejected_file).read_text(encoding="utf-8")
    assert "alice" not in rejects and "bob,i4,teleport" in rejects


@pytest.mark.slow
def test_forget_against_a_chroma_server_deletes_through_the_api_and_says_so(demo_workspace: Path,
                                                                            tmp_path: Path) -> None:
    """A Chroma server can only delete through its API: the result says its files may keep
    freed bytes; the workspace's own files keep none."""
    import subprocess
    import sys
    import time

    from tests.tools.test_behaviour_store import _free_port

    port, server_dir = _free_port(), tmp_path / "chroma-server"
    chroma = Path(sys.executable).with_name("chroma")
    process = subprocess.Popen([str(chroma), "run", "--path", str(server_dir), "--host", "127.0.0.1",
                                "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={"ANONYMIZED_TELEMETRY": "False", "PATH": "/usr/bin:/bin"})
    try:
        deadline = time.time() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.time() < deadline, "chroma run did not start within 60 s"
                time.sleep(0.3)
        workspace = Workspace.open(demo_workspace)
        doc_ids = _add_user_with_a_created_item(workspace)
        store = BehaviourStore(workspace, default_embedder(), chroma_url=f"http://127.0.0.1:{port}")
        store.sync()
        assert store.search_behaviours(FORGOTTEN, "gift box", k=3)
        result = forget_user(workspace, FORGOTTEN, store)
        assert result.store_erasure == "deleted" and "may keep freed bytes" in result.to_text()
        assert result.documents_removed == len(doc_ids) and result.items_removed == 1
        assert store.search_behaviours(FORGOTTEN, "gift box", k=5) == []
        collection = store._collection(store.behaviours_name)
        assert collection.get(where={"user_id": FORGOTTEN}, include=[])["ids"] == []
        workspace_hits, _ = scan(demo_workspace, _needles(doc_ids))
        assert workspace_hits == {}
        server_hits, _ = scan(server_dir, _needles(doc_ids))
        files = sorted({f for found in server_hits.values() for f in found})
        print(f"\nchroma server: {len(server_hits)} of {len(_needles(doc_ids))} needles still in {files}")
    finally:
        process.terminate()
        process.wait(timeout=20)


# -- an erasure cut short is finished by calling forget again ------------------------------------------
def test_forget_finishes_an_erasure_an_earlier_version_left_half_done(demo_workspace: Path) -> None:
    """Before: forget committed the events away, then failed at the vector store (HTTP 500); a
    retry said "unknown user" and the user's documents stayed in the store for good."""
    workspace = Workspace.open(demo_workspace)
    doc_ids = _add_user_with_a_created_item(workspace)
    store = BehaviourStore(workspace, default_embedder())
    store.sync()
    assert store.search_behaviours(FORGOTTEN, "gift box", k=3)
    with workspace.lock():  # what that forget had done when the store step failed
        events, items = workspace.events(), workspace.items()
        workspace.commit(events[events["user_id"] != FORGOTTEN], items[items["item_id"] != CREATED_ITEM], [],
                         replace_events=True, shred_old=True)

    result = forget_user(workspace, FORGOTTEN, store)

    assert result.events_removed == 0 and result.documents_removed == len(doc_ids)
    assert result.items_removed == 1 and result.store_erasure == "rebuilt"
    after, _ = scan(demo_workspace, _needles(doc_ids))
    assert after == {}, after
    with pytest.raises(KeyError, match="unknown user"):  # now nothing is left anywhere
        forget_user(workspace, FORGOTTEN, store)


def test_forget_failing_at_the_store_keeps_the_user_so_a_retry_finishes(demo_workspace: Path) -> None:
    from tests.tools.test_behaviour_store import _free_port
    from whyrec.tools.behaviour_store import StoreError

    workspace = Workspace.open(demo_workspace)
    doc_ids = _add_user_with_a_created_item(workspace)
    store = BehaviourStore(workspace, default_embedder())
    store.sync()
    down = BehaviourStore(workspace, default_embedder(), chroma_url=f"http://127.0.0.1:{_free_port()}")
    with pytest.raises(StoreError):
        forget_user(workspace, FORGOTTEN, down)
    # Nothing was committed away: the events still name the user, so forgetting can start over.
    assert (Workspace.open(demo_workspace).events()["user_id"] == FORGOTTEN).any()

    result = forget_user(workspace, FORGOTTEN, store)

    assert result.events_removed == 41 and result.documents_removed == len(doc_ids)
    after, _ = scan(demo_workspace, _needles(doc_ids))
    assert after == {}, after
    assert not list(workspace.derived_path.glob("forget-pending-*"))


def test_forget_of_someone_found_nowhere_is_unknown_and_changes_nothing(demo_workspace: Path) -> None:
    workspace = Workspace.open(demo_workspace)
    store = BehaviourStore(workspace, default_embedder())
    store_path, version = workspace.chroma_path, workspace.data_version
    with pytest.raises(KeyError, match="unknown user"):
        forget_user(workspace, "nobody-at-all", store)
    assert workspace.chroma_path == store_path and workspace.data_version == version
    assert not list(workspace.derived_path.glob("forget-pending-*"))


def test_forget_scrubs_the_reject_rows_of_a_user_whose_every_row_was_rejected(tmp_path: Path) -> None:
    """Before: "unknown user" (no events), and the reject file kept their rows."""
    log = tmp_path / "log.csv"
    log.write_text("user,item,event,ts\nalice,i1,view,1700000000\ncarol,i2,teleport,1700000001\n",
                   encoding="utf-8")
    mapping = SourceMapping(columns={"user_id": "user", "item_id": "item", "behaviour": "event",
                                     "timestamp": "ts"}, timestamp_unit="s")
    workspace = Workspace.create(tmp_path / "ws")
    result = ingest(workspace, log, mapping, skip_invalid=True)
    forgotten = forget_user(workspace, "carol")
    assert forgotten.events_removed == 0 and forgotten.reject_rows_removed == 1
    assert "carol" not in Path(result.rejected_file).read_text(encoding="utf-8")
    with pytest.raises(KeyError, match="unknown user"):
        forget_user(workspace, "carol")
