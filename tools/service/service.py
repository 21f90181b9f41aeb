"""The service facade: the one way the agent's tools, the HTTP API, the UI and the CLI reach the
domain (ingest, workspace, behaviour store, ranking, causal effects, explanations).

Every method takes plain arguments and returns a typed result object (see :mod:`.results`, the
explainer's results, the causal tool's effects); failures are :mod:`.errors` exceptions with a
message for the user and an HTTP status.

Used as ``WhyrecService(Settings(workspace=Path("shop"))).recommend("u001", k=5)``; the
tests in ``tests/tools/service`` exercise every method on a demo shop.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..behaviour_store import BehaviourStore, StoreError, user_history
from ..causal.personal import statement_source
from ..causal.results import POPULATION, BehaviourEffect, InfluenceReport
from ..embeddings import Embedder, default_embedder
from ..explain.results import Explanation, WhatIfResult, WhyNot
from ..ingest.pipeline import IngestRejected, ingest_records
from ..privacy import ForgetResult, forget_user
from ..ranking.base import Ranker, UnknownItemError, UnknownUserError
from ..ranking.catalog import ItemFilter
from ..ranking.exclusion import POLICIES
from ..ranking.history import from_days
from ..schema import BEHAVIOURS
from ..settings import Settings
from ..workspace import MANIFEST, Workspace
from .errors import (
    EventProblem,
    Forbidden,
    InvalidEvents,
    InvalidRequest,
    Unavailable,
    UnknownItem,
    UnknownUser,
    UserPending,
)
from .models import Fitted, Models, RankerFactory, ReportLoader
from .results import (
    CausalGraph,
    Effects,
    EventsAdded,
    HistoryEvent,
    HistorySearch,
    ItemInfo,
    ItemSearch,
    Reason,
    Recommendations,
    RecommendedItem,
    ServiceStats,
    ServiceStatus,
    UserHistory,
    UserStats,
)

log = logging.getLogger(__name__)

#: How many catalog items a free-text query narrows a recommendation to (nearest by meaning).
QUERY_MATCHES = 200
SEGMENTS = ("category", "brand", "price_band", "activity")


def tuned_ranker(settings: Settings, policy: str | None = None) -> RankerFactory:
    """The served ranker's factory: auto-tuned on the workspace's validation split under the
    settings' CPU budget the first time (and when the events grew by ``retune_fraction``), then
    fitted on all events with the parameters tuned for ``policy`` (default: the exclusion policy
    the tuning chose, the one lists are served with; see ranking.persist)."""
    def factory(workspace: Workspace) -> Ranker:
        from ..ranking.persist import load_or_tune

        return load_or_tune(workspace, settings.tune_budget_seconds, settings.retune_fraction, policy=policy)
    return factory


def _default_report(workspace: Workspace, segment: str | None) -> InfluenceReport:
    from ..causal import load_or_estimate

    return load_or_estimate(workspace, segment)


@contextlib.contextmanager
def _domain_errors() -> Iterator[None]:
    """Domain exceptions as service errors (one family for every caller)."""
    try:
        yield
    except UnknownUserError as exc:
        raise UnknownUser(exc.user_id) from exc
    except UnknownItemError as exc:
        raise UnknownItem(exc.item_id) from exc
    except StoreError as exc:
        log.error("vector store unavailable: %s", exc)  # the details stay in the log
        raise Unavailable("the vector store is unavailable; an operator can rebuild it from the event "
                          "log with `whyrec reindex`") from exc


class WhyrecService:
    """Recommend, explain, what-if, effects, search, events and forget over one workspace."""

    def __init__(self, settings: Settings, ranker_factory: RankerFactory | None = None,
                 report_loader: ReportLoader | None = None, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        self._workspace: Workspace | None = None
        self._store: BehaviourStore | None = None
        self._lock = threading.RLock()  # guards the lazily built parts below; held briefly
        self._sync_thread: threading.Thread | None = None
        self._sync_pending = False
        self._pending_users: dict[str, int] = {}  # user -> data version their new events need
        self._manifest_stamp: tuple[int, int, int] | None = None  # the manifest file last read
        self.models = Models(settings.workspace, ranker_factory or tuned_ranker(settings),
                             report_loader or _default_report,
                             causal_source=statement_source(self._finished_report, self._user_events, self._items))
        self.warm = False

    # The causal source of explanations: for an item in the user's own funnel, the effect of each
    # behaviour on buying *that* item for shoppers like them (the causal tool's personal effects,
    # with estimand and verdict). It never waits for an estimate: without a finished population
    # report there is nothing to say yet.
    def _finished_report(self) -> InfluenceReport | None:
        return self.models.report(self.workspace.data_version, wait=False)

    def _user_events(self, user_id: str) -> pd.DataFrame:
        return self.workspace.user_events(user_id)

    def _items(self) -> pd.DataFrame:
        return self.workspace.items()

    # -- plumbing ------------------------------------------------------------------------------
    @property
    def workspace(self) -> Workspace:
        with self._lock:
            if self._workspace is None:
                self._workspace = Workspace.open(self.settings.workspace)
            return self._workspace

    @property
    def embedder(self) -> Embedder:
        return self._embedder or default_embedder()

    @property
    def store(self) -> BehaviourStore:
        with self._lock:
            if self._store is None:
                self._store = BehaviourStore(self.workspace, self.embedder, self.settings.chroma_url)
            return self._store

    def _fitted(self, user_id: str | None = None) -> Fitted:
        """The model to answer with. Requests about a user whose new events are still being
        fitted wait for that refit (bounded); every other request reads the current model."""
        fitted = self.models.current(self.workspace.data_version)
        needed = self._pending_users.get(str(user_id)) if user_id is not None else None
        if needed is not None and fitted.data_version < needed:
            self.models.wait(self.settings.refit_wait_seconds)
            fitted = self.models.current(self.workspace.data_version)
        if needed is not None and fitted.data_version >= needed:
            with self._lock:
                self._pending_users.pop(str(user_id), None)
        return fitted

    def refresh(self) -> None:
        """Pick up events another process committed (the next request starts a refit); cheap when
        nothing changed (one ``stat`` of the manifest), so the server calls it on every request.
        When that commit removed events (another process, e.g. another replica, forgot a user:
        event parts replaced and no new source), everything built on the old data is dropped at
        once, as :meth:`forget` does here: nothing old may answer again."""
        removed = False
        with self._lock:
            if self._workspace is not None:
                try:
                    st = os.stat(self._workspace.path / MANIFEST)
                    stamp: tuple[int, int, int] | None = (st.st_ino, st.st_mtime_ns, st.st_size)
                except OSError:
                    stamp = None
                if stamp is not None and stamp == self._manifest_stamp:
                    return
                self._manifest_stamp = stamp
                before = self._workspace.manifest
                self._workspace.reload()
                after = self._workspace.manifest
                removed = after.data_version > before.data_version and len(after.sources) == len(before.sources) \
                    and not set(before.event_parts) <= set(after.event_parts)
        if removed:
            self.models.invalidate()

    def warm_up(self, segments: bool = False, also: Callable[[], object] | None = None) -> None:
        """Build what a first request would otherwise wait for: the model, the causal report, the
        vector store and the embedding model, then ``also`` (a caller's own first-request work,
        e.g. the agent's router) — only then is the service ``warm`` — and with ``segments`` the
        effects per segment after that (the server runs this in the background at start)."""
        try:
            self._fitted()
            self.models.report(self.workspace.data_version)
            with _domain_errors():
                self.store.ensure_ready()
            self.embedder.embed(["warm up"])
            if also is not None:
                also()
            self.warm = True
            if segments:
                for segment in SEGMENTS:
                    self.report(segment)
        except Exception:  # each request reports its own error; a failed warm-up only logs
            log.exception("warm-up failed")

    # -- meta ----------------------------------------------------------------------------------
    def status(self) -> ServiceStatus:
        """Which data version is committed, which one is served, and whether a refit runs."""
        return ServiceStatus(data_version=self.workspace.data_version,
                             served_version=self.models.served_version,
                             refitting=self.models.refitting, warm=self.warm,
                             causal_version=self.models.causal_version)

    def stats(self) -> ServiceStats:
        """What the workspace holds (events, users, items, behaviours, time span) and how its
        ranker was tuned (``tuning``: chosen parameters, validation NDCG@20 against the repeat
        rule and popularity, exclusion policy; None before the first tuning)."""
        from ..ranking.persist import latest_tuning

        self.refresh()
        tuning = latest_tuning(self.workspace)
        return ServiceStats(self.workspace.stats(), None if tuning is None else tuning.to_json(),
                            "" if tuning is None else tuning.to_text())

    def user_stats(self, user_id: str) -> UserStats:
        """One user's own figures (what a caller bound to that user may see)."""
        self.refresh()
        events = self.workspace.events()
        mine = events[events["user_id"] == str(user_id)]
        counts = mine["behaviour"].value_counts()
        return UserStats(str(user_id), len(mine), {str(b): int(n) for b, n in counts.items()},
                         None if mine.empty else pd.Timestamp(mine["timestamp"].min()),
                         None if mine.empty else pd.Timestamp(mine["timestamp"].max()))

    # -- users and items -----------------------------------------------------------------------
    def knows_user(self, user_id: str) -> bool:
        return self._fitted(user_id).ranker.knows_user(str(user_id))

    def pending_user(self, user_id: str) -> bool:
        """The served model does not know ``user_id`` but the workspace holds their events: they
        were committed after its fit (by this process past the refit wait, or by another one), so
        the shopper is not new — the model has not learned them yet."""
        if self.knows_user(user_id):
            return False
        self.refresh()
        served = self.models.served_version
        if served is not None and served >= self.workspace.data_version:
            return False   # the model has every committed event: an unknown id is unknown (no read)
        return not self.workspace.user_events(str(user_id)).empty

    def require_user(self, user_id: str) -> None:
        if not self.knows_user(user_id):
            raise UserPending(str(user_id)) if self.pending_user(user_id) else UnknownUser(str(user_id))

    def users(self, query: str = "", limit: int = 100) -> list[str]:
        """Up to ``limit`` user ids containing ``query`` (case-insensitive)."""
        users = pd.Index(self._fitted().ranker.user_ids).astype(str)
        query = (query or "").strip()
        if query:
            users = users[users.str.contains(query, case=False, regex=False)]
        return list(users[:limit])

    def own_items(self, user_id: str) -> dict[str, frozenset[str]]:
        """The items of the user's history and the behaviours they did on each, as the served
        ranker holds them (empty for a user it does not know)."""
        try:
            ranker = self._fitted(str(user_id)).ranker
            history = ranker.user_history(str(user_id))
        except Exception:   # unknown user, no model yet: nothing of theirs to prefer
            return {}
        out: dict[str, set[str]] = {}
        for position, code in zip(history.items, history.behaviours, strict=True):
            if position >= 0:
                out.setdefault(str(ranker.item_ids[int(position)]), set()).add(BEHAVIOURS[int(code)])
        return {item: frozenset(done) for item, done in out.items()}

    def history(self, user_id: str, limit: int = 20) -> UserHistory:
        """The user's most recent behaviours, newest first (read from the log: also those of a
        shopper the model has not learned yet)."""
        if not self.knows_user(user_id) and not self.pending_user(user_id):
            raise UnknownUser(str(user_id))
        events = self.workspace.events()
        total = int((events["user_id"] == str(user_id)).sum())
        frame = user_history(self.workspace, str(user_id), limit=limit)
        rows = tuple(HistoryEvent(int(r.event_key), str(r.item_id), str(r.title), str(r.behaviour),
                                  pd.Timestamp(r.timestamp),
                                  None if pd.isna(r.value) else float(r.value))
                     for r in frame.itertuples(index=False))
        return UserHistory(str(user_id), total, rows)

    def item(self, item_id: str) -> ItemInfo:
        items = self._fitted().items
        if str(item_id) not in items.index:
            raise UnknownItem(str(item_id))
        row = items.loc[str(item_id)]

        def text(name: str) -> str | None:
            value = row.get(name) if name in items.columns else None
            return None if value is None or pd.isna(value) or not str(value) else str(value)

        price = row.get("price") if "price" in items.columns else None
        return ItemInfo(str(item_id), self._fitted().title(str(item_id)), text("category"), text("brand"),
                        None if price is None or pd.isna(price) else float(price))

    def items(self, limit: int = 300) -> list[ItemInfo]:
        """The first ``limit`` catalog items."""
        return [self.item(i) for i in list(self._fitted().items.index[:limit])]

    def resolve_item(self, reference: str) -> str:
        """An item id from an id, an exact title (any case) or "Title (id)"."""
        items = self._fitted().items
        text = str(reference).strip()
        if text in items.index:
            return text
        if text.endswith(")") and "(" in text:
            inner = text[text.rindex("(") + 1:-1].strip()
            if inner in items.index:
                return inner
        titles = items["title"].astype("string").str.lower()
        exact = items.index[(titles == text.lower()).fillna(False).to_numpy(bool)]
        if len(exact):
            return str(exact[0])
        raise UnknownItem(text)

    # -- recommend and explain -----------------------------------------------------------------
    def query_filter(self, query: str) -> ItemFilter:
        """Items that match ``query`` by meaning (the nearest catalog vectors)."""
        with _domain_errors():
            ids, matrix = self.store.item_vectors()
        vector = np.asarray(self.embedder.embed([query])[0], dtype=np.float32)
        similarity = np.asarray(matrix, dtype=np.float32) @ vector
        top = np.argsort(-similarity, kind="stable")[:QUERY_MATCHES]
        return ItemFilter.allow(np.asarray(ids)[top].astype(str))

    def recommend(self, user_id: str, k: int = 10, category: str | None = None,
                  query: str | None = None, exclude: str | None = None) -> Recommendations:
        """Top ``k`` for the user, each item with the user's behaviours behind its score and its
        verified reason (headline).

        ``exclude`` overrides which of the user's own items are left out: ``"none"``,
        ``"purchased"`` or ``"seen"`` (default: the policy learned on the workspace's validation
        split, ``"seen"`` before any tuning). Reasons are verified under the list's policy."""
        _check_policy(exclude)
        allowed: ItemFilter | None = self.query_filter(query) if query else None
        if category:
            allowed = ItemFilter(category_prefix=category,
                                 item_ids=allowed.item_ids if allowed is not None else None)
        return self._recommend(user_id, k, allowed, category, query, exclude)

    def _recommend(self, user_id: str, k: int, allowed: ItemFilter | None, category: str | None,
                   query: str | None, exclude: str | None = None) -> Recommendations:
        fitted = self._fitted(user_id)
        policy = fitted.exclusion if exclude is None else exclude
        ranker = fitted.ranker
        with _domain_errors():
            ids, scores = ranker.recommend(str(user_id), k=k, filters=allowed, exclude=policy)
            history = ranker.user_history(str(user_id))
            terms = ranker.event_terms(history, now=ranker.reference_day(str(user_id)))
        positions = ranker.catalog.positions(list(ids))
        with _domain_errors():  # one search over the user's terms for the whole list
            headlines = fitted.explainer.headlines(str(user_id), [str(i) for i in ids], k=k, filters=allowed,
                                                   exclude=policy)
        out = []
        for rank, (item_id, score, position, headline) in enumerate(
                zip(ids, scores, positions, headlines, strict=True), start=1):
            column = terms.column(int(position))
            support = np.flatnonzero(column > 0)
            support = support[np.argsort(-column[support], kind="stable")]
            total = score if score > 0 else (float(column[support].sum()) or 1.0)
            reasons = tuple(Reason(int(history.keys[e]), BEHAVIOURS[int(history.behaviours[e])],
                                   str(ranker.item_ids[history.items[e]]),
                                   fitted.title(str(ranker.item_ids[history.items[e]])),
                                   from_days(float(history.days[e])), float(column[e]), float(column[e] / total))
                            for e in support)
            info = self.item(str(item_id))
            out.append(RecommendedItem(str(item_id), info.title, info.category, float(score), rank, reasons,
                                       info.price, headline))
        return Recommendations(str(user_id), tuple(out), k, category, query, allowed, fitted.data_version,
                               policy)

    # -- added for the chat (issue 15): recommendations that leave out categories or keep to a
    #    price band, and what shoppers buy most. Separate from the methods above on purpose.
    def item_filter(self, category: str | None = None, query: str | None = None,
                    exclude_categories: Sequence[str] = (), price_band: str | None = None,
                    max_price: float | None = None) -> ItemFilter | None:
        """The items a recommendation may draw from: under the ``category`` prefix, among the
        nearest to ``query`` by meaning, in none of ``exclude_categories``, with a price in
        the ``"low"`` or ``"high"`` third of the catalog's prices (``price_band``) and at most
        ``max_price`` (items without a price are left out then)."""
        if price_band not in (None, "low", "high"):
            raise InvalidRequest(f"unknown price band {price_band!r}; use low or high")
        if max_price is not None and not (math.isfinite(max_price) and max_price >= 0):
            raise InvalidRequest(f"max_price must be a price of 0 or more, not {max_price!r}")
        allowed = self.query_filter(query) if query else None
        if exclude_categories or price_band or max_price is not None:
            from ..causal.segments import band_edges

            catalog = self._fitted().ranker.catalog
            keep = np.ones(len(catalog), dtype=bool)
            for excluded in exclude_categories:
                keep &= ~np.asarray(catalog.mask(ItemFilter(category_prefix=excluded)), dtype=bool)
            if price_band:
                edges = band_edges(pd.Series(catalog.prices))
                if edges is None:
                    raise InvalidRequest("the catalog holds no prices, so there is no price band to keep to")
                keep &= (catalog.prices <= edges[0]) if price_band == "low" else (catalog.prices >= edges[1])
            if max_price is not None:
                if not np.isfinite(catalog.prices).any():
                    raise InvalidRequest("the catalog holds no prices, so there is no price to keep under")
                keep &= catalog.prices <= max_price   # NaN (no price) compares False: left out
            ids = frozenset(str(i) for i in catalog.ids[keep])
            allowed = ItemFilter(item_ids=ids if allowed is None or allowed.item_ids is None
                                 else ids & allowed.item_ids)
        if category:
            allowed = ItemFilter(category_prefix=category,
                                 item_ids=allowed.item_ids if allowed is not None else None)
        return allowed

    def price_edges(self) -> tuple[float, float] | None:
        """The catalog prices that cut it into thirds (``low`` up to the first, ``high`` from the second)."""
        from ..causal.segments import band_edges

        return band_edges(pd.Series(self._fitted().ranker.catalog.prices))

    def recommend_within(self, user_id: str, k: int = 10, category: str | None = None, query: str | None = None,
                         exclude_categories: Sequence[str] = (), price_band: str | None = None,
                         max_price: float | None = None) -> Recommendations:
        """Like :meth:`recommend`, leaving out ``exclude_categories`` and keeping to a price band
        and to prices up to ``max_price``."""
        allowed = self.item_filter(category, query, exclude_categories, price_band, max_price)
        return self._recommend(user_id, k, allowed, category, query)

    def popular(self, k: int = 5, behaviour: str = "purchase", category: str | None = None,
                allowed: ItemFilter | None = None, query: str | None = None) -> PopularItems:
        """The items most shoppers did ``behaviour`` on (distinct shoppers per item), most first;
        only items under the ``category`` prefix (the catalog's rule, as for recommendations) and
        let through by ``allowed`` (see :meth:`item_filter`; ``query`` names its words)."""
        _check_behaviour(behaviour)
        events = self.workspace.events()
        shoppers = int(events["user_id"].nunique())
        chosen = events[events["behaviour"] == behaviour]
        counts = chosen.groupby("item_id", observed=True)["user_id"].nunique()
        counts = counts.sort_values(ascending=False, kind="stable")
        scope = allowed
        if category:
            scope = ItemFilter(category_prefix=category, item_ids=allowed.item_ids if allowed is not None else None)
        narrowed = scope is not None and not scope.is_empty()
        if narrowed:
            catalog = self._fitted().ranker.catalog
            ids = catalog.ids[np.asarray(catalog.mask(scope), dtype=bool)]
            counts = counts[counts.index.astype(str).isin(set(str(i) for i in ids))]
        out = tuple(PopularItem(self.item(str(item_id)), int(n)) for item_id, n in counts.head(k).items())
        return PopularItems(behaviour, out, shoppers, category, self.workspace.data_version, query=query,
                            filtered=narrowed)

    def explain(self, user_id: str, item_id: str, k: int = 10, filters: ItemFilter | None = None,
                exclude: str | None = None) -> Explanation:
        """Why the item is (or is not) in the user's top ``k``, verified by re-ranking under the
        list's exclusion policy (``exclude``; default: the one :meth:`recommend` uses)."""
        _check_policy(exclude)
        with _domain_errors():
            fitted = self._fitted(user_id)
            return fitted.explainer.explain(str(user_id), str(item_id), k=k, filters=filters,
                                            exclude=fitted.exclusion if exclude is None else exclude)

    def why_not(self, user_id: str, item_id: str, k: int = 10, filters: ItemFilter | None = None,
                exclude: str | None = None) -> WhyNot:
        """Why the item is not in the top ``k``, and the smallest added behaviour that would bring it in."""
        _check_policy(exclude)
        with _domain_errors():
            fitted = self._fitted(user_id)
            return fitted.explainer.why_not(str(user_id), str(item_id), k=k, filters=filters,
                                            exclude=fitted.exclusion if exclude is None else exclude)

    def event_keys(self, user_id: str, item_id: str, behaviour: str | None = None) -> tuple[int, ...]:
        """Keys of the user's events on the item (only ``behaviour`` ones if given)."""
        _check_behaviour(behaviour)
        with _domain_errors():
            return self._fitted(user_id).explainer.event_keys(str(user_id), str(item_id), behaviour)

    def what_if(self, user_id: str, remove: Sequence[int] = (),
                remove_items: Sequence[tuple[str, str | None]] = (),
                add: Sequence[tuple[str, str]] = (), k: int = 10,
                filters: ItemFilter | None = None, exclude: str | None = None) -> WhatIfResult:
        """Re-rank as if the user had not done (``remove``: event keys; ``remove_items``: all
        their events of a behaviour on an item) or had done (``add``) some behaviours (lists under
        the exclusion policy ``exclude``; default: the one :meth:`recommend` uses)."""
        for _, behaviour in list(remove_items) + list(add):
            _check_behaviour(behaviour)
        _check_policy(exclude)
        with _domain_errors():
            try:
                fitted = self._fitted(user_id)
                return fitted.explainer.what_if(str(user_id), remove=remove, add=add, k=k,
                                                remove_items=remove_items, filters=filters,
                                                exclude=fitted.exclusion if exclude is None else exclude)
            except ValueError as exc:
                raise InvalidRequest(str(exc)) from exc

    # -- causal effects ------------------------------------------------------------------------
    def report(self, segment: str | None = None) -> InfluenceReport:
        """The causal report (population, or per value of ``segment``)."""
        version = self.workspace.data_version
        if segment is None:
            report = self.models.report(version)
            assert report is not None
            return report
        if segment not in SEGMENTS:
            raise InvalidRequest(f"unknown segment {segment!r}; use one of {', '.join(SEGMENTS)}")
        return self.models.segment_report(segment, version)

    def effects(self, behaviour: str | None = None, segment: str | None = None,
                others_if_missing: bool = False) -> Effects:
        """Causal effects of behaviours on purchase, for everyone or per segment value. A
        behaviour the report has no estimate of is refused — or, with ``others_if_missing`` (the
        chat), answered with the behaviours it does estimate and ``not_estimated`` set."""
        report = self.report(segment)

        def chosen(wanted: str | None) -> tuple[BehaviourEffect, ...]:
            return tuple(e for e in report.effects if (wanted is None or e.behaviour == wanted)
                         and (segment is not None or e.segment == POPULATION))

        effects = chosen(behaviour)
        if behaviour is not None and not effects:
            if others_if_missing:
                return Effects(chosen(None), report.data_version, segment, not_estimated=behaviour)
            known = sorted({e.behaviour for e in report.effects})
            raise InvalidRequest(f"no estimate for behaviour {behaviour!r}; estimated: {', '.join(known)}")
        return Effects(effects, report.data_version, segment)

    def causal_graph_layers(self) -> CausalGraph:
        """The causal graph the population effects rest on, by layer, with their horizon."""
        from ..causal.graph import decision_graph

        estimated = tuple(e.behaviour for e in self.effects().effects)
        graph = decision_graph(estimated) if estimated else decision_graph()
        roles: dict[str, list[str]] = {}
        for node, role in graph.nodes(data="role"):
            roles.setdefault(str(role), []).append(str(node))
        windows = dict(self.report().settings.get("windows") or {})
        horizon = windows.get("horizon_seconds")
        return CausalGraph(tuple(roles.get("baseline", ())), tuple(roles.get("history", ())),
                           tuple(roles.get("behaviour", ())), (roles.get("outcome") or ["purchase"])[0],
                           float(horizon) if horizon is not None else None)

    def causal_graph(self) -> Path:
        """A picture (PNG) of the causal graph the effects are estimated on."""
        from ..causal import graph_picture

        return Path(graph_picture(self.workspace))

    # -- search --------------------------------------------------------------------------------
    def search_items(self, query: str, k: int = 5, category: str | None = None) -> ItemSearch:
        """Catalog items nearest to ``query`` by meaning."""
        with _domain_errors():
            try:
                hits = self.store.search_items(query, k=k, filters={"category": category} if category else None)
            except ValueError as exc:
                raise InvalidRequest(str(exc)) from exc
        return ItemSearch(query, tuple(hits), category)

    def search_history(self, user_id: str, query: str = "everything", behaviours: Sequence[str] | None = None,
                       since: str | None = None, k: int = 10) -> HistorySearch:
        """The user's own behaviours nearest to ``query`` (never another user's)."""
        self.require_user(user_id)
        with _domain_errors():
            try:
                hits = self.store.search_behaviours(str(user_id), query, k=k, behaviours=behaviours, since=since)
            except ValueError as exc:
                raise InvalidRequest(str(exc)) from exc
        return HistorySearch(query, tuple(hits), tuple(behaviours or ()))

    # -- data ----------------------------------------------------------------------------------
    def add_events(self, records: Sequence[dict[str, Any]], allow_new_items: bool = True) -> EventsAdded:
        """Commit new behaviours, all or nothing. Requests about their users wait for the refit
        on them (started here, in the background); every other request keeps reading the current
        model. With ``allow_new_items=False`` (a caller bound to one user) events may only name
        items the catalog already holds."""
        if not allow_new_items:
            known = set(self.workspace.items()["item_id"].astype(str))
            unknown = [(n, str(r.get("item_id"))) for n, r in enumerate(records, start=1)
                       if str(r.get("item_id")) not in known]
            if unknown:
                problems = tuple(EventProblem(n, "item_id", item, "not in the catalog; only an admin key may "
                                                                  "add new items") for n, item in unknown[:20])
                raise Forbidden(f"no event was added: {len(unknown)} event(s) name items the catalog does not "
                                f"hold (first: {unknown[0][1]!r}); only an admin key may add new items",
                                problems)
        try:
            result = ingest_records(self.workspace, list(records), source="api")
        except IngestRejected as exc:
            report = exc.reports[0]
            problems = tuple(EventProblem(int(i.line), str(i.column), str(i.value), str(i.reason))
                             for i in report.first_issues)
            raise InvalidEvents("no event was added: some are invalid", report.rows_invalid, problems) from exc
        if result.rows_added:
            self.refresh()
            with self._lock:
                for user in {str(r.get("user_id")) for r in records}:
                    self._pending_users[user] = result.data_version
            self.models.current(self.workspace.data_version)  # starts the background refit
            self._schedule_store_sync()
        return EventsAdded(result.rows_added, result.rows_already_present, result.data_version)

    def forget(self, user_id: str, missing_ok: bool = False) -> ForgetResult:
        """Remove every trace of the user: events, vector-store documents, derived artefacts.
        Nothing of them in the workspace: :class:`UnknownUser`, or with ``missing_ok`` a result
        with ``found`` false (their chat sessions may still be somewhere to remove)."""
        with _domain_errors():
            try:
                result = forget_user(self.workspace, str(user_id), self.store)
            except KeyError as exc:
                if missing_ok:
                    return ForgetResult(str(user_id), 0, 0, 0, 0, self.workspace.data_version, found=False)
                raise UnknownUser(str(user_id)) from exc
        self.refresh()
        self.models.invalidate()
        return result

    def _schedule_store_sync(self) -> None:
        """Bring the vector store up to date with new events, in the background."""
        with self._lock:
            self._sync_pending = True
            if self._sync_thread is not None and self._sync_thread.is_alive():
                return
            self._sync_thread = threading.Thread(target=self._sync_store, daemon=True, name="whyrec-store-sync")
            self._sync_thread.start()

    def _sync_store(self) -> None:
        while True:
            with self._lock:
                if not self._sync_pending:
                    return
                self._sync_pending = False
            try:
                self.store.sync()
            except Exception:  # `whyrec reindex` rebuilds the store from the log
                log.exception("vector store sync after new events failed")

    def wait_for_background(self, timeout: float = 120.0) -> None:
        """Wait for background refits and store syncs (tests and the CLI)."""
        self.models.wait(timeout)
        thread = self._sync_thread
        if thread is not None:
            thread.join(timeout)


@dataclass(frozen=True)
class PopularItem:
    """An item and how many distinct shoppers did the behaviour on it."""

    item: ItemInfo
    shoppers: int

    def to_json(self) -> dict[str, Any]:
        return {**self.item.to_json(), "shoppers": self.shoppers}


@dataclass(frozen=True)
class PopularItems:
    """What most shoppers did a behaviour on (added for the chat; results.py may adopt it)."""

    behaviour: str
    items: tuple[PopularItem, ...]
    shoppers: int                      # shoppers in the workspace
    category: str | None = None
    data_version: int = 0
    first_rank: int = 1                # the rank of ``items[0]`` (a "more" list continues one)
    query: str | None = None           # the words the list was narrowed to (by meaning)
    filtered: bool = False             # narrowed at all: category, words, categories left out, prices

    def to_json(self) -> dict[str, Any]:
        return {"behaviour": self.behaviour, "shoppers": self.shoppers, "category": self.category,
                "query": self.query, "filtered": self.filtered, "data_version": self.data_version,
                "first_rank": self.first_rank, "items": [i.to_json() for i in self.items]}


def _check_behaviour(behaviour: str | None) -> None:
    if behaviour is not None and behaviour not in BEHAVIOURS:
        raise InvalidRequest(f"unknown behaviour {behaviour!r}; use one of {', '.join(BEHAVIOURS)}")



def _check_policy(exclude: str | None) -> None:
    if exclude is not None and exclude not in POLICIES:
        raise InvalidRequest(f"unknown exclusion policy {exclude!r}; use one of {', '.join(POLICIES)}")
