"""Wording and number formats shared by every explanation result (English and Chinese).

Numbers are rendered with fixed precision, and the JSON forms round to the same precision, so
every number the chatbot quotes can be found in the tool output.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

LANGUAGES: tuple[str, ...] = ("en", "zh")

SCORE_DIGITS = 4
SHARE_DIGITS = 1
EFFECT_DIGITS = 3

VERBS: dict[str, dict[str, str]] = {
    "en": {"view": "viewed", "click": "clicked", "favourite": "saved to favourites",
           "cart": "added to cart", "purchase": "bought", "rating": "rated"},
    "zh": {"view": "浏览了", "click": "点击了", "favourite": "收藏了", "cart": "加购了",
           "purchase": "购买了", "rating": "评分了"},
}
NOUNS: dict[str, dict[str, str]] = {
    "en": {"view": "viewing", "click": "clicking", "favourite": "saving to favourites",
           "cart": "adding to cart", "purchase": "buying", "rating": "rating"},
    "zh": {"view": "浏览", "click": "点击", "favourite": "收藏", "cart": "加购",
           "purchase": "购买", "rating": "评分"},
}


def check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, not {language!r}")
    return language


def score(value: float | None) -> str:
    return "-" if value is None else f"{value:.{SCORE_DIGITS}f}"


def signed(value: float | None, digits: int = SCORE_DIGITS) -> str:
    return "-" if value is None else f"{value:+.{digits}f}"


def percent(share: float | None) -> str:
    """A share (0..1) as the percentage string the JSON's ``*_pct`` field holds."""
    return "-" if share is None else f"{share_pct(share):.{SHARE_DIGITS}f}%"


def share_pct(share: float) -> float:
    return round(100.0 * share, SHARE_DIGITS)


def rounded(value: float | None, digits: int = SCORE_DIGITS) -> float | None:
    return None if value is None else round(float(value), digits)


def day(timestamp: pd.Timestamp | None) -> str:
    return "" if timestamp is None else pd.Timestamp(timestamp).strftime("%Y-%m-%d")


def verb(behaviour: str, language: str) -> str:
    return VERBS[language].get(behaviour, behaviour)


def noun(behaviour: str, language: str) -> str:
    return NOUNS[language].get(behaviour, behaviour)


def quoted(title: str, item_id: str, language: str) -> str:
    """``'Title' (item 42)`` / ``“Title”（商品 42）``."""
    if language == "zh":
        return f"“{title}”（商品 {item_id}）"
    return f"'{title}' (item {item_id})"


def clean(data: Any) -> Any:
    """Timestamps to ISO strings, tuples to lists (JSON-ready)."""
    if isinstance(data, pd.Timestamp):
        return data.isoformat()
    if isinstance(data, dict):
        return {k: clean(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [clean(v) for v in data]
    return data
