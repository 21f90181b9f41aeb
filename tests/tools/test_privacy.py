"""Forgetting a user removes them everywhere; pseudonymised ingest never stores the source ids."""

from __future__ import annotations

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
