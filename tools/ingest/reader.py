"""Reading source files (CSV or Parquet, files or folders) into raw string tables.

Everything is read as text so that validation, not the parser, decides what a bad value is and
can say which line holds it. Bytes that are not valid in the declared encoding become U+FFFD
and are reported by validation as an encoding problem on their line.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
from array import array
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..schema import canonical_behaviour
from .mapping import MappingError, SourceMapping

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".parquet", ".pq")


@dataclass
class RawTable:
    """One source file read as text, with each row's line number in the file."""

    path: Path
    frame: pd.DataFrame          # columns = our field names, values = source text (or NA)
    line_numbers: pd.Series      # 1-based physical line of each row (row number for Parquet)
    malformed: list[tuple[int, str]]  # (line, reason) of rows the parser could not split
    sha256: str
    #: Last physical line of each row (rows with quoted line breaks span several); None: one each.
    line_ends: pd.Series | None = None
    #: Last physical line of each malformed row, in the order of ``malformed``.
    malformed_ends: list[int] | None = None
    #: The header row as written (None without one): validation checks it is not data.
    header: list[str] | None = None

    def spans(self, lines: list[int]) -> dict[int, int]:
        """First line -> last line of the rows (valid or malformed) starting on ``lines``."""
        wanted = set(lines)
        ends = self.line_ends if self.line_ends is not None else self.line_numbers
        chosen = self.line_numbers.isin(wanted).to_numpy()
        spans = {int(a): int(b) for a, b in zip(self.line_numbers[chosen], ends[chosen])}
        for (line, _), end in zip(self.malformed, self.malformed_ends or [m[0] for m in self.malformed]):
            if line in wanted:
                spans[line] = end
        return spans


def list_source_files(path: Path) -> list[Path]:
    """The files to ingest: ``path`` itself, or the supported files in a folder (sorted)."""
    if path.is_file():
        return [path]
    if path.is_dir():
        files = sorted(p for p in path.iterdir()
                       if p.is_file() and any(p.name.lower().endswith(s) for s in SUPPORTED_SUFFIXES))
        if not files:
            raise MappingError(f"no CSV or Parquet files in {path}")
        return files
    raise MappingError(f"no such file or folder: {path}")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_source(path: Path, mapping: SourceMapping,
                progress: Callable[[int], object] | None = None) -> RawTable:
    """Read one file into the mapped fields as text; ``progress`` is told each bytes read."""
    tracker = _ByteProgress(progress)
    if path.suffix.lower() in (".parquet", ".pq"):
        table = pd.read_parquet(path)
        frame = _select_columns(table, mapping, path)
        frame = frame.astype("string")
        lines = pd.Series(range(1, len(frame) + 1), index=frame.index)
        tracker.to(path.stat().st_size)
        return RawTable(path, frame, lines, [], file_sha256(path))
    return _read_csv(path, mapping, tracker)


class _ByteProgress:
    """Tells a progress callback how far into the file reading is (it may go back to 0)."""

    def __init__(self, callback: Callable[[int], object] | None) -> None:
        self.callback = callback
        self.position = 0

    def to(self, position: int) -> None:
        if self.callback is not None and position != self.position:
            self.callback(position - self.position)
        self.position = position


class _CountingReader(io.RawIOBase):
    """A binary file that reports its position as pandas reads it."""

    def __init__(self, handle: io.BufferedReader, tracker: _ByteProgress) -> None:
        self._handle = handle
        self._tracker = tracker

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._handle.readinto(buffer)
        self._tracker.to(self._tracker.position + (n or 0))
        return n or 0


def _read_csv(path: Path, mapping: SourceMapping, tracker: _ByteProgress | None = None) -> RawTable:
    tracker = tracker or _ByteProgress(None)
    header = 0 if mapping.header else None
    common: dict[str, Any] = dict(sep=mapping.delimiter, header=header, dtype=str, keep_default_na=False,
                                  na_values=[], encoding=mapping.encoding, encoding_errors="replace")
    try:
        if tracker.callback is None:
            table = pd.read_csv(path, **common)
        else:
            with open(path, "rb") as handle:
                table = pd.read_csv(io.BufferedReader(_CountingReader(handle, tracker), 1 << 20), **common)
    except pd.errors.ParserError:
        # Some rows have the wrong number of fields, or a quote never closes: split the file
        # row by row, set those rows aside as malformed, and read the rest.
        tracker.to(0)
        return _read_csv_by_rows(path, mapping, tracker)
    except pd.errors.EmptyDataError:
        table = pd.DataFrame()
    except LookupError as exc:
        raise MappingError(f"[options] encoding: {exc}") from exc
    if not isinstance(table.index, pd.RangeIndex):
        # Rows with one field more than the header: pandas took the first column as an index
        # and shifted every field. Those rows are malformed, not shifted.
        tracker.to(0)
        return _read_csv_by_rows(path, mapping, tracker)
    first = 2 if mapping.header else 1
    if len(table) + first - 1 != _count_lines(path):
        # Blank lines or line breaks inside quoted fields: row n is not line n + 1, a report
        # must name the physical line, and a quote may have swallowed rows.
        tracker.to(0)
        return _read_csv_by_rows(path, mapping, tracker)
    names = [str(c) for c in table.columns] if mapping.header else None
    frame = _select_columns(table, mapping, path)
    lines = pd.Series(range(first, len(frame) + first), index=frame.index, dtype="int64")
    return RawTable(path, frame, lines, [], file_sha256(path), header=names)


def _count_lines(path: Path) -> int:
    """Physical lines of a file (\n, \r\n or \r endings; a last line without one counts)."""
    count, last = 0, b""
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            count += block.count(b"\n") + block.count(b"\r") - block.count(b"\r\n")
            if last == b"\r" and block[:1] == b"\n":
                count -= 1
            last = block[-1:]
    return count + (1 if last not in (b"", b"\n", b"\r") else 0)


class _QuoteRunsOn(Exception):
    """A quoted field went on into a line that reads as a row of its own."""


class _Lines:
    """The physical lines of a text file for ``csv.reader``, numbered, with push-back.

    ``csv.reader`` asks for another line in the middle of a row only while a quoted field is
    open, so every line taken since the last row ended belongs to the row being read. When that
    row turns out to be a quote that was never closed, its first line is set aside and the
    lines after it are pushed back and read again as rows of their own.
    """

    def __init__(self, handle: io.TextIOWrapper, tracker: _ByteProgress | None = None) -> None:
        self._handle = handle
        self._tracker = tracker if tracker is not None and tracker.callback is not None else None
        self._read = 0
        self._pushed: deque[tuple[int, str]] = deque()
        self.taken: list[tuple[int, str]] = []
        self.looks_like_row: Callable[[str], bool] | None = None
        self.ended_inside_quotes = False
        self.run_on_line = 0

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self._pushed:
            number, text = self._pushed.popleft()
        else:
            text = self._handle.readline()
            if not text:
                self.ended_inside_quotes = bool(self.taken)
                raise StopIteration
            self._read += 1
            number = self._read
            if self._tracker is not None and not number % 16384:
                self._tracker.to(self._handle.buffer.tell())  # type: ignore[attr-defined]  # a BufferedReader
        if self.taken and self.looks_like_row is not None and self.looks_like_row(text):
            self._pushed.appendleft((number, text))
            self.run_on_line = number
            raise _QuoteRunsOn
        self.taken.append((number, text))
        return text

    def take_row(self) -> list[tuple[int, str]]:
        row, self.taken = self.taken, []
        self.ended_inside_quotes = False
        return row

    def push_back(self, lines: list[tuple[int, str]]) -> None:
        self._pushed.extendleft(reversed(lines))


def _read_csv_by_rows(path: Path, mapping: SourceMapping, tracker: _ByteProgress | None = None) -> RawTable:
    """The exact reader: each row's physical lines, and rows that cannot be split.

    A row is malformed when it has more fields than the first row, when the file ends inside a
    quoted field, or when a quoted field runs on into a line that reads as a row of its own
    (the right number of fields, and a known behaviour where the mapping has one): an opening
    quote that was never closed. Such a row is its first physical line alone; reading goes on
    from the line after it, so one stray quote costs one row, not the rest of the file.

    Two passes: Python's csv module finds each row's lines and the malformed ones (keeping only
    line numbers), then pandas' C parser reads the file without the malformed lines, which is
    several times faster and smaller than keeping Python strings. If pandas does not find the
    same rows (an exotic quoting both parse differently), the fields of the first pass are used.
    """
    scan = _scan_rows(path, mapping, tracker, keep_fields=False)
    frame = _parse_kept_lines(path, mapping, scan) if scan.expected is not None else None
    if frame is None:
        scan = _scan_rows(path, mapping, None, keep_fields=True)
        frame = pd.DataFrame({f: pd.Series(v, dtype=object) for f, v in zip(mapping.columns, scan.columns)})
        if frame.empty and not len(frame.columns):
            frame = pd.DataFrame({f: pd.Series(dtype=object) for f in mapping.columns})
    if tracker is not None:
        tracker.to(path.stat().st_size)
    return RawTable(path, frame, pd.Series(scan.starts, index=frame.index, dtype="int64"), scan.malformed,
                    file_sha256(path), line_ends=pd.Series(scan.ends, index=frame.index, dtype="int64"),
                    malformed_ends=scan.malformed_ends,
                    header=[str(n) for n in scan.header_row] if scan.header_row is not None else None)


@dataclass
class _Scan:
    """What the csv module found: rows by their lines, malformed rows, the header."""

    starts: array = field(default_factory=lambda: array("q"))
    ends: array = field(default_factory=lambda: array("q"))
    malformed: list[tuple[int, str]] = field(default_factory=list)
    malformed_ends: list[int] = field(default_factory=list)
    #: Lines left out of the second pass: the malformed rows' (their first line, or all of a
    #: row with too many fields).
    dropped: set[int] = field(default_factory=set)
    names: list[str | int] = field(default_factory=list)
    expected: int | None = None
    header_row: list[str] | None = None
    columns: list[list[str | None]] = field(default_factory=list)


def _text_encoding(mapping: SourceMapping) -> str:
    return "utf-8-sig" if mapping.encoding.lower().replace("_", "-") in ("utf-8", "utf8") else mapping.encoding


def _scan_rows(path: Path, mapping: SourceMapping, tracker: _ByteProgress | None, keep_fields: bool) -> _Scan:
    scan = _Scan()
    wanted: list[int] = []
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, 1 << 30))  # a huge field is a value to validate, not a crash
    try:
        with open(path, encoding=_text_encoding(mapping), errors="replace", newline="") as handle:
            lines = _Lines(handle, tracker)
            reader = csv.reader(lines, delimiter=mapping.delimiter)

            def set_aside(reason: str, whole_row: bool = False) -> None:
                taken = lines.take_row()
                first, last = taken[0][0], taken[-1 if whole_row else 0][0]
                scan.malformed.append((first, reason))
                scan.malformed_ends.append(last)
                scan.dropped.update(number for number, _ in (taken if whole_row else taken[:1]))
                if not whole_row:
                    lines.push_back(taken[1:])

            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    if lines.taken:  # the file ended inside a quoted field that yielded no row
                        set_aside(_UNCLOSED_AT_END)
                        reader = csv.reader(lines, delimiter=mapping.delimiter)
                        continue
                    break
                except _QuoteRunsOn:
                    set_aside(f"a quoted field opens on this line and runs on into line "
                              f"{lines.run_on_line:,}, which reads as a row of its own: a closing "
                              f"quote is missing")
                    reader = csv.reader(lines, delimiter=mapping.delimiter)
                    continue
                except csv.Error as exc:
                    set_aside(f"cannot be split into fields: {exc}")
                    reader = csv.reader(lines, delimiter=mapping.delimiter)
                    continue
                if lines.ended_inside_quotes:
                    set_aside(_UNCLOSED_AT_END)
                    reader = csv.reader(lines, delimiter=mapping.delimiter)
                    continue
                if not row or row == [""]:
                    lines.take_row()
                    continue
                if scan.expected is None:  # the first row: the header, or the first data row
                    scan.expected = len(row)
                    scan.names = _unique_names(row) if mapping.header else list(range(scan.expected))
                    wanted = [_column_position(mapping, field_name, scan.names, path)
                              for field_name in mapping.columns]
                    scan.columns = [[] for _ in wanted]
                    lines.looks_like_row = _row_test(mapping, scan.names, scan.expected)
                    if mapping.header:
                        scan.header_row = row
                        lines.take_row()
                        continue
                elif len(row) > scan.expected:
                    set_aside(f"expected {scan.expected} fields, found {len(row)}", whole_row=True)
                    continue
                taken = lines.take_row()
                scan.starts.append(taken[0][0])
                scan.ends.append(taken[-1][0])
                if keep_fields:
                    for values, position in zip(scan.columns, wanted):
                        values.append(row[position] if position < len(row) else None)  # short rows: missing
    except LookupError as exc:
        raise MappingError(f"[options] encoding: {exc}") from exc
    finally:
        csv.field_size_limit(limit)
    if scan.expected is None:  # an empty file: the mapping still has to name real columns
        for field_name in mapping.columns:
            _column_position(mapping, field_name, [], path)
    return scan


class _KeptLines(io.RawIOBase):
    """The file's lines without the dropped ones, re-encoded as UTF-8, for pandas to parse."""

    def __init__(self, handle: io.TextIOWrapper, dropped: set[int]) -> None:
        self._lines = enumerate(iter(handle.readline, ""), start=1)
        self._dropped = dropped
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while len(self._pending) < len(buffer):
            chunk = []
            for number, text in self._lines:
                if number not in self._dropped:
                    chunk.append(text)
                if len(chunk) >= 4096:
                    break
            if not chunk:
                break
            self._pending += "".join(chunk).encode("utf-8", "surrogatepass")
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def _parse_kept_lines(path: Path, mapping: SourceMapping, scan: _Scan) -> pd.DataFrame | None:
    """The kept rows' mapped fields parsed by pandas, or None if pandas finds other rows."""
    with open(path, encoding=_text_encoding(mapping), errors="replace", newline="") as handle:
        stream = io.BufferedReader(_KeptLines(handle, scan.dropped), 1 << 20)
        try:
            table = pd.read_csv(stream, sep=mapping.delimiter, header=0 if mapping.header else None,
                                dtype=str, keep_default_na=False, na_values=[], encoding="utf-8",
                                encoding_errors="replace")
        except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError):
            return None
    if (not isinstance(table.index, pd.RangeIndex) or len(table) != len(scan.starts)
            or [str(c) for c in table.columns] != [str(c) for c in scan.names]):
        log.debug("%s: pandas read other rows than the csv module; using the csv module's", path)
        return None
    return _select_columns(table, mapping, path)


_UNCLOSED_AT_END = "a quoted field opens on this line and is never closed (the file ends inside it)"


def _row_test(mapping: SourceMapping, names: list[str | int], expected: int) -> Callable[[str], bool] | None:
    """Whether a line inside an open quoted field reads as a row of this file on its own.

    It must leave the quote open (an even number of quote characters: a line that closes the
    field is its end, not a row), split into exactly the file's number of fields with the
    required ids and timestamp present, and, where the mapping has a behaviour column, hold a
    behaviour it knows.
    """
    if expected < 3:
        return None
    required = [_column_position(mapping, f, names, None) for f in ("user_id", "item_id", "timestamp")
                if f in mapping.columns]
    behaviour_at = (_column_position(mapping, "behaviour", names, None)
                    if "behaviour" in mapping.columns else None)
    known = {k.lower() for k in mapping.behaviours}

    def test(text: str) -> bool:
        if text.count(mapping.delimiter) < expected - 1 or text.count('"') % 2:
            return False  # too few fields, or the line closes the open quote: part of the field
        fields = next(csv.reader([text.rstrip("\r\n")], delimiter=mapping.delimiter), [])
        if len(fields) != expected or any(not fields[i].strip() for i in required):
            return False
        if behaviour_at is None:
            return True
        name = fields[behaviour_at].strip()
        return canonical_behaviour(name) is not None or name.lower() in known
    return test


def _unique_names(names: list[str]) -> list[str | int]:
    """Header names made unique the way pandas does it (a repeated ``x`` becomes ``x.1``)."""
    seen: dict[str, int] = {}
    out: list[str | int] = []
    for name in names:
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        seen.setdefault(name, 0)
        out.append(name)
    return out


def _column_position(mapping: SourceMapping, field_name: str, names: list[str | int],
                     path: Path | None) -> int:
    """Where ``field_name``'s source column is among ``names``; a :class:`MappingError` saying
    what to write instead if it is not there (``path`` None: return -1 quietly)."""
    source = mapping.columns[field_name]
    if isinstance(source, int):
        if source < len(names):
            return source
        if path is None:
            return -1
        raise MappingError(
            f"{path.name}: [columns] {field_name} = {source}, but the file has only "
            f"{len(names)} columns")
    if source in names:
        return names.index(source)
    if path is None:
        return -1
    raise MappingError(_no_such_column(mapping, field_name, source, names, path))


def _no_such_column(mapping: SourceMapping, field_name: str, source: str, names: list[str | int],
                    path: Path) -> str:
    if source.strip().isdigit():
        position = int(source)
        written = f'{field_name} = "{source}"'
        if not mapping.header:
            return (f"{path.name}: [columns] {written} is a name in quotes, but with header = false "
                    f"the columns have no names: write the 0-based position without quotes, "
                    f"{field_name} = {position}")
        return (f"{path.name}: [columns] {written}: the header has no column named {source!r}; "
                f"for the column at 0-based position {position}, write it without quotes: "
                f"{field_name} = {position}")
    message = (f"{path.name}: [columns] {field_name} = {source!r}, but the file has no such "
               f"column; it has {[str(c) for c in names][:20]}")
    if mapping.header:
        return message + (" (if line 1 is data rather than a header, set [options] header = false "
                          "and map columns by 0-based position)")
    return message + " (header = false: use 0-based positions)"


def _select_columns(table: pd.DataFrame, mapping: SourceMapping, path: Path) -> pd.DataFrame:
    names: list[str | int] = list(table.columns)
    out = pd.DataFrame(index=table.index)
    for field_name in mapping.columns:
        out[field_name] = table.iloc[:, _column_position(mapping, field_name, names, path)]
    return out


#: Longest raw row kept in a reject file, in characters; a longer one is cut and says so.
MAX_RAW_ROW = 1_000_000


def raw_rows(path: Path, mapping: SourceMapping, spans: dict[int, int]) -> dict[int, str]:
    """The source text of rows by first line (``spans``: first line -> last line), as written.

    CSV rows are their physical lines (without the final line break); Parquet rows (numbered
    from 1) are their columns as JSON. A row longer than :data:`MAX_RAW_ROW` characters is cut.
    """
    if not spans:
        return {}
    if path.suffix.lower() in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        rows: dict[int, str] = {}
        for line in spans:
            if 1 <= line <= table.num_rows:
                row = table.slice(line - 1, 1).to_pylist()[0]
                rows[line] = _cut(json.dumps(row, ensure_ascii=False, default=str))
        return rows
    encoding = "utf-8-sig" if mapping.encoding.lower().replace("_", "-") in ("utf-8", "utf8") else mapping.encoding
    by_end: dict[int, list[int]] = {}
    for start, end in spans.items():
        by_end.setdefault(end, []).append(start)
    last = max(spans.values())
    first = min(spans)
    pieces: dict[int, list[str]] = {start: [] for start in spans}
    sizes = dict.fromkeys(spans, 0)
    open_rows: set[int] = set()
    out: dict[int, str] = {}
    with open(path, encoding=encoding, errors="replace", newline="") as handle:
        for number, text in enumerate(iter(handle.readline, ""), start=1):
            if number < first:
                continue
            if number in pieces:
                open_rows.add(number)
            for start in open_rows:
                if sizes[start] <= MAX_RAW_ROW:
                    pieces[start].append(text)
                    sizes[start] += len(text)
            for start in by_end.get(number, []):
                open_rows.discard(start)
                out[start] = _cut("".join(pieces.pop(start)).rstrip("\r\n"))
            if number >= last:
                break
    return out


def _cut(text: str) -> str:
    if len(text) <= MAX_RAW_ROW:
        return text
    return text[:MAX_RAW_ROW] + f" ... [cut: the row is longer than {MAX_RAW_ROW:,} characters]"


def read_text_sample(path: Path, n_bytes: int = 4096) -> str:
    """The first bytes of a file as text (for error messages)."""
    with open(path, "rb") as handle:
        return io.TextIOWrapper(io.BytesIO(handle.read(n_bytes)), errors="replace").read()
