"""The item universe a ranker ranks over, and filters on it (category, brand, price, allow-list)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..frames import distinct_strings


@dataclass(frozen=True)
class ItemFilter:
    """Which items may be recommended; every given condition must hold.

    >>> ItemFilter(category_prefix="electronics.audio", max_price=100.0).is_empty()
    False
    """

    category_prefix: str | None = None
    brand: str | None = None
    max_price: float | None = None
    item_ids: frozenset[str] | None = None

    @classmethod
    def allow(cls, item_ids: Iterable[str]) -> ItemFilter:
        """A filter that lets only ``item_ids`` through."""
        return cls(item_ids=frozenset(str(i) for i in item_ids))

    def is_empty(self) -> bool:
        return (self.category_prefix is None and self.brand is None and self.max_price is None
                and self.item_ids is None)


@dataclass(frozen=True)
class ItemCatalog:
    """Item ids in ranking order (column ``j`` of every score vector) and their metadata."""

    ids: np.ndarray          # str ids, object dtype
    index: pd.Index          # id -> position
    titles: np.ndarray
    categories: np.ndarray   # lower-cased, "" if none
    brands: np.ndarray       # lower-cased, "" if none
    prices: np.ndarray       # float, NaN if none

    @classmethod
    def build(cls, events: pd.DataFrame, items: pd.DataFrame | None) -> ItemCatalog:
        """All catalog items, then any item seen only in the events (in first-seen order)."""
        frame = (items if items is not None and len(items) else
                 pd.DataFrame({"item_id": pd.Series(dtype="string")}))
        frame = frame.assign(item_id=frame["item_id"].astype(str)).drop_duplicates("item_id")
        extra = pd.Index(distinct_strings(events["item_id"]), dtype=object).difference(
            pd.Index(frame["item_id"]), sort=False)
        frame = pd.concat([frame, pd.DataFrame({"item_id": np.asarray(extra, dtype=object)})],
                          ignore_index=True)
        ids = frame["item_id"].to_numpy(dtype=object)

        def text(column: str, lower: bool) -> np.ndarray:
            if column not in frame.columns:
                return np.full(len(frame), "", dtype=object)
            values = frame[column].astype("string").fillna("")
            return (values.str.lower() if lower else values).to_numpy(dtype=object)

        titles = text("title", lower=False)
        titles = np.where(titles == "", np.char.add("item ", ids.astype(str)).astype(object), titles)
        prices = (pd.to_numeric(frame["price"], errors="coerce").to_numpy(dtype=np.float64,
                                                                         na_value=np.nan)
                  if "price" in frame.columns else np.full(len(frame), np.nan))
        return cls(ids, pd.Index(ids, dtype=object), titles, text("category", True),
                   text("brand", True), prices)

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    def positions(self, item_ids: Iterable[str]) -> np.ndarray:
        """Catalog positions of ``item_ids`` (-1 for unknown ones)."""
        return self.index.get_indexer(pd.Index([str(i) for i in item_ids], dtype=object))

    def mask(self, item_filter: ItemFilter | None) -> np.ndarray | None:
        """Boolean mask of allowed items, or ``None`` when everything is allowed."""
        if item_filter is None or item_filter.is_empty():
            return None
        allowed = np.ones(len(self), dtype=bool)
        if item_filter.category_prefix is not None:
            # A prefix of the dotted path, or of any part of a comma-separated genre list.
            pattern = r"(?:^|,\s*)" + re.escape(item_filter.category_prefix.lower().strip())
            allowed &= pd.Series(self.categories).str.contains(pattern, regex=True).to_numpy(bool)
        if item_filter.brand is not None:
            allowed &= self.brands == item_filter.brand.lower()
        if item_filter.max_price is not None:
            allowed &= self.prices <= item_filter.max_price
        if item_filter.item_ids is not None:
            chosen = np.zeros(len(self), dtype=bool)
            positions = self.positions(item_filter.item_ids)
            chosen[positions[positions >= 0]] = True
            allowed &= chosen
        return allowed
