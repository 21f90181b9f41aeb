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


# -- issue 17: ids (item 6), reject files (item 8), ratings and API advice (item 12) ----------------
@pytest.mark.parametrize(("user", "reason"), [
    ("team/alice", "found '/'"),
    ("a%2Fb", "found '%'"),
    ("alice smith", "found ' '"),
    ("..", "must start with a letter or digit"),
    ("x" * 129, "129 characters long; at most 128"),
    ("Beacon![lamp](http://x/leak.png)", "found '!'"),
])
def test_ids_that_cannot_be_addressed_in_a_url_path_are_refused(tmp_path: Path, user: str, reason: str) -> None:
    """Before: ``team/alice`` was accepted, then ``DELETE /v1/users/team%2Falice`` was a 404."""
    error = rejected(tmp_path, GOOD + [f'"{user}",i9,view,1700000000'])
    [issue] = error.reports[0].first_issues
    assert (issue.line, issue.column) == (5, "user_id")
    assert issue.reason.startswith("not a valid user id: it ") and reason in issue.reason


def test_ids_in_any_script_with_url_safe_punctuation_are_accepted(tmp_path: Path) -> None:
    workspace = Workspace.create(tmp_path / "ws")
    rows = ["用户7,商品-1,view,1700000000", "alice+shop@example.com,i:2,view,1700000001", "u_1.x,i3,view,1700000002"]
    assert ingest(workspace, write(tmp_path, rows), mapping()).rows_added == 3


def test_item_ids_follow_the_same_rule_in_posted_events(tmp_path: Path) -> None:
    """POST /v1/events goes through ingest_records: the same rule, no new catalog item."""
    from whyrec.tools.ingest.pipeline import ingest_records

    workspace = Workspace.create(tmp_path / "ws")
    records = [{"user_id": "u1", "item_id": "i1", "behaviour": "view", "timestamp": 1700000000},
               {"user_id": "u1", "item_id": "Beacon lamp ![lamp](http://127.0.0.1/leak.png)",
                "behaviour": "view", "timestamp": 1700000001}]
    with pytest.raises(IngestRejected) as info:
        ingest_records(workspace, records)
    [issue] = info.value.reports[0].first_issues
    assert (issue.line, issue.column) == (2, "item_id") and "found ' '" in issue.reason
    assert workspace.items().empty and workspace.data_version == 0


def test_a_rating_without_a_value_is_refused(tmp_path: Path) -> None:
    """Before: accepted, as a rating of nothing."""
    m = SourceMapping(columns={"user_id": "user", "item_id": "item", "behaviour": "event",
                               "timestamp": "ts", "value": "v"}, timestamp_unit="s")
    path = write(tmp_path, ["u1,i1,rating,1700000000,4.5", "u1,i2,rating,1700000001,"],
                 header="user,item,event,ts,v\n")
    with pytest.raises(IngestRejected) as info:
        ingest(Workspace.create(tmp_path / "ws"), path, m)
    [issue] = info.value.reports[0].first_issues
    assert (issue.line, issue.column, issue.reason) == (3, "value", "a rating needs its value")
    no_value_column = rejected(tmp_path, ["u1,i1,rated,1700000000"])
    assert "no value column" in no_value_column.reports[0].first_issues[0].reason


def test_duplicate_advice_for_posted_events_names_no_toml_option(tmp_path: Path) -> None:
    """Before: two identical events in one API batch were told to set ``duplicates = "keep"``."""
    from whyrec.tools.ingest.pipeline import ingest_records

    event = {"user_id": "u1", "item_id": "i1", "behaviour": "view", "timestamp": 1700000000}
    with pytest.raises(IngestRejected) as info:
        ingest_records(Workspace.create(tmp_path / "ws"), [event, dict(event)])
    [issue] = info.value.reports[0].first_issues
    assert issue.reason.startswith("duplicate of line 1")
    assert "[options]" not in issue.reason and "duplicates =" not in issue.reason
    assert "send it once" in issue.reason
    file_error = rejected(tmp_path, GOOD + [GOOD[0]])
    assert 'duplicates = "keep"' in file_error.reports[0].first_issues[0].reason  # files keep the advice


def test_parallel_skip_invalid_ingests_each_keep_their_reject_file(tmp_path: Path) -> None:
    """Before: reject files were named to the second; of four parallel ingests, two files survived."""
    import subprocess
    import sys
    import textwrap

    workspace = Workspace.create(tmp_path / "ws")
    script = textwrap.dedent(f"""
        import sys
        from whyrec.tools.ingest.mapping import SourceMapping
        from whyrec.tools.ingest.pipeline import ingest
        from whyrec.tools.workspace import Workspace
        m = SourceMapping(columns={{"user_id": "user", "item_id": "item", "behaviour": "event",
                                    "timestamp": "ts"}}, timestamp_unit="s")
        print(ingest(Workspace.open({str(workspace.path)!r}), sys.argv[1], m, skip_invalid=True).rejected_file)
    """)
    sources = [write(tmp_path, [f"u{n},i{n},view,1700000000", f"u{n},i{n},teleport,17000000{n:02d}"],
                     name=f"log{n}.csv") for n in range(4)]
    processes = [subprocess.Popen([sys.executable, "-c", script, str(s)], stdout=subprocess.PIPE, text=True)
                 for s in sources]
    printed = [p.communicate(timeout=300)[0].strip() for p in processes]
    assert all(p.returncode == 0 for p in processes)
    files = sorted(workspace.rejected_path.glob("*.csv"))
    assert sorted(printed) == [str(f) for f in files] and len(files) == 4
    rows = pd.concat([pd.read_csv(f, dtype=str, keep_default_na=False) for f in files])
    assert sorted(rows["raw"]) == sorted(f"u{n},i{n},teleport,17000000{n:02d}" for n in range(4))


def test_reject_rows_keep_the_row_as_written_even_when_it_cannot_be_split(tmp_path: Path) -> None:
    """Before: a malformed row's record had an empty value and no raw text (a 100k-column row)."""
    wide = "u9,i9,view,1700000000," + ",".join(f"c{k}" for k in range(100_000))
    workspace = Workspace.create(tmp_path / "ws")
    result = ingest(workspace, write(tmp_path, GOOD + [wide]), mapping(), skip_invalid=True)
    rejects = pd.read_csv(result.rejected_file, dtype=str, keep_default_na=False)
    assert list(rejects["line"]) == ["5"] and rejects["raw"].iloc[0] == wide
    assert rejects["reason"].iloc[0] == "expected 4 fields, found 100004"


def test_pseudonymised_reject_files_hold_no_source_user_id(tmp_path: Path) -> None:
    workspace = Workspace.create(tmp_path / "ws")
    rows = ["alice@example.com,i1,view,1700000000", "bob@example.com,i2,teleport,1700000001",
            "carol smith,i3,view,1700000002"]
    result = ingest(workspace, write(tmp_path, rows), mapping(), skip_invalid=True, pseudonym_key=b"k")
    data = Path(result.rejected_file).read_bytes()
    assert b"bob@example.com" not in data and b"carol smith" not in data
    rejects = pd.read_csv(result.rejected_file, dtype=str, keep_default_na=False)
    assert rejects["user_id"].str.startswith("p_").all()


@pytest.mark.parametrize("mark", ["\u202e", "\u202a", "\u2066", "\u2069"])
def test_text_direction_controls_in_catalog_text_are_refused(tmp_path: Path, mark: str) -> None:
    """Before: a title "\u202egnp.exe Trojan" was accepted and showed on the page as "…exe.png",
    reversing the app's own words after it too. Right-to-left text itself stays welcome."""
    header = "user,item,event,ts,name\n"
    rows = ["u1,i1,view,1700000000,Lamp", f"u1,i2,view,1700000001,{mark}gnp.exe Trojan"]
    workspace = Workspace.create(tmp_path / "ws")
    with pytest.raises(IngestRejected) as info:
        ingest(workspace, write(tmp_path, rows, header=header),
               SourceMapping(columns={"user_id": "user", "item_id": "item", "behaviour": "event",
                                      "timestamp": "ts", "title": "name"}, timestamp_unit="s"))
    [issue] = info.value.reports[0].first_issues
    assert (issue.line, issue.column) == (3, "title") and "text-direction control" in issue.reason
    assert workspace.events().empty and workspace.data_version == 0
    fine = ["u1,i1,view,1700000000,מנורה \u200fשולחן", "u1,i2,view,1700000001,مصباح"]
    assert ingest(Workspace.create(tmp_path / "ok"), write(tmp_path, fine, "ok.csv", header),
                  SourceMapping(columns={"user_id": "user", "item_id": "item", "behaviour": "event",
                                         "timestamp": "ts", "title": "name"}, timestamp_unit="s")).rows_added == 2
