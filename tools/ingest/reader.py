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
    malformed: list[tuple[int, str]] = []
    try:
        table = pd.read_csv(path, **common)
    except pd.errors.ParserError:
        # Some rows have the wrong number of fields: find them all, then read the rest.
        malformed = _find_malformed_rows(path, mapping)
        table = pd.read_csv(path, on_bad_lines="skip", **common)
    except pd.errors.EmptyDataError:
        table = pd.DataFrame()
    except LookupError as exc:
        raise MappingError(f"[options] encoding: {exc}") from exc
    frame = _select_columns(table, mapping, path)
    offset = 2 if mapping.header else 1
    bad_lines = sorted(line for line, _ in malformed)
    lines = _line_numbers(len(frame), offset, bad_lines)
    return RawTable(path, frame, pd.Series(lines, index=frame.index), malformed, file_sha256(path))


def _line_numbers(n_rows: int, first_line: int, skipped_lines: list[int]) -> list[int]:
    """Physical line of each parsed row, given lines the parser skipped (no embedded newlines)."""
    out: list[int] = []
    line = first_line
    skipped = iter(skipped_lines)
    next_skip = next(skipped, None)
    while len(out) < n_rows:
        while next_skip is not None and next_skip == line:
            line += 1
            next_skip = next(skipped, None)
        out.append(line)
        line += 1
    return out


def _find_malformed_rows(path: Path, mapping: SourceMapping) -> list[tuple[int, str]]:
    with open(path, encoding=mapping.encoding, errors="replace", newline="") as handle:
        reader = csv.reader(handle, delimiter=mapping.delimiter)
        expected: int | None = None
        bad: list[tuple[int, str]] = []
        for row in reader:
            if not row:
                continue
            if expected is None:
                expected = len(row)
                continue
            if len(row) != expected:
                bad.append((reader.line_num, f"expected {expected} fields, found {len(row)}"))
        return bad


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
