"""The event and catalog schema every part of whyrec agrees on.

An *event* is one behaviour of one user on one item at one time; an *item* is a catalog entry.
Both live as pandas DataFrames with the columns below, so a reader can go from any tool to the
data by column name alone.

Behaviours form an ordered vocabulary (view < click < favourite < cart < purchase, plus
``rating``); source logs name them in many ways (``pv``, ``addtocart``, ``buy``, type codes…),
and :func:`canonical_behaviour` maps those names onto the vocabulary.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

SCHEMA_VERSION = 1

#: The ordered behaviour vocabulary: later means a stronger signal of intent.
BEHAVIOURS: tuple[str, ...] = ("view", "click", "favourite", "cart", "purchase", "rating")
FUNNEL: tuple[str, ...] = ("view", "click", "favourite", "cart", "purchase")
TARGET_BEHAVIOUR = "purchase"

#: Source names seen in public logs, mapped onto the vocabulary (lower-cased, trimmed).
BEHAVIOUR_ALIASES: Mapping[str, str] = {
    "view": "view", "pv": "view", "page_view": "view", "pageview": "view", "impression": "view",
    "detail": "view", "visit": "view",
    "click": "click", "clk": "click",
    "favourite": "favourite", "favorite": "favourite", "fav": "favourite", "collect": "favourite",
    "like": "favourite", "wishlist": "favourite", "save": "favourite",
    "cart": "cart", "addtocart": "cart", "add_to_cart": "cart", "add-to-cart": "cart",
    "basket": "cart",
    "purchase": "purchase", "buy": "purchase", "transaction": "purchase", "order": "purchase",
    "checkout": "purchase", "conversion": "purchase",
    "rating": "rating", "rate": "rating", "rated": "rating", "review": "rating",
}

#: Phrases used to turn an event into readable text ("added X to cart").
BEHAVIOUR_VERBS: Mapping[str, str] = {
    "view": "viewed",
    "click": "clicked",
    "favourite": "saved to favourites",
    "cart": "added to cart",
    "purchase": "bought",
    "rating": "rated",
}

# Canonical columns. Ids are strings everywhere: logs use numbers, UUIDs and names alike.
EVENT_COLUMNS: tuple[str, ...] = (
    "event_key", "user_id", "item_id", "behaviour", "timestamp", "session_id", "value", "extra",
)
ITEM_COLUMNS: tuple[str, ...] = (
    "item_id", "title", "category", "brand", "price", "description", "extra",
)
#: Field names a mapping may assign to source columns.
MAPPABLE_FIELDS: tuple[str, ...] = (
    "user_id", "item_id", "behaviour", "timestamp", "session_id", "value",
    "title", "category", "brand", "price", "description",
)
REQUIRED_EVENT_FIELDS: tuple[str, ...] = ("user_id", "item_id", "behaviour", "timestamp")
ITEM_FIELDS: tuple[str, ...] = ("title", "category", "brand", "price", "description")

# -- ids and text limits: the one rule, used by ingest (files and POST /v1/events) -------------
#: Fields that are ids: they appear in URL paths (``/v1/users/{user_id}``) and in chat text.
ID_FIELDS: tuple[str, ...] = ("user_id", "item_id")
#: Longest id, in characters.
MAX_ID_LENGTH = 128
#: What an id may hold besides letters and digits of any script. None of these needs escaping in
#: a URL path segment, none is HTML, and an id cannot be "." or ".." (it starts with a letter
#: or digit). No "/", "%", "?", "#", whitespace, quotes, brackets or control characters.
ID_PUNCTUATION = "_-.:@+"
_ID_PATTERN = re.compile(r"[^\W_][\w.:@+\-]*")
#: Longest text per field, in characters (a title is one line; a description may be a paragraph).
MAX_TEXT_LENGTH: Mapping[str, int] = {
    "session_id": 256, "title": 500, "category": 300, "brand": 200, "description": 5_000,
}
#: Text fields shown on one line: no line breaks, tabs or other control characters.
ONE_LINE_FIELDS: tuple[str, ...] = ("title", "category", "brand")


def id_problem(value: str) -> str | None:
    """Why ``value`` cannot be a user or item id, or ``None`` if it can.

    >>> id_problem("u089") is None and id_problem("用户-7") is None
    True
    >>> id_problem("team/alice")
    "may hold only letters, digits and _-.:@+ (found '/')"
    """
    if not value:
        return "is empty"
    if len(value) > MAX_ID_LENGTH:
        return f"is {len(value):,} characters long; at most {MAX_ID_LENGTH} are allowed"
    if _ID_PATTERN.fullmatch(value):
        return None
    if not value[0].isalnum():
        return f"must start with a letter or digit (found {value[0]!r})"
    bad = next((c for c in value if not (c.isalnum() or c in ID_PUNCTUATION)), value[0])
    return f"may hold only letters, digits and {ID_PUNCTUATION} (found {bad!r})"


def id_problems(values: pd.Series) -> pd.Series:
    """:func:`id_problem` of each value (``None`` where the id is fine); each distinct id is
    checked once, so a million-row log costs as much as its distinct ids."""
    codes, unique = pd.factorize(values.astype("string").fillna(""), use_na_sentinel=False)
    reasons = pd.array([id_problem(str(u)) for u in unique], dtype=object)
    return pd.Series(reasons[codes] if len(unique) else [], index=values.index, dtype=object)


def behaviour_rank(behaviour: str) -> int:
    """Position of a behaviour in the funnel (rating counts as favourite strength)."""
    if behaviour == "rating":
        return FUNNEL.index("favourite")
    return FUNNEL.index(behaviour)


def canonical_behaviour(name: object, extra_aliases: Mapping[str, str] | None = None) -> str | None:
    """Map a source behaviour name onto the vocabulary, or ``None`` if it is unknown.

    >>> canonical_behaviour("addtocart")
    'cart'
    """
    if name is None or (isinstance(name, float) and pd.isna(name)):
        return None
    key = str(name).strip()
    if extra_aliases and key in extra_aliases:
        return extra_aliases[key]
    return BEHAVIOUR_ALIASES.get(key.lower())


def empty_events() -> pd.DataFrame:
    """An event table with no rows and the canonical dtypes."""
    return pd.DataFrame({
        "event_key": pd.Series(dtype="uint64"),
        "user_id": pd.Series(dtype="string"),
        "item_id": pd.Series(dtype="string"),
        "behaviour": pd.Series(dtype="string"),
        "timestamp": pd.Series(dtype="datetime64[ns, UTC]"),
        "session_id": pd.Series(dtype="string"),
        "value": pd.Series(dtype="float64"),
        "extra": pd.Series(dtype="string"),
    })


def empty_items() -> pd.DataFrame:
    """A catalog with no rows and the canonical dtypes."""
    return pd.DataFrame({
        "item_id": pd.Series(dtype="string"),
        "title": pd.Series(dtype="string"),
        "category": pd.Series(dtype="string"),
        "brand": pd.Series(dtype="string"),
        "price": pd.Series(dtype="float64"),
        "description": pd.Series(dtype="string"),
        "extra": pd.Series(dtype="string"),
    })


def conform_events(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with exactly the canonical event columns and dtypes (missing ones empty)."""
    return _conform(frame, empty_events())


def conform_items(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with exactly the canonical item columns and dtypes (missing ones empty)."""
    return _conform(frame, empty_items())


def _conform(frame: pd.DataFrame, template: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=frame.index)
    for column in template.columns:
        dtype = template[column].dtype
        out[column] = (frame[column].astype(dtype) if column in frame.columns
                       else _missing_column(dtype, frame.index))
    return out.reset_index(drop=True)


def _missing_column(dtype: object, index: pd.Index) -> pd.Series:
    if str(dtype) == "uint64":
        return pd.Series(0, index=index, dtype="uint64")
    return pd.Series(index=index, dtype=dtype)  # all missing: NaN, NA or NaT by dtype


@dataclass(frozen=True)
class Event:
    """One behaviour as a value object (the row form of the event table)."""

    event_key: int
    user_id: str
    item_id: str
    behaviour: str
    timestamp: pd.Timestamp
    session_id: str | None = None
    value: float | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, object]) -> Event:
        value = row.get("value")
        session = row.get("session_id")
        return cls(
            event_key=int(row["event_key"]),  # type: ignore[call-overload]  # a numpy integer
            user_id=str(row["user_id"]),
            item_id=str(row["item_id"]),
            behaviour=str(row["behaviour"]),
            timestamp=pd.Timestamp(row["timestamp"]),
            session_id=None if session is None or pd.isna(session) else str(session),
            value=None if value is None or pd.isna(value) else float(value),  # type: ignore[arg-type]
        )


@dataclass(frozen=True)
class Item:
    """One catalog entry as a value object."""

    item_id: str
    title: str
    category: str | None = None
    brand: str | None = None
    price: float | None = None
    description: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, object]) -> Item:
        def text(key: str) -> str | None:
            value = row.get(key)
            return None if value is None or pd.isna(value) else str(value)

        price = row.get("price")
        return cls(
            item_id=str(row["item_id"]),
            title=text("title") or f"item {row['item_id']}",
            category=text("category"),
            brand=text("brand"),
            price=None if price is None or pd.isna(price) else float(price),  # type: ignore[arg-type]
            description=text("description"),
        )


def item_text(item: Item, for_embedding: bool = False) -> str:
    """An item as text: title, category, brand, price and description.

    ``for_embedding`` leaves out what carries no meaning for a sentence model (the price, and
    the item's own id where a title ends with it), so items alike embed alike, and once.
    """
    title = item.title
    suffix = f" ({item.item_id})"
    if for_embedding and title.endswith(suffix):
        title = title[: -len(suffix)]
    parts = [title]
    if item.category:
        parts.append(f"category {item.category.replace('.', ' > ')}")
    if item.brand:
        parts.append(f"brand {item.brand}")
    if item.price is not None and not for_embedding:
        parts.append(f"price {item.price:.2f}")
    if item.description:
        parts.append(item.description)
    return ". ".join(parts)


def behaviour_phrase(behaviour: str, title: str, value: float | None = None) -> str:
    """Readable text of one behaviour: 'added <title> to cart', 'rated <title> 4.5'."""
    if behaviour == "cart":
        return f"added {title} to cart"
    if behaviour == "favourite":
        return f"saved {title} to favourites"
    if behaviour == "rating":
        return f"rated {title} {value:g}" if value is not None else f"rated {title}"
    return f"{BEHAVIOUR_VERBS[behaviour]} {title}"


def compute_event_keys(events: pd.DataFrame) -> pd.Series:
    """Stable 64-bit keys: the same event (including its repeat number) always gets the same key.

    The key covers user, item, behaviour, time, session and value, plus the occurrence number
    among identical rows, so re-ingesting a file adds nothing while a log's repeated actions
    (Tmall's same-day repeats) stay distinct events.
    """
    identity = ["user_id", "item_id", "behaviour", "timestamp", "session_id", "value"]
    basis = pd.DataFrame({
        "user_id": events["user_id"].astype(str),
        "item_id": events["item_id"].astype(str),
        "behaviour": events["behaviour"].astype(str),
        "timestamp": events["timestamp"].astype("datetime64[ns, UTC]").astype("int64"),
        "session_id": events["session_id"].astype("string").fillna("").astype(str),
        "value": events["value"].astype("float64").astype(str),
    })
    basis["occurrence"] = basis.groupby(identity, sort=False, dropna=False).cumcount()
    return pd.util.hash_pandas_object(basis, index=False).astype("uint64")
