"""The workspace: manifest, schema version, atomic commits, cached reads."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from whyrec.tools.schema import SCHEMA_VERSION, compute_event_keys, conform_events
from whyrec.tools.workspace import Workspace, WorkspaceError


def _events(n: int, user: str = "u1") -> pd.DataFrame:
    frame = pd.DataFrame({"user_id": [user] * n, "item_id": [f"i{i}" for i in range(n)],
                          "behaviour": ["view"] * n,
                          "timestamp": pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC")})
    frame = conform_events(frame)
    frame["event_key"] = compute_event_keys(frame).to_numpy()
    return frame


def test_open_missing_workspace_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="whyrec demo"):
        Workspace.open(tmp_path / "nothing")


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    workspace = Workspace.create(tmp_path / "ws")
    manifest = json.loads((workspace.path / "workspace.json").read_text())
    manifest["schema_version"] = SCHEMA_VERSION + 1
    (workspace.path / "workspace.json").write_text(json.dumps(manifest))
    with pytest.raises(WorkspaceError, match="Upgrade whyrec"):
        Workspace.open(workspace.path)


def test_commit_appends_and_bumps_version(tmp_path: Path) -> None:
    workspace = Workspace.create(tmp_path / "ws")
    with workspace.lock():
        workspace.commit(_events(3), None, [])
        workspace.commit(_events(2, user="u2"), None, [])
    reopened = Workspace.open(workspace.path)
    assert reopened.data_version == 2 and len(reopened.events()) == 5
    assert len(reopened.event_keys()) == 5


def test_replace_events_rewrites_the_log(tmp_path: Path) -> None:
    workspace = Workspace.create(tmp_path / "ws")
    with workspace.lock():
        workspace.commit(_events(3), None, [])
        workspace.commit(_events(1, user="u2"), None, [], replace_events=True)
    assert list(Workspace.open(workspace.path).events()["user_id"]) == ["u2"]
    assert len(list((workspace.path / "events").iterdir())) == 1


def test_leftovers_of_a_crash_are_swept(tmp_path: Path) -> None:
    workspace = Workspace.create(tmp_path / "ws")
    (workspace.path / "events" / "part-000009-dead.tmp").write_bytes(b"half a file")
    with workspace.lock():
        workspace.commit(_events(1), None, [])
    assert not (workspace.path / "events" / "part-000009-dead.tmp").exists()


def test_event_keys_are_stable_and_distinguish_repeats() -> None:
    events = pd.concat([_events(2), _events(1)], ignore_index=True)  # i0 viewed twice at the same time
    keys = compute_event_keys(conform_events(events))
    assert keys.is_unique
    assert list(compute_event_keys(conform_events(events))) == list(keys)


def test_leftovers_are_swept_when_the_workspace_is_opened(tmp_path: Path) -> None:
    """Issue 17, item 11: a killed write's temporary files go when the workspace is next opened
    (before, they stayed until the next write)."""
    workspace = Workspace.create(tmp_path / "ws")
    with workspace.lock():
        workspace.commit(_events(3), None, [])
    stray = [tmp_path / "ws" / "events" / "part-000002-abc.tmp", tmp_path / "ws" / "catalog" / "catalog-x.tmp",
             tmp_path / "ws" / "workspace.json.tmp", tmp_path / "ws" / "rejected" / "rejected-x.tmp"]
    for path in stray:
        path.write_bytes(b"half-written")
    old_store = tmp_path / "ws" / "chroma-0123456789"
    old_store.mkdir()
    (old_store / "chroma.sqlite3").write_bytes(b"someone's data")
    opened = Workspace.open(tmp_path / "ws")
    assert not any(p.exists() for p in stray) and not old_store.exists()
    assert len(opened.events()) == 3


def test_switching_the_store_directory_shreds_the_old_one(tmp_path: Path) -> None:
    workspace = Workspace.create(tmp_path / "ws")
    old = workspace.chroma_path
    old.mkdir()
    (old / "chroma.sqlite3").write_bytes(b"secret" * 1000)
    handle = open(old / "chroma.sqlite3", "rb")  # another process still has it open
    target = workspace.new_chroma_path()
    workspace.switch_chroma(target)
    assert workspace.chroma_path == target and Workspace.open(tmp_path / "ws").chroma_path == target
    assert not old.exists()
    assert handle.read() == bytes(6000)  # the open file's content was overwritten, not just unlinked
    handle.close()
