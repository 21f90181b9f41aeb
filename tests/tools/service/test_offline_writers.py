"""The service while another process writes its workspace's embedded vector store (`whyrec
ingest` while `whyrec serve` runs, which the README supports): no request fails with a 500.

Regressions: after an offline ingest, "which face creams did I view?" as the new user and every
catalog search raised ``chromadb.errors.InternalError: Error finding id`` (HTTP 500) until a
restart, and forgetting that user raised it after the events were already gone, so a retry said
"unknown user" and their documents stayed in the store.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tools.test_store_processes import NEW_ITEMS, NEW_USER, ingest_elsewhere
from whyrec.tools.behaviour_store import BehaviourStore
from whyrec.tools.embeddings import default_embedder
from whyrec.tools.ranking import WhyrecRanker
from whyrec.tools.service import UnknownUser, WhyrecService
from whyrec.tools.service.errors import Unavailable
from whyrec.tools.settings import Settings
from whyrec.tools.workspace import Workspace

pytestmark = pytest.mark.slow


def _serving(workspace: Path) -> WhyrecService:
    """A service as `whyrec serve` holds it: its store open and read before the ingest."""
    service = WhyrecService(Settings(workspace=workspace),
                            ranker_factory=lambda ws: WhyrecRanker().fit(ws.events(), ws.items()))
    someone = service.users()[0]
    assert service.search_items("face cream", k=3).hits
    assert service.search_history(someone, "anything", k=3).hits
    return service


def _pick_up(service: WhyrecService) -> None:
    """What the API does before each request (re-read a changed manifest), then the refit on
    the new data that a request about the new user waits for."""
    service.refresh()
    service.models.current(service.workspace.data_version)
    service.wait_for_background(600)


def test_the_new_user_and_the_catalog_are_searchable_after_an_offline_ingest(demo_workspace: Path,
                                                                           tmp_path: Path) -> None:
    service = _serving(demo_workspace)
    ingest_elsewhere(demo_workspace, tmp_path)
    _pick_up(service)

    history = service.search_history(NEW_USER, "face cream", behaviours=["view"], k=5)
    assert {h.item_id for h in history.hits} == {"fc1", "fc2"}
    catalog = service.search_items("Velvet face cream", k=5)
    assert set(NEW_ITEMS) <= {h.item_id for h in catalog.hits}
    assert service.search_history(service.users()[0], "anything", k=3).hits


def test_forget_after_an_offline_ingest_removes_the_user_everywhere(demo_workspace: Path,
                                                                     tmp_path: Path) -> None:
    service = _serving(demo_workspace)
    ingest_elsewhere(demo_workspace, tmp_path)
    _pick_up(service)

    result = service.forget(NEW_USER)

    assert result.events_removed == 3 and result.documents_removed == 3 and result.items_removed == 3
    fresh = BehaviourStore(Workspace.open(demo_workspace), default_embedder())
    assert fresh.documents_of(NEW_USER) == 0
    assert not set(NEW_ITEMS) & set(fresh.item_ids())
    with pytest.raises(UnknownUser):  # nothing is left, so a retry says so
        service.forget(NEW_USER)
    assert service.search_items("Velvet face cream", k=3).hits  # the store still serves


def test_a_store_that_cannot_be_read_even_when_reopened_is_unavailable_not_a_crash(demo_workspace: Path) -> None:
    service = _serving(demo_workspace)
    service.store.close()
    for segment in (p for p in service.workspace.chroma_path.iterdir() if p.is_dir()):
        for path in segment.iterdir():  # the vector index's files damaged on disk
            path.write_bytes(b"garbage" * 16)

    with pytest.raises(Unavailable) as caught:  # before: chromadb's InternalError, an HTTP 500
        service.search_history(service.users()[0], "anything", k=3)
    assert caught.value.status == 503 and "whyrec reindex" in str(caught.value)
