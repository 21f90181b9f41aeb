"""The agent's ``recommend`` tool: a plain function returning result objects, and a thin
LangChain ``StructuredTool`` wrapper around it.

``query`` narrows the candidates: by meaning when item vectors and a query embedder are given
(the behaviour store's vectors), else by a case-insensitive title substring.

>>> recs = recommend_items(ranker, "u1", k=5, category="electronics")     # doctest: +SKIP
>>> print(recs.to_text())                                                 # doctest: +SKIP
>>> tool = make_recommend_tool(ranker)                                     # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from .base import Ranker, UnknownUserError
from .catalog import ItemFilter

QueryEmbedder = Callable[[str], np.ndarray]


@dataclass(frozen=True)
class Recommendation:
    """One recommended item with its score (the ranker's own units) and 1-based rank."""

    item_id: str
    title: str
    category: str | None
    score: float
    rank: int

    def to_text(self) -> str:
        category = f" [{self.category}]" if self.category else ""
        return f"{self.rank}. {self.title}{category} (item {self.item_id}, score {self.score:.4f})"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Recommendations:
    """A ranked list for one user, with the request that produced it."""

    user_id: str
    items: tuple[Recommendation, ...]
    model: str
    category: str | None = None
    query: str | None = None
    note: str = ""

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.items)

    def to_text(self) -> str:
        scope = "".join([f" in category '{self.category}'" if self.category else "",
                         f" matching '{self.query}'" if self.query else ""])
        head = f"Top {len(self.items)} recommendations for user {self.user_id}{scope} ({self.model}):"
        lines = [head] + [r.to_text() for r in self.items]
        if not self.items:
            lines.append("no items match the request")
        if self.note:
            lines.append(self.note)
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "model": self.model, "category": self.category,
                "query": self.query, "note": self.note,
                "items": [r.to_json() for r in self.items]}


def query_filter(ranker: Ranker, query: str, item_vectors: tuple[np.ndarray, np.ndarray] | None,
                  embed_query: QueryEmbedder | None, matches: int) -> tuple[ItemFilter, str]:
    """Items that match ``query``: nearest by meaning if possible, else by title substring."""
    if item_vectors is not None and embed_query is not None:
        ids, matrix = item_vectors
        vector = np.asarray(embed_query(query), dtype=np.float32).ravel()
        similarity = np.asarray(matrix, dtype=np.float32) @ vector
        top = np.argsort(-similarity, kind="stable")[:matches]
        return ItemFilter.allow(np.asarray(ids)[top].astype(str)), "semantic"
    titles = ranker.catalog_.titles.astype(str)
    hits = np.char.find(np.char.lower(titles), query.lower().strip()) >= 0
    return ItemFilter.allow(ranker.catalog_.ids[hits].astype(str)), "title"


def recommend_items(ranker: Ranker, user_id: str, k: int = 10, category: str | None = None,
                    query: str | None = None, exclude_seen: bool = True,
                    item_vectors: tuple[np.ndarray, np.ndarray] | None = None,
                    embed_query: QueryEmbedder | None = None,
                    query_matches: int = 200) -> Recommendations:
    """Top ``k`` items for a known user, optionally within a category and/or matching a query.

    Raises :class:`UnknownUserError` for users the ranker has no events for.
    """
    allowed: ItemFilter | None = None
    note = ""
    if query:
        allowed, how = query_filter(ranker, query, item_vectors, embed_query, query_matches)
        note = f"query matched {len(allowed.item_ids or ())} items by {how}"
    if category:
        allowed = ItemFilter(category_prefix=category,
                             item_ids=allowed.item_ids if allowed is not None else None)
    ids, scores = ranker.recommend(str(user_id), k=k, exclude_seen=exclude_seen, filters=allowed)
    positions = ranker.catalog_.positions(ids)
    catalog = ranker.catalog_
    items = tuple(
        Recommendation(item_id=str(item), title=str(catalog.titles[pos]),
                       category=str(catalog.categories[pos]) or None, score=float(score),
                       rank=rank + 1)
        for rank, (item, score, pos) in enumerate(zip(ids, scores, positions)))
    return Recommendations(str(user_id), items, ranker.name, category, query, note)


class RecommendArgs(BaseModel):
    """Arguments of the ``recommend`` tool."""

    user_id: str = Field(description="the user to recommend for")
    k: int = Field(default=10, ge=1, le=100, description="how many items")
    category: str | None = Field(default=None, description="category prefix, e.g. 'electronics'")
    query: str | None = Field(default=None, description="what the user is looking for, in words")


def make_recommend_tool(ranker: Ranker, item_vectors: tuple[np.ndarray, np.ndarray] | None = None,
                        embed_query: QueryEmbedder | None = None,
                        as_json: bool = False):  # -> StructuredTool
    """A LangChain tool ``recommend(user_id, k, category=None, query=None)`` over ``ranker``.

    The tool returns the text rendering (or JSON with ``as_json``); an unknown user comes back
    as an ``error: ...`` message the agent can relay.
    """
    from langchain_core.tools import StructuredTool

    def recommend(user_id: str, k: int = 10, category: str | None = None,
                  query: str | None = None) -> str:
        try:
            recs = recommend_items(ranker, user_id, k, category, query,
                                   item_vectors=item_vectors, embed_query=embed_query)
        except UnknownUserError as exc:
            return f"error: {exc}"
        return json.dumps(recs.to_json()) if as_json else recs.to_text()

    return StructuredTool.from_function(
        func=recommend, name="recommend", args_schema=RecommendArgs,
        description=("Recommend items for a user, ranked by a score built from the user's own "
                     "behaviours (views, favourites, carts, purchases). Optional category prefix "
                     "and free-text query narrow the candidates."))
