"""What is fitted on the event log, built off the request path and swapped in atomically.

A :class:`Fitted` bundle (ranker, explainer, catalog lookups) belongs to one data version. When
new events arrive, a new bundle is built in a background thread while readers keep the old one;
the new one replaces it in a single assignment. Only the very first request, when nothing is
built yet, waits for a build — and it waits on the build, not on a lock other requests need.

The causal report has its own, slower life: the latest finished report answers (each effect
carries the data version it was estimated on) while a fresh one is estimated in the background.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..causal.results import InfluenceReport
from ..explain.explainer import CausalSource, Explainer
from ..ranking.base import Ranker
from ..workspace import Workspace

log = logging.getLogger(__name__)

RankerFactory = Callable[[Workspace], Ranker]
ReportLoader = Callable[[Workspace, str | None], InfluenceReport]
#: The exclusion policy a workspace's lists are served with (read after the ranker is fitted).
ExclusionSource = Callable[[Workspace], str]


def learned_exclusion(workspace: Workspace) -> str:
    """The exclusion policy learned on the workspace's validation split (its latest tuning
    record), or ``"seen"`` before any tuning."""
    from ..ranking.persist import latest_tuning

    tuning = latest_tuning(workspace)
    return "seen" if tuning is None else tuning.policy


@dataclass(frozen=True)
class Fitted:
    """Everything the request path reads, fitted on one data version."""

    data_version: int
    ranker: Ranker
    explainer: Explainer
    items: pd.DataFrame                      # the catalog, indexed by item_id
    titles: dict[str, str] = field(default_factory=dict)
    exclusion: str = "seen"                  # the lists' exclusion policy (learned, see learned_exclusion)

    def title(self, item_id: str) -> str:
        return self.titles.get(str(item_id), str(item_id))


def _catalog(workspace: Workspace) -> tuple[pd.DataFrame, dict[str, str]]:
    items = workspace.items()
    frame = items.assign(item_id=items["item_id"].astype(str)).drop_duplicates("item_id").set_index("item_id")
    titles = dict(zip(frame.index, frame["title"].astype("string").fillna(pd.Series(frame.index, index=frame.index))
                      .astype(str), strict=True))
    return frame, titles


class Models:
    """The fitted bundle for a workspace, refitted in the background when its events change."""

    def __init__(self, path: Path, ranker_factory: RankerFactory, report_loader: ReportLoader,
                 causal_source: CausalSource | None = None,
                 exclusion_source: ExclusionSource = learned_exclusion) -> None:
        self.path = Path(path)
        self.ranker_factory = ranker_factory
        self.exclusion_source = exclusion_source
        self.report_loader = report_loader
        self.causal_source = causal_source
        self._fitted: Fitted | None = None
        self._report: InfluenceReport | None = None
        self._segments: dict[tuple[int, str], InfluenceReport] = {}
        self._lock = threading.Lock()          # guards the pointers above; held for microseconds
        self._build_lock = threading.Lock()    # one build at a time
        self._segment_locks: dict[str, threading.Lock] = {}
        self._refit: threading.Thread | None = None
        self._estimate: threading.Thread | None = None
        self.last_error: str | None = None

    # -- the fitted bundle ---------------------------------------------------------------------
    def current(self, data_version: int) -> Fitted:
        """The bundle to answer with: the latest one built, starting a refit in the background
        when ``data_version`` (the workspace's) is newer. Builds synchronously only the first time."""
        fitted = self._fitted
        if fitted is None:
            with self._build_lock:
                if self._fitted is None:
                    self._install(self._build())
            fitted = self._fitted
            assert fitted is not None
        if fitted.data_version < data_version:
            self._start_refit()
        return fitted

    @property
    def served_version(self) -> int | None:
        fitted = self._fitted
        return None if fitted is None else fitted.data_version

    @property
    def refitting(self) -> bool:
        thread = self._refit
        return thread is not None and thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for a background refit to finish (tests, CLI); True if none is running."""
        thread = self._refit
        if thread is not None:
            thread.join(timeout)
        return not self.refitting

    def invalidate(self) -> None:
        """Forget everything built (after data was removed: nothing old may answer again)."""
        with self._build_lock, self._lock:
            self._fitted = None
            self._report = None
            self._segments.clear()

    def _start_refit(self) -> None:
        with self._lock:
            if self._refit is not None and self._refit.is_alive():
                return
            self._refit = threading.Thread(target=self._refit_now, name="whyrec-refit", daemon=True)
            self._refit.start()

    def _refit_now(self) -> None:
        try:
            with self._build_lock:
                fresh = self._build()
                current = self._fitted
                if current is None or fresh.data_version > current.data_version:
                    self._install(fresh)
            self.last_error = None
        except Exception as exc:  # the previous bundle keeps answering; the next change retries
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("refitting on new events failed; the previous model keeps answering")

    def _build(self) -> Fitted:
        workspace = Workspace.open(self.path)  # its own reader: requests never share it
        version = workspace.data_version
        ranker = self.ranker_factory(workspace)
        items, titles = _catalog(workspace)
        explainer = Explainer(ranker, workspace.items(), causal=self.causal_source)
        exclusion = self.exclusion_source(workspace)
        log.info("fitted %s on data version %d; lists leave out %s items", ranker.name, version, exclusion)
        return Fitted(version, ranker, explainer, items, titles, exclusion)

    def _install(self, fitted: Fitted) -> None:
        with self._lock:
            self._fitted = fitted

    # -- the causal report ---------------------------------------------------------------------
    def report(self, data_version: int, wait: bool = True) -> InfluenceReport | None:
        """The latest finished population report (estimating it first if there is none and
        ``wait``); a newer data version starts a background re-estimate."""
        report = self._report
        if report is None and wait:
            with self._build_lock:  # estimating reads the same files as a build
                if self._report is None:
                    self._set_report(self.report_loader(Workspace.open(self.path), None))
            report = self._report
        elif report is None:
            self._start_estimate()
        if report is not None and report.data_version < data_version:
            self._start_estimate()
        return report

    def segment_report(self, segment: str, data_version: int) -> InfluenceReport:
        """Effects per value of ``segment`` (estimated once per data version, then cached)."""
        key = (data_version, segment)
        cached = self._segments.get(key)
        if cached is not None:
            return cached
        with self._lock:
            lock = self._segment_locks.setdefault(segment, threading.Lock())
        with lock:
            cached = self._segments.get(key)
            if cached is None:
                cached = self.report_loader(Workspace.open(self.path), segment)
                with self._lock:
                    self._segments = {k: v for k, v in self._segments.items() if k[0] == data_version}
                    self._segments[key] = cached
        return cached

    def _start_estimate(self) -> None:
        with self._lock:
            if self._estimate is not None and self._estimate.is_alive():
                return
            self._estimate = threading.Thread(target=self._estimate_now, name="whyrec-causal", daemon=True)
            self._estimate.start()

    def _estimate_now(self) -> None:
        try:
            self._set_report(self.report_loader(Workspace.open(self.path), None))
        except Exception:  # a failed re-estimate keeps the previous report
            log.exception("estimating the causal report failed; keeping the previous one")

    def _set_report(self, report: InfluenceReport) -> None:
        with self._lock:
            self._report = report

    @property
    def causal_version(self) -> int | None:
        report = self._report
        return None if report is None else report.data_version
