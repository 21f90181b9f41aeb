"""The behaviour vector store on real data (REES46), embedded and against a real `chroma run`."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from whyrec.tools.behaviour_store import BehaviourStore, user_history
from whyrec.tools.embeddings import default_embedder
from whyrec.tools.ingest.pipeline import ingest
from whyrec.tools.ingest.presets import get_preset
from whyrec.tools.workspace import Workspace

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def rees46_workspace(tmp_path_factory: pytest.TempPathFactory, rees46_dir: Path) -> Workspace:
    workspace = Workspace.create(tmp_path_factory.mktemp("rees46") / "ws")
    preset = get_preset("rees46")
    ingest(workspace, rees46_dir, preset.make_mapping({}), preset=preset)
    return workspace


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    port = _free_port()
    chroma = Path(sys.executable).with_name("chroma")
    process = subprocess.Popen([str(chroma), "run", "--path", str(tmp_path_factory.mktemp("chroma-server")),
                                "--host", "127.0.0.1", "--port", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={"ANONYMIZED_TELEMETRY": "False", "PATH": "/usr/bin:/bin"})
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.3)
    else:
        process.kill()
        pytest.fail("chroma run did not start within 60 s")
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture(scope="module", params=["embedded", "server"])
def store(request: pytest.FixtureRequest, rees46_workspace: Workspace) -> BehaviourStore:
    url = request.getfixturevalue("chroma_server") if request.param == "server" else None
    store = BehaviourStore(rees46_workspace, default_embedder(), chroma_url=url)
    store.sync()
    return store


def test_search_items_finds_smartphones(store: BehaviourStore) -> None:
    hits = store.search_items("smartphone", k=10)
    assert len(hits) == 10
    assert all(h.category == "electronics.smartphone" for h in hits), [h.category for h in hits]
    assert hits[0].score >= hits[-1].score


def test_search_items_filters(store: BehaviourStore) -> None:
    hits = store.search_items("kitchen appliance", k=10, filters={"category": "appliances", "max_price": 100})
    assert hits and all(h.category.startswith("appliances") and h.price <= 100 for h in hits)


def test_search_behaviours_never_returns_another_users_events(store: BehaviourStore,
                                                              rees46_workspace: Workspace) -> None:
    events = rees46_workspace.events()
    busiest = events["user_id"].value_counts().index[:25]
    for user in busiest:
        hits = store.search_behaviours(user, "smartphone", k=50)
        assert hits and {h.user_id for h in hits} == {user}
        own_items = set(events.loc[events["user_id"] == user, "item_id"])
        assert {h.item_id for h in hits} <= own_items


def test_search_behaviours_by_kind_and_time(store: BehaviourStore, rees46_workspace: Workspace) -> None:
    events = rees46_workspace.events()
    carter = events.loc[events["behaviour"] == "cart", "user_id"].iloc[0]
    carts = store.search_behaviours(carter, "things I put in my basket", k=20, behaviours=["cart"])
    assert carts and all(h.behaviour == "cart" for h in carts)
    assert all("to cart" in h.text for h in carts)
    late = store.search_behaviours(carter, "anything", k=50, since="2019-10-01 02:00:00")
    assert all(h.last_time >= __import__("pandas").Timestamp("2019-10-01 02:00:00", tz="UTC") for h in late)


def test_sync_is_incremental_and_store_survives_restart(store: BehaviourStore,
                                                        rees46_workspace: Workspace) -> None:
    again = store.sync()
    assert (again.items_upserted, again.behaviours_upserted) == (0, 0)
    reopened = BehaviourStore(Workspace.open(rees46_workspace.path), default_embedder(), chroma_url=store.chroma_url)
    assert reopened.status()["items"] == 6_493
    assert reopened.search_items("smartphone", k=3)[0].category == "electronics.smartphone"


def test_user_history_is_exact_and_unknown_user_is_clear(rees46_workspace: Workspace) -> None:
    events = rees46_workspace.events()
    user = events["user_id"].value_counts().index[0]
    history = user_history(rees46_workspace, user)
    assert len(history) == (events["user_id"] == user).sum()
    assert history["timestamp"].is_monotonic_decreasing
    with pytest.raises(KeyError, match="unknown user"):
        user_history(rees46_workspace, "no-such-user")


def test_indexing_shows_progress_while_embedding(demo_workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 17, item 13: indexing 3,276 items took 100 s with nothing on screen; the bar
    appeared only after the embedding was done. Now the embedding has its own bar."""
    workspace = Workspace.open(demo_workspace)
    store = BehaviourStore(workspace, default_embedder())
    store.rebuild(progress=True)
    shown = capsys.readouterr().err
    items = len(workspace.items())
    assert "index items: embed: 100%" in shown and f"{items}/{items}" in shown
    assert "index items: store: 100%" in shown and "index behaviours: store: 100%" in shown
