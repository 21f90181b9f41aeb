"""``whyrec ingest``: read, validate, deduplicate and commit a log to the workspace, atomically.

Default: a file with any bad row is refused whole, with a report naming the first bad rows.
With ``skip_invalid`` the good rows go in and the bad ones are written, with reasons, to a
CSV beside the workspace's other rejects. Either way the workspace changes in one atomic
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

from ..privacy import pseudonymise
from ..schema import ITEM_FIELDS, compute_event_keys, conform_items
from ..workspace import SourceRecord, Workspace
from .mapping import SourceMapping
from .presets import Preset
from .reader import RawTable, list_source_files, raw_rows, read_source
from .validate import DUPLICATES_IN_RECORDS, Issue, ValidatedTable, validate

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


def ingest(workspace: Workspace, source: str | Path, mapping: SourceMapping,
           preset: Preset | None = None, skip_invalid: bool = False, report_rows: int = 10,
           progress: bool = False, now: datetime | None = None,
           pseudonym_key: bytes | None = None) -> IngestResult:
    """Ingest one file or folder into ``workspace``; atomic, idempotent, validated.

    With ``pseudonym_key`` user ids are replaced by a keyed hash before anything is stored.

    >>> ws = Workspace.create("ws")                                   # doctest: +SKIP
    >>> ingest(ws, "2019-Oct.csv", get_preset("rees46").make_mapping({}))  # doctest: +SKIP
    """
    started = time.perf_counter()
    path = Path(source)
    files = [preset.resolve_events(path)] if preset else list_source_files(path)
    tables: list[ValidatedTable] = []
    spans: list[dict[int, int]] = []  # the invalid rows' physical lines, for the reject file
    total = sum(f.stat().st_size for f in files)
    with tqdm(total=total, desc="ingest", unit="B", unit_scale=True, unit_divisor=1024,
              disable=not progress, leave=True) as bar:
        for file in files:
            bar.set_postfix_str(f"reading {file.name}")
            raw = read_source(file, mapping, progress=bar.update if progress else None)
            bar.set_postfix_str(f"validating {len(raw.frame):,} rows")
            table = validate(raw, mapping, now=now)
            if pseudonym_key:
                table.events["user_id"] = pseudonymise(table.events["user_id"], pseudonym_key)
                table.events["event_key"] = compute_event_keys(table.events).to_numpy()
            tables.append(table)
            spans.append(raw.spans(table.invalid_lines) if skip_invalid and table.rows_invalid else {})
            del raw
        bar.set_postfix_str("checking")

        catalog_extra = None
        if preset is not None and preset.load_catalog is not None:
            catalog_extra = preset.load_catalog(path if path.is_dir() else path.parent)
            catalog_extra, catalog_report = _check_catalog(catalog_extra, f"{preset.name} catalog")
            if catalog_report is not None and not skip_invalid:
                raise IngestRejected([catalog_report])

        reports = [FileReport(t.path, t.rows_read, t.rows_invalid, t.issue_totals(),
                              t.first_issues(report_rows)) for t in tables]
        if any(r.rows_invalid for r in reports) and not skip_invalid:
            raise IngestRejected(reports)

        bar.set_postfix_str("committing")
        with workspace.lock():
            workspace.reload()
            existing = workspace.event_keys()
            new_events = pd.concat([t.events for t in tables], ignore_index=True)
            new_events = new_events.drop_duplicates("event_key")
            present = new_events["event_key"].isin(existing)
            to_add = new_events[~present]
            catalog = _merge_catalog(workspace.items(), [t.items for t in tables], catalog_extra,
                                     to_add["item_id"])
            rejected_file = (_write_rejects(workspace, tables, spans, mapping, pseudonym_key)
                             if skip_invalid else None)
            added = new_events["event_key"][~present]
            sources = [SourceRecord(path=t.path, sha256=t.sha256, rows_read=t.rows_read,
                                    rows_added=int(added.isin(t.events["event_key"]).sum()),
                                    rows_rejected=t.rows_invalid,
                                    ingested_at=datetime.now(UTC).isoformat()) for t in tables]
            catalog_changed = catalog is not None
            if len(to_add) or catalog_changed:
                version = workspace.commit(to_add, catalog, sources)
            else:
                version = workspace.data_version
        bar.set_postfix_str(f"{len(to_add):,} events added")

    counts = to_add["behaviour"].value_counts()
    return IngestResult(
        files=[t.path for t in tables],
        rows_read=sum(t.rows_read for t in tables),
        rows_added=len(to_add),
        rows_already_present=int(present.sum()),
        rows_rejected=sum(t.rows_invalid for t in tables),
        rows_skipped_by_mapping=sum(t.skipped_by_mapping for t in tables),
        duplicates_dropped=sum(t.duplicates_dropped for t in tables),
        users=int(new_events["user_id"].nunique()),
        items=int(new_events["item_id"].nunique()),
        behaviours={str(k): int(v) for k, v in counts.items()},
        first_event=None if new_events.empty else new_events["timestamp"].min(),
        last_event=None if new_events.empty else new_events["timestamp"].max(),
        seconds=time.perf_counter() - started,
        data_version=version,
        rejected_file=rejected_file,
        reports=reports,
    )


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


def _write_rejects(workspace: Workspace, tables: list[ValidatedTable], spans: list[dict[int, int]],
                   mapping: SourceMapping, pseudonym_key: bytes | None) -> str | None:
    """Write the rejected rows, with reasons and each row as written, to a new file.

    The name is unique (parallel ingests each keep theirs) and the file appears whole or not at
    all. With ``pseudonym_key`` the rows as written are withheld and user ids are pseudonymised:
    the workspace must not hold the source's ids.
    """
    issues = []
    for table, lines in zip(tables, spans):
        if not len(table.issues):
            continue
        frame = table.issues.copy()
        frame.insert(0, "file", table.path)
        if pseudonym_key:
            named = frame["user_id"] != ""
            frame.loc[named, "user_id"] = pseudonymise(frame.loc[named, "user_id"], pseudonym_key).to_numpy()
            own = (frame["column"] == "user_id") & (frame["value"] != "")
            frame.loc[own, "value"] = pseudonymise(frame.loc[own, "value"], pseudonym_key).to_numpy()
            frame["raw"] = "(withheld: user ids are pseudonymised)"
        else:
            texts = raw_rows(Path(table.path), mapping, lines)
            frame["raw"] = frame["line"].astype(int).map(texts).fillna("")
        issues.append(frame)
    if not issues:
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    target = workspace.rejected_path / f"rejected-{stamp}-{uuid.uuid4().hex[:8]}.csv"
    tmp = target.with_suffix(".tmp")
    pd.concat(issues, ignore_index=True).sort_values(["file", "line"], kind="stable").to_csv(tmp, index=False)
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
