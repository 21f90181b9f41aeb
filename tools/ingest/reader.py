"""Reading source files (CSV or Parquet, files or folders) into raw string tables.

Everything is read as text so that validation, not the parser, decides what a bad value is and
can say which line holds it. Bytes that are not valid in the declared encoding become U+FFFD
and are reported by validation as an encoding problem on their line.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .mapping import MappingError, SourceMapping

SUPPORTED_SUFFIXES = (".csv", ".tsv", ".txt", ".csv.gz", ".parquet", ".pq")


@dataclass
class RawTable:
    """One source file read as text, with each row's line number in the file."""

    path: Path
    frame: pd.DataFrame          # columns = our field names, values = source text (or NA)
    line_numbers: pd.Series      # 1-based physical line of each row (row number for Parquet)
    malformed: list[tuple[int, str]]  # (line, reason) of rows the parser could not split
    sha256: str


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


def read_source(path: Path, mapping: SourceMapping) -> RawTable:
    """Read one file into the mapped fields as text."""
    if path.suffix.lower() in (".parquet", ".pq"):
        table = pd.read_parquet(path)
        frame = _select_columns(table, mapping, path)
        frame = frame.astype("string")
        lines = pd.Series(range(1, len(frame) + 1), index=frame.index)
        return RawTable(path, frame, lines, [], file_sha256(path))
    return _read_csv(path, mapping)


def _read_csv(path: Path, mapping: SourceMapping) -> RawTable:
    header = 0 if mapping.header else None
    common = dict(sep=mapping.delimiter, header=header, dtype=str, keep_default_na=False,
                  na_values=[], encoding=mapping.encoding, encoding_errors="replace")
    try:
        table = pd.read_csv(path, **common)
    except pd.errors.ParserError:
        # Some rows have the wrong number of fields, or a quote never closes: split the file
        # row by row, set those rows aside as malformed, and read the rest.
        return _read_csv_by_rows(path, mapping)
    except pd.errors.EmptyDataError:
        table = pd.DataFrame()
    except LookupError as exc:
        raise MappingError(f"[options] encoding: {exc}") from exc
    if not isinstance(table.index, pd.RangeIndex):
        # Rows with one field more than the header: pandas took the first column as an index
        # and shifted every field. Those rows are malformed, not shifted.
        return _read_csv_by_rows(path, mapping)
    first = 2 if mapping.header else 1
    if len(table) + first - 1 != _count_lines(path):
        # Blank lines or line breaks inside quoted fields: row n is not line n + 1, and a
        # report must name the physical line.
        return _read_csv_by_rows(path, mapping)
    frame = _select_columns(table, mapping, path)
    lines = pd.Series(range(first, len(frame) + first), index=frame.index, dtype="int64")
    return RawTable(path, frame, lines, [], file_sha256(path))


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


def _read_csv_by_rows(path: Path, mapping: SourceMapping) -> RawTable:
    """The slow, exact reader: each row's physical first line, and rows that cannot be split."""
    rows: list[list[str]] = []
    lines: list[int] = []
    malformed: list[tuple[int, str]] = []
    limit = csv.field_size_limit()
    csv.field_size_limit(max(limit, 1 << 30))  # a huge field is a value to validate, not a crash
    try:
        encoding = "utf-8-sig" if mapping.encoding.lower().replace("_", "-") in ("utf-8", "utf8") else mapping.encoding
        with open(path, encoding=encoding, errors="replace", newline="") as handle:
            reader = csv.reader(handle, delimiter=mapping.delimiter)
            expected: int | None = None
            start = 1
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    malformed.append((start, f"cannot be split into fields: {exc}"))
                    break
                line, start = start, reader.line_num + 1
                if not row or row == [""]:
                    continue
                if expected is None:
                    expected = len(row)
                elif len(row) > expected:
                    malformed.append((line, f"expected {expected} fields, found {len(row)}"))
                    continue
                row = row + [None] * (expected - len(row))  # short rows: missing fields, as pandas reads them
                rows.append(row)
                lines.append(line)
    except LookupError as exc:
        raise MappingError(f"[options] encoding: {exc}") from exc
    finally:
        csv.field_size_limit(limit)
    if mapping.header and rows:
        names: list[str | int] = _unique_names(rows[0])
        rows, lines = rows[1:], lines[1:]
    else:
        names = list(range(expected or 0))
    table = pd.DataFrame(rows, columns=names, dtype=object)
    frame = _select_columns(table, mapping, path)
    return RawTable(path, frame, pd.Series(lines, index=frame.index, dtype="int64"), malformed,
                    file_sha256(path))


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


def _select_columns(table: pd.DataFrame, mapping: SourceMapping, path: Path) -> pd.DataFrame:
    out = pd.DataFrame(index=table.index)
    for field_name, source in mapping.columns.items():
        if isinstance(source, int):
            if source >= table.shape[1]:
                raise MappingError(
                    f"{path.name}: [columns] {field_name} = {source}, but the file has only "
                    f"{table.shape[1]} columns")
            out[field_name] = table.iloc[:, source]
        else:
            if source not in table.columns:
                raise MappingError(
                    f"{path.name}: [columns] {field_name} = {source!r}, but the file has no such "
                    f"column; it has {[str(c) for c in table.columns][:20]}"
                    + ("" if mapping.header else " (header = false: use 0-based positions)"))
            out[field_name] = table[source]
    return out


def read_text_sample(path: Path, n_bytes: int = 4096) -> str:
    """The first bytes of a file as text (for error messages)."""
    with open(path, "rb") as handle:
        return io.TextIOWrapper(io.BytesIO(handle.read(n_bytes)), errors="replace").read()
