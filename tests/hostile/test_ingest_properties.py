"""Property-based tests of ingest: hostile CSV text and bytes, hostile records, hostile mappings.

Whatever the input, ingest either succeeds with exactly the valid rows, or raises
IngestRejected / MappingError naming what is wrong, and then leaves the workspace untouched.
Files are built from a row model whose validity is known, so the oracle is independent of
the code under test.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from whyrec.tools.ingest.mapping import MappingError, SourceMapping, mapping_from_dict
from whyrec.tools.ingest.pipeline import RECORD_FIELDS, IngestRejected, ingest, ingest_records
from whyrec.tools.schema import BEHAVIOUR_ALIASES
from whyrec.tools.workspace import Workspace

NOW = datetime(2026, 1, 1, tzinfo=UTC)
PROPERTY = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HEADER = ["u", "i", "b", "t", "v"]
COLUMNS = {"user_id": "u", "item_id": "i", "behaviour": "b", "timestamp": "t", "value": "v"}
ENCODING_MARK = "\ue000"   # replaced by an invalid UTF-8 byte after encoding
BAD_BYTE = b"\xff"


# -- the workspace, before and after ----------------------------------------------------------------
@contextmanager
def fresh_workspace() -> Iterator[Workspace]:
    with tempfile.TemporaryDirectory(prefix="whyrec-hostile-") as tmp:
        yield Workspace.create(Path(tmp) / "ws")


def snapshot(workspace: Workspace) -> dict[str, str]:
    """Every file of the workspace (but the lock) by content hash."""
    return {str(p.relative_to(workspace.path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(workspace.path.rglob("*")) if p.is_file() and p.name != ".lock"}


def assert_untouched(workspace: Workspace, before: dict[str, str], version: int) -> None:
    assert snapshot(workspace) == before, "a rejected ingest changed the workspace"
    assert Workspace.open(workspace.path).data_version == version


def count_lines(text: str) -> int:
    return text.count("\n") + text.count("\r") - text.count("\r\n")


# -- the row model ----------------------------------------------------------------------------------
FAULTS = ("missing_user", "missing_item", "unknown_behaviour", "bad_timestamp", "old_timestamp",
          "future_timestamp", "bad_value", "encoding", "extra_field", "short_row")


@dataclass(frozen=True)
class Row:
    user: str
    item: str
    behaviour: str          # as written in the file
    canonical: str          # what it means
    when: datetime
    value: float | None
    fault: str | None       # the one rule this row breaks, or None


# Ids mix separators, quotes, line breaks, CJK, accents and zero-width characters.
ID_ALPHABET = st.sampled_from(list("abcXYZ019_-.,;|\t\"' é中文商品\u200b\n"))
ids = st.text(ID_ALPHABET, min_size=1, max_size=8).filter(lambda s: s.strip() != "")
behaviour_names = st.sampled_from(sorted(BEHAVIOUR_ALIASES))
moments = st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2025, 12, 1)).map(
    lambda d: d.replace(microsecond=0, tzinfo=UTC))
values = st.one_of(st.none(), st.integers(-1000, 1000).map(float),
                   st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False).map(lambda x: round(x, 3)))


@st.composite
def rows(draw: st.DrawFn) -> Row:
    name = draw(behaviour_names)
    written = draw(st.sampled_from([name, name.upper(), f" {name} ", name.capitalize()]))
    fault = draw(st.one_of(st.none(), st.none(), st.sampled_from(FAULTS)))
    # A small id pool makes duplicates (and the duplicate rule) likely.
    user = draw(st.one_of(st.sampled_from(["u1", "u2", " u1 "]), ids))
    item = draw(st.one_of(st.sampled_from(["i1", "i2"]), ids))
    return Row(user, item, written, BEHAVIOUR_ALIASES[name], draw(moments), draw(values), fault)


def identity(row: Row) -> tuple[object, ...]:
    return (row.user.strip(), row.item.strip(), row.canonical, int(row.when.timestamp()), row.value)


def valid_id(text: str) -> bool:
    """The id rule, written here independently of the code under test: 1 to 128 characters,
    letters and digits of any script plus _ - . : @ +, starting with a letter or digit."""
    text = text.strip()
    return (0 < len(text) <= 128 and text[0].isalnum()
            and all(c.isalnum() or c in "_-.:@+" for c in text))


def expected_outcome(rows_: list[Row]) -> tuple[list[int], list[tuple[object, ...]]]:
    """(indices of invalid rows, identities of the valid rows in order); duplicates are invalid."""
    invalid, valid, seen = [], [], set()
    for n, row in enumerate(rows_):
        unaddressable = not (valid_id(row.user) and valid_id(row.item))
        unrated = row.canonical == "rating" and row.value is None
        if row.fault is not None or unaddressable or unrated:
            invalid.append(n)
        elif identity(row) in seen:
            invalid.append(n)  # duplicate of an earlier valid row (duplicates = "reject")
        else:
            seen.add(identity(row))
            valid.append(identity(row))
    return invalid, valid


def render(rows_: list[Row], delimiter: str, terminator: str, epoch: bool, blank_lines: list[bool]
           ) -> tuple[bytes, list[int]]:
    """The CSV bytes and the physical line each row starts on."""
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator=terminator).writerow(HEADER)
    starts = []
    for row, blank in zip(rows_, blank_lines):
        if blank:
            out.write(terminator)
        stamp = str(int(row.when.timestamp())) if epoch else row.when.strftime(
            "%Y-%m-%dT%H:%M:%SZ" if row.when.second % 2 else "%Y-%m-%d %H:%M:%S+00:00")
        fields = [row.user, row.item, row.behaviour, stamp, "" if row.value is None else repr(row.value)]
        match row.fault:
            case "missing_user":
                fields[0] = " "
            case "missing_item":
                fields[1] = ""
            case "unknown_behaviour":
                fields[2] = "teleport"
            case "bad_timestamp":
                fields[3] = "2020-13-45T99:00:00Z" if not epoch else "soon"
            case "old_timestamp":
                fields[3] = "100" if epoch else "1975-06-01T00:00:00Z"
            case "future_timestamp":
                fields[3] = str(int((NOW + timedelta(days=40)).timestamp())) if epoch else "2031-01-01T00:00:00Z"
            case "bad_value":
                fields[4] = "nan" if row.when.second % 2 else "1e400"
            case "encoding":
                fields[0] = row.user + ENCODING_MARK
            case "extra_field":
                fields.append("surplus")
            case "short_row":
                fields = fields[:3]
        starts.append(count_lines(out.getvalue()) + 1)
        csv.writer(out, delimiter=delimiter, lineterminator=terminator).writerow(fields)
    data = out.getvalue().encode("utf-8").replace(ENCODING_MARK.encode("utf-8"), BAD_BYTE)
    return data, starts


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[bytes, list[Row], list[int], SourceMapping]:
    rows_ = draw(st.lists(rows(), min_size=0, max_size=14))
    delimiter = draw(st.sampled_from([",", ";", "\t", "|", " "]))
    terminator = draw(st.sampled_from(["\n", "\r\n"]))
    epoch = draw(st.booleans())
    blanks = draw(st.lists(st.booleans(), min_size=len(rows_), max_size=len(rows_)))
    data, starts = render(rows_, delimiter, terminator, epoch, blanks)
    mapping = SourceMapping(columns=dict(COLUMNS), delimiter=delimiter,
                            timestamp_unit="s" if epoch else None)
    return data, rows_, starts, mapping


def stored_identities(workspace: Workspace) -> list[tuple[object, ...]]:
    events = Workspace.open(workspace.path).events()
    return [(r.user_id, r.item_id, r.behaviour, int(r.timestamp.timestamp()),
             None if pd.isna(r.value) else float(r.value)) for r in events.itertuples()]


# -- files with known validity ----------------------------------------------------------------------
@PROPERTY
@given(csv_files(), st.booleans())
def test_ingest_takes_exactly_the_valid_rows_or_rejects_naming_the_lines(case, skip_invalid: bool) -> None:
    data, rows_, starts, mapping = case
    invalid, valid = expected_outcome(rows_)
    invalid_lines = sorted(starts[n] for n in invalid)
    with fresh_workspace() as workspace:
        source = workspace.path.parent / "events.csv"
        source.write_bytes(data)
        before, version = snapshot(workspace), workspace.data_version
        if invalid and not skip_invalid:
            with pytest.raises(IngestRejected) as info:
                ingest(workspace, source, mapping, now=NOW)
            report = info.value.reports[0]
            assert report.rows_invalid == len(invalid)
            named = sorted({issue.line for issue in report.first_issues})
            assert named == invalid_lines[:len(named)], (named, invalid_lines)
            assert all(f"line {line}" in str(info.value) for line in named)
            assert_untouched(workspace, before, version)
            return
        result = ingest(workspace, source, mapping, skip_invalid=skip_invalid, now=NOW)
        assert result.rows_read == len(rows_)
        assert result.rows_rejected == len(invalid) and result.rows_added == len(valid)
        assert sorted(map(repr, stored_identities(workspace))) == sorted(map(repr, valid))
        if skip_invalid and invalid:
            rejects = pd.read_csv(result.rejected_file)
            assert sorted(set(rejects["line"])) == invalid_lines
        # Re-ingesting the same file adds nothing and does not bump the data version.
        again = ingest(workspace, source, mapping, skip_invalid=True, now=NOW)
        assert again.rows_added == 0 and again.rows_already_present == len(valid)
        assert again.data_version == result.data_version == Workspace.open(workspace.path).data_version


# -- arbitrary bytes -------------------------------------------------------------------------------
JUNK = st.sampled_from([b",", b";", b"\t", b'"', b"'", b"\n", b"\r\n", b"\r", b"\x00", b"\xff", b"\xc3",
                        b"\xef\xbb\xbf", b"u", b"i", b"b", b"t", b"view", b"cart", b"2020-01-01T00:00:00Z",
                        b"1600000000", b"\xe4\xb8\xad", b" ", b"\\", b"x" * 5000])


@st.composite
def hostile_bytes(draw: st.DrawFn) -> bytes:
    head = draw(st.sampled_from([b"", b"u,i,b,t\n", b"u;i;b;t\n", b"u,i,b,t,u\n", b"\xef\xbb\xbfu,i,b,t\r\n"]))
    body = draw(st.one_of(st.binary(max_size=600), st.lists(JUNK, max_size=60).map(b"".join)))
    return head + body


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hostile_bytes(), st.sampled_from([",", ";", "\t", "|"]), st.booleans(), st.booleans())
@example(b"", ",", True, False)                                        # empty file
@example(b"u,i,b,t\n", ",", True, False)                               # header only
@example(b"u,i,b,t\nu1,i\x001,view,2020-01-01T00:00:00Z\n", ",", True, False)  # NUL byte
@example(b'u,i,b,t\nu1,"i1,view,2020-01-01T00:00:00Z\nu2,i2,view,2020-01-01T00:00:00Z\n', ",", True, True)
@example(b"u,i,b,t\nu1,i1,view,2020-01-01T00:00:00Z,extra\nu2,i2,view,2020-01-01T00:00:00Z\n", ",", True, False)
@example(b"\n\n\n", ",", False, True)
def test_arbitrary_bytes_never_crash_and_never_half_write(data: bytes, delimiter: str, header: bool,
                                                          skip_invalid: bool) -> None:
    columns = {"user_id": "u", "item_id": "i", "behaviour": "b", "timestamp": "t"} if header else \
        {"user_id": 0, "item_id": 1, "behaviour": 2, "timestamp": 3}
    mapping = SourceMapping(columns=columns, delimiter=delimiter, header=header)
    with fresh_workspace() as workspace:
        source = workspace.path.parent / "events.csv"
        source.write_bytes(data)
        before, version = snapshot(workspace), workspace.data_version
        try:
            result = ingest(workspace, source, mapping, skip_invalid=skip_invalid, now=NOW)
        except MappingError:
            assert_untouched(workspace, before, version)
            return
        except IngestRejected as exc:
            assert not skip_invalid
            lines = count_lines(data.decode("utf-8", "replace")) + 1
            assert exc.reports[0].first_issues
            assert all(1 <= issue.line <= lines for issue in exc.reports[0].first_issues)
            assert_untouched(workspace, before, version)
            return
        stored = Workspace.open(workspace.path).events()
        assert len(stored) == result.rows_added <= result.rows_read
        assert not stored["user_id"].str.strip().eq("").any() and stored["timestamp"].notna().all()
        again = ingest(workspace, source, mapping, skip_invalid=True, now=NOW)
        assert again.rows_added == 0 and again.data_version == result.data_version


def test_huge_fields_and_malformed_rows_are_reported_not_crashed(tmp_path: Path) -> None:
    """A field past the csv module's 128 KB limit, in a file that also has a malformed row: the
    2 MB id is too long to be an id, the row with a field too many is malformed; both are named,
    and with --skip-invalid the reject file keeps each row as written (the huge one cut)."""
    huge = "x" * 2_000_000
    data = (f"u,i,b,t\nu1,{huge},view,2020-01-01T00:00:00Z\nu2,i2,view,2020-01-01T00:00:00Z,extra\n"
            f"u3,i3,view,2020-01-01T00:00:00Z\n").encode()
    source = tmp_path / "huge.csv"
    source.write_bytes(data)
    workspace = Workspace.create(tmp_path / "ws")
    mapping = SourceMapping(columns={"user_id": "u", "item_id": "i", "behaviour": "b", "timestamp": "t"})
    with pytest.raises(IngestRejected, match="line 3: row") as info:
        ingest(workspace, source, mapping, now=NOW)
    report = info.value.reports[0]
    assert report.rows_invalid == 2
    assert "2,000,000 characters long; at most 128" in report.first_issues[0].reason
    result = ingest(workspace, source, mapping, skip_invalid=True, now=NOW)
    assert result.rows_added == 1 and list(workspace.events()["item_id"]) == ["i3"]
    rejects = pd.read_csv(result.rejected_file, dtype=str, keep_default_na=False).set_index("line")
    assert rejects.loc["3", "raw"] == "u2,i2,view,2020-01-01T00:00:00Z,extra"
    assert rejects.loc["2", "raw"].startswith("u1,xxxx") and rejects.loc["2", "raw"].endswith("characters]")


@pytest.mark.parametrize("delimiter", ["\n", "\r", '"', "", ",,", 5])
def test_impossible_delimiters_are_mapping_errors(delimiter: object) -> None:
    with pytest.raises(MappingError, match="delimiter"):
        SourceMapping(columns=dict(COLUMNS), delimiter=delimiter)  # type: ignore[arg-type]


# -- mapping files ---------------------------------------------------------------------------------
toml_scalars = st.one_of(st.text(max_size=6), st.integers(-3, 40), st.booleans(), st.floats(allow_nan=True),
                         st.none(), st.lists(st.integers(), max_size=2))
tables = st.dictionaries(st.sampled_from(["user_id", "item_id", "behaviour", "timestamp", "value", "title",
                                          "header", "delimiter", "encoding", "timestamp_unit", "year",
                                          "timestamp_format", "duplicates", "view", "zzz"]), toml_scalars,
                         max_size=8)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["columns", "behaviours", "options", "other"]),
                       st.one_of(tables, toml_scalars), max_size=3))
def test_any_mapping_table_is_accepted_or_a_mapping_error(data: dict) -> None:
    try:
        mapping = mapping_from_dict(data)
    except MappingError:
        return
    assert set(mapping.columns) >= {"user_id", "item_id", "timestamp"}
    assert isinstance(mapping.delimiter, str) and len(mapping.delimiter) == 1


# -- records (POST /v1/events) -------------------------------------------------------------------
anything = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=12),
              st.sampled_from(["", " ", "view", "VIEW", "2020-01-01T00:00:00Z", "1600000000", "1e3", "NaN",
                               "\x00", "\ud7ff", "1600000000000"])),
    lambda inner: st.one_of(st.lists(inner, max_size=2), st.dictionaries(st.text(max_size=3), inner, max_size=2)),
    max_leaves=4)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.dictionaries(st.sampled_from(list(RECORD_FIELDS) + ["extra"]), anything), max_size=8))
def test_arbitrary_records_are_ingested_or_rejected_whole(records: list[dict]) -> None:
    with fresh_workspace() as workspace:
        before, version = snapshot(workspace), workspace.data_version
        try:
            result = ingest_records(workspace, records, now=NOW)
        except IngestRejected as exc:
            report = exc.reports[0]
            assert 1 <= report.rows_invalid <= len(records)
            assert all(1 <= issue.line <= len(records) for issue in report.first_issues)
            assert_untouched(workspace, before, version)
            return
        assert result.rows_added == len(Workspace.open(workspace.path).events()) <= len(records)
        again = ingest_records(workspace, records, now=NOW)
        assert again.rows_added == 0 and again.data_version == result.data_version


@st.composite
def record_batches(draw: st.DrawFn) -> tuple[list[dict], list[int], int]:
    """Records with known validity; timestamps as ISO text, Unix seconds (int, float or text)."""
    records, bad, seen = [], [], set()
    for n in range(draw(st.integers(1, 10))):
        user, item = draw(st.sampled_from(["u1", "u2", "用户"])), draw(st.sampled_from(["i1", "i2", "商品"]))
        when = draw(moments)
        behaviour = draw(behaviour_names)
        stamp = draw(st.sampled_from([when.strftime("%Y-%m-%dT%H:%M:%SZ"), int(when.timestamp()),
                                      float(when.timestamp()), str(int(when.timestamp())),
                                      str(float(when.timestamp()))]))
        record = {"user_id": user, "item_id": item, "behaviour": behaviour, "timestamp": stamp}
        fault = draw(st.one_of(st.none(), st.none(), st.sampled_from(
            ["user_id", "behaviour", "timestamp", "value", "ms", "inf"])))
        if fault == "user_id":
            record["user_id"] = "  "
        elif fault == "behaviour":
            record["behaviour"] = "teleport"
        elif fault == "timestamp":
            record["timestamp"] = "yesterday"
        elif fault == "value":
            record["value"] = math.nan if n % 2 else "abc"
        elif fault == "ms":  # milliseconds are not seconds: year ~50,000
            record["timestamp"] = int(when.timestamp()) * 1000
        elif fault == "inf":
            record["timestamp"] = math.inf
        key = (user, item, BEHAVIOUR_ALIASES[behaviour], when)
        # A NaN value reads as "no value"; a rating without a value is invalid.
        valid = ((fault is None or (fault == "value" and n % 2 == 1))
                 and BEHAVIOUR_ALIASES[behaviour] != "rating")
        if valid and key not in seen:
            seen.add(key)
        else:
            bad.append(n + 1)  # invalid, or a duplicate of an earlier valid record
        records.append(record)
    return records, bad, len(seen)


@PROPERTY
@given(record_batches())
def test_records_mixing_iso_and_unix_seconds_are_judged_one_by_one(batch) -> None:
    records, bad, n_valid = batch
    with fresh_workspace() as workspace:
        before, version = snapshot(workspace), workspace.data_version
        if bad:
            with pytest.raises(IngestRejected) as info:
                ingest_records(workspace, records, now=NOW)
            report = info.value.reports[0]
            assert report.rows_invalid == len(bad)
            named = sorted({issue.line for issue in report.first_issues})
            assert named == bad[:len(named)]
            assert_untouched(workspace, before, version)
        else:
            result = ingest_records(workspace, records, now=NOW)
            assert result.rows_added == n_valid
            assert ingest_records(workspace, records, now=NOW).rows_added == 0
