"""A source file as pieces that can be read one by one, each as batches of rows with their lines.

Ingesting a log far larger than memory reads it in batches; reading it on several workers reads
it in pieces. A CSV file is split into byte ranges at line breaks, each read by pyarrow's CSV
parser (every column as text, as the whole-file reader does); the pieces' line numbers are known
from one scan of the file that also computes its SHA-256. Parquet files are split by row groups.

The fast CSV path holds only while every row is one physical line: a piece whose rows do not
match its lines one to one (a quoted line break, a blank line), or that neither pyarrow nor
pandas can split into the file's columns, says so (:class:`NeedsExactReader`), and the whole file
is read by the exact reader of :mod:`.reader` instead — the same rows, reasons and line
numbers as before, at the memory cost of reading that one file whole.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .mapping import SourceMapping
from .reader import RawTable, _column_position, _select_columns, _unique_names, read_source

log = logging.getLogger(__name__)

#: Bytes of a CSV file per piece (a piece is one task; its rows are read in batches).
PIECE_BYTES = 64 << 20
#: Rows per batch: what one validation call holds in memory.
BATCH_ROWS = 1_000_000
_BLOCK = 8 << 20


class NeedsExactReader(Exception):
    """The fast reader cannot promise one row per line here: read the file with the exact reader."""


@dataclass(frozen=True)
class Piece:
    """One piece of one source file: a byte range of a CSV file, a row range of a Parquet file,
    or the whole file for the exact reader. Picklable; read with :func:`read_piece`."""

    file_index: int
    path: str
    kind: str               # "csv" | "parquet" | "whole"
    start: int              # byte offset (csv) or first row (parquet)
    stop: int
    first_line: int         # line (csv) or row number (parquet) of the piece's first row, 1-based
    lines: int              # physical lines in the piece (csv), rows (parquet)
    names: tuple[str | int, ...] = ()   # the file's column names (or positions, without a header)
    header: tuple[str, ...] | None = None  # the header row as written (first piece only)
    index: int = 0          # position among the file's pieces


@dataclass(frozen=True)
class SourcePlan:
    """How one source file will be read."""

    file_index: int
    path: str
    sha256: str
    size: int
    pieces: tuple[Piece, ...]
    timestamp_guess: str | None = None


def _is_utf8(mapping: SourceMapping) -> bool:
    return mapping.encoding.lower().replace("_", "-") in ("utf-8", "utf8", "utf-8-sig")


def _count_lines(block: bytes, previous_last: bytes) -> int:
    count = block.count(b"\n") + block.count(b"\r") - block.count(b"\r\n")
    if previous_last == b"\r" and block[:1] == b"\n":
        count -= 1
    return count


def plan_source(file_index: int, path: Path, mapping: SourceMapping, piece_bytes: int = PIECE_BYTES,
                exact: bool = False) -> SourcePlan:
    """Scan ``path`` once (SHA-256, line breaks) and split it into pieces.

    ``exact`` (or a file the fast reader cannot cut: not UTF-8, a header that is not one plain
    line, an empty file) plans the whole file as one piece for the exact reader.
    """
    size = path.stat().st_size
    if path.suffix.lower() in (".parquet", ".pq"):
        return _plan_parquet(file_index, path, mapping, size)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        first_line = handle.readline()
        handle.seek(0)
        names, header, data_start, fast = _header(first_line, mapping, path)
        if exact or not fast or not _is_utf8(mapping):
            for block in iter(lambda: handle.read(_BLOCK), b""):
                digest.update(block)
            return SourcePlan(file_index, str(path), digest.hexdigest(), size,
                              (Piece(file_index, str(path), "whole", 0, size, 1, 0),))
        pieces: list[Piece] = []
        lines_before = 1 if mapping.header else 0  # the header's line
        piece_start, piece_lines, position, last = data_start, 0, 0, b""
        header_block = True
        for block in iter(lambda: handle.read(_BLOCK), b""):
            digest.update(block)
            offset = 0
            if header_block:
                offset, header_block = data_start, False
            while True:
                chunk = block[offset:]
                room = piece_start + piece_bytes - (position + offset)
                if room > len(chunk):
                    piece_lines += _count_lines(chunk, last if offset == 0 else block[offset - 1:offset])
                    break
                cut = chunk.find(b"\n", max(room, 0))
                if cut < 0:
                    piece_lines += _count_lines(chunk, last if offset == 0 else block[offset - 1:offset])
                    break
                piece_lines += _count_lines(chunk[:cut + 1], last if offset == 0 else block[offset - 1:offset])
                end = position + offset + cut + 1
                pieces.append(Piece(file_index, str(path), "csv", piece_start, end, lines_before + 1,
                                    piece_lines, names, header if not pieces else None, len(pieces)))
                lines_before += piece_lines
                piece_start, piece_lines = end, 0
                offset += cut + 1
            position += len(block)
            last = block[-1:]
        if last not in (b"", b"\n", b"\r"):
            piece_lines += 1  # a last line without a line break
        if position > piece_start or not pieces:
            pieces.append(Piece(file_index, str(path), "csv", piece_start, position, lines_before + 1,
                                piece_lines, names, header if not pieces else None, len(pieces)))
    return SourcePlan(file_index, str(path), digest.hexdigest(), size, tuple(pieces))


def _header(first_line: bytes, mapping: SourceMapping, path: Path
            ) -> tuple[tuple[str | int, ...], tuple[str, ...] | None, int, bool]:
    """(column names, header as written, where data starts, whether the fast reader may cut)."""
    text = first_line.decode("utf-8", errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip() or not text.endswith(("\n", "\r")) or "\r" in text.rstrip("\r\n") or "\ufffd" in text:
        return (), None, 0, False
    row = next(csv.reader([text.rstrip("\r\n")], delimiter=mapping.delimiter), [])
    if text.count('"') % 2 or not row:
        return (), None, 0, False
    names: list[str | int] = _unique_names(row) if mapping.header else list(range(len(row)))
    for field_name in mapping.columns:  # a mapping naming a missing column: the same error as before
        _column_position(mapping, field_name, names, path)
    header = tuple(row) if mapping.header else None
    return tuple(names), header, len(first_line) if mapping.header else 0, True


def _plan_parquet(file_index: int, path: Path, mapping: SourceMapping, size: int) -> SourcePlan:
    import pyarrow.parquet as pq

    from .reader import file_sha256

    handle = pq.ParquetFile(path)
    names: list[str | int] = list(handle.schema_arrow.names)
    for field_name in mapping.columns:
        _column_position(mapping, field_name, names, path)
    pieces: list[Any] = []
    row, group_rows, start = 0, 0, 0
    for group in range(handle.num_row_groups):
        rows = handle.metadata.row_group(group).num_rows
        group_rows += rows
        if group_rows >= BATCH_ROWS * 4 or group == handle.num_row_groups - 1:
            pieces.append(Piece(file_index, str(path), "parquet", start, group + 1, row + 1, group_rows,
                                tuple(names), None, len(pieces)))
            row += group_rows
            start, group_rows = group + 1, 0
    if not pieces:
        pieces.append(Piece(file_index, str(path), "parquet", 0, 0, 1, 0, tuple(names), None, 0))
    return SourcePlan(file_index, str(path), file_sha256(path), size, tuple(pieces))


def read_piece(piece: Piece, mapping: SourceMapping, batch_rows: int = BATCH_ROWS) -> Iterator[RawTable]:
    """The piece's rows in batches of at most ``batch_rows``, as text, with their line numbers.

    Raises :class:`NeedsExactReader` (before or after yielding batches) when the fast reader's
    rows are not the file's rows one per line; the caller then discards what it got.
    """
    path = Path(piece.path)
    if piece.kind == "whole":
        yield read_source(path, mapping)
        return
    if piece.kind == "parquet":
        yield from _read_parquet_piece(piece, mapping, batch_rows)
        return
    with open(path, "rb") as handle:
        handle.seek(piece.start)
        data = handle.read(piece.stop - piece.start)
    if piece.first_line == 1 + int(mapping.header) and data.startswith(b"\xef\xbb\xbf") and not mapping.header:
        data = data[3:]
    rows = 0
    try:
        for frame in _arrow_batches(data, piece, mapping, batch_rows):
            yield _raw(piece, frame, rows)
            rows += len(frame)
    except _ArrowFailed:
        if rows:
            raise NeedsExactReader(f"{path.name}: pyarrow stopped after {rows} rows") from None
        for frame in _pandas_batches(data, piece, mapping, batch_rows):
            yield _raw(piece, frame, rows)
            rows += len(frame)
    if rows != piece.lines:
        raise NeedsExactReader(f"{path.name}: {rows} rows in {piece.lines} lines from line {piece.first_line}")
    if not rows and piece.index == 0:  # no rows: the header alone is still checked
        yield _raw(piece, pd.DataFrame({f: pd.Series(dtype="string") for f in mapping.columns}), 0)


class _ArrowFailed(Exception):
    pass


def _field_columns(piece: Piece, mapping: SourceMapping) -> list[str]:
    return [str(piece.names[_column_position(mapping, f, list(piece.names), Path(piece.path))])
            for f in mapping.columns]


def _arrow_batches(data: bytes, piece: Piece, mapping: SourceMapping, batch_rows: int) -> Iterator[pd.DataFrame]:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    names = [str(n) for n in piece.names]
    wanted = list(dict.fromkeys(_field_columns(piece, mapping)))
    try:
        reader = pcsv.open_csv(
            pa.BufferReader(data),
            read_options=pcsv.ReadOptions(column_names=names, use_threads=False, block_size=16 << 20),
            parse_options=pcsv.ParseOptions(delimiter=mapping.delimiter, newlines_in_values=True,
                                            ignore_empty_lines=True),
            convert_options=pcsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                include_columns=wanted, strings_can_be_null=False,
                                                quoted_strings_can_be_null=False))
        pending: list[pa.RecordBatch] = []
        size = 0
        for batch in reader:
            pending.append(batch)
            size += batch.num_rows
            if size >= batch_rows:
                yield _arrow_frame(pa.Table.from_batches(pending), piece, mapping)
                pending, size = [], 0
        if pending or not size:
            table = pa.Table.from_batches(pending, schema=reader.schema)
            if table.num_rows:
                yield _arrow_frame(table, piece, mapping)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        log.debug("%s: pyarrow cannot read lines %d..: %s", piece.path, piece.first_line, exc)
        raise _ArrowFailed from exc


def _arrow_frame(table: object, piece: Piece, mapping: SourceMapping) -> pd.DataFrame:
    frame = table.to_pandas()  # type: ignore[attr-defined]  # a pyarrow Table
    out = pd.DataFrame(index=frame.index)
    for field_name, column in zip(mapping.columns, _field_columns(piece, mapping)):
        out[field_name] = frame[column]
    return out


def _pandas_batches(data: bytes, piece: Piece, mapping: SourceMapping, batch_rows: int) -> Iterator[pd.DataFrame]:
    """pandas' C parser on the piece: what the whole-file reader does, batch by batch."""
    try:
        reader = pd.read_csv(io.BytesIO(data), sep=mapping.delimiter, header=None, names=list(piece.names),
                             dtype=str, keep_default_na=False, na_values=[], encoding="utf-8",
                             encoding_errors="replace", chunksize=batch_rows)
        for frame in reader:
            if not isinstance(frame.index, pd.RangeIndex):
                raise NeedsExactReader(f"{piece.path}: rows with more fields than the header")
            yield _select_columns(frame, mapping, Path(piece.path))
    except (pd.errors.ParserError, ValueError) as exc:
        raise NeedsExactReader(f"{piece.path}: {exc}") from exc
    except pd.errors.EmptyDataError:
        return


def _raw(piece: Piece, frame: pd.DataFrame, rows_before: int) -> RawTable:
    first = piece.first_line + rows_before
    frame = frame.reset_index(drop=True).astype("string")
    lines = pd.Series(range(first, first + len(frame)), index=frame.index, dtype="int64")
    header = list(piece.header) if piece.header is not None and rows_before == 0 else None
    return RawTable(Path(piece.path), frame, lines, [], "", header=header)


def _read_parquet_piece(piece: Piece, mapping: SourceMapping, batch_rows: int) -> Iterator[RawTable]:
    import pyarrow.parquet as pq

    handle = pq.ParquetFile(piece.path)
    columns = list(dict.fromkeys(str(piece.names[_column_position(mapping, f, list(piece.names), None)])
                                 for f in mapping.columns))
    rows = 0
    groups = list(range(piece.start, piece.stop))
    if not groups:
        return
    for batch in handle.iter_batches(batch_size=batch_rows, row_groups=groups, columns=columns):
        frame = _select_columns(batch.to_pandas(), mapping, Path(piece.path)).astype("string")
        first = piece.first_line + rows
        lines = pd.Series(range(first, first + len(frame)), index=frame.index, dtype="int64")
        yield RawTable(Path(piece.path), frame, lines, [], "")
        rows += len(frame)
