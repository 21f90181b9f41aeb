"""A large synthetic behaviour log, generated and written day by day in bounded memory.

For benchmarks and scale tests (10M-100M events), where the demo shop's simulator, which holds
every user and event in memory and knows the true causal effects, is too big. The shape follows
public shop logs: heavy-tailed user activity (Pareto, tail exponent ``user_tail``), item
popularity by a power law (Zipf, ``item_alpha``) mixed with each user's two favourite categories,
sessions through the day (an evening peak, fewer on weekends), and a view -> cart -> purchase
funnel with favourites on the side, each step a little later than the one before.

Memory holds the item tables (a few numbers per item) and one day's events; the output is a CSV
or Parquet file written as it goes, with rows in time order within each day (``user_id, item_id, behaviour,
timestamp, session_id`` and, with ``attributes``, ``category, price``). The same config always
writes the same file.

>>> summary = write_log("log.csv", StreamConfig(events=1_000_000))    # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

log = logging.getLogger(__name__)

#: Share of sessions by hour of day (UTC): quiet nights, a midday bump, an evening peak.
_HOURS = np.array([1, 0.6, 0.4, 0.3, 0.3, 0.4, 0.8, 1.5, 2.2, 2.6, 2.8, 3.0,
                   3.3, 3.1, 2.9, 2.8, 2.9, 3.2, 3.8, 4.5, 4.8, 4.3, 3.0, 1.8])


@dataclass(frozen=True)
class StreamConfig:
    """What to generate. ``users`` and ``items`` default to ``events / 100`` (at least 1,000)."""

    events: int = 10_000_000
    users: int | None = None
    items: int | None = None
    days: int = 120
    start: str = "2025-01-01"
    categories: int = 300
    seed: int = 7
    item_alpha: float = 0.8
    user_tail: float = 2.0
    #: Mean views per session, and the funnel: P(cart | view), P(purchase | cart),
    #: P(purchase | view without cart), P(favourite | view), P(view again | view).
    views_per_session: float = 5.0
    p_cart: float = 0.07
    p_buy_after_cart: float = 0.35
    p_buy_direct: float = 0.004
    p_favourite: float = 0.02
    p_review: float = 0.15
    #: Share of a session's views in the user's two favourite categories.
    home_share: float = 0.7
    attributes: bool = False
    #: "epoch" (seconds since 1970) or "iso" (2025-01-01T10:00:00Z).
    timestamps: str = "epoch"

    @property
    def n_users(self) -> int:
        return self.users or max(1000, self.events // 100)

    @property
    def n_items(self) -> int:
        return self.items or max(1000, self.events // 100)


@dataclass(frozen=True)
class StreamSummary:
    """What was written."""

    path: str
    events: int
    users: int
    items: int
    behaviours: dict[str, int]
    first_event: str
    last_event: str
    bytes: int
    seconds: float
    config: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def to_text(self) -> str:
        return (f"wrote {self.events:,} events ({self.users:,} users, {self.items:,} items; "
                + ", ".join(f"{b} {n:,}" for b, n in self.behaviours.items())
                + f") to {self.path}: {self.bytes / 1e9:.2f} GB in {self.seconds:.0f} s")


class _Shop:
    """The item and user tables the days are drawn from."""

    def __init__(self, config: StreamConfig, rng: np.random.Generator) -> None:
        n_items, n_users, n_cat = config.n_items, config.n_users, config.categories
        ranks = np.arange(1, n_items + 1, dtype=np.float64)
        weight = ranks ** -config.item_alpha                     # item popularity: Zipf by rank
        self.global_cdf = np.cumsum(weight) / weight.sum()
        # Items are scattered over categories; within one, more popular items come first.
        self.category = (np.arange(n_items, dtype=np.uint64) * np.uint64(2654435761) % np.uint64(2**32)
                         % np.uint64(n_cat)).astype(np.int64)
        self.by_category = np.argsort(self.category, kind="stable")
        cat_sorted = self.category[self.by_category]
        w = weight[self.by_category]
        totals = np.bincount(cat_sorted, weights=w, minlength=n_cat)
        within = np.cumsum(w) - np.concatenate([[0.0], np.cumsum(totals)[:-1]])[cat_sorted]
        self.category_cdf = cat_sorted + within / totals[cat_sorted]   # segment c spans (c, c + 1]
        self.segment_end = np.cumsum(np.bincount(cat_sorted, minlength=n_cat)) - 1
        self.price = np.round(np.exp(rng.normal(3.3, 0.9, n_items)), 2)
        appeal = rng.beta(2, 5, n_items) * 2                          # some items convert better
        self.cart_rate = np.clip(config.p_cart * appeal * (1.2 - 0.2 * np.log10(self.price)), 0.005, 0.5)
        activity = (1 - rng.random(n_users)) ** (-1 / config.user_tail)  # Pareto: a heavy tail
        self.user_cdf = np.cumsum(activity) / activity.sum()
        self.home = rng.integers(0, n_cat, (n_users, 2))

    def global_items(self, u: np.ndarray) -> np.ndarray:
        return np.minimum(np.searchsorted(self.global_cdf, u), len(self.global_cdf) - 1)

    def category_items(self, categories: np.ndarray, u: np.ndarray) -> np.ndarray:
        position = np.searchsorted(self.category_cdf, categories + np.maximum(u, 1e-12))
        position = np.minimum(position, self.segment_end[categories])
        return self.by_category[position]


def write_log(path: str | Path, config: StreamConfig | None = None,
              progress: Callable[[int], object] | None = None) -> StreamSummary:
    """Generate ``config.events`` events over ``config.days`` days and write them to ``path``
    (``.csv`` or ``.parquet``), a day at a time; ``progress`` is told the events of each day."""
    config = config or StreamConfig()
    if config.timestamps not in ("epoch", "iso"):
        raise ValueError('timestamps must be "epoch" or "iso"')
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    rng = np.random.default_rng(config.seed)
    shop = _Shop(config, rng)
    start = int(pd.Timestamp(config.start, tz="UTC").timestamp())
    weekday = np.array([1.0, 1.0, 1.0, 1.05, 1.1, 0.85, 0.8])
    day_weight = weekday[(np.arange(config.days) + pd.Timestamp(config.start).day_of_week) % 7]
    per_day = np.floor(config.events * np.cumsum(day_weight) / day_weight.sum()).astype(np.int64)
    per_day = np.diff(np.concatenate([[0], per_day]))
    per_day[-1] += config.events - per_day.sum()
    seen_users = np.zeros(config.n_users, dtype=bool)
    seen_items = np.zeros(config.n_items, dtype=bool)
    counts: dict[str, int] = {}
    session_base = 0
    first = last = None
    writer = _Writer(target, config)
    tmp = target.with_name(target.name + ".tmp")
    try:
        for day, wanted in enumerate(per_day):
            if wanted <= 0:
                continue
            frame, session_base = _day(shop, config, rng, start + day * 86_400, int(wanted), session_base)
            seen_users[frame["user"]] = True
            seen_items[frame["item"]] = True
            for name, n in zip(*np.unique(frame["behaviour"], return_counts=True)):
                counts[str(name)] = counts.get(str(name), 0) + int(n)
            first = int(frame["timestamp"][0]) if first is None else first
            last = int(frame["timestamp"][-1])
            writer.write(frame, shop)
            if progress is not None:
                progress(int(wanted))
        writer.close()
        tmp.replace(target)
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    ordered = dict(sorted(counts.items(), key=lambda kv: -kv[1]))

    def iso(seconds: int) -> str:
        return pd.Timestamp(seconds, unit="s", tz="UTC").isoformat()

    return StreamSummary(str(target), int(sum(counts.values())), int(seen_users.sum()), int(seen_items.sum()),
                         ordered, iso(first or start), iso(last or start), target.stat().st_size,
                         time.perf_counter() - started, asdict(config))


def _day(shop: _Shop, config: StreamConfig, rng: np.random.Generator, day_start: int, wanted: int,
         session_base: int) -> tuple[dict[str, np.ndarray], int]:
    """One day's events, time-ordered, exactly ``wanted`` of them."""
    per_view = 1 + config.p_cart * (1 + config.p_buy_after_cart) + config.p_buy_direct + config.p_favourite
    parts: list[dict[str, np.ndarray]] = []
    made = 0
    while made < wanted:
        n_sessions = max(16, int((wanted - made) / (config.views_per_session * per_view) * 1.05))
        events = _sessions(shop, config, rng, day_start, n_sessions, session_base)
        session_base += n_sessions
        parts.append(events)
        made += len(events["user"])
    frame = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    # The first ``wanted`` events by session (sessions fall at random times, so the surplus
    # sessions dropped are a random few), then in time order.
    keep = np.lexsort((frame["order"], frame["session"]))[:wanted]
    keep = keep[np.lexsort((frame["order"][keep], frame["timestamp"][keep]))]
    return {k: v[keep] for k, v in frame.items() if k != "order"}, session_base


def _sessions(shop: _Shop, config: StreamConfig, rng: np.random.Generator, day_start: int, n: int,
              session_base: int) -> dict[str, np.ndarray]:
    users = np.minimum(np.searchsorted(shop.user_cdf, rng.random(n)), len(shop.user_cdf) - 1)
    hours = rng.choice(24, n, p=_HOURS / _HOURS.sum())
    starts = day_start + hours * 3600 + rng.integers(0, 3600, n)
    lengths = rng.geometric(1 / config.views_per_session, n)
    session = np.repeat(np.arange(n), lengths)
    views = len(session)
    home = rng.random(views) < config.home_share
    category = shop.home[users[session], rng.integers(0, 2, views)]
    items = np.where(home, shop.category_items(category, rng.random(views)), shop.global_items(rng.random(views)))
    again = rng.random(views) < config.p_review          # looks at the previous item again
    previous = np.concatenate([[0], items[:-1]])
    same_session = np.concatenate([[False], session[1:] == session[:-1]])
    items = np.where(again & same_session, previous, items)
    gaps = rng.exponential(50, views).astype(np.int64) + 1
    first_in_session = np.concatenate([[True], session[1:] != session[:-1]])
    gaps[first_in_session] = 0
    offsets = np.cumsum(gaps)
    offsets -= np.repeat(offsets[first_in_session], lengths)
    view_t = starts[session] + offsets
    order = np.arange(views) * 4
    carted = rng.random(views) < shop.cart_rate[items]
    bought = carted & (rng.random(views) < config.p_buy_after_cart)
    direct = ~carted & (rng.random(views) < config.p_buy_direct)
    faved = rng.random(views) < config.p_favourite
    cart_t = view_t + rng.integers(5, 180, views)
    buy_t = cart_t + rng.integers(30, 900, views)
    columns = {
        "user": [users[session], users[session][faved], users[session][carted],
                 users[session][bought], users[session][direct]],
        "item": [items, items[faved], items[carted], items[bought], items[direct]],
        "behaviour": [np.full(views, "view"), np.full(int(faved.sum()), "favourite"),
                      np.full(int(carted.sum()), "cart"), np.full(int(bought.sum()), "purchase"),
                      np.full(int(direct.sum()), "purchase")],
        "timestamp": [view_t, view_t[faved] + rng.integers(2, 60, int(faved.sum())), cart_t[carted],
                      buy_t[bought], view_t[direct] + rng.integers(30, 600, int(direct.sum()))],
        "session": [session, session[faved], session[carted], session[bought], session[direct]],
        "order": [order, order[faved] + 1, order[carted] + 2, order[bought] + 3, order[direct] + 3],
    }
    out = {k: np.concatenate(v) for k, v in columns.items()}
    out["session"] = out["session"] + session_base
    return out


class _Writer:
    """Appends days to a CSV or Parquet file (written under a temporary name)."""

    def __init__(self, target: Path, config: StreamConfig) -> None:
        self.config = config
        self.tmp = target.with_name(target.name + ".tmp")
        self.parquet = target.suffix.lower() in (".parquet", ".pq")
        self._writer: Any = None

    def write(self, frame: dict[str, np.ndarray], shop: _Shop) -> None:
        def ids(prefix: str, values: np.ndarray) -> pa.Array:
            return pc.binary_join_element_wise(prefix, pc.cast(pa.array(values), pa.string()), "")

        stamps = pa.array(frame["timestamp"], pa.int64())
        if self.config.timestamps == "iso":
            stamps = pc.strftime(pc.cast(stamps, pa.timestamp("s", tz="UTC")), format="%Y-%m-%dT%H:%M:%SZ")
        columns = {"user_id": ids("u", frame["user"]), "item_id": ids("i", frame["item"]),
                   "behaviour": pa.array(frame["behaviour"]), "timestamp": stamps,
                   "session_id": ids("s", frame["session"])}
        if self.config.attributes:
            columns["category"] = ids("c", shop.category[frame["item"]])
            columns["price"] = pa.array(shop.price[frame["item"]])
        table = pa.table(columns)
        if self.parquet:
            import pyarrow.parquet as pq

            if self._writer is None:
                self._writer = pq.ParquetWriter(self.tmp, table.schema)
            self._writer.write_table(table, row_group_size=1 << 20)
        else:
            import pyarrow.csv as pcsv

            if self._writer is None:
                self._writer = pcsv.CSVWriter(self.tmp, table.schema,
                                              write_options=pcsv.WriteOptions(quoting_style="needed"))
            self._writer.write_table(table)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
