"""The two jobs of an ingest, each run once per work item by an engine (:mod:`whyrec.tools.engine`).

1. :func:`validate_piece` reads one piece of a source file in batches, validates each batch with
   the rules of :mod:`.validate`, and stages the valid rows in the ingest's staging folder, each
   batch as one Parquet file with one row group per user partition. It returns counts, the first
   issues (or all of them, for a reject file) and where it staged what.
2. :func:`dedupe_partition` takes one user partition of everything staged: it finds rows repeated
   across batches (the duplicate policy, as within a batch), numbers identical rows in file order
   and computes the stable event keys (:func:`~whyrec.tools.schema.compute_event_keys`), drops
   events already in the workspace or seen in an earlier file, and writes the partition's new
   events. Identical rows share their user, so each partition decides alone, exactly as the
   whole log would.

Both are deterministic, read and write only the paths they are given, and touch no manifest: the
driver (:func:`.pipeline.ingest`) commits once, after both have run.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from ..privacy import pseudonymise
from ..schema import compute_event_keys, conform_events
from ..workspace import EventPartition, user_partition
from .chunks import BATCH_ROWS, NeedsExactReader, Piece, read_piece
from .mapping import SourceMapping
from .validate import DUPLICATES_IN_FILE, issue_totals, validate

#: The event fields staged between the two jobs, with each row's first and last line.
STAGED = ["user_id", "item_id", "behaviour", "timestamp", "session_id", "value"]
IDENTITY = ["user_id", "item_id", "behaviour", "timestamp", "session_id", "value"]
ISSUE_COLUMNS = ["line", "column", "value", "reason", "user_id"]


def _no_issues() -> pd.DataFrame:
    return pd.DataFrame({"line": pd.Series(dtype="int64"), "column": pd.Series(dtype=str),
                         "value": pd.Series(dtype=str), "reason": pd.Series(dtype=str),
                         "user_id": pd.Series(dtype=str)})


@dataclass(frozen=True)
class ValidateTask:
    """One piece to read, validate and stage."""

    piece: Piece
    mapping: SourceMapping
    stage: str
    bits: int
    now: datetime
    pseudonym_key: bytes | None = None
    timestamp_guess: str | None = None
    keep_issues: bool = False
    report_rows: int = 10
    batch_rows: int = BATCH_ROWS


@dataclass
class PieceResult:
    """What one piece held: counts, issues, and the staged batches (path, partition -> row group)."""

    piece: Piece
    exact_needed: str | None = None
    rows_read: int = 0
    rows_invalid: int = 0
    skipped_by_mapping: int = 0
    duplicates_dropped: int = 0
    valid_rows: int = 0
    totals: dict[str, int] = field(default_factory=dict)
    first_issues: pd.DataFrame = field(default_factory=_no_issues)
    issues: pd.DataFrame | None = None
    spans: dict[int, int] = field(default_factory=dict)
    batches: list[tuple[str, dict[int, int]]] = field(default_factory=list)
    items_path: str | None = None
    first_event: pd.Timestamp | None = None
    last_event: pd.Timestamp | None = None


def add_totals(into: dict[str, int], more: dict[str, int]) -> dict[str, int]:
    for rule, n in more.items():
        into[rule] = into.get(rule, 0) + n
    return into


def first_by_line(frames: list[pd.DataFrame], n: int) -> pd.DataFrame:
    """The first ``n`` issues by line of several issue frames (stable among equal lines)."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return _no_issues()
    both = pd.concat(frames, ignore_index=True)
    return both.sort_values(["line"], kind="stable").head(n).reset_index(drop=True)


def merge_items(frames: list[pd.DataFrame]) -> pd.DataFrame | None:
    """Item attributes of later rows over earlier ones (last non-empty value per column)."""
    frames = [f for f in frames if f is not None and len(f)]
    if not frames:
        return None
    both = pd.concat(frames, ignore_index=True)
    if len(both.columns) == 1:
        return both.drop_duplicates("item_id").reset_index(drop=True)
    return both.groupby("item_id", sort=False).last().reset_index()


def validate_piece(task: ValidateTask) -> PieceResult:
    """Read, validate and stage one piece (see the module docstring)."""
    piece = task.piece
    result = PieceResult(piece)
    items: pd.DataFrame | None = None
    issues: list[pd.DataFrame] = []
    try:
        # Repeated rows are left to the partitions (:func:`_repeats`), which see every batch of a
        # user: a repeat is then always named after its first line in the file, not in its batch.
        checks = replace(task.mapping, duplicates="keep")
        for number, raw in enumerate(read_piece(piece, task.mapping, task.batch_rows)):
            table = validate(raw, checks, now=task.now, timestamp_guess=task.timestamp_guess,
                             keys=False, duplicate_advice=DUPLICATES_IN_FILE)
            result.rows_read += table.rows_read
            result.rows_invalid += table.rows_invalid
            result.skipped_by_mapping += table.skipped_by_mapping
            result.duplicates_dropped += table.duplicates_dropped
            result.valid_rows += len(table.events)
            if len(table.issues):
                add_totals(result.totals, issue_totals(table.issues))
                result.first_issues = first_by_line([result.first_issues, table.issues], task.report_rows)
                if task.keep_issues:
                    issues.append(table.issues)
                    result.spans.update(raw.spans(table.invalid_lines))
            if len(table.events):
                events = table.events
                if task.pseudonym_key:
                    events["user_id"] = pseudonymise(events["user_id"], task.pseudonym_key)
                low, high = events["timestamp"].min(), events["timestamp"].max()
                result.first_event = low if result.first_event is None else min(result.first_event, low)
                result.last_event = high if result.last_event is None else max(result.last_event, high)
                target = Path(task.stage) / f"batch-{piece.file_index:04d}-{piece.index:05d}-{number:05d}.parquet"
                groups = _stage(events, table.lines, table.line_ends, task.bits, target)
                result.batches.append((str(target), groups))
                items = merge_items([items, table.items]) if items is not None else table.items
    except NeedsExactReader as exc:
        return PieceResult(piece, exact_needed=str(exc))
    if task.keep_issues:
        result.issues = pd.concat(issues, ignore_index=True) if issues else _no_issues()
    if items is not None and len(items):
        path = Path(task.stage) / f"items-{piece.file_index:04d}-{piece.index:05d}.parquet"
        pq.write_table(pa.Table.from_pandas(items.reset_index(drop=True), preserve_index=False), path,
                       compression="none")
        result.items_path = str(path)
    return result


def _stage(events: pd.DataFrame, lines: np.ndarray | None, line_ends: np.ndarray | None, bits: int,
           target: Path) -> dict[int, int]:
    """Write ``events`` with their lines, sorted by user partition, one row group per partition."""
    frame = events[STAGED].reset_index(drop=True)
    frame["_line"] = lines if lines is not None else np.arange(1, len(frame) + 1)
    frame["_line_end"] = line_ends if line_ends is not None else frame["_line"]
    partition = user_partition(frame["user_id"], bits)
    order = np.argsort(partition, kind="stable")
    frame = frame.iloc[order].reset_index(drop=True)
    partition = partition[order]
    table = pa.Table.from_pandas(frame, preserve_index=False)
    groups: dict[int, int] = {}
    bounds = np.flatnonzero(np.diff(partition)) + 1
    starts = np.concatenate([[0], bounds])
    stops = np.concatenate([bounds, [len(frame)]])
    with pq.ParquetWriter(target, table.schema, compression="none") as writer:  # read once, soon
        for group, (start, stop) in enumerate(zip(starts, stops)):
            if stop > start:
                writer.write_table(table.slice(int(start), int(stop - start)), row_group_size=int(stop - start))
                groups[int(partition[start])] = group
    return groups


@dataclass(frozen=True)
class PartitionTask:
    """One user partition of everything staged, to deduplicate and write."""

    index: int
    bits: int
    #: (staged batch path, source file index, row group) in file, piece and batch order.
    batches: tuple[tuple[str, int, int], ...]
    duplicates: str
    n_files: int
    #: The workspace's events of these users (None: only find repeated rows, write nothing).
    existing: EventPartition | None
    #: Where to write the new events (None: return them in the result).
    out: str | None
    duplicate_advice: str = DUPLICATES_IN_FILE
    keep_issues: bool = False
    report_rows: int = 10


@dataclass
class PartitionResult:
    index: int
    rows_added: int = 0
    rows_present: int = 0
    users: int = 0
    duplicates_dropped: int = 0
    added_per_file: list[int] = field(default_factory=list)
    behaviours: dict[str, int] = field(default_factory=dict)
    #: Rows repeated across batches, by file: rule totals, the first issues, all (keep_issues).
    totals: dict[int, dict[str, int]] = field(default_factory=dict)
    invalid: dict[int, int] = field(default_factory=dict)
    first_issues: dict[int, pd.DataFrame] = field(default_factory=dict)
    issues: dict[int, pd.DataFrame] = field(default_factory=dict)
    spans: dict[int, dict[int, int]] = field(default_factory=dict)
    to_add: pd.DataFrame | None = None
    written: str | None = None


def dedupe_partition(task: PartitionTask) -> PartitionResult:
    """Deduplicate and key one user partition (see the module docstring)."""
    result = PartitionResult(task.index, added_per_file=[0] * task.n_files)
    frames = []
    for path, file_index, group in task.batches:
        frame = pq.ParquetFile(path).read_row_group(group).to_pandas()
        frame["_file"] = file_index
        frames.append(frame)
    if not frames:
        if task.out is None:
            result.to_add = conform_events(pd.DataFrame(columns=STAGED))
        return result
    rows = pd.concat(frames, ignore_index=True)
    del frames
    keyed = []
    for file_index, rows_f in rows.groupby("_file", sort=True):
        rows_f = rows_f.reset_index(drop=True)
        if task.duplicates != "keep":
            rows_f = _repeats(rows_f, int(file_index), task, result)
        events = conform_events(rows_f[STAGED])
        events["event_key"] = compute_event_keys(events).to_numpy()
        events["_file"] = int(file_index)
        keyed.append(events)
    del rows
    new_events = pd.concat(keyed, ignore_index=True)
    if task.existing is None:
        return result
    file_keys = {int(k["_file"].iloc[0]): k["event_key"].to_numpy() for k in keyed if len(k)}
    if len(file_keys) > 1:
        new_events = new_events.drop_duplicates("event_key").reset_index(drop=True)
    existing = task.existing.keys()
    if len(existing):  # a hash table, not a sort: the keys are random 64-bit numbers
        present = new_events["event_key"].isin(pd.Index(existing)).to_numpy()
    else:
        present = np.zeros(len(new_events), dtype=bool)
    to_add = new_events[~present].drop(columns="_file")
    result.rows_present = int(present.sum())
    result.rows_added = len(to_add)
    result.users = int(new_events["user_id"].nunique())
    added = pd.Index(to_add["event_key"].to_numpy())
    for f, keys in file_keys.items():
        result.added_per_file[f] = (len(to_add) if len(file_keys) == 1 and not present.any()
                                    else int(pd.Index(keys).isin(added).sum()))
    result.behaviours = {str(k): int(v) for k, v in to_add["behaviour"].value_counts().items()}
    to_add = to_add.sort_values(["timestamp", "event_key"], kind="stable").reset_index(drop=True)
    if task.out is None:
        result.to_add = to_add
    elif len(to_add):
        pq.write_table(pa.Table.from_pandas(conform_events(to_add), preserve_index=False), task.out)
        result.written = task.out
    return result


def _repeats(rows: pd.DataFrame, file_index: int, task: PartitionTask, result: PartitionResult) -> pd.DataFrame:
    """Apply the duplicate policy to rows repeated across batches (within a batch validation did)."""
    identity = [rows[c] for c in IDENTITY]
    repeat = rows.groupby(identity, sort=False, dropna=False).cumcount().to_numpy() > 0
    if not repeat.any():
        return rows
    if task.duplicates == "drop":
        result.duplicates_dropped += int(repeat.sum())
        return rows[~repeat].reset_index(drop=True)
    first_line = rows.groupby(identity, sort=False, dropna=False)["_line"].transform("first")
    dup = rows[repeat]
    issues = pd.DataFrame({
        "line": dup["_line"].astype("int64").to_numpy(),
        "column": "row",
        "value": dup["_line"].astype(str).to_numpy(),
        "reason": ("duplicate of line " + first_line[repeat].astype("int64").astype(str)
                   + task.duplicate_advice).to_numpy(),
        "user_id": dup["user_id"].astype(str).to_numpy(),
    })
    result.invalid[file_index] = result.invalid.get(file_index, 0) + len(issues)
    result.totals[file_index] = add_totals(result.totals.get(file_index, {}), issue_totals(issues))
    result.first_issues[file_index] = first_by_line([result.first_issues.get(file_index, _no_issues()), issues],
                                                    task.report_rows)
    if task.keep_issues:
        result.issues[file_index] = pd.concat([result.issues.get(file_index, _no_issues()), issues],
                                              ignore_index=True)
        spans = result.spans.setdefault(file_index, {})
        spans.update(zip(dup["_line"].astype(int).tolist(), dup["_line_end"].astype(int).tolist()))
    return rows[~repeat].reset_index(drop=True)
