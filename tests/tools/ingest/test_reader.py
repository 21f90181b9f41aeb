"""Reading CSV files: quotes that never close, headers that are data, positions written as text.

Regression tests for issue 17 (items 1 and 12): each one failed on the code before its fix.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd
import pytest

from whyrec.tools.ingest.mapping import MappingError, SourceMapping, load_mapping
from whyrec.tools.ingest.pipeline import IngestRejected, ingest
from whyrec.tools.workspace import Workspace

COLUMNS = {"user_id": "user", "item_id": "item", "behaviour": "event", "timestamp": "ts", "title": "title"}
HEADER = "user,item,event,ts,title"


def good(n: int, prefix: str = "u", behaviour: str = "view") -> list[str]:
    return [f"{prefix}{k},it{k:03d},{behaviour},2026-10-01T00:00:{k:02d}Z,Title {k}" for k in range(n)]


def write(path: Path, lines: list[str], ending: str = "\n") -> Path:
    path.write_text(ending.join(lines) + ending, encoding="utf-8")
    return path


UNCLOSED = 'x001,it002,view,2026-10-03T00:00:00Z,"never closed'


def test_unclosed_quote_refuses_the_file_naming_the_line_where_it_opened(tmp_path: Path) -> None:
    """Before: exit 0, "rows read 6", and the five later rows became item it002's title."""
    source = write(tmp_path / "log.csv", [HEADER, *good(5), UNCLOSED, *good(5, prefix="v", behaviour="cart")])
    workspace = Workspace.create(tmp_path / "ws")
    with pytest.raises(IngestRejected) as info:
        ingest(workspace, source, SourceMapping(columns=COLUMNS))
    report = info.value.reports[0]
    assert report.rows_read == 11 and report.rows_invalid == 1
    [issue] = report.first_issues
    assert issue.line == 7 and issue.column == "row"
    assert "quoted field opens on this line" in issue.reason and "line 8" in issue.reason
    assert workspace.events().empty and workspace.data_version == 0


def test_unclosed_quote_with_skip_invalid_rejects_that_row_and_keeps_the_rest(tmp_path: Path) -> None:
    """Before: --skip-invalid wrote nothing to the reject file and lost the later rows."""
    source = write(tmp_path / "log.csv", [HEADER, *good(5), UNCLOSED, *good(5, prefix="v", behaviour="cart")])
    workspace = Workspace.create(tmp_path / "ws")
    result = ingest(workspace, source, SourceMapping(columns=COLUMNS), skip_invalid=True)
    assert (result.rows_read, result.rows_added, result.rows_rejected) == (11, 10, 1)
    events = workspace.events()
    assert sorted(events["user_id"]) == sorted([f"u{k}" for k in range(5)] + [f"v{k}" for k in range(5)])
    titles = workspace.items().set_index("item_id")["title"]
    assert titles["it002"] == "Title 2"  # not the swallowed rows
    assert titles.str.len().max() < 20
    rejects = pd.read_csv(result.rejected_file, dtype=str, keep_default_na=False)
    assert list(rejects["line"]) == ["7"] and rejects["raw"].iloc[0] == UNCLOSED


def test_quote_closed_by_a_later_quote_does_not_swallow_the_rows_between(tmp_path: Path) -> None:
    """A stray quote that a later quoted title closes: the rows between are still rows."""
    later = 'v9,it009,purchase,2026-10-04T00:00:00Z,"Quoted, title"'
    source = write(tmp_path / "log.csv", [HEADER, *good(3), UNCLOSED, *good(3, prefix="v"), later])
    workspace = Workspace.create(tmp_path / "ws")
    result = ingest(workspace, source, SourceMapping(columns=COLUMNS), skip_invalid=True)
    assert (result.rows_added, result.rows_rejected) == (7, 1)
    assert workspace.items().set_index("item_id")["title"]["it009"] == "Quoted, title"


def test_a_real_multi_line_description_is_still_read(tmp_path: Path) -> None:
    """Line breaks inside a quoted description are data, and the rows after it stay rows."""
    columns = dict(COLUMNS, description="description")
    lines = [HEADER + ",description",
             'u1,it001,view,2026-10-01T00:00:00Z,Lamp,"Warm light.\nSpecs: 40 W, E27, dimmable, brass"',
             "u2,it002,view,2026-10-01T00:00:01Z,Chair,Oak"]
    workspace = Workspace.create(tmp_path / "ws")
    result = ingest(workspace, write(tmp_path / "log.csv", lines), SourceMapping(columns=columns))
    assert result.rows_added == 2
    description = workspace.items().set_index("item_id")["description"]["it001"]
    assert description == "Warm light.\nSpecs: 40 W, E27, dimmable, brass"


@pytest.mark.slow
def test_unclosed_quote_in_a_large_file_is_refused_quickly(tmp_path: Path) -> None:
    """The issue's case at scale: before, a 60 MB file with the quote on line 12 read as
    "rows read 11" with a 60-million-character title. Here 200,000 rows (about 13 MB)."""
    rows = good(10) + [UNCLOSED] + [f"w{k},it{k % 500:03d},view,2026-10-02T00:00:00Z,Title {k}"
                                    for k in range(200_000)]
    source = write(tmp_path / "big.csv", [HEADER, *rows])
    workspace = Workspace.create(tmp_path / "ws")
    started = time.perf_counter()
    with pytest.raises(IngestRejected) as info:
        ingest(workspace, source, SourceMapping(columns=COLUMNS))
    elapsed = time.perf_counter() - started
    report = info.value.reports[0]
    assert report.rows_read == 200_011 and report.rows_invalid == 1
    assert report.first_issues[0].line == 12
    assert elapsed < 60, elapsed


def test_title_and_description_have_length_limits(tmp_path: Path) -> None:
    columns = dict(COLUMNS, description="description")
    lines = [HEADER + ",description",
             "u1,it001,view,2026-10-01T00:00:00Z," + "T" * 501 + ",ok",
             "u2,it002,view,2026-10-01T00:00:01Z,Fine," + "d" * 5_001,
             "u3,it003,view,2026-10-01T00:00:02Z,Fine,ok"]
    with pytest.raises(IngestRejected) as info:
        ingest(Workspace.create(tmp_path / "ws"), write(tmp_path / "log.csv", lines),
               SourceMapping(columns=columns))
    issues = {(i.line, i.column): i.reason for i in info.value.reports[0].first_issues}
    assert issues == {(2, "title"): "title too long: 501 characters, at most 500",
                      (3, "description"): "description too long: 5,001 characters, at most 5,000"}


def test_title_with_a_line_break_is_refused(tmp_path: Path) -> None:
    lines = [HEADER, 'u1,it001,view,2026-10-01T00:00:00Z,"Two\nlines"', *good(1, prefix="v")]
    with pytest.raises(IngestRejected) as info:
        ingest(Workspace.create(tmp_path / "ws"), write(tmp_path / "log.csv", lines),
               SourceMapping(columns=COLUMNS))
    [issue] = info.value.reports[0].first_issues
    assert (issue.line, issue.column) == (2, "title") and "line break" in issue.reason


# -- header = false forgotten; positions written in quotes (issue 17, item 12) ----------------------
POSITIONS = "[columns]\nuser_id = 0\nitem_id = 1\nbehaviour = 2\ntimestamp = 3\n"


def test_forgotten_header_false_is_refused_with_advice(tmp_path: Path) -> None:
    """Before: the first data row silently became the header (4,321 rows -> 4,320 events)."""
    source = write(tmp_path / "log.csv", [f"u{k},i{k},view,2024-01-0{k + 1} 10:00" for k in range(4)])
    mapping = load_mapping(write(tmp_path / "m.toml", [POSITIONS]))
    workspace = Workspace.create(tmp_path / "ws")
    with pytest.raises(MappingError, match="looks like data, not a header.*header = false"):
        ingest(workspace, source, mapping)
    assert workspace.events().empty
    fixed = load_mapping(write(tmp_path / "m.toml", [POSITIONS + "[options]\nheader = false\n"]))
    assert ingest(workspace, source, fixed).rows_added == 4


def test_a_real_header_with_positions_is_accepted(tmp_path: Path) -> None:
    source = write(tmp_path / "log.csv", ["user,item,event,ts", "u1,i1,view,1700000000"])
    mapping = load_mapping(write(tmp_path / "m.toml", [POSITIONS]))
    assert ingest(Workspace.create(tmp_path / "ws"), source, mapping).rows_added == 1


def test_a_position_written_in_quotes_says_to_drop_the_quotes(tmp_path: Path) -> None:
    """Before: "no such column '0'; it has ['0', '1', ...]"."""
    source = write(tmp_path / "log.csv", ["u1,i1,view,1700000000"])
    toml = '[columns]\nuser_id = "0"\nitem_id = 1\nbehaviour = 2\ntimestamp = 3\n[options]\nheader = false\n'
    mapping = load_mapping(write(tmp_path / "m.toml", [toml]))
    with pytest.raises(MappingError) as info:
        ingest(Workspace.create(tmp_path / "ws"), source, mapping)
    assert 'user_id = "0"' in str(info.value) and "without quotes" in str(info.value)
    assert "user_id = 0" in str(info.value)
    assert "it has ['0'" not in str(info.value)


def test_exact_reader_agrees_with_itself_when_pandas_names_columns_otherwise(tmp_path: Path) -> None:
    """An unnamed column (pandas calls it "Unnamed: 5") and a stray quote: the second pass is
    refused and the csv module's own fields are used; the result is the same."""
    lines = [HEADER + ",", *[line + "," for line in good(3)], UNCLOSED + ",", "",
             *[line + ",x" for line in good(2, "v")]]
    result = ingest(Workspace.create(tmp_path / "ws"), write(tmp_path / "log.csv", lines),
                    SourceMapping(columns=COLUMNS), skip_invalid=True)
    assert (result.rows_added, result.rows_rejected) == (5, 1)
