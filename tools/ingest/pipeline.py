"""``whyrec ingest``: read, validate, deduplicate and commit a log to the workspace, atomically.

Default: a file with any bad row is refused whole, with a report naming the first bad rows.
With ``skip_invalid`` the good rows go in and the bad ones are written, with reasons, to a
CSV beside the workspace's other rejects (cells that a spreadsheet would run as formulas are
escaped with a leading ``'``: :mod:`.rejects`). Either way the workspace changes in one atomic
commit or not at all.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from ..engine import Engine, LocalEngine
from ..privacy import pseudonymise
from ..schema import ITEM_FIELDS, conform_items, empty_events
from ..workspace import SourceRecord, Workspace, partition_file_name
from .chunks import BATCH_ROWS, PIECE_BYTES, NeedsExactReader, Piece, SourcePlan, plan_source, read_piece
from .mapping import SourceMapping
from .presets import Preset
from .reader import RawTable, list_source_files, raw_rows, read_source
from .rejects import escape_cells
from .stages import (
    PartitionResult,
    PartitionTask,
    PieceResult,
    ValidateTask,
    add_totals,
    dedupe_partition,
    first_by_line,
    merge_items,
    validate_piece,
)
from .validate import DUPLICATES_IN_RECORDS, Issue, guess_timestamp_unit, validate

log = logging.getLogger(__name__)


@dataclass
class FileReport:
    """What validation found in one file."""

    path: str
    rows_read: int
    rows_invalid: int
    issue_totals: dict[str, int]
    first_issues: list[Issue]

    def to_text(self) -> str:
        lines = [f"{self.path}: {self.rows_invalid:,} of {self.rows_read:,} rows invalid"]
        lines += [f"  {rule}: {n:,}" for rule, n in self.issue_totals.items()]
        if self.first_issues:
            lines.append(f"  first {len(self.first_issues)} problems:")
            lines += [f"    {issue.to_text()}" for issue in self.first_issues]
        return "\n".join(lines)


class IngestRejected(ValueError):
    """Some rows are invalid and ``skip_invalid`` was not given; nothing was ingested."""

    def __init__(self, reports: list[FileReport]) -> None:
        self.reports = reports
        body = "\n".join(r.to_text() for r in reports if r.rows_invalid)
        super().__init__(
            "nothing was ingested: the input has invalid rows.\n" + body
            + "\nFix them, map them (--mapping), or pass --skip-invalid to ingest the valid rows "
              "and write the rejected ones, with reasons, to a file.")


@dataclass
class IngestResult:
    """The summary printed at the end of an ingest."""

    files: list[str]
    rows_read: int
    rows_added: int
    rows_already_present: int
    rows_rejected: int
    rows_skipped_by_mapping: int
    duplicates_dropped: int
    users: int
    items: int
    behaviours: dict[str, int]
    first_event: pd.Timestamp | None
    last_event: pd.Timestamp | None
    seconds: float
    data_version: int
    rejected_file: str | None = None
    reports: list[FileReport] = field(default_factory=list)
    #: User partitions of the new part (1: one file, as for a small log).
    partitions: int = 1

    def to_text(self) -> str:
        span = f"{self.first_event} .. {self.last_event}" if self.first_event is not None else "-"
        lines = [
            f"ingested {len(self.files)} file(s) in {self.seconds:.1f} s "
            f"({self.rows_read / max(self.seconds, 1e-9):,.0f} rows/s)",
            f"  rows read        {self.rows_read:,}",
            f"  events added     {self.rows_added:,}",
            f"  already present  {self.rows_already_present:,}",
            f"  rejected         {self.rows_rejected:,}"
            + (f" (written to {self.rejected_file})" if self.rejected_file else ""),
        ]
        if self.rows_skipped_by_mapping:
            lines.append(f"  skipped by map   {self.rows_skipped_by_mapping:,}")
        if self.duplicates_dropped:
            lines.append(f"  duplicates drop  {self.duplicates_dropped:,}")
        lines += [
            f"  users            {self.users:,}",
            f"  items            {self.items:,}",
            "  behaviours       " + (", ".join(f"{b} {n:,}" for b, n in self.behaviours.items()) or "-"),
            f"  time span        {span}",
            f"  data version     {self.data_version}",
        ]
        return "\n".join(lines)


#: Events per user partition of a new part: an ingest larger than this writes ``2**k``
#: partition files (k the smallest that keeps them this small), each deduplicated on its own.
PARTITION_ROWS = 1_000_000


def ingest(workspace: Workspace, source: str | Path, mapping: SourceMapping,
           preset: Preset | None = None, skip_invalid: bool = False, report_rows: int = 10,
           progress: bool = False, now: datetime | None = None,
           pseudonym_key: bytes | None = None, engine: Engine | None = None,
           partition_rows: int = PARTITION_ROWS, piece_bytes: int = PIECE_BYTES,
           batch_rows: int = BATCH_ROWS) -> IngestResult:
    """Ingest one file or folder into ``workspace``; atomic, idempotent, validated, in bounded memory.

    The source is read in pieces (``piece_bytes`` of CSV, or Parquet row groups) and batches of
    ``batch_rows`` rows; each batch is validated and staged on disk, then each user partition of
    the staged rows is deduplicated against the workspace and written as one file of the new
    part (:mod:`.stages`). Memory holds a batch or a partition, never the log. ``engine`` runs
    both steps (default: in this process; :class:`~whyrec.tools.engine.DaskEngine` on a
    cluster, with the same result). With ``pseudonym_key`` user ids are replaced by a keyed hash
    before anything is stored.

    >>> ws = Workspace.create("ws")                                   # doctest: +SKIP
    >>> ingest(ws, "2019-Oct.csv", get_preset("rees46").make_mapping({}))  # doctest: +SKIP
    """
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    path = Path(source)
    files = [preset.resolve_events(path)] if preset else list_source_files(path)
    engine = engine or LocalEngine()
    total = sum(f.stat().st_size for f in files)
    with tqdm(total=total, desc="ingest", unit="B", unit_scale=True, unit_divisor=1024,
              disable=not progress, leave=True) as bar, workspace.staging() as staging:
        stage = staging.resolve()
        bar.set_postfix_str(f"scanning {len(files)} file(s)")
        plans = engine.map(_plan, [(i, f, mapping, piece_bytes) for i, f in enumerate(files)])
        guesses = [_timestamp_guess(plan, mapping, batch_rows) for plan in plans]
        plans = [plan if guess != _EXACT else _whole(plan) for plan, guess in zip(plans, guesses)]
        guesses = [None if guess == _EXACT else guess for guess in guesses]
        estimate = sum(piece.lines if piece.kind != "whole" else plan.size // 40
                       for plan in plans for piece in plan.pieces)
        bits = _partition_bits(estimate, partition_rows)

        def task(piece: Piece, guess: str | None) -> ValidateTask:
            return ValidateTask(piece, mapping, str(stage), bits, now, pseudonym_key, guess, skip_invalid,
                                report_rows, batch_rows)

        def advance(_: int, result: PieceResult) -> None:
            bar.update(_piece_bytes(result.piece, plans))
            bar.set_postfix_str(f"validated lines {result.piece.first_line:,}+ of {Path(result.piece.path).name}")

        tasks = [task(piece, guess) for plan, guess in zip(plans, guesses) for piece in plan.pieces]
        bar.set_postfix_str("reading and validating")
        results = engine.map(validate_piece, tasks, on_done=advance if progress else None)
        retry = sorted({r.piece.file_index for r in results if r.exact_needed})
        if retry:
            log.info("reading %d file(s) with the exact reader: %s", len(retry),
                     "; ".join(r.exact_needed or "" for r in results if r.exact_needed))
            bar.set_postfix_str("re-reading with the exact reader")
            for i in retry:
                plans[i] = _whole(plans[i])
            again = engine.map(validate_piece, [task(plans[i].pieces[0], None) for i in retry])
            results = [r for r in results if r.piece.file_index not in retry] + again
        results.sort(key=lambda r: (r.piece.file_index, r.piece.index))
        bar.update(max(0, total - bar.n))

        catalog_extra = None
        if preset is not None and preset.load_catalog is not None:
            catalog_extra = preset.load_catalog(path if path.is_dir() else path.parent)
            catalog_extra, catalog_report = _check_catalog(catalog_extra, f"{preset.name} catalog")
            if catalog_report is not None and not skip_invalid:
                raise IngestRejected([catalog_report])

        bar.set_postfix_str("checking")
        phase1_invalid = any(r.rows_invalid for r in results)
        with workspace.lock():
            workspace.reload()
            detect_only = phase1_invalid and not skip_invalid
            partitions = None if detect_only else workspace.event_partitions(bits)
            part = stage / "part"
            part.mkdir()
            batches: list[list[tuple[str, int, int]]] = [[] for _ in range(1 << bits)]
            for r in results:
                for staged, groups in r.batches:
                    for index, group in groups.items():
                        batches[index].append((staged, r.piece.file_index, group))
            p_tasks = [PartitionTask(index, bits, tuple(batches[index]), mapping.duplicates, len(files),
                                     None if partitions is None else partitions[index],
                                     None if bits == 0 else str(part / partition_file_name(bits, index)),
                                     keep_issues=skip_invalid, report_rows=report_rows)
                       for index in range(1 << bits)]
            bar.set_postfix_str(f"deduplicating {len(p_tasks)} partition(s)")
            p_results = [dedupe_partition(p_tasks[0])] if bits == 0 else engine.map(dedupe_partition, p_tasks)

            reports, file_issues = _reports(plans, results, p_results, report_rows, skip_invalid)
            if any(r.rows_invalid for r in reports) and not skip_invalid:
                raise IngestRejected(reports)

            bar.set_postfix_str("committing")
            items, item_ids = _valid_items(results)
            rows_added = sum(p.rows_added for p in p_results)
            catalog = _merge_catalog(workspace.items(), [items] if items is not None else [], catalog_extra,
                                     item_ids)
            rejected_file = (_write_rejects(workspace, file_issues, mapping, pseudonym_key)
                             if skip_invalid else None)
            ingested_at = datetime.now(UTC).isoformat()
            sources = [SourceRecord(path=plan.path, sha256=plan.sha256, rows_read=report.rows_read,
                                    rows_added=sum(p.added_per_file[plan.file_index] for p in p_results),
                                    rows_rejected=report.rows_invalid, ingested_at=ingested_at)
                       for plan, report in zip(plans, reports)]
            if rows_added or catalog is not None:
                if bits == 0:
                    to_add = p_results[0].to_add if p_results[0].to_add is not None else empty_events()
                    version = workspace.commit(to_add, catalog, sources)
                else:
                    version = workspace.commit(empty_events(), catalog, sources,
                                               part=part if rows_added else None)
            else:
                version = workspace.data_version
        bar.set_postfix_str(f"{rows_added:,} events added")

    behaviours: dict[str, int] = {}
    for p in p_results:
        add_totals(behaviours, p.behaviours)
    firsts = [r.first_event for r in results if r.first_event is not None]
    lasts = [r.last_event for r in results if r.last_event is not None]
    return IngestResult(
        files=[plan.path for plan in plans],
        rows_read=sum(r.rows_read for r in reports),
        rows_added=rows_added,
        rows_already_present=sum(p.rows_present for p in p_results),
        rows_rejected=sum(r.rows_invalid for r in reports),
        rows_skipped_by_mapping=sum(r.skipped_by_mapping for r in results),
        duplicates_dropped=sum(r.duplicates_dropped for r in results) + sum(p.duplicates_dropped for p in p_results),
        users=sum(p.users for p in p_results),
        items=len(item_ids),
        behaviours=dict(sorted(behaviours.items(), key=lambda kv: -kv[1])),
        first_event=min(firsts) if firsts else None,
        last_event=max(lasts) if lasts else None,
        seconds=time.perf_counter() - started,
        data_version=version,
        rejected_file=rejected_file,
        reports=reports,
        partitions=1 << bits,
    )


_EXACT = "exact"


def _plan(args: tuple[int, Path, SourceMapping, int]) -> SourcePlan:
    index, file, mapping, piece_bytes = args
    return plan_source(index, file, mapping, piece_bytes)


def _whole(plan: SourcePlan) -> SourcePlan:
    """The same file planned as one piece for the exact reader."""
    piece = Piece(plan.file_index, plan.path, "whole", 0, plan.size, 1, 0)
    return SourcePlan(plan.file_index, plan.path, plan.sha256, plan.size, (piece,))


def _timestamp_guess(plan: SourcePlan, mapping: SourceMapping, batch_rows: int) -> str | None:
    """How a file read in several batches reads unmarked timestamps: decided once, on its first
    batch, so every batch reads them alike (None: one batch, which decides for itself).
    :data:`_EXACT` when the first batch already shows the file needs the exact reader."""
    if mapping.timestamp_unit or mapping.timestamp_format or "timestamp" not in mapping.columns:
        return None
    first = plan.pieces[0]
    if first.kind == "whole" or (len(plan.pieces) == 1 and first.lines <= batch_rows):
        return None
    try:
        raw = next(iter(read_piece(first, mapping, batch_rows)), None)
    except NeedsExactReader:
        return _EXACT
    return None if raw is None else guess_timestamp_unit(raw.frame["timestamp"])


def _partition_bits(rows: int, partition_rows: int) -> int:
    bits = 0
    while rows > partition_rows << bits and bits < 16:
        bits += 1
    return bits


def _piece_bytes(piece: Piece, plans: list[SourcePlan]) -> int:
    if piece.kind == "csv":
        return piece.stop - piece.start
    plan = plans[piece.file_index]
    if piece.kind == "whole":
        return plan.size
    rows = sum(p.lines for p in plan.pieces) or 1
    return int(plan.size * piece.lines / rows)


def _reports(plans: list[SourcePlan], results: list[PieceResult], p_results: list[PartitionResult],
             report_rows: int, keep: bool) -> tuple[list[FileReport], list[tuple[str, pd.DataFrame, dict[int, int]]]]:
    """Each file's report (validation's issues and rows repeated across batches), and, with
    ``keep``, each file's issues and the spans of their rows for the reject file."""
    reports, file_issues = [], []
    for plan in plans:
        mine = [r for r in results if r.piece.file_index == plan.file_index]
        totals: dict[str, int] = {}
        for r in mine:
            add_totals(totals, r.totals)
        invalid = sum(r.rows_invalid for r in mine)
        firsts = [r.first_issues for r in mine]
        issues = [r.issues for r in mine if r.issues is not None]
        spans: dict[int, int] = {}
        for r in mine:
            spans.update(r.spans)
        for p in p_results:
            if plan.file_index in p.invalid:
                invalid += p.invalid[plan.file_index]
                add_totals(totals, p.totals[plan.file_index])
                firsts.append(p.first_issues[plan.file_index])
                if keep:
                    repeated = p.issues[plan.file_index].copy()
                    repeated["_pseudonymised"] = True
                    issues.append(repeated)
                    spans.update(p.spans.get(plan.file_index, {}))
        first = first_by_line(firsts, report_rows)
        listed = [Issue(int(i.line), str(i.column), str(i.value), str(i.reason))
                  for i in first.itertuples(index=False)]
        ordered = dict(sorted(totals.items(), key=lambda kv: -kv[1]))
        reports.append(FileReport(plan.path, sum(r.rows_read for r in mine), invalid, ordered, listed))
        if keep and invalid:
            frame = pd.concat(issues, ignore_index=True) if issues else first.iloc[0:0]
            file_issues.append((plan.path, frame, spans))
    return reports, file_issues


def _valid_items(results: list[PieceResult]) -> tuple[pd.DataFrame | None, pd.Series]:
    """The valid rows' item attributes (None if the log carries none) and their item ids."""
    merged: pd.DataFrame | None = None
    for r in results:
        if r.items_path is not None:
            merged = merge_items([merged, pd.read_parquet(r.items_path)]) if merged is not None else \
                merge_items([pd.read_parquet(r.items_path)])
    if merged is None:
        return None, pd.Series([], dtype="string")
    ids = merged["item_id"].astype("string")
    return (merged if len(merged.columns) > 1 else None), ids


def _merge_catalog(current: pd.DataFrame, from_events: list[pd.DataFrame],
                   catalog_extra: pd.DataFrame | None, new_item_ids: pd.Series) -> pd.DataFrame | None:
    """The catalog after this ingest, or ``None`` if nothing about items changed.

    Each item's ``extra`` records where it first came from (:data:`ORIGIN_EVENTS` for an item
    first seen in an event log or posted events, :data:`ORIGIN_CATALOG` for a catalog file), so
    forgetting a user can remove the items that only that user's events brought in.
    """
    additions = [f for f in from_events if len(f) and len(f.columns) > 1]
    if catalog_extra is not None:
        additions.append(catalog_extra)
    unknown = pd.Index(new_item_ids.unique()).difference(pd.Index(current["item_id"]))
    if not additions and not len(unknown):
        return None
    frames = [current] + additions + [pd.DataFrame({"item_id": unknown})]
    merged = pd.concat([conform_items(f) for f in frames], ignore_index=True)
    merged = merged.groupby("item_id", sort=False).last().reset_index()
    merged["title"] = merged["title"].fillna("Item " + merged["item_id"].astype(str))
    merged = conform_items(merged)
    is_new = ~merged["item_id"].isin(current["item_id"])
    merged.loc[is_new, "extra"] = ORIGIN_EVENTS
    if catalog_extra is not None:
        merged.loc[merged["item_id"].isin(catalog_extra["item_id"]), "extra"] = ORIGIN_CATALOG
    if len(merged) == len(current) and merged.equals(current):
        return None
    return merged


#: ``extra`` of a catalog item first seen in events (a log's rows or POST /v1/events).
ORIGIN_EVENTS = json.dumps({"origin": "events"})
#: ``extra`` of a catalog item from a catalog file.
ORIGIN_CATALOG = json.dumps({"origin": "catalog"})


def _check_catalog(catalog: pd.DataFrame, name: str) -> tuple[pd.DataFrame, FileReport | None]:
    """A catalog file's items under the same id and text rules as events: the good ones, and a
    report on the others (rows numbered from 1)."""
    frame = pd.DataFrame({c: catalog[c] for c in catalog.columns if c in ("item_id",) + ITEM_FIELDS})
    frame["user_id"], frame["timestamp"], frame["behaviour"] = "catalog", "2000-01-01T00:00:00Z", "view"
    raw = RawTable(Path(name), frame.astype("string"), pd.Series(range(1, len(frame) + 1), index=frame.index),
                   [], "")
    columns = {c: c for c in frame.columns}
    table = validate(raw, SourceMapping(columns=columns, duplicates="keep", name=name))
    if not table.rows_invalid:
        return catalog, None
    bad = raw.line_numbers.isin(table.invalid_lines).to_numpy()
    report = FileReport(name, len(frame), table.rows_invalid, table.issue_totals(), table.first_issues(10))
    return catalog[~bad], report


def _write_rejects(workspace: Workspace, file_issues: list[tuple[str, pd.DataFrame, dict[int, int]]],
                   mapping: SourceMapping, pseudonym_key: bytes | None) -> str | None:
    """Write the rejected rows, with reasons and each row as written, to a new file.

    ``file_issues`` holds each file's issues and the spans (first line -> last line) of their
    rows. The name is unique (parallel ingests each keep theirs) and the file appears whole or
    not at all. With ``pseudonym_key`` the rows as written are withheld and user ids are
    pseudonymised: the workspace must not hold the source's ids. Text cells a spreadsheet would
    run as a formula (``=``, ``+``, ``-``, ``@``, tab, CR first) start with ``'`` (:mod:`.rejects`).
    """
    issues = []
    for path, table_issues, lines in file_issues:
        if not len(table_issues):
            continue
        frame = table_issues.copy()
        done = (frame.pop("_pseudonymised").fillna(False).astype(bool) if "_pseudonymised" in frame
                else pd.Series(False, index=frame.index))
        frame = frame[["line", "column", "value", "reason", "user_id"]]
        frame.insert(0, "file", path)
        if pseudonym_key:
            named = (frame["user_id"] != "") & ~done
            frame.loc[named, "user_id"] = pseudonymise(frame.loc[named, "user_id"], pseudonym_key).to_numpy()
            own = (frame["column"] == "user_id") & (frame["value"] != "")
            frame.loc[own, "value"] = pseudonymise(frame.loc[own, "value"], pseudonym_key).to_numpy()
            frame["raw"] = "(withheld: user ids are pseudonymised)"
        else:
            texts = raw_rows(Path(path), mapping, lines)
            frame["raw"] = frame["line"].astype(int).map(texts).fillna("")
        issues.append(frame)
    if not issues:
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    target = workspace.rejected_path / f"rejected-{stamp}-{uuid.uuid4().hex[:8]}.csv"
    tmp = target.with_suffix(".tmp")
    rows = pd.concat(issues, ignore_index=True).sort_values(["file", "line"], kind="stable")
    escape_cells(rows).to_csv(tmp, index=False)
    os.replace(tmp, target)
    return str(target)


def read_preset(name: str, path: str | Path, **options: object) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Events and catalog of a built-in dataset, validated, without a workspace.

    Used by evaluation and benchmarks. Raises :class:`IngestRejected` on invalid rows.

    >>> events, items = read_preset("tmall2014", "../shared/data/tmall-brand-rec-2014")  # doctest: +SKIP
    """
    from .presets import get_preset

    preset = get_preset(name)
    mapping = preset.make_mapping(dict(options))
    source = Path(path)
    raw = read_source(preset.resolve_events(source), mapping)
    table = validate(raw, mapping)
    if table.rows_invalid:
        raise IngestRejected([FileReport(table.path, table.rows_read, table.rows_invalid,
                                         table.issue_totals(), table.first_issues(10))])
    extra = preset.load_catalog(source if source.is_dir() else source.parent) if preset.load_catalog else None
    empty = pd.DataFrame({"item_id": pd.Series(dtype="string")})
    catalog = _merge_catalog(conform_items(empty), [table.items], extra, table.events["item_id"])
    events = table.events.sort_values(["timestamp", "event_key"], kind="stable").reset_index(drop=True)
    return events, catalog if catalog is not None else conform_items(empty)


#: The mapping of events posted as JSON records (the HTTP API's POST /v1/events).
RECORD_FIELDS = ("user_id", "item_id", "behaviour", "timestamp", "session_id", "value")


def ingest_records(workspace: Workspace, records: list[dict[str, object]], source: str = "api",
                   now: datetime | None = None) -> IngestResult:
    """Validate and append events given as records (all or nothing, same rules as files).

    Timestamps are ISO 8601 strings or Unix seconds; behaviours use the vocabulary or its
    aliases. Raises :class:`IngestRejected` naming the bad records (1-based) and fields.
    """
    started = time.perf_counter()
    frame = pd.DataFrame.from_records(records, columns=list(RECORD_FIELDS))
    frame = frame.astype("string")
    sent = frame["timestamp"]
    frame["timestamp"] = _seconds_as_iso(sent)
    mapping = SourceMapping(columns={f: f for f in RECORD_FIELDS}, duplicates="reject", name=source)
    raw = RawTable(Path(source), frame, pd.Series(range(1, len(frame) + 1), index=frame.index), [], "")
    table = validate(raw, mapping, now=now, duplicate_advice=DUPLICATES_IN_RECORDS)
    if table.rows_invalid:
        shown = table.issues["column"] == "timestamp"  # report what was sent, not its ISO form
        lines = table.issues.loc[shown, "line"].to_numpy() - 1
        table.issues.loc[shown, "value"] = sent.fillna("").astype(str).to_numpy()[lines]
        raise IngestRejected([FileReport(f"{source} (record numbers are 1-based)", table.rows_read,
                                         table.rows_invalid, table.issue_totals(), table.first_issues(10))])
    with workspace.lock():
        workspace.reload()
        present = table.events["event_key"].isin(workspace.event_keys())
        to_add = table.events[~present]
        catalog = _merge_catalog(workspace.items(), [], None, to_add["item_id"])
        record = SourceRecord(path=source, sha256="", rows_read=table.rows_read, rows_added=len(to_add),
                              rows_rejected=0, ingested_at=datetime.now(UTC).isoformat())
        version = workspace.commit(to_add, catalog, [record]) if len(to_add) else workspace.data_version
    counts = to_add["behaviour"].value_counts()
    events = table.events
    return IngestResult(
        files=[source], rows_read=table.rows_read, rows_added=len(to_add),
        rows_already_present=int(present.sum()), rows_rejected=0, rows_skipped_by_mapping=0,
        duplicates_dropped=0, users=int(events["user_id"].nunique()), items=int(events["item_id"].nunique()),
        behaviours={str(k): int(v) for k, v in counts.items()},
        first_event=None if events.empty else events["timestamp"].min(),
        last_event=None if events.empty else events["timestamp"].max(),
        seconds=time.perf_counter() - started, data_version=version)


def _seconds_as_iso(raw: pd.Series) -> pd.Series:
    """Unix seconds as ISO 8601 text, so one request may mix both forms (ISO text is kept).

    Without this a column of numbers is read as seconds or milliseconds by its magnitude, and a
    number beside an ISO date is "unparseable". Numbers beyond pandas' datetime range are clipped
    to a moment centuries away, which validation then reports as out of range.
    """
    text = raw.str.strip()
    seconds = pd.to_numeric(text, errors="coerce").astype("float64")
    numeric = seconds.notna()
    stamps = pd.to_datetime(seconds.clip(-7e9, 7e9).where(numeric), unit="s", utc=True)
    iso = stamps.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ").astype("string")
    return text.mask(numeric, iso)
