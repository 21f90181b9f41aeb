"""Out-of-core ingest: a log read in many pieces and batches, staged, deduplicated partition by
partition (in-process or on a two-worker Dask cluster) gives exactly what one batch gives."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import pytest

from whyrec.tools.engine import DaskEngine
from whyrec.tools.ingest.mapping import SourceMapping
from whyrec.tools.ingest.pipeline import IngestRejected, IngestResult, ingest
from whyrec.tools.workspace import Workspace, user_partition

COLUMNS = {"user_id": "user", "item_id": "item", "behaviour": "event", "timestamp": "ts", "title": "title"}
#: Many pieces (5 KB of CSV each), batches of 60 rows, partitions of about 100 events.
SMALL = dict(piece_bytes=5_000, batch_rows=60, partition_rows=100)


def _write_log(path: Path, rows: int = 1200, repeat_every: int = 0) -> Path:
    lines = ["user,item,event,ts,title"]
    for n in range(rows):
        user, item = f"u{(n * 7) % 37}", f"i{(n * 5) % 23}"
        lines.append(f"{user},{item},{('view', 'cart', 'purchase')[n % 3]},{1_700_000_000 + n},Item {(n * 5) % 23}"
                     + (" new" if n > rows // 2 else ""))
        if repeat_every and n % repeat_every == 0:
            lines.append(lines[-1])  # the same row again, right away
        if repeat_every and n % (repeat_every * 3) == 1 and n > 400:
            lines.append(lines[3])   # a repeat of line 4, far from it (another piece and batch)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _summary(result: IngestResult) -> dict:
    keep = ("rows_read", "rows_added", "rows_already_present", "rows_rejected", "rows_skipped_by_mapping",
            "duplicates_dropped", "users", "items", "behaviours", "first_event", "last_event")
    return {k: getattr(result, k) for k in keep}


def _twice(tmp_path: Path, source: Path, mapping: SourceMapping, **options) -> tuple[Workspace, Workspace, IngestResult, IngestResult]:  # noqa: E501
    whole, pieces = Workspace.create(tmp_path / "whole"), Workspace.create(tmp_path / "pieces")
    one = ingest(whole, source, mapping, **options)
    many = ingest(pieces, source, mapping, **options, **SMALL)
    return whole, pieces, one, many


@pytest.mark.parametrize("duplicates", ["keep", "drop"])
def test_many_pieces_batches_and_partitions_give_the_same_events_as_one_batch(tmp_path: Path, duplicates: str) -> None:
    source = _write_log(tmp_path / "log.csv", repeat_every=9)
    mapping = SourceMapping(columns=COLUMNS, timestamp_unit="s", duplicates=duplicates)
    whole, pieces, one, many = _twice(tmp_path, source, mapping)
    assert many.partitions > 8 and one.partitions == 1
    assert _summary(many) == _summary(one)
    if duplicates == "keep":  # repeats far apart (other batches) are numbered as in one pass
        assert one.rows_added == one.rows_read
    else:
        assert one.duplicates_dropped > 30
    pd.testing.assert_frame_equal(pieces.events(), whole.events())
    pd.testing.assert_frame_equal(pieces.items(), whole.items())
    # The new part is a folder of user partitions: every user's events in exactly one file.
    files = pieces.event_files()
    assert len({index for _, _, index in files}) == len(files) > 8
    assert {bits for _, bits, _ in files} == {many.partitions.bit_length() - 1}
    for path, bits, index in files:
        users = pd.read_parquet(path, columns=["user_id"])["user_id"]
        assert (user_partition(users, bits) == index).all()
    # Idempotent: again, in pieces, adds nothing.
    again = ingest(pieces, source, mapping, **SMALL)
    assert again.rows_added == 0 and again.rows_already_present == one.rows_added


def test_a_row_repeated_in_another_batch_is_refused_naming_both_lines(tmp_path: Path) -> None:
    source = _write_log(tmp_path / "log.csv", repeat_every=50)
    mapping = SourceMapping(columns=COLUMNS, timestamp_unit="s")  # duplicates = reject
    workspace = Workspace.create(tmp_path / "ws")
    with pytest.raises(IngestRejected) as whole:
        ingest(workspace, source, mapping)
    with pytest.raises(IngestRejected) as pieces:
        ingest(workspace, source, mapping, **SMALL)
    one, many = whole.value.reports[0], pieces.value.reports[0]
    assert (many.rows_invalid, many.issue_totals) == (one.rows_invalid, one.issue_totals)
    assert [i.to_text() for i in many.first_issues] == [i.to_text() for i in one.first_issues]
    assert workspace.data_version == 0 and not list((workspace.path / "events").iterdir())
    assert any("duplicate of line 4" in i.reason and i.line > 400 for i in
               ingest_rejects(workspace, source, mapping))


def ingest_rejects(workspace: Workspace, source: Path, mapping: SourceMapping) -> list:
    """The rejected rows of an ingest in pieces with --skip-invalid, as issues."""
    from whyrec.tools.ingest.validate import Issue

    result = ingest(workspace, source, mapping, skip_invalid=True, **SMALL)
    rejects = pd.read_csv(result.rejected_file, dtype=str, keep_default_na=False)
    lines = source.read_text(encoding="utf-8").splitlines()
    assert all(row.raw == lines[int(row.line) - 1] for row in rejects.itertuples())  # the row as written
    return [Issue(int(r.line), r.column, r.value, r.reason) for r in rejects.itertuples()]


def test_skip_invalid_in_pieces_rejects_what_one_batch_rejects(tmp_path: Path) -> None:
    source = _write_log(tmp_path / "log.csv", rows=900, repeat_every=40)
    text = source.read_text(encoding="utf-8").splitlines()
    text[100] = "u1,i1,teleport,1700000100,Item 1"        # unknown behaviour
    text[700] = "u2,,view,1700000200,Item 2"              # missing item
    source.write_text("\n".join(text) + "\n", encoding="utf-8")
    mapping = SourceMapping(columns=COLUMNS, timestamp_unit="s")
    whole, pieces, one, many = _twice(tmp_path, source, mapping, skip_invalid=True)
    assert _summary(many) == _summary(one) and one.rows_rejected > 20
    a = pd.read_csv(one.rejected_file, dtype=str, keep_default_na=False)
    b = pd.read_csv(many.rejected_file, dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(pieces.events(), whole.events())


def test_a_file_the_fast_reader_cannot_cut_is_read_exactly(tmp_path: Path) -> None:
    source = _write_log(tmp_path / "log.csv", rows=600)
    text = source.read_text(encoding="utf-8").splitlines()
    text[300] = 'u5,i5,view,1700000300,"a title on\ntwo lines"'   # a quoted line break
    source.write_text("\n".join(text) + "\n", encoding="utf-8")
    mapping = SourceMapping(columns=COLUMNS, timestamp_unit="s", duplicates="keep")
    whole, pieces, one, many = _twice(tmp_path, source, mapping, skip_invalid=True)
    assert _summary(many) == _summary(one) and one.rows_rejected == 1  # the title's line break
    pd.testing.assert_frame_equal(pieces.events(), whole.events())


def test_ingest_into_a_workspace_with_an_unpartitioned_part_deduplicates_against_it(tmp_path: Path) -> None:
    source = _write_log(tmp_path / "log.csv")
    first = _write_log(tmp_path / "first.csv", rows=300)    # the same first 300 rows
    mapping = SourceMapping(columns=COLUMNS, timestamp_unit="s", duplicates="keep")
    workspace = Workspace.create(tmp_path / "ws")
    assert ingest(workspace, first, mapping).partitions == 1
    result = ingest(workspace, source, mapping, **SMALL)
    assert (result.rows_added, result.rows_already_present) == (900, 300)
    events = workspace.events()
    assert len(events) == 1200 and events["event_key"].is_unique
    assert workspace.stats().events == 1200 and workspace.event_count() == 1200


def _part_bytes(workspace: Workspace) -> dict[str, str]:
    """Each event file's and the catalog's content hash, by name within its part."""
    out = {f"{path.parent.name if bits else 'single'}/{path.name}".split("/", 1)[1]:
           hashlib.sha256(path.read_bytes()).hexdigest() for path, bits, _ in workspace.event_files()}
    out["catalog"] = hashlib.sha256((workspace.path / "catalog" / workspace.manifest.catalog).read_bytes()).hexdigest()
    return out


def test_a_two_worker_dask_cluster_writes_the_same_bytes_as_in_process(tmp_path: Path) -> None:
    source = _write_log(tmp_path / "log.csv", repeat_every=7)
    mapping = SourceMapping(columns=COLUMNS, timestamp_unit="s", duplicates="keep")
    local = Workspace.create(tmp_path / "local")
    remote = Workspace.create(tmp_path / "remote")
    here = ingest(local, source, mapping, **SMALL)
    with DaskEngine(n_workers=2, memory_limit="2GB") as engine:
        there = ingest(remote, source, mapping, engine=engine, **SMALL)
        again = ingest(remote, source, mapping, engine=engine, **SMALL)
    assert _summary(there) == _summary(here) and there.partitions == here.partitions > 8
    assert _part_bytes(remote) == _part_bytes(local)
    assert again.rows_added == 0
    assert not list((remote.path / "staging").iterdir())
