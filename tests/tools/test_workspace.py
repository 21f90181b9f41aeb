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


def _partitioned_workspace(tmp_path: Path) -> Workspace:
    """A single-file part and a part written as a folder of 8 user partitions."""
    from whyrec.tools.workspace import partition_file_name, user_partition

    workspace = Workspace.create(tmp_path / "ws")
    with workspace.lock():
        workspace.commit(pd.concat([_events(4, user=f"a{n}") for n in range(5)], ignore_index=True), None, [])
        big = pd.concat([_events(3, user=f"b{n}") for n in range(40)], ignore_index=True)
        folder = workspace.path / "staging-test"
        folder.mkdir()
        bucket = user_partition(big["user_id"], 3)
        for index in sorted(set(bucket)):
            big[bucket == index].to_parquet(folder / partition_file_name(3, int(index)), index=False)
        workspace.commit(big.iloc[0:0], None, [], part=folder)
    return workspace


@pytest.mark.parametrize("bits", [0, 1, 3, 5])
def test_partitions_hold_every_event_once_and_each_user_whole(tmp_path: Path, bits: int) -> None:
    workspace = _partitioned_workspace(tmp_path)
    parts = workspace.event_partitions(bits)
    assert len(parts) == 1 << bits
    frames = [p.read() for p in parts]
    together = pd.concat(frames, ignore_index=True)
    assert len(together) == workspace.event_count() == 140 and together["event_key"].is_unique
    owners = [set(f["user_id"]) for f in frames]
    assert sum(len(o) for o in owners) == len(set().union(*owners)) == 45  # no user in two partitions
    assert sorted(together["event_key"]) == sorted(workspace.events()["event_key"])
    assert sum(len(p.keys()) for p in parts) == 140


def test_stats_iter_events_and_reads_work_on_a_partitioned_log(tmp_path: Path) -> None:
    workspace = _partitioned_workspace(tmp_path)
    assert workspace.partition_bits == 3
    stats = workspace.stats()
    assert (stats.events, stats.users, stats.items_with_events) == (140, 45, 4)
    assert sum(len(b) for b in workspace.iter_events(batch_rows=7)) == 140
    assert list(workspace.events()["timestamp"]) == sorted(workspace.events()["timestamp"])


def test_a_dead_ingests_staging_folder_is_swept_and_a_live_one_kept(tmp_path: Path) -> None:
    workspace = Workspace.create(tmp_path / "ws")
    dead = workspace.path / "staging" / "deadbeef0000"
    dead.mkdir(parents=True)
    (dead / "batch.parquet").write_bytes(b"half")
    with workspace.staging() as live:
        (live / "batch.parquet").write_bytes(b"in use")
        Workspace.open(workspace.path)  # sweeps with no writer at work
        assert live.exists() and not dead.exists()
    assert not live.exists()


def test_compaction_of_many_small_parts_keeps_partitioned_parts(tmp_path: Path, monkeypatch) -> None:
    from whyrec.tools import workspace as module

    workspace = _partitioned_workspace(tmp_path)
    monkeypatch.setattr(module, "MAX_PARTS", 4)
    with workspace.lock():
        for n in range(4):
            workspace.commit(_events(1, user=f"c{n}"), None, [])
    names = workspace.manifest.event_parts
    assert len(names) <= 4 and sum((workspace.path / "events" / n).is_dir() for n in names) == 1
    assert workspace.event_count() == 144 and workspace.events()["event_key"].is_unique


def _same_rows(full: pd.DataFrame, lean: pd.DataFrame) -> None:
    """``lean`` holds ``full``'s rows in the same order, ids as categoricals with sorted categories."""
    assert len(full) == len(lean)
    for column in lean.columns:
        if isinstance(lean[column].dtype, pd.CategoricalDtype):
            categories = list(lean[column].cat.categories)
            assert categories == sorted(categories)
            assert lean[column].astype(str).tolist() == full[column].astype(str).tolist(), column
        else:
            assert lean[column].dtype == full[column].dtype, column
            assert lean[column].equals(full[column]), column


def test_lean_events_are_the_events_with_ids_as_categoricals(tmp_path: Path) -> None:
    workspace = _partitioned_workspace(tmp_path)
    with workspace.lock():  # a rating with a value, on a later part, and a tie in time with another event
        extra = _events(2, user="a1").assign(behaviour="rating", value=[4.0, None], item_id=["z9", "i0"])
        extra["event_key"] = compute_event_keys(extra).to_numpy()
        workspace.commit(extra, None, [])
    full, lean = workspace.events(), workspace.lean_events()
    assert list(lean.columns) == ["event_key", "user_id", "item_id", "behaviour", "timestamp", "value"]
    _same_rows(full, lean)
    assert lean["value"].notna().sum() == 1
    only = workspace.lean_events(["item_id", "user_id"])
    assert list(only.columns) == ["item_id", "user_id"]
    _same_rows(full, only)
    assert len(workspace.lean_events(["user_id"], sort=False)) == len(full)
    with pytest.raises(ValueError, match="unknown column"):
        workspace.lean_events(["title"])


def test_lean_events_leave_out_a_value_column_no_event_fills(tmp_path: Path) -> None:
    workspace = _partitioned_workspace(tmp_path)
    lean = workspace.lean_events()
    assert "value" not in lean.columns
    _same_rows(workspace.events(), lean)
    empty = Workspace.create(tmp_path / "empty").lean_events()
    assert empty.empty and list(empty.columns) == ["event_key", "user_id", "item_id", "behaviour", "timestamp"]
