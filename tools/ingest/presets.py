"""Built-in mappings for the public logs whyrec is tested on (see ../shared/data)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .mapping import SKIP, MappingError, SourceMapping


@dataclass(frozen=True)
class Preset:
    """A named mapping plus where its files are inside a dataset folder."""

    name: str
    description: str
    event_file: str
    make_mapping: Callable[[dict], SourceMapping]
    load_catalog: Callable[[Path], pd.DataFrame] | None = None

    def resolve_events(self, path: Path) -> Path:
        """The event file for ``path``, which may be the file itself or its folder."""
        candidate = path / self.event_file if path.is_dir() else path
        if not candidate.exists():
            raise MappingError(f"preset {self.name}: expected {self.event_file} in {path}")
        return candidate


def _rees46_title(frame: pd.DataFrame) -> pd.Series:
    """'Samsung smartphone (1004856)' from brand, the category leaf and the product id."""
    brand = frame.get("brand", pd.Series(pd.NA, index=frame.index)).fillna("").astype(str).str.strip()
    category = frame.get("category", pd.Series(pd.NA, index=frame.index)).fillna("").astype(str)
    leaf = category.str.rsplit(".", n=1).str[-1].str.replace("_", " ")
    leaf = leaf.where(leaf.str.len() > 0, "product")
    head = (brand.str.capitalize() + " " + leaf).str.strip()
    head = head.where(brand.str.len() > 0, leaf.str.capitalize())
    return head + " (" + frame["item_id"].astype(str) + ")"


def _rees46(options: dict) -> SourceMapping:
    return SourceMapping(
        name="rees46",
        columns={"user_id": "user_id", "item_id": "product_id", "behaviour": "event_type",
                 "timestamp": "event_time", "session_id": "user_session",
                 "category": "category_code", "brand": "brand", "price": "price"},
        behaviours={"view": "view", "cart": "cart", "purchase": "purchase",
                    "remove_from_cart": SKIP},
        timestamp_format="%Y-%m-%d %H:%M:%S UTC",
        # Three rows are logged twice in the same second; keep them as the log recorded them.
        duplicates=options.get("duplicates", "keep"),
        title_builder=_rees46_title,
    )


def _tmall_title(frame: pd.DataFrame) -> pd.Series:
    return "Brand " + frame["item_id"].astype(str)


def _tmall(options: dict) -> SourceMapping:
    return SourceMapping(
        name="tmall2014",
        columns={"user_id": "user_id", "item_id": "brand_id", "behaviour": "type",
                 "timestamp": "visit_datetime"},
        behaviours={"0": "click", "1": "purchase", "2": "favourite", "3": "cart"},
        timestamp_format="%m-%d",
        # The file has no year; the competition ran in spring 2014 on the previous year's log.
        year=int(options.get("year", 2013)),
        # Repeated identical rows are repeated actions on one day (SOURCE.md): keep them as counts.
        duplicates=options.get("duplicates", "keep"),
        title_builder=_tmall_title,
    )


def _movielens(options: dict) -> SourceMapping:
    return SourceMapping(
        name="movielens",
        columns={"user_id": "userId", "item_id": "movieId", "value": "rating",
                 "timestamp": "timestamp"},
        timestamp_unit="s",
        rating_levels=((4.0, "favourite"), (2.5, "click"), (0.0, "view")),
        duplicates=options.get("duplicates", "reject"),
    )


def _movielens_catalog(folder: Path) -> pd.DataFrame:
    """Titles and genres from movies.csv; the most used tags from tags.csv as description."""
    movies_path = folder / "movies.csv"
    if not movies_path.exists():
        return pd.DataFrame(columns=["item_id", "title", "category", "description"])
    movies = pd.read_csv(movies_path, dtype=str, keep_default_na=False)
    catalog = pd.DataFrame({
        "item_id": movies["movieId"].str.strip(),
        "title": movies["title"].str.strip(),
        "category": movies["genres"].str.replace("|", ", ", regex=False),
    })
    tags_path = folder / "tags.csv"
    if tags_path.exists():
        tags = pd.read_csv(tags_path, dtype=str, keep_default_na=False)
        tags["tag"] = tags["tag"].str.strip().str.lower()
        top = (tags.groupby(["movieId", "tag"]).size().rename("n").reset_index()
               .sort_values(["movieId", "n", "tag"], ascending=[True, False, True])
               .groupby("movieId").head(8)
               .groupby("movieId")["tag"].agg(", ".join))
        catalog["description"] = ("Tags: " + catalog["item_id"].map(top)).where(
            catalog["item_id"].isin(top.index))
    catalog["description"] = ("Genres: " + catalog["category"] + ". "
                              + catalog.get("description", pd.Series("", index=catalog.index)).fillna(""))
    return catalog


PRESETS: dict[str, Preset] = {
    "rees46": Preset("rees46", "REES46 multi-category store (2019-Oct.csv): view/cart/purchase",
                     "2019-Oct.csv", _rees46),
    "tmall2014": Preset("tmall2014", "Tmall brand log 2014 (t_alibaba_data.csv): click/buy/fav/cart; "
                        "M-D dates, year from --year (default 2013)", "t_alibaba_data.csv", _tmall),
    "movielens": Preset("movielens", "MovieLens latest-small: ratings.csv, movies.csv, tags.csv; "
                        "rating >= 4 favourite, >= 2.5 click, else view", "ratings.csv", _movielens,
                        _movielens_catalog),
}


def get_preset(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise MappingError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)} "
                           "or describe your log with --mapping FILE.toml") from None
