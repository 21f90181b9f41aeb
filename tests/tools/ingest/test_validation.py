"""Each validation rule, on small files written by the test: the report names line, column and
reason, nothing is ingested by default, and --skip-invalid ingests exactly the good rows."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from whyrec.tools.ingest.mapping import MappingError, SourceMapping, load_mapping
from whyrec.tools.ingest.pipeline import IngestRejected, ingest
from whyrec.tools.workspace import Workspace

HEADER = "user,item,event,ts\n"
GOOD = ["u1,i1,view,1700000000", "u1,i1,addtocart,1700000060", "u2,i2,buy,1700000100"]


def mapping(**options) -> SourceMapping:
    return SourceMapping(columns={"user_id": "user", "item_id": "item", "behaviour": "event",
                                  "timestamp": "ts"}, timestamp_unit="s", **options)


def write(tmp_path: Path, rows: list[str], name: str = "log.csv", header: str = HEADER) -> Path:
    path = tmp_path / name
    path.write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def rejected(tmp_path: Path, rows: list[str], **options) -> IngestRejected:
    workspace = Workspace.create(tmp_path / "ws")
    with pytest.raises(IngestRejected) as info:
        ingest(workspace, write(tmp_path, rows), mapping(**options))
    assert workspace.events().empty, "a rejected file must ingest nothing"
    assert workspace.data_version == 0
    return info.value


@pytest.mark.parametrize(("bad_row", "column", "reason"), [
    (",i9,view,1700000000", "user_id", "missing user_id"),
    ("u9,,view,1700000000", "item_id", "missing item_id"),
    ("u9,i9,teleport,1700000000", "behaviour", "unknown behaviour"),
    ("u9,i9,view,yesterday", "timestamp", "unparseable timestamp"),
    ("u9,i9,view,99999999999", "timestamp", "out of range"),
    ("u9,i9,view,12", "timestamp", "out of range"),
    ("u9,i9,view,", "timestamp", "missing timestamp"),
])
def test_each_rule_names_line_column_and_reason(tmp_path: Path, bad_row: str, column: str, reason: str) -> None:
    rows = GOOD[:2] + [bad_row] + GOOD[2:]
    error = rejected(tmp_path, rows)
    [report] = error.reports
    assert report.rows_invalid == 1 and report.rows_read == 4
    [issue] = report.first_issues
    assert issue.line == 4  # header is line 1, the bad row is the third data row
    assert issue.column == column
    assert reason in issue.reason
    assert "line 4" in str(error) and "--skip-invalid" in str(error)


def test_wrong_type_value_and_price(tmp_path: Path) -> None:
    path = write(tmp_path, ["u1,i1,view,1700000000,abc,1.5", "u1,i2,view,1700000001,4,x"],
                 header="user,item,event,ts,value,price\n")
    m = SourceMapping(columns={"user_id": "user", "item_id": "item", "behaviour": "event",
                               "timestamp": "ts", "value": "value", "price": "price"}, timestamp_unit="s")
    with pytest.raises(IngestRejected) as info:
        ingest(Workspace.create(tmp_path / "ws"), path, m)
    issues = {(i.line, i.column): i.reason for i in info.value.reports[0].first_issues}
    assert issues == {(2, "value"): "value is not a number", (3, "price"): "price is not a number"}


def test_duplicate_rows_rejected_by_default_with_first_line(tmp_path: Path) -> None:
    error = rejected(tmp_path, GOOD + [GOOD[0]])
    [issue] = error.reports[0].first_issues
    assert issue.line == 5 and "duplicate of line 2" in issue.reason


def test_duplicates_kept_or_dropped_by_policy(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD + [GOOD[0]])
    kept = ingest(Workspace.create(tmp_path / "keep"), path, mapping(duplicates="keep"))
    dropped = ingest(Workspace.create(tmp_path / "drop"), path, mapping(duplicates="drop"))
    assert (kept.rows_added, dropped.rows_added, dropped.duplicates_dropped) == (4, 3, 1)


def test_encoding_problem_is_reported_on_its_line(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_bytes(HEADER.encode() + b"u1,i1,view,1700000000\nu\xff\xfe2,i2,view,1700000001\n")
    with pytest.raises(IngestRejected) as info:
        ingest(Workspace.create(tmp_path / "ws"), path, mapping())
    [issue] = info.value.reports[0].first_issues
    assert issue.line == 3 and issue.column == "user_id" and "encoding" in issue.reason


def test_wrong_field_count_is_reported(tmp_path: Path) -> None:
    error = rejected(tmp_path, GOOD[:1] + ["u1,i1,view,1700000000,extra,fields"] + GOOD[1:])
    lines = [i.line for i in error.reports[0].first_issues]
    assert lines == [3]
    assert "fields" in error.reports[0].first_issues[0].reason


def test_report_lists_first_n_and_totals(tmp_path: Path) -> None:
    bad = [f"u{i},,view,1700000000" for i in range(50)]
    workspace = Workspace.create(tmp_path / "ws")
    with pytest.raises(IngestRejected) as info:
        ingest(workspace, write(tmp_path, GOOD + bad), mapping(), report_rows=5)
    report = info.value.reports[0]
    assert len(report.first_issues) == 5 and report.rows_invalid == 50
    assert report.issue_totals == {"missing item_id": 50}


def test_skip_invalid_ingests_good_rows_and_writes_rejects(tmp_path: Path) -> None:
    workspace = Workspace.create(tmp_path / "ws")
    rows = GOOD + ["u9,i9,teleport,1700000000", ",i9,view,1700000000"]
    result = ingest(workspace, write(tmp_path, rows), mapping(), skip_invalid=True)
    assert (result.rows_added, result.rows_rejected) == (3, 2)
    assert len(workspace.events()) == 3
    rejects = pd.read_csv(result.rejected_file)
    assert sorted(rejects["line"]) == [5, 6]
    assert set(rejects["column"]) == {"behaviour", "user_id"}


def test_bad_mapping_is_a_clear_error(tmp_path: Path) -> None:
    toml = tmp_path / "m.toml"
    toml.write_text('[columns]\nuser_id = "user"\nitem = "item"\n', encoding="utf-8")
    with pytest.raises(MappingError, match="unknown field"):
        load_mapping(toml)
    toml.write_text('[columns]\nuser_id = "user"\nitem_id = "item"\nbehaviour="e"\ntimestamp="ts"\n'
                    '[behaviours]\nx = "teleport"\n', encoding="utf-8")
    with pytest.raises(MappingError, match="teleport"):
        load_mapping(toml)


def test_missing_source_column_names_the_columns(tmp_path: Path) -> None:
    m = SourceMapping(columns={"user_id": "visitor", "item_id": "item", "behaviour": "event", "timestamp": "ts"})
    with pytest.raises(MappingError, match="visitor"):
        ingest(Workspace.create(tmp_path / "ws"), write(tmp_path, GOOD), m)
