"""Validation: turn a raw text table into canonical events, or say exactly which rows are wrong.

Every rule is vectorised (a million rows in seconds) and produces issues of the form
(line, column, value, reason). Rules: encoding problems, wrong field counts, missing ids, ids
that break the id rule (:func:`whyrec.tools.schema.id_problem`: URL-safe, at most 128
characters), text too long or (titles, categories, brands) not on one line, unknown behaviours,
ratings without a value, unparseable or out-of-range timestamps, non-numeric values and prices,
and identical duplicate rows (per the mapping's duplicate policy). A header row that is data
(the mapping names columns by position and line 1 holds a timestamp) is a mapping error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from ..schema import (
    BEHAVIOURS,
    ID_FIELDS,
    ITEM_FIELDS,
    MAX_TEXT_LENGTH,
    ONE_LINE_FIELDS,
    canonical_behaviour,
    compute_event_keys,
    conform_events,
    id_problems,
)
from .mapping import SKIP, MappingError, SourceMapping
from .reader import RawTable

EARLIEST_TIMESTAMP = pd.Timestamp("1980-01-01", tz="UTC")
REPLACEMENT_CHAR = "\ufffd"
_CONTROL = r"[\x00-\x1f\x7f]"
#: Text-direction embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069): shown
#: unclosed, one reverses the words around it ("exe.png" for "gnp.exe", the app's own words
#: after it too). Right-to-left scripts need none of them; the marks U+200E/U+200F stay allowed.
_DIRECTION = "[\u202a-\u202e\u2066-\u2069]"


@dataclass
class Issue:
    """One problem with one field of one row."""

    line: int
    column: str
    value: str
    reason: str

    def to_text(self) -> str:
        shown = self.value if len(self.value) <= 60 else self.value[:57] + "..."
        return f"line {self.line}: {self.column} = {shown!r}: {self.reason}"


@dataclass
class ValidatedTable:
    """The outcome of validating one source file."""

    path: str
    rows_read: int
    events: pd.DataFrame                   # valid rows as canonical events (keys computed)
    items: pd.DataFrame                    # item attributes carried by the valid rows
    issues: pd.DataFrame                   # line, column, value, reason (one row per issue)
    skipped_by_mapping: int = 0            # rows whose behaviour maps to "skip"
    duplicates_dropped: int = 0
    invalid_lines: list[int] = field(default_factory=list)
    sha256: str = ""
    #: First and last physical line of each row of ``events`` (rows spanning lines differ).
    lines: np.ndarray | None = None
    line_ends: np.ndarray | None = None

    @property
    def rows_invalid(self) -> int:
        return len(self.invalid_lines)

    def first_issues(self, n: int = 10) -> list[Issue]:
        head = self.issues.sort_values(["line"], kind="stable").head(n)
        return [Issue(int(r.line), str(r.column), str(r.value), str(r.reason))
                for r in head.itertuples(index=False)]

    def issue_totals(self) -> dict[str, int]:
        """Count of issues by rule (the reason text up to its first detail)."""
        return issue_totals(self.issues)


def issue_totals(issues: pd.DataFrame) -> dict[str, int]:
    """Count of issues by rule (the reason text up to its first detail), most frequent first."""
    rules = issues["reason"].astype(str).str.split(":").str[0].str.replace(r"'.*", "", regex=True).str.strip()
    return {str(k): int(v) for k, v in rules.value_counts().items()}


class _Collector:
    def __init__(self, lines: pd.Series, users: pd.Series | None) -> None:
        self.lines = lines
        self.users = users
        self.parts: list[pd.DataFrame] = []
        self.bad = pd.Series(False, index=lines.index)

    def flag(self, mask: pd.Series, column: str, values: pd.Series, reason: str | pd.Series) -> None:
        mask = mask.fillna(False).astype(bool)
        if not mask.any():
            return
        reasons = reason[mask] if isinstance(reason, pd.Series) else reason
        users = (self.users[mask].astype("string").fillna("").astype(str) if self.users is not None
                 else "")
        self.parts.append(pd.DataFrame({
            "line": self.lines[mask].astype("int64"),
            "column": column,
            "value": values[mask].astype("string").fillna("").astype(str),
            "reason": reasons,
            "user_id": users,
        }))
        self.bad |= mask

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame({"line": pd.Series(dtype="int64"), "column": pd.Series(dtype=str),
                                 "value": pd.Series(dtype=str), "reason": pd.Series(dtype=str),
                                 "user_id": pd.Series(dtype=str)})
        return pd.concat(self.parts, ignore_index=True)


#: Said after "duplicate of line N" for a file: repeats may be real actions.
DUPLICATES_IN_FILE = ' (set [options] duplicates = "keep" if repeats are real actions)'
#: Said after "duplicate of record N" for events posted to the API, which has no options.
DUPLICATES_IN_RECORDS = (" (the same event twice in one request: send it once, or tell repeated "
                         "actions apart by their timestamps or session ids)")


def validate(raw: RawTable, mapping: SourceMapping, now: datetime | None = None,
             duplicate_advice: str = DUPLICATES_IN_FILE, timestamp_guess: str | None = None,
             keys: bool = True) -> ValidatedTable:
    """Check every row of ``raw`` against ``mapping``; return valid events and all issues.

    ``duplicate_advice`` is said after "duplicate of line N" (files and API records differ in
    what a user can do about it). Raises :class:`MappingError` when the mapping's header setting
    cannot be right (line 1 read as a header although it holds data).

    A file validated in batches passes the first batch's :func:`guess_timestamp_unit` as
    ``timestamp_guess`` to every batch, so all of them read unmarked timestamps alike; with
    ``keys=False`` the event keys are left 0 (a caller that numbers repeats across batches
    computes them itself).
    """
    frame = raw.frame
    text = {c: frame[c].astype("string").str.strip() for c in frame.columns}
    empty = {c: text[c].isna() | (text[c] == "") for c in frame.columns}
    issues = _Collector(raw.line_numbers, text.get("user_id"))
    _check_header_is_not_data(raw, mapping, now)

    garbled = {}
    for column in frame.columns:
        garbled[column] = text[column].str.contains(REPLACEMENT_CHAR, regex=False).fillna(False)
        issues.flag(garbled[column], column, text[column], f"encoding problem: not valid {mapping.encoding}")
    for field_name in ID_FIELDS:
        issues.flag(empty[field_name], field_name, text[field_name], f"missing {field_name}")
        problems = id_problems(text[field_name].where(~empty[field_name] & ~garbled[field_name], "x"))
        invalid = problems.notna()
        if invalid.any():
            issues.flag(invalid, field_name, text[field_name],
                        f"not a valid {field_name.replace('_', ' ')}: it " + problems.fillna("").astype(str))
    for field_name, longest in MAX_TEXT_LENGTH.items():
        if field_name not in text:
            continue
        length = text[field_name].str.len().fillna(0)
        too_long = (length > longest) & ~garbled[field_name]
        if too_long.any():
            issues.flag(too_long, field_name, text[field_name],
                        f"{field_name} too long: " + length.astype("int64").map("{:,}".format).astype(str)
                        + f" characters, at most {longest:,}")
        direction = text[field_name].str.contains(_DIRECTION, regex=True).fillna(False).astype(bool)
        issues.flag((length <= longest) & direction & ~garbled[field_name], field_name, text[field_name],
                    f"{field_name} holds a text-direction control character (U+202A-U+202E or "
                    f"U+2066-U+2069): it would reorder the words shown around it")
        if field_name in ONE_LINE_FIELDS:
            one_line = ~text[field_name].str.contains(_CONTROL, regex=True).fillna(False)
            issues.flag((length <= longest) & ~one_line & ~garbled[field_name],
                        field_name, text[field_name],
                        f"{field_name} holds a line break or another control character (one line "
                        f"of text expected: is a closing quote missing?)")

    value = _numeric(text, empty, "value", issues, "value is not a number")
    behaviour, skipped = _behaviours(text, empty, value, mapping, issues)
    rating = (behaviour == "rating").fillna(False).astype(bool)
    if value is None:
        issues.flag(rating, "value", pd.Series("", index=frame.index),
                    "a rating needs its value, and the mapping has no value column: map one in [columns]")
    else:
        issues.flag(rating & empty["value"], "value", text["value"], "a rating needs its value")
    timestamp = _timestamps(text["timestamp"], empty["timestamp"], mapping, issues, now, timestamp_guess)
    price = _numeric(text, empty, "price", issues, "price is not a number")
    if price is not None:
        issues.flag(price < 0, "price", text["price"], "price is negative")

    events = pd.DataFrame({
        "user_id": text["user_id"],
        "item_id": text["item_id"],
        "behaviour": behaviour,
        "timestamp": timestamp,
        "session_id": text["session_id"].where(~empty["session_id"]) if "session_id" in text else pd.NA,
        "value": value if value is not None else np.nan,
    }, index=frame.index)

    keep = ~issues.bad & ~skipped
    duplicates_dropped = 0
    identity = ["user_id", "item_id", "behaviour", "timestamp", "session_id", "value"]
    if mapping.duplicates != "keep":
        candidates = events[keep]
        is_dup = candidates.duplicated(identity, keep="first")
        if is_dup.any():
            if mapping.duplicates == "drop":
                duplicates_dropped = int(is_dup.sum())
                keep &= ~is_dup.reindex(events.index, fill_value=False)
            else:
                first_line = (raw.line_numbers[keep].groupby(
                    [candidates[c] for c in identity], dropna=False, sort=False).transform("first"))
                mask = is_dup.reindex(events.index, fill_value=False)
                reason = "duplicate of line " + first_line.reindex(events.index).astype("Int64").astype(str)
                issues.flag(mask, "row", raw.line_numbers.astype(str), reason + duplicate_advice)
                keep &= ~mask

    malformed = pd.DataFrame(raw.malformed, columns=["line", "reason"])
    if len(malformed):
        malformed["column"] = "row"
        malformed["value"] = ""
        malformed["user_id"] = ""
    columns = ["line", "column", "value", "reason", "user_id"]
    issue_frame = pd.concat([issues.frame(), malformed[columns]] if len(malformed) else [issues.frame()],
                            ignore_index=True)
    invalid_lines = sorted(set(issue_frame["line"].astype(int).tolist()))

    valid = conform_events(events[keep])
    valid["event_key"] = compute_event_keys(valid).to_numpy() if keys else np.zeros(len(valid), dtype=np.uint64)
    items = _item_attributes(text, empty, price, keep, mapping)
    return ValidatedTable(
        path=str(raw.path), rows_read=len(frame) + len(malformed), events=valid, items=items,
        issues=issue_frame, skipped_by_mapping=int((skipped & ~issues.bad).sum()),
        duplicates_dropped=duplicates_dropped, invalid_lines=invalid_lines, sha256=raw.sha256,
        lines=raw.line_numbers[keep].to_numpy(dtype=np.int64),
        line_ends=(raw.line_ends if raw.line_ends is not None else raw.line_numbers)[keep].to_numpy(dtype=np.int64))


def _check_header_is_not_data(raw: RawTable, mapping: SourceMapping, now: datetime | None) -> None:
    """Refuse a header row that is data: the mapping names columns by position (so the header's
    names are not checked) and the header cell under ``timestamp`` reads as a timestamp."""
    position = mapping.columns.get("timestamp")
    if raw.header is None or not isinstance(position, int) or position >= len(raw.header):
        return
    cell = pd.Series([raw.header[position]], dtype="string").str.strip()
    probe = _Collector(pd.Series([1]), None)
    parsed = _timestamps(cell, cell.isna() | (cell == ""), mapping, probe, now)
    if parsed.notna().all():
        shown = ", ".join(repr(c) for c in raw.header[:6]) + (", ..." if len(raw.header) > 6 else "")
        raise MappingError(
            f"{raw.path.name}: line 1 ({shown}) looks like data, not a header: its column "
            f"{position} reads as a timestamp. If the file has no header, set [options] "
            f"header = false (with header = true line 1 would be dropped as column names)")


def _numeric(text: dict[str, pd.Series], empty: dict[str, pd.Series], name: str,
             issues: _Collector, reason: str) -> pd.Series | None:
    if name not in text:
        return None
    number = pd.to_numeric(text[name].where(~empty[name]), errors="coerce").astype("float64")
    bad = ~empty[name] & (number.isna() | ~np.isfinite(number.fillna(0)))
    issues.flag(bad, name, text[name], reason)
    return number.where(~bad)


def _behaviours(text: dict[str, pd.Series], empty: dict[str, pd.Series], value: pd.Series | None,
                mapping: SourceMapping, issues: _Collector) -> tuple[pd.Series, pd.Series]:
    index = next(iter(text.values())).index
    if mapping.rating_levels and "behaviour" not in text:
        if value is None:
            issues.flag(pd.Series(True, index=index), "value", pd.Series("", index=index),
                        "rating_levels need a value column holding the rating")
            return pd.Series(pd.NA, index=index, dtype="string"), pd.Series(False, index=index)
        result = pd.Series(pd.NA, index=index, dtype="string")
        for threshold, name in sorted(mapping.rating_levels, reverse=True):
            result = result.mask(result.isna() & (value >= threshold), name)
        issues.flag(empty["value"], "value", text["value"], "missing rating")
        return result, pd.Series(False, index=index)
    raw = text["behaviour"]
    unique = raw.dropna().unique()
    lookup = {}
    for name in unique:
        target = mapping.behaviours.get(name) or mapping.behaviours.get(name.lower())
        lookup[name] = target if target else canonical_behaviour(name)
    mapped = raw.map(lookup).astype("string")
    skipped = mapped == SKIP
    unknown = mapped.isna()
    issues.flag(unknown & empty["behaviour"], "behaviour", raw, "missing behaviour")
    issues.flag(unknown & ~empty["behaviour"], "behaviour", raw,
                "unknown behaviour: map it to one of " + ", ".join(BEHAVIOURS) + " in [behaviours]")
    return mapped.where(~skipped), skipped.fillna(False)


#: :func:`guess_timestamp_unit`'s answer for timestamps that are not all numbers (read as text).
TEXT_TIMESTAMPS = "text"


def guess_timestamp_unit(raw: pd.Series) -> str | None:
    """How unmarked timestamps (no unit, no format in the mapping) read: ``"s"`` or ``"ms"``
    when every non-empty one is a number (ms above 1e11), :data:`TEXT_TIMESTAMPS` otherwise,
    None when there is none."""
    values = raw.astype("string").str.strip()
    values = values.where(values != "").dropna()
    if not len(values):
        return None
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().sum() == len(values):
        return "ms" if numeric.max() > 1e11 else "s"
    return TEXT_TIMESTAMPS


def _timestamps(raw: pd.Series, empty: pd.Series, mapping: SourceMapping, issues: _Collector,
                now: datetime | None, guess: str | None = None) -> pd.Series:
    now = now or datetime.now(UTC)
    latest = pd.Timestamp(now + timedelta(days=1))
    unit = mapping.timestamp_unit
    fmt = mapping.timestamp_format
    values = raw.where(~empty)
    if unit is None and fmt is None:
        if guess is None:
            numeric = pd.to_numeric(values, errors="coerce")
            if len(values.dropna()) and numeric.notna().sum() == values.notna().sum():
                unit = "ms" if numeric.max() > 1e11 else "s"
        elif guess != TEXT_TIMESTAMPS:
            unit = guess
    if unit:
        numeric = pd.to_numeric(values, errors="coerce")
        per_second = {"s": 1, "ms": 1e3, "us": 1e6, "ns": 1e9}[unit]
        seconds = numeric / per_second
        in_range = seconds.between(EARLIEST_TIMESTAMP.timestamp(), latest.timestamp())
        parsed = pd.to_datetime(numeric.where(in_range), unit=unit, utc=True, errors="coerce")
        issues.flag(~empty & numeric.isna(), "timestamp", raw,
                    f"unparseable timestamp: expected a number of {unit} since 1970")
        issues.flag(~empty & numeric.notna() & ~in_range, "timestamp", raw,
                    f"timestamp out of range: outside {EARLIEST_TIMESTAMP.date()} .. {latest.date()} "
                    f"when read as {unit} since 1970")
    else:
        if fmt and mapping.year is not None and "%Y" not in fmt and "%y" not in fmt:
            values = f"{mapping.year}-" + values
            fmt = "%Y-" + fmt
        parsed = pd.to_datetime(values, format=fmt or "ISO8601", utc=True, errors="coerce")
        expected = f"format {mapping.timestamp_format!r}" if fmt else "an ISO 8601 date-time"
        issues.flag(~empty & parsed.isna(), "timestamp", raw, f"unparseable timestamp: expected {expected}")
        out = parsed.notna() & ((parsed < EARLIEST_TIMESTAMP) | (parsed > latest))
        issues.flag(out, "timestamp", raw,
                    f"timestamp out of range: outside {EARLIEST_TIMESTAMP.date()} .. {latest.date()}")
        parsed = parsed.where(~out)
    issues.flag(empty, "timestamp", raw, "missing timestamp")
    return parsed.astype("datetime64[ns, UTC]")


def _item_attributes(text: dict[str, pd.Series], empty: dict[str, pd.Series], price: pd.Series | None,
                     keep: pd.Series, mapping: SourceMapping) -> pd.DataFrame:
    """Latest non-empty attribute of each item among the valid rows (plus a built title)."""
    columns = {"item_id": text["item_id"]}
    for name in ITEM_FIELDS:
        if name == "price" and price is not None:
            columns[name] = price
        elif name in text:
            columns[name] = text[name].where(~empty[name])
    frame = pd.DataFrame(columns)[keep]
    if mapping.title_builder is not None and "title" not in text:
        frame["title"] = mapping.title_builder(frame)
    if len(frame.columns) == 1:
        return frame.drop_duplicates("item_id")
    return frame.groupby("item_id", sort=False).last().reset_index()
