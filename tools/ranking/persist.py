"""Load a fitted ranker from the workspace, or fit and store it (keyed by the data version).

The served ranker is auto-tuned (:mod:`.autotune`): :func:`load_or_tune` tunes on the
workspace's own validation split the first time, stores what it chose in
``derived/tuning-v<data version>.json`` and refits on all the events. Later data versions reuse
the stored choice (a plain refit) until the events have grown by ``retune_fraction`` since the
last tuning; then it tunes again (in the service, that happens in the background refit).

The fit and the tuning read the log through :meth:`~whyrec.tools.workspace.Workspace.lean_events`
(only the columns the ranker uses, ids as categoricals: about a tenth of the memory of
:meth:`~whyrec.tools.workspace.Workspace.events`, the same fitted ranker). A log of more than
``tune_max_events`` events (:data:`TUNE_MAX_EVENTS`), or of more users × catalog items than
``tune_max_user_items`` (:data:`TUNE_MAX_USER_ITEMS`: a trial scores every validation user
against the whole catalog), is tuned on a seeded sample of its users
(:func:`~whyrec.tools.frames.sample_users`) — one trial on the whole of a 100M-event log would
take longer than the budget — and the chosen parameters are then fitted on all events.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pandas as pd

from ..engine import Engine
from ..frames import is_categorical, sample_users
from ..workspace import Workspace
from .autotune import AutoTuneResult, auto_tune, fit_tuned
from .base import Ranker
from .whyrec import WhyrecRanker

log = logging.getLogger(__name__)

TUNING = "tuning"
#: Logs with more events than this are tuned on a seeded sample of users of about this many
#: events (at 10M events one tuning trial takes about 150 CPU s on this project's 2-core machine).
TUNE_MAX_EVENTS = 10_000_000
#: ... and on at most this many users × catalog items: every trial scores each validation user
#: against the whole catalog, so at 1M items a 10M-event sample's first trial alone took
#: 1,750 CPU s (100k users × 100k items — a 10M-event log — is 1e10, under the cap).
TUNE_MAX_USER_ITEMS = 15_000_000_000
_TUNING_FILE = re.compile(r"tuning-v(\d+)\.json$")


def load_or_fit(workspace: Workspace, factory: Callable[[], Ranker] = WhyrecRanker,
                name: str = "ranker", refit: bool = False) -> Ranker:
    """The workspace's fitted ranker: loaded from ``derived/<name>-v<data version>.pkl`` if it
    is there, else fitted on the workspace's events and catalog and saved there.
    """
    path = workspace.derived_file(name).with_suffix(".pkl")
    if path.exists() and not refit:
        ranker = _load(path)
        if ranker is not None:
            return ranker
    ranker = factory().fit(workspace.lean_events(), workspace.items())
    ranker.save(path)
    prune_versions(path)
    log.info("fitted %s and saved it to %s", ranker.name, path)
    return ranker


def prune_versions(path: Path, keep: int = 2) -> list[Path]:
    """Remove the older fits beside ``path`` (``<stem>-v<N>.pkl``), keeping the ``keep`` newest
    versions up to ``path``'s own (the one before it may still be loading in another replica).
    Before, every commit of new events left one more fitted ranker on disk, never removed.
    Returns what was removed."""
    match = re.fullmatch(r"(.+)-v(\d+)\.pkl", path.name)
    if match is None:
        return []
    stem, current = match.group(1), int(match.group(2))
    removed = []
    for other in path.parent.glob(f"{stem}-v*.pkl"):
        found = re.fullmatch(re.escape(stem) + r"-v(\d+)\.pkl", other.name)
        if found is not None and int(found.group(1)) <= current - keep:
            other.unlink(missing_ok=True)
            removed.append(other)
    return removed


def _load(path: Path) -> Ranker | None:
    try:
        ranker = Ranker.load(path)
        log.info("loaded %s from %s", ranker.name, path)
        return ranker
    except (OSError, ValueError, TypeError, EOFError) as exc:
        log.warning("cannot load %s (%s); refitting", path, exc)
        return None


def latest_tuning(workspace: Workspace) -> AutoTuneResult | None:
    """The most recent tuning stored in the workspace (any data version), or None."""
    found = []
    for path in workspace.derived_path.glob("tuning-v*.json"):
        match = _TUNING_FILE.search(path.name)
        if match:
            found.append((int(match.group(1)), path))
    for _, path in sorted(found, reverse=True):
        try:
            return AutoTuneResult.from_json(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring unreadable tuning record %s (%s)", path, exc)
    return None


def save_tuning(workspace: Workspace, result: AutoTuneResult) -> Path:
    """Write ``derived/tuning-v<data version>.json`` atomically."""
    path = workspace.derived_file(TUNING).with_suffix(".json")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(result.to_json(), indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def needs_tuning(previous: AutoTuneResult | None, events: int, retune_fraction: float) -> bool:
    """True without a stored tuning, or when the events grew by more than ``retune_fraction``."""
    if previous is None:
        return True
    return events > previous.events * (1.0 + retune_fraction)


def tune_workspace(workspace: Workspace, budget_seconds: float = 600.0, seed: int = 0, *,
                   events: pd.DataFrame | None = None,
                   tune_max_events: int = TUNE_MAX_EVENTS,
                   tune_max_user_items: int = TUNE_MAX_USER_ITEMS, engine: Engine | None = None) -> AutoTuneResult:
    """Auto-tune on the workspace's events (``events``: its lean frame, if already read) and
    store the result (see :mod:`.autotune`); on a seeded sample of users when the log holds more
    than ``tune_max_events`` events or more users × catalog items than ``tune_max_user_items``.
    ``engine``: the trials run on its workers, which read the search's inputs from a temporary
    folder in the workspace (so a remote cluster's workers need the workspace's volume)."""
    events = workspace.lean_events() if events is None else events
    items = workspace.items()
    catalog = max(len(items), _distinct(events["item_id"]))
    sample, drawn = sample_users(events, tune_max_events, seed,
                                 max_users=max(tune_max_user_items // max(catalog, 1), 1))
    if drawn:
        log.info("auto-tune: %d events; tuning on %d of %d users (%d events, seed %d)", len(events),
                 drawn["users"], drawn["of_users"], drawn["events"], seed)
    result = auto_tune(sample, items, budget_seconds=budget_seconds, seed=seed,
                       data_version=workspace.data_version, engine=engine,
                       scratch=_scratch(workspace) if engine is not None else None)
    if drawn:
        result = replace(result, events=len(events), sample=drawn)
    save_tuning(workspace, result)
    return result


def _scratch(workspace: Workspace) -> Path:
    folder = workspace.derived_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _distinct(ids: pd.Series) -> int:
    return len(ids.cat.categories) if is_categorical(ids) else int(ids.nunique())


def served_ranker_path(workspace: Workspace, policy: str | None = None) -> Path:
    """Where :func:`load_or_tune` keeps the served ranker for this data version (and policy)."""
    return workspace.derived_file(f"ranker-{policy or 'tuned'}").with_suffix(".pkl")


def load_or_tune(workspace: Workspace, budget_seconds: float = 600.0, retune_fraction: float = 0.2,
                 seed: int = 0, retune: bool = False, policy: str | None = None,
                 tune_max_events: int = TUNE_MAX_EVENTS,
                 tune_max_user_items: int = TUNE_MAX_USER_ITEMS, engine: Engine | None = None) -> Ranker:
    """The served ranker: loaded if fitted for this data version; otherwise fitted on all the
    events with the stored tuning, tuning first when there is none, when the events grew by
    ``retune_fraction`` since, or with ``retune`` (its trials on ``engine``'s workers, when
    given: :func:`tune_workspace`; the refit's similarity too: :meth:`Ranker.fit`).

    ``policy`` picks the parameters tuned for that exclusion policy (default: the policy the
    tuning chose); each is its own file, ``ranker-<policy or "tuned">-v<N>.pkl``."""
    path = served_ranker_path(workspace, policy)
    if path.exists() and not retune:
        ranker = _load(path)
        if ranker is not None:
            return ranker
    events, items = workspace.lean_events(), workspace.items()
    chosen = latest_tuning(workspace)
    if retune or needs_tuning(chosen, len(events), retune_fraction):
        chosen = tune_workspace(workspace, budget_seconds, seed, events=events, tune_max_events=tune_max_events,
                                tune_max_user_items=tune_max_user_items, engine=engine)
    assert chosen is not None
    ranker = fit_tuned(chosen, events, items, policy, engine=engine,
                       scratch=_scratch(workspace) if engine is not None else None)
    del events
    ranker.save(path)
    prune_versions(path)
    log.info("fitted %s tuned for %s exclusion and saved it to %s", ranker.name, policy or chosen.policy, path)
    return ranker
