"""The demo shop's catalog: readable items in a dotted taxonomy, with brands and prices.

Items are drawn from a fixed vocabulary (top category → subcategory → product kind, each with
materials or variants and a price range), so titles read like a real shop's ("Nordlys wool
scarf") and stay unique. Popularity is a latent item weight the simulator uses to pick what
users look at; it is returned beside the catalog, not stored in it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..schema import conform_items

#: top category -> (price median, [(subcategory.kind, noun, [variants])])
TAXONOMY: dict[str, tuple[float, list[tuple[str, str, list[str]]]]] = {
    "apparel": (45.0, [
        ("accessories.scarf", "scarf", ["wool", "cashmere", "linen", "silk"]),
        ("accessories.hat", "beanie", ["merino", "ribbed", "fleece-lined"]),
        ("outerwear.jacket", "jacket", ["down", "rain", "quilted", "denim"]),
        ("knitwear.sweater", "sweater", ["cable-knit", "alpaca", "cotton"]),
        ("footwear.boots", "boots", ["leather", "suede", "hiking"]),
    ]),
    "home": (35.0, [
        ("kitchen.kettle", "kettle", ["stovetop", "electric", "enamel"]),
        ("kitchen.knife", "chef's knife", ["damascus", "carbon-steel", "ceramic"]),
        ("textiles.blanket", "blanket", ["wool", "waffle", "chunky-knit"]),
        ("lighting.lamp", "table lamp", ["brass", "paper", "oak"]),
        ("decor.vase", "vase", ["stoneware", "glass", "terracotta"]),
    ]),
    "electronics": (90.0, [
        ("audio.headphones", "headphones", ["wireless", "noise-cancelling", "studio"]),
        ("audio.speaker", "speaker", ["portable", "smart", "bookshelf"]),
        ("computing.keyboard", "keyboard", ["mechanical", "compact", "ergonomic"]),
        ("computing.mouse", "mouse", ["wireless", "vertical", "travel"]),
        ("wearables.watch", "fitness watch", ["GPS", "solar", "slim"]),
    ]),
    "beauty": (22.0, [
        ("skincare.cream", "face cream", ["hydrating", "night", "barrier"]),
        ("skincare.serum", "serum", ["vitamin C", "retinol", "hyaluronic"]),
        ("fragrance.perfume", "eau de parfum", ["cedar", "citrus", "amber"]),
        ("haircare.shampoo", "shampoo", ["volumising", "repair", "gentle"]),
    ]),
    "sports": (55.0, [
        ("outdoor.tent", "tent", ["two-person", "ultralight", "family"]),
        ("outdoor.backpack", "backpack", ["30-litre", "day", "trekking"]),
        ("fitness.yoga_mat", "yoga mat", ["cork", "travel", "extra-thick"]),
        ("cycling.helmet", "bike helmet", ["commuter", "road", "MIPS"]),
    ]),
    "books": (16.0, [
        ("fiction.novel", "novel", ["crime", "historical", "debut"]),
        ("nonfiction.cookbook", "cookbook", ["baking", "vegetarian", "Nordic"]),
        ("children.picture_book", "picture book", ["bedtime", "animal", "counting"]),
    ]),
    "toys": (25.0, [
        ("building.blocks", "building set", ["wooden", "magnetic", "castle"]),
        ("puzzles.jigsaw", "jigsaw puzzle", ["1000-piece", "panorama", "map"]),
        ("plush.bear", "plush bear", ["organic", "giant", "pocket"]),
    ]),
    "garden": (30.0, [
        ("tools.pruner", "pruner", ["bypass", "ratchet", "long-reach"]),
        ("plants.planter", "planter", ["self-watering", "hanging", "concrete"]),
        ("furniture.chair", "garden chair", ["folding", "teak", "rattan"]),
    ]),
}
TOP_CATEGORIES: tuple[str, ...] = tuple(TAXONOMY)

BRANDS: tuple[str, ...] = (
    "Nordlys", "Fjellro", "Havbris", "Solvik", "Birkeli", "Lumen & Co", "Granhaug", "Skogly",
    "Vinterlys", "Elvebakk", "Tindra", "Morild", "Kvitfjell", "Lyngen", "Sjøsprøyt", "Aurora Works",
    "Fossheim", "Blåbær", "Stille", "Havgløtt", "Myra", "Ravn", "Strand & Sønn", "Eik",
    "Polarlinje", "Dugg", "Furu", "Saga Studio", "Bris", "Nattsol",
)
COLOURS: tuple[str, ...] = (
    "charcoal", "sand", "forest green", "navy", "rust", "oat", "slate", "berry", "ivory", "ochre",
)
_PRAISE: tuple[str, ...] = (
    "made to last for years", "a favourite for everyday use", "designed in a small Nordic studio",
    "with a two-year guarantee", "chosen for its quiet, simple design", "an easy gift",
)


def _article(word: str) -> str:
    return "An" if word[:1].lower() in "aeiou" else "A"


@dataclass(frozen=True)
class Catalog:
    """The conformed item table plus the simulator's latent item attributes (aligned by row)."""

    items: pd.DataFrame
    top_category: np.ndarray  # int index into TOP_CATEGORIES, one per item
    popularity: np.ndarray  # positive latent weight, one per item


def make_catalog(rng: np.random.Generator, n_items: int) -> Catalog:
    """Draw ``n_items`` readable, uniquely titled items with brands, prices and popularity."""
    if n_items < len(TOP_CATEGORIES):
        raise ValueError(f"the demo shop needs at least {len(TOP_CATEGORIES)} items, got {n_items}")
    kinds = [(top, median, leaf, noun, variants)
             for top, (median, leaves) in TAXONOMY.items() for leaf, noun, variants in leaves]
    # Each brand covers two or three top categories, so brands are meaningful segments.
    brand_tops = {b: set(rng.choice(len(TOP_CATEGORIES), size=int(rng.integers(2, 4)), replace=False))
                  for b in BRANDS}
    brand_tier = {b: float(rng.choice([0.75, 1.0, 1.0, 1.4])) for b in BRANDS}
    kind_index = rng.integers(0, len(kinds), size=n_items)
    kind_index[: len(kinds)] = rng.permutation(len(kinds))[: min(len(kinds), n_items)]
    rows = []
    seen: set[str] = set()
    width = len(str(n_items - 1))
    for i, k in enumerate(kind_index):
        top, median, leaf, noun, variants = kinds[int(k)]
        top_i = TOP_CATEGORIES.index(top)
        candidates = [b for b in BRANDS if top_i in brand_tops[b]] or list(BRANDS)
        brand = candidates[int(rng.integers(0, len(candidates)))]
        variant = variants[int(rng.integers(0, len(variants)))]
        title = f"{brand} {variant} {noun}"
        if title in seen:
            title = f"{title}, {COLOURS[int(rng.integers(0, len(COLOURS)))]}"
        counter = 2
        base = title
        while title in seen:
            title = f"{base} (model {counter})"
            counter += 1
        seen.add(title)
        price = round(float(median * brand_tier[brand] * rng.lognormal(0.0, 0.35)), 2) - 0.01
        price = max(price, 1.99)
        rows.append({
            "item_id": f"i{i:0{width}d}",
            "title": title,
            "category": f"{top}.{leaf}",
            "brand": brand,
            "price": round(price, 2),
            "description": f"{_article(variant)} {variant} {noun} from {brand}, "
                           f"{_PRAISE[int(rng.integers(0, len(_PRAISE)))]}.",
            "top": top_i,
        })
    frame = pd.DataFrame(rows)
    popularity = rng.lognormal(0.0, 1.0, size=n_items)
    return Catalog(items=conform_items(frame.drop(columns="top")),
                   top_category=frame["top"].to_numpy(dtype=np.int64),
                   popularity=popularity)
