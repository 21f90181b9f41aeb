"""Segments of the unit table: category, brand, price band, user activity level.

A segment spec is a dimension (``"category"``) for every value of it, or one value
(``"category=books"``). Price and activity are cut into low/mid/high thirds; the cut points
are returned so a single user-item pair can be placed in the same band later.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Dimension name -> unit-table column it is read from.
DIMENSIONS: dict[str, str] = {
    "category": "category",
    "brand": "brand",
    "price_band": "price",
    "activity": "user_prior_items",
}
BANDS: tuple[str, ...] = ("low", "mid", "high")
BANDED: tuple[str, ...] = ("price_band", "activity")


@dataclass(frozen=True)
class SegmentSpec:
    """A parsed ``--segment`` value: the dimension and, optionally, one value of it."""

    dimension: str
    value: str | None = None

    @classmethod
    def parse(cls, text: str) -> SegmentSpec:
        name, _, value = text.partition("=")
        name = name.strip().replace("-", "_")
        aliases = {"price": "price_band", "user_activity": "activity", "activity_level": "activity"}
        name = aliases.get(name, name)
        if name not in DIMENSIONS:
            raise ValueError(f"unknown segment {name!r}; choose one of {sorted(DIMENSIONS)} "
                             "(optionally with =VALUE, e.g. category=books)")
        return cls(name, value.strip() or None)

    @property
    def key(self) -> str:
        return self.dimension if self.value is None else f"{self.dimension}={self.value}"


def band_edges(values: pd.Series) -> tuple[float, float] | None:
    """The 1/3 and 2/3 quantiles of ``values`` (None if there are no finite values)."""
    finite = pd.to_numeric(values, errors="coerce").dropna()
    if finite.empty:
        return None
    low, high = np.quantile(finite.to_numpy(dtype=float), [1 / 3, 2 / 3])
    return float(low), float(high)


def band_of(value: float | None, edges: tuple[float, float] | None) -> str | None:
    """'low' / 'mid' / 'high' for ``value`` given the cut points (None if unknown)."""
    if edges is None or value is None or not np.isfinite(value):
        return None
    if value <= edges[0]:
        return "low"
    return "mid" if value <= edges[1] else "high"


def segment_labels(units: pd.DataFrame, dimension: str) -> tuple[pd.Series, tuple[float, float] | None]:
    """Each unit's value of ``dimension`` (as a string), and the band cut points if banded.

    Bands are cut over the exposures (one per (user, item)), so a segment means the same for
    every behaviour; decision points take their exposure's label (:func:`label_values`)."""
    column = DIMENSIONS[dimension]
    edges = band_edges(units[column]) if dimension in BANDED else None
    return label_values(units[column], dimension, edges), edges


def label_values(values: pd.Series, dimension: str, edges: tuple[float, float] | None) -> pd.Series:
    """The segment label of each value: 'low'/'mid'/'high' for banded dimensions (by ``edges``),
    the value itself otherwise."""
    if dimension not in BANDED:
        return values.astype("string").reset_index(drop=True)
    numeric = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
    if edges is None:
        return pd.Series(pd.NA, index=range(len(numeric)), dtype="string")
    labels = np.where(numeric <= edges[0], "low", np.where(numeric <= edges[1], "mid", "high"))
    return pd.Series(labels, dtype="string").where(np.isfinite(numeric))
