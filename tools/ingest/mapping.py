"""How a source log maps onto whyrec's schema: a TOML file or a built-in preset.

A mapping file has three tables::

    [columns]            # our field = source column name, or 0-based position
    user_id = "visitorid"
    item_id = "itemid"
    behaviour = "event"
    timestamp = "timestamp"

    [behaviours]         # source value = our behaviour ("skip" drops such rows)
    addtocart = "cart"
    transaction = "purchase"

    [options]
    header = true
    delimiter = ","
    timestamp_unit = "ms"          # or timestamp_format = "%Y-%m-%d %H:%M:%S"
    duplicates = "reject"          # identical rows: reject | keep (repeated actions) | drop
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from ..schema import BEHAVIOURS, MAPPABLE_FIELDS, REQUIRED_EVENT_FIELDS

DUPLICATE_POLICIES = ("reject", "keep", "drop")
SKIP = "skip"


class MappingError(ValueError):
    """The mapping file itself is wrong (unknown field, bad option, missing column)."""


@dataclass(frozen=True)
class SourceMapping:
    """Everything needed to turn one source table into events (and item attributes)."""

    columns: dict[str, str | int]
    behaviours: dict[str, str] = field(default_factory=dict)
    header: bool = True
    delimiter: str = ","
    encoding: str = "utf-8"
    timestamp_unit: str | None = None
    timestamp_format: str | None = None
    #: Year to prepend when ``timestamp_format`` has none (e.g. Tmall 2014's ``M-D`` dates).
    year: int | None = None
    duplicates: str = "reject"
    #: Behaviour by rating level: (threshold, behaviour) pairs, highest first; the value column
    #: holds the rating. Used for MovieLens, where a rating stands for the behaviour.
    rating_levels: tuple[tuple[float, str], ...] = ()
    #: Builds a readable title from the mapped item attributes when the log has none.
    title_builder: Callable[[pd.DataFrame], pd.Series] | None = None
    name: str = "custom"

    def __post_init__(self) -> None:
        unknown = set(self.columns) - set(MAPPABLE_FIELDS)
        if unknown:
            raise MappingError(
                f"[columns] has unknown field(s) {sorted(unknown)}; allowed: {list(MAPPABLE_FIELDS)}")
        missing = [f for f in REQUIRED_EVENT_FIELDS if f not in self.columns
                   and not (f == "behaviour" and self.rating_levels)]
        if missing:
            raise MappingError(f"[columns] must map {missing} (required for every event)")
        for source, target in self.behaviours.items():
            if target not in BEHAVIOURS and target != SKIP:
                raise MappingError(
                    f"[behaviours] maps {source!r} to {target!r}, which is not one of "
                    f"{list(BEHAVIOURS)} or {SKIP!r}")
        if self.duplicates not in DUPLICATE_POLICIES:
            raise MappingError(f"[options] duplicates must be one of {DUPLICATE_POLICIES}")
        if self.timestamp_unit not in (None, "s", "ms", "us", "ns"):
            raise MappingError('[options] timestamp_unit must be "s", "ms", "us" or "ns"')
        if self.timestamp_unit and self.timestamp_format:
            raise MappingError("[options] give timestamp_unit or timestamp_format, not both")
        if not isinstance(self.delimiter, str) or len(self.delimiter) != 1:
            raise MappingError("[options] delimiter must be a single character")
        if self.delimiter in ('"', "\n", "\r"):
            raise MappingError("[options] delimiter cannot be a quote or a line break")

    def with_options(self, **changes: Any) -> SourceMapping:
        return replace(self, **changes)


def load_mapping(path: str | Path) -> SourceMapping:
    """Read a mapping TOML file; raise :class:`MappingError` naming what is wrong."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise MappingError(f"cannot read mapping {path}: {exc}") from exc
    return mapping_from_dict(data, name=Path(path).stem)


def mapping_from_dict(data: dict[str, Any], name: str = "custom") -> SourceMapping:
    unknown_tables = set(data) - {"columns", "behaviours", "options"}
    if unknown_tables:
        raise MappingError(f"unknown table(s) {sorted(unknown_tables)}; use [columns], [behaviours], [options]")
    for table in ("columns", "behaviours", "options"):
        if not isinstance(data.get(table, {}), dict):
            raise MappingError(f"[{table}] must be a table")
    columns = dict(data.get("columns", {}))
    for key, value in columns.items():
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise MappingError(f"[columns] {key} must be a column name or a 0-based position")
        if isinstance(value, int) and value < 0:
            raise MappingError(f"[columns] {key} = {value}: positions are 0-based and not negative")
    behaviours = {str(k): str(v) for k, v in dict(data.get("behaviours", {})).items()}
    options = dict(data.get("options", {}))
    allowed = {"header", "delimiter", "encoding", "timestamp_unit", "timestamp_format", "year",
               "duplicates"}
    unknown_options = set(options) - allowed
    if unknown_options:
        raise MappingError(f"[options] has unknown key(s) {sorted(unknown_options)}; allowed: {sorted(allowed)}")
    if "header" in options and not isinstance(options["header"], bool):
        raise MappingError("[options] header must be true or false")
    for key in ("delimiter", "encoding", "timestamp_unit", "timestamp_format", "duplicates"):
        if key in options and not isinstance(options[key], str):
            raise MappingError(f"[options] {key} must be a string")
    if "year" in options and (not isinstance(options["year"], int) or isinstance(options["year"], bool)
                              or not 1 <= options["year"] <= 9999):
        raise MappingError("[options] year must be a whole number from 1 to 9999")
    return SourceMapping(columns=columns, behaviours=behaviours, name=name, **options)

